//! `sudo_after_login`: one code per login session. After a login that entered a code (or a
//! recovery code, or a pass), sudo in the same login session does not ask again for a while.
//!
//! The session is the kernel's audit session id (`/proc/self/sessionid`), which
//! pam_loginuid sets in the login's session stack and every process of the session
//! inherits. Only a process with CAP_AUDIT_CONTROL can change it, so a user cannot move
//! into another session (proc(5)). Where it is unset (no pam_loginuid, a container without
//! audit) sudo asks as usual.
//!
//! sshd authenticates before pam_loginuid has run, and in another process: its
//! keyboard-interactive PAM calls run in a child of the session's monitor process, which
//! opens the session later. So a login with a code leaves a pending record
//! (`login-PID`, naming its own pid and its parent's), and `pam_sm_open_session` in the
//! process that is one of the two claims it for its now-set audit session id
//! (`session-ID`, by rename). sudo's `pam_sm_authenticate` reads `session-ID` for its own
//! audit session id. `pam_sm_close_session` removes it; expired records are removed
//! whenever the directory is scanned.
//!
//! Threats, and the answer to each:
//! - A user writes or swaps a record: the directory is root's, mode 0700, opened
//!   component by component without symlinks (`store`); each record is opened with
//!   `O_NOFOLLOW` and checked on its descriptor (regular file, root's, 0600, one link).
//! - A half-written record: temp file, then rename.
//! - Another user's process in the same session (`su bob`): the record names its user,
//!   and sudo authenticates the invoking user (PAM_USER), who must be that user.
//! - A record kept across a reboot, when the kernel numbers sessions from 1 again:
//!   `/run` is a tmpfs, and a record is only good for `sudo_after_login` after its code.
//!
//! Every error ends in asking for the code as usual. The rules are pure functions
//! ([`sudo_may_skip`], [`claims`], [`expired`]); the rest reads and writes the records.

use crate::auth::{self, Answer, Conversation, Level, Outcome, Request};
use crate::config::Config;
use crate::store::{read_checked, sys, Location, Owner, SecretStore};
use crate::UnixTime;
use nix::errno::Errno;
use rustix::fs::{openat, renameat, renameat_with, unlinkat, AtFlags, Mode, OFlags, RenameFlags};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::OwnedFd;

/// Where the records live: a tmpfs, emptied at boot.
pub const RECORD_DIR: &str = "/run/twofold";
/// The longest `sudo_after_login` accepted.
const MAX_WINDOW: u64 = 86_400;
/// A pending record must be claimed this soon after its code: sshd opens the session
/// milliseconds after the authentication.
const CLAIM_WITHIN: u64 = 300;
/// `/proc/self/sessionid` when no login set it.
const UNSET: u32 = u32::MAX;

/// Parses `sudo_after_login` (`"15m"`): 1 second to 1 day.
pub fn parse_window(text: &str) -> Result<u64, String> {
    crate::time::parse_duration(text)
        .ok()
        .filter(|s| (1..=MAX_WINDOW).contains(s))
        .ok_or_else(|| {
            format!("sudo_after_login = \"{text}\" must be a duration from 1s to 1d, like \"15m\"")
        })
}

/// Checks `sudo_services`: PAM service names, at least one.
pub fn parse_services(services: Vec<String>) -> Result<Vec<String>, String> {
    if services.is_empty() {
        return Err("sudo_services must name at least one PAM service (\"sudo\"); to switch sudo_after_login off, leave it out".into());
    }
    if let Some(bad) = services.iter().find(|n| {
        n.is_empty()
            || n.len() > 100
            || n.contains(|c: char| c == '/' || c.is_whitespace() || c.is_control())
    }) {
        return Err(format!(
            "sudo_services: `{}` is not a PAM service name",
            bad.escape_default()
        ));
    }
    Ok(services)
}

/// A login that entered a code: who, when, how. In `login-PID` also the pids that may
/// claim it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRecord {
    pub user: String,
    pub at: UnixTime,
    /// totp, recovery or pass.
    pub method: String,
    /// The authenticating process and its parent (pending records only), each as its pid
    /// and its start time (clock ticks after boot, /proc/PID/stat): a pid used again by a
    /// later process does not claim the record.
    #[serde(default)]
    pub pids: Vec<[u64; 2]>,
}

/// Whether sudo may skip the code: `Ok(reason)` for the log, or `Err(why it asks)`.
pub fn sudo_may_skip(
    window: u64,
    user: &str,
    session: Option<u32>,
    record: Option<&LoginRecord>,
    now: UnixTime,
) -> Result<String, String> {
    let Some(session) = session else {
        return Err("this process has no audit session id (no pam_loginuid at login, or no audit support, as in some containers)".into());
    };
    let Some(record) = record else {
        return Err(format!(
            "no code entered at a login in this session (audit session {session}), or that login's PAM session stack lacks `session optional pam_twofold.so` after pam_loginuid"
        ));
    };
    if record.user != user {
        return Err(format!(
            "the code at login in this session (audit session {session}) was entered for another user"
        ));
    }
    if record.at > now {
        return Err(format!(
            "the record of audit session {session} is dated in the future"
        ));
    }
    let ago = now - record.at;
    if ago > window {
        return Err(format!(
            "code ({}) entered at login in this session {ago} s ago, more than sudo_after_login ({window} s)",
            record.method
        ));
    }
    Ok(format!(
        "code ({}) entered at ssh login in this session {ago} s ago (audit session {session}, sudo_after_login {window} s): not asked again",
        record.method
    ))
}

/// Whether the session opened by `process` for `user` at `now` claims a pending record.
pub fn claims(
    record: &LoginRecord,
    process: &Process,
    user: &str,
    now: UnixTime,
    window: u64,
) -> bool {
    record.user == user
        && process
            .start
            .is_some_and(|start| record.pids.contains(&[u64::from(process.pid), start]))
        && record.at <= now
        && now - record.at <= window.min(CLAIM_WITHIN)
}

/// Whether a record can no longer let anyone skip a code.
pub fn expired(record: &LoginRecord, now: UnixTime, window: u64) -> bool {
    record.at > now || now - record.at > window
}

/// The calling process, as far as the records care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// Its start time (clock ticks after boot); None when unreadable.
    pub start: Option<u64>,
    pub ppid: u32,
    pub parent_start: Option<u64>,
    /// None when unset or unreadable.
    pub audit_session: Option<u32>,
}

impl Process {
    pub fn of_this_process() -> Process {
        let audit_session = std::fs::read_to_string("/proc/self/sessionid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|id| *id != UNSET);
        let ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
        Process {
            pid: std::process::id(),
            start: start_time("self"),
            ppid,
            parent_start: start_time(&ppid.to_string()),
            audit_session,
        }
    }
}

/// Field 22 of `/proc/PID/stat`, the process's start time; the fields are counted after the
/// command name, which is in parentheses and may hold spaces or parentheses itself.
fn start_time(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(19)?.parse().ok()
}

fn is_sudo(config: &Config, service: &str) -> bool {
    config.sudo_services.iter().any(|s| s == service)
}

/// `auth::authenticate` with `sudo_after_login`: for a sudo service, a skip when this
/// session entered a code recently; for any other service, a pending record after a code.
/// `process` is only asked (and nothing read or written here) when the option is set.
pub fn authenticate(
    config: &Config,
    req: &Request,
    process: &dyn Fn() -> Process,
    records: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    let Some(window) = config.sudo_after_login else {
        return auth::authenticate(config, req, conv);
    };
    let process = &process();
    if is_sudo(config, req.service) {
        let record = match process.audit_session {
            None => Ok(None),
            Some(id) => Records::open(records, false).and_then(|r| match r {
                Some(r) => r.read(&session_name(id)),
                None => Ok(None),
            }),
        };
        let why = match record {
            Ok(record) => match sudo_may_skip(
                window,
                req.user,
                process.audit_session,
                record.as_ref(),
                req.now,
            ) {
                Ok(reason) => {
                    return Outcome {
                        answer: Answer::Success,
                        method: "session",
                        reason,
                        level: Level::Notice,
                    }
                }
                Err(why) => why,
            },
            Err(e) => format!("the login records cannot be read: {e}"),
        };
        let mut outcome = auth::authenticate(config, req, conv);
        outcome
            .reason
            .push_str(&format!("; sudo_after_login: asked, {why}"));
        return outcome;
    }
    let mut outcome = auth::authenticate(config, req, conv);
    if outcome.answer == Answer::Success {
        let record = LoginRecord {
            user: req.user.into(),
            at: req.now,
            method: outcome.method.into(),
            pids: [
                (process.pid, process.start),
                (process.ppid, process.parent_start),
            ]
            .into_iter()
            .filter_map(|(pid, start)| Some([u64::from(pid), start?]))
            .collect(),
        };
        let written = Records::open(records, true).and_then(|r| match r {
            Some(r) => r.write(&format!("login-{}", process.pid), &record),
            None => Err(format!("{records} could not be created")),
        });
        if let Err(e) = written {
            outcome.reason.push_str(&format!(
                "; sudo_after_login: this login is not recorded ({e}), so sudo will ask"
            ));
        }
    }
    outcome
}

/// `pam_sm_open_session`: claims this login's pending record for the audit session.
/// Nothing to log (None) when the option is off, for sudo services, or when this login
/// entered no code.
pub fn open_session(
    config: &Config,
    service: &str,
    user: &str,
    process: &Process,
    now: UnixTime,
    records: &str,
) -> Option<(Level, String)> {
    let window = config.sudo_after_login?;
    if is_sudo(config, service) {
        return None;
    }
    let dir = match Records::open(records, false) {
        Ok(Some(dir)) => dir,
        Ok(None) => return None,
        Err(e) => return Some(cannot(&e)),
    };
    let pending = match dir.sweep(now, window, |name, record| {
        name.starts_with("login-") && claims(record, process, user, now, window)
    }) {
        Ok(found) => found?,
        Err(e) => return Some(cannot(&e)),
    };
    let Some(id) = process.audit_session else {
        let _ = dir.remove(&pending);
        return Some((Level::Notice, "sudo_after_login: this session has no audit session id (pam_loginuid must come before pam_twofold in the session stack; containers may lack audit support), so sudo will ask for a code".into()));
    };
    // A session already has its record when a login inside it (`su bob`) opens a session
    // of its own: the first login's record stays, and is closed only by its own user.
    match dir.rename_new(&pending, &session_name(id)) {
        Ok(true) => Some((
            Level::Info,
            format!("sudo_after_login: the code entered at this login counts for sudo in audit session {id} for {window} s"),
        )),
        Ok(false) => {
            let _ = dir.remove(&pending);
            Some((
                Level::Info,
                format!("sudo_after_login: audit session {id} already has the record of the login that began it; this login's code does not count for sudo"),
            ))
        }
        Err(e) => Some(cannot(&e)),
    }
}

/// `pam_sm_close_session`: the session's record goes with it.
pub fn close_session(
    config: &Config,
    service: &str,
    user: &str,
    process: &Process,
    now: UnixTime,
    records: &str,
) -> Option<(Level, String)> {
    let window = config.sudo_after_login?;
    if is_sudo(config, service) {
        return None;
    }
    let dir = match Records::open(records, false) {
        Ok(Some(dir)) => dir,
        Ok(None) => return None,
        Err(e) => return Some(cannot(&e)),
    };
    let mine = process.audit_session.map(session_name);
    let found = dir.sweep(now, window, |name, record| {
        Some(name) == mine.as_deref() && record.user == user
    });
    match found {
        Ok(Some(name)) => match dir.remove(&name) {
            Ok(()) => Some((
                Level::Info,
                format!("sudo_after_login: session closed, {name} removed"),
            )),
            Err(e) => Some(cannot(&e)),
        },
        Ok(None) => None,
        Err(e) => Some(cannot(&e)),
    }
}

fn cannot(e: &str) -> (Level, String) {
    (
        Level::Error,
        format!("sudo_after_login: login records: {e}; sudo will ask for a code"),
    )
}

fn session_name(id: u32) -> String {
    format!("session-{id}")
}

/// The record directory, opened and checked by `store`: root's, mode 0700, no symlinks.
struct Records {
    store: SecretStore,
    path: String,
}

impl Records {
    fn open(path: &str, create: bool) -> Result<Option<Records>, String> {
        let loc = Location::from_path(&format!("{path}/records"), Owner::Root)
            .map_err(|e| e.to_string())?;
        let store = if create {
            SecretStore::open_or_create(&loc).map(Some)
        } else {
            SecretStore::open(&loc)
        }
        .map_err(|e| e.to_string())?;
        Ok(store.map(|store| Records {
            store,
            path: path.to_string(),
        }))
    }

    fn dir(&self) -> &OwnedFd {
        self.store.dir_fd()
    }

    fn path_of(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    /// Reads and checks the record `name`: `Ok(None)` if absent.
    fn read(&self, name: &str) -> Result<Option<LoginRecord>, String> {
        let path = self.path_of(name);
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match openat(self.dir(), name, flags, Mode::empty()).map_err(sys) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(format!("{path}: open: {e}")),
        };
        let bytes = read_checked(fd, &path, Owner::Root).map_err(|e| e.to_string())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| format!("{path} is not UTF-8"))?;
        toml::from_str(text)
            .map(Some)
            .map_err(|e| format!("{path} is not a login record: {}", e.message()))
    }

    /// Writes `name` whole: a temp file of its own, then a rename over it.
    fn write(&self, name: &str, record: &LoginRecord) -> Result<(), String> {
        let path = self.path_of(name);
        let text = toml::to_string(record).map_err(|e| format!("{path}: {e}"))?;
        let tmp = format!(".{name}.tmp");
        // One left by a crash of the process that had this pid: nobody else writes it.
        match unlinkat(self.dir(), tmp.as_str(), AtFlags::empty()).map_err(sys) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(format!("{path}: removing a stale temp file: {e}")),
        }
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let result = openat(self.dir(), tmp.as_str(), flags, Mode::RUSR | Mode::WUSR)
            .map_err(|e| format!("{path}: creating the temp file: {}", sys(e)))
            .and_then(|fd| {
                // No fsync: /run is a tmpfs, and a record lost in a crash only means sudo asks.
                std::fs::File::from(fd)
                    .write_all(text.as_bytes())
                    .map_err(|e| format!("{path}: write: {e}"))
            })
            .and_then(|()| {
                renameat(self.dir(), tmp.as_str(), self.dir(), name)
                    .map_err(|e| format!("{path}: rename: {}", sys(e)))
            });
        if result.is_err() {
            let _ = unlinkat(self.dir(), tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// Renames `from` to `to` unless `to` exists: `Ok(false)` then, and nothing renamed.
    fn rename_new(&self, from: &str, to: &str) -> Result<bool, String> {
        match renameat_with(self.dir(), from, self.dir(), to, RenameFlags::NOREPLACE).map_err(sys) {
            Ok(()) => Ok(true),
            Err(Errno::EEXIST) => Ok(false),
            Err(e) => Err(format!("{}: rename to {to}: {e}", self.path_of(from))),
        }
    }

    fn remove(&self, name: &str) -> Result<(), String> {
        match unlinkat(self.dir(), name, AtFlags::empty()).map_err(sys) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(format!("{}: remove: {e}", self.path_of(name))),
        }
    }

    /// Goes through the records: removes the expired ones and those that fail their checks
    /// (never the one wanted), and returns the name of the first that `wanted` picks.
    fn sweep(
        &self,
        now: UnixTime,
        window: u64,
        wanted: impl Fn(&str, &LoginRecord) -> bool,
    ) -> Result<Option<String>, String> {
        let entries = rustix::fs::Dir::read_from(self.dir())
            .map_err(|e| format!("{}: listing: {}", self.path, sys(e)))?;
        let mut found = None;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: listing: {}", self.path, sys(e)))?;
            let Ok(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !(name.starts_with("login-") || name.starts_with("session-")) {
                continue;
            }
            match self.read(&name) {
                Ok(Some(record)) if found.is_none() && wanted(&name, &record) => found = Some(name),
                Ok(Some(record)) if !expired(&record, now, window) => {}
                Ok(None) => {}
                // Expired, or unreadable (another process's leftovers, or planted):
                // nothing may count on it.
                _ => self.remove(&name)?,
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user: &str, at: UnixTime) -> LoginRecord {
        LoginRecord {
            user: user.into(),
            at,
            method: "totp".into(),
            pids: vec![],
        }
    }

    #[test]
    fn sudo_within_the_window_of_a_code_in_this_session_skips() {
        let r = record("alice", 1000);
        let reason = sudo_may_skip(900, "alice", Some(7), Some(&r), 1010).unwrap();
        assert!(reason.contains("10 s ago"), "{reason}");
        assert!(reason.contains("audit session 7"), "{reason}");
        assert!(sudo_may_skip(900, "alice", Some(7), Some(&r), 1900).is_ok());
    }

    #[test]
    fn sudo_after_the_window_asks() {
        let r = record("alice", 1000);
        let why = sudo_may_skip(900, "alice", Some(7), Some(&r), 1901).unwrap_err();
        assert!(why.contains("901 s ago"), "{why}");
    }

    #[test]
    fn sudo_without_an_audit_session_or_a_record_asks() {
        let r = record("alice", 1000);
        let why = sudo_may_skip(900, "alice", None, Some(&r), 1010).unwrap_err();
        assert!(why.contains("no audit session id"), "{why}");
        let why = sudo_may_skip(900, "alice", Some(7), None, 1010).unwrap_err();
        assert!(why.contains("no code entered"), "{why}");
    }

    #[test]
    fn sudo_by_another_user_in_the_session_asks() {
        let r = record("alice", 1000);
        assert!(sudo_may_skip(900, "bob", Some(7), Some(&r), 1010).is_err());
    }

    #[test]
    fn a_record_dated_in_the_future_asks() {
        let r = record("alice", 2000);
        assert!(sudo_may_skip(900, "alice", Some(7), Some(&r), 1010).is_err());
        assert!(expired(&r, 1010, 900));
    }

    #[test]
    fn a_pending_record_is_claimed_only_by_its_pids_for_its_user_soon_after() {
        let r = LoginRecord {
            pids: vec![[40, 400], [31, 310]],
            ..record("alice", 1000)
        };
        let p = |pid: u32, start: Option<u64>| Process {
            pid,
            start,
            ppid: 1,
            parent_start: Some(1),
            audit_session: Some(7),
        };
        assert!(claims(&r, &p(31, Some(310)), "alice", 1000, 900));
        assert!(claims(&r, &p(40, Some(400)), "alice", 1001, 900));
        assert!(!claims(&r, &p(32, Some(310)), "alice", 1000, 900));
        // The same pid, used again by a later process: not the one that logged in.
        assert!(!claims(&r, &p(31, Some(311)), "alice", 1000, 900));
        assert!(!claims(&r, &p(31, None), "alice", 1000, 900));
        assert!(!claims(&r, &p(31, Some(310)), "bob", 1000, 900));
        assert!(!claims(
            &r,
            &p(31, Some(310)),
            "alice",
            1000 + CLAIM_WITHIN + 1,
            900
        ));
        assert!(!claims(&r, &p(31, Some(310)), "alice", 1005, 2));
        assert!(!claims(&r, &p(31, Some(310)), "alice", 999, 900));
    }

    #[test]
    fn the_start_time_is_field_22_of_proc_stat_whatever_the_command_name() {
        let stat = "31 (sshd: alice (priv)) S 1 31 31 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 123456 1000 200";
        assert_eq!(parse_start_time(stat), Some(123_456));
        assert_eq!(parse_start_time("31 (x) S 1"), None);
        assert_eq!(parse_start_time("garbage"), None);
        assert!(start_time("self").is_some());
    }

    #[test]
    fn windows_and_services_are_checked() {
        assert_eq!(parse_window("15m"), Ok(900));
        assert_eq!(parse_window("2s"), Ok(2));
        assert!(parse_window("0s").is_err());
        assert!(parse_window("2d").is_err());
        assert!(parse_window("soon").is_err());
        assert!(parse_services(vec![]).is_err());
        assert!(parse_services(vec!["su do".into()]).is_err());
        assert!(parse_services(vec!["sudo".into(), "sudo-i".into()]).is_ok());
        let c = Config::parse("sudo_after_login = \"15m\"").unwrap();
        assert_eq!(c.sudo_after_login, Some(900));
        assert_eq!(c.sudo_services, ["sudo", "sudo-i"]);
        assert_eq!(Config::parse("").unwrap().sudo_after_login, None);
        assert!(Config::parse("sudo_after_login = 900").is_err());
    }

    /// A fresh root-owned directory for the records; these tests run as root (as the
    /// store's system-mode tests do) and fail otherwise.
    fn record_dir(name: &str) -> String {
        assert!(
            rustix::process::geteuid().is_root(),
            "the record tests must run as root"
        );
        let dir = format!("/var/tmp/twofold-session-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    struct NoPrompt;
    impl Conversation for NoPrompt {
        fn prompt_hidden(&mut self, _: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
            Err("asked".into())
        }
        fn info(&mut self, _: &str) {}
    }

    fn sudo(
        config: &Config,
        user: &str,
        session: Option<u32>,
        now: UnixTime,
        dir: &str,
    ) -> Outcome {
        let req = Request {
            user,
            service: "sudo",
            rhost: None,
            now,
            caller: auth::Caller::of_this_process(),
        };
        let process = Process {
            pid: 5000,
            start: Some(50_000),
            ppid: 4999,
            parent_start: Some(49_990),
            audit_session: session,
        };
        authenticate(config, &req, &|| process, dir, &mut NoPrompt)
    }

    #[test]
    fn a_login_record_claimed_by_the_session_lets_sudo_skip_until_it_closes() {
        let dir = record_dir("flow");
        let config = Config::parse("sudo_after_login = \"15m\"").unwrap();
        // What a login with a code leaves behind (auth in sshd's child 40 of monitor 31).
        let records = Records::open(&dir, true).unwrap().unwrap();
        let pending = LoginRecord {
            pids: vec![[40, 400], [31, 310]],
            ..record("alice", 1000)
        };
        records.write("login-40", &pending).unwrap();
        let monitor = Process {
            pid: 31,
            start: Some(310),
            ppid: 1,
            parent_start: Some(1),
            audit_session: Some(7),
        };
        let (_, line) = open_session(&config, "sshd", "alice", &monitor, 1001, &dir).unwrap();
        assert!(line.contains("audit session 7"), "{line}");
        assert!(records.read("login-40").unwrap().is_none());

        // `su bob` in that session, with bob's code: alice's record stays, and bob's
        // session end does not remove it.
        let su = Process {
            pid: 50,
            start: Some(500),
            ppid: 49,
            parent_start: Some(490),
            audit_session: Some(7),
        };
        records
            .write(
                "login-50",
                &LoginRecord {
                    pids: vec![[50, 500]],
                    ..record("bob", 1050)
                },
            )
            .unwrap();
        let (_, line) = open_session(&config, "su", "bob", &su, 1050, &dir).unwrap();
        assert!(line.contains("already has the record"), "{line}");
        assert!(records.read("login-50").unwrap().is_none());
        assert_eq!(close_session(&config, "su", "bob", &su, 1060, &dir), None);
        assert_eq!(records.read("session-7").unwrap().unwrap().user, "alice");

        let skipped = sudo(&config, "alice", Some(7), 1100, &dir);
        assert_eq!(skipped.answer, Answer::Success, "{skipped:?}");
        assert_eq!(skipped.method, "session");
        // Another session, another user, no session, too late: asked (and refused here,
        // as the scripted conversation gives no answer).
        for (user, session, now) in [
            ("alice", Some(8), 1100),
            ("bob", Some(7), 1100),
            ("alice", None, 1100),
            ("alice", Some(7), 1901),
        ] {
            let asked = sudo(&config, user, session, now, &dir);
            assert_eq!(
                asked.answer,
                Answer::Deny,
                "{user} {session:?} {now}: {asked:?}"
            );
            assert!(
                asked.reason.contains("sudo_after_login: asked"),
                "{asked:?}"
            );
        }
        // The option off: nothing is read.
        let off = sudo(&Config::default(), "alice", Some(7), 1100, &dir);
        assert_eq!(off.answer, Answer::Deny);

        close_session(&config, "sshd", "alice", &monitor, 1200, &dir).unwrap();
        assert_eq!(
            sudo(&config, "alice", Some(7), 1201, &dir).answer,
            Answer::Deny
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_session_without_an_audit_id_drops_the_pending_record() {
        let dir = record_dir("unset");
        let config = Config::parse("sudo_after_login = \"15m\"").unwrap();
        let records = Records::open(&dir, true).unwrap().unwrap();
        records
            .write(
                "login-40",
                &LoginRecord {
                    pids: vec![[40, 400], [31, 310]],
                    ..record("alice", 1000)
                },
            )
            .unwrap();
        let monitor = Process {
            pid: 31,
            start: Some(310),
            ppid: 1,
            parent_start: Some(1),
            audit_session: None,
        };
        let (level, line) = open_session(&config, "sshd", "alice", &monitor, 1001, &dir).unwrap();
        assert_eq!(level, Level::Notice);
        assert!(line.contains("no audit session id"), "{line}");
        assert!(records.read("login-40").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn planted_and_expired_records_are_refused_and_swept() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = record_dir("hostile");
        let config = Config::parse("sudo_after_login = \"15m\"").unwrap();
        let records = Records::open(&dir, true).unwrap().unwrap();
        records.write("session-9", &record("alice", 10)).unwrap();
        // A record open to others, and a symlink to one: never believed.
        records.write("session-7", &record("alice", 1000)).unwrap();
        std::fs::set_permissions(
            format!("{dir}/session-7"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(records.read("session-7").is_err());
        assert_eq!(
            sudo(&config, "alice", Some(7), 1001, &dir).answer,
            Answer::Deny
        );
        std::fs::remove_file(format!("{dir}/session-7")).unwrap();
        records.write("session-1", &record("alice", 1000)).unwrap();
        symlink(format!("{dir}/session-1"), format!("{dir}/session-7")).unwrap();
        let asked = sudo(&config, "alice", Some(7), 1001, &dir);
        assert_eq!(asked.answer, Answer::Deny);
        assert!(asked.reason.contains("cannot be read"), "{asked:?}");
        // A directory open to others: nothing in it is believed.
        std::fs::remove_file(format!("{dir}/session-7")).unwrap();
        std::fs::rename(format!("{dir}/session-1"), format!("{dir}/session-7")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            sudo(&config, "alice", Some(7), 1001, &dir).answer,
            Answer::Deny
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            sudo(&config, "alice", Some(7), 1001, &dir).answer,
            Answer::Success
        );
        // The sweep at a session's end removes the expired record.
        let other = Process {
            pid: 99,
            start: Some(990),
            ppid: 1,
            parent_start: Some(1),
            audit_session: Some(3),
        };
        close_session(&config, "sshd", "alice", &other, 1001, &dir);
        assert!(records.read("session-9").unwrap().is_none());
        assert!(records.read("session-7").unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
