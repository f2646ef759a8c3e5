//! The login flow behind `pam_sm_authenticate`, written against a conversation trait so that
//! tests drive it without libpam. It returns an answer and one log line; it never panics on
//! bad input and every path that is not a verified code ends in a denial.

use crate::account::{Account, AccountError};
use crate::codes::{classify, Attempt};
use crate::config::{Config, Unenrolled};
use crate::directory::DirectoryEntry;
use crate::store::{Backend, ErrorKind, Location, Storage, Update, UserFile};
use crate::verify::{decide_with, precompute, Origin};
use crate::UnixTime;
use zeroize::Zeroizing;

/// The PAM module's side of the conversation with the person.
pub trait Conversation {
    /// Asks without echo; the answer is wiped when dropped.
    fn prompt_hidden(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, String>;
    /// Tells the person something (a notice, never a secret).
    fn info(&mut self, text: &str);
    /// The password the stack already holds (PAM_AUTHTOK), if any. An answer to the code
    /// prompt equal to it is refused: sshd's password method answers every prompt with it.
    fn password(&self) -> Option<&[u8]> {
        None
    }
    /// Whether `info` reaches the person (not under PAM_SILENT). Enrollment at login shows
    /// its key that way, and is not offered otherwise.
    fn shows_info(&self) -> bool {
        false
    }
    /// The clock, read when asked (an answer typed minutes into the login is checked
    /// against the time it was typed). `None`: unreadable.
    fn now(&self) -> Option<UnixTime> {
        None
    }
    /// A line for the auth log, written at once: a step of the login before its outcome
    /// (enrollment offered). Never a code, a secret or a hash.
    fn log(&mut self, _level: Level, _method: &str, _result: &str, _reason: &str) {}
}

#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub user: &'a str,
    pub service: &'a str,
    pub rhost: Option<&'a str>,
    pub now: UnixTime,
    /// Who runs the module: [`Caller::of_this_process`] in the PAM module.
    pub caller: Caller,
}

/// The credentials of the process that runs the module. Given to the core rather than read
/// there, so the rules for unprivileged callers are tested without switching users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Real, effective and saved user ids.
    pub uids: [u32; 3],
    /// Real, effective and saved group ids.
    pub gids: [u32; 3],
    /// Whether any capability is permitted or effective (also when they cannot be read).
    pub capabilities: bool,
}

impl Caller {
    /// The calling process's credentials (and the calling thread's capabilities). What
    /// cannot be read counts against the caller: a saved id of u32::MAX matches no user.
    pub fn of_this_process() -> Caller {
        use nix::unistd::{getegid, geteuid, getgid, getresgid, getresuid, getuid};
        let uids = getresuid().map_or([getuid().as_raw(), geteuid().as_raw(), u32::MAX], |r| {
            [r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()]
        });
        let gids = getresgid().map_or([getgid().as_raw(), getegid().as_raw(), u32::MAX], |r| {
            [r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()]
        });
        let capabilities = rustix::thread::capabilities(None).map_or(true, |c| {
            !(c.effective.is_empty() && c.permitted.is_empty())
        });
        Caller {
            uids,
            gids,
            capabilities,
        }
    }

    fn is_root(&self) -> bool {
        self.uids[1] == 0
    }

    /// Why this caller is not a plain process of user `uid`, if it is not: every uid the
    /// user's (a setuid-root program that only set its effective uid keeps a saved uid 0 and
    /// can take root back), one group in all three places (not setgid), no capabilities.
    fn not_plain_user(&self, uid: u32) -> Option<String> {
        let [r, e, s] = self.gids;
        if self.uids != [uid; 3] {
            Some(format!("not all of its uids are the user's ({uid})"))
        } else if !(r == e && e == s) {
            Some(format!(
                "its real, effective and saved gids ({r}, {e}, {s}) differ (setgid)"
            ))
        } else if self.capabilities {
            Some("it holds capabilities".into())
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// PAM_SUCCESS
    Success,
    /// PAM_IGNORE: break-glass accounts, users the policy lets through unenrolled, and screen
    /// lockers in system mode; the rest of the stack decides. Never PAM_SUCCESS for these: a
    /// `sufficient` line would let them in with no factor at all (pam-u2f's CVE-2020-24612).
    Ignore,
    /// PAM_AUTH_ERR
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub answer: Answer,
    /// totp, recovery, pass, exempt, unenrolled, enroll, unprivileged or none.
    pub method: &'static str,
    /// For the auth log. Never a code, a secret or a hash.
    pub reason: String,
    pub level: Level,
}

impl Outcome {
    pub(crate) fn deny(method: &'static str, reason: impl Into<String>, level: Level) -> Outcome {
        Outcome {
            answer: Answer::Deny,
            method,
            reason: reason.into(),
            level,
        }
    }
}

/// With `[directory]`, a user with no state on their entry but a secret file on this host
/// (not moved yet by `twofold admin migrate --to-directory`, or configured before the move)
/// is enrolled, not unenrolled: whatever `unenrolled` allows, they are refused until the
/// state is moved. A file that cannot be checked refuses too (fail closed).
fn stranded_file(config: &Config, account: &Account) -> Option<String> {
    config.directory.as_ref()?;
    let loc = match Location::for_account(config, account) {
        Ok(loc) => loc,
        Err(_) => return None,
    };
    // A home that does not exist (yet: pam_mkhomedir makes it in the session phase) holds
    // no secret file.
    if !config.secret_path.is_system_mode()
        && std::fs::symlink_metadata(&account.home)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        return None;
    }
    let path = loc.path().to_string();
    match UserFile::new(loc).read() {
        Ok(None) => None,
        Ok(Some(_)) => Some(format!(
            "no state in the directory, but this host has the secret file {path}: run `twofold admin migrate --to-directory --user {}` (the user needs an entry in the directory; a local account without one belongs in a break-glass group)",
            account.name
        )),
        Err(e) => Some(format!(
            "no state in the directory, and this host's secret file cannot be checked: {e}"
        )),
    }
}

pub fn authenticate(config: &Config, req: &Request, conv: &mut dyn Conversation) -> Outcome {
    let mut outcome = authenticate_with(config, req, conv, Account::lookup);
    if config
        .directory
        .as_ref()
        .is_some_and(|d| d.plain_ldap_for_tests)
    {
        outcome
            .reason
            .push_str("; directory.plain_ldap_for_tests = true: the directory may be reached without TLS (test networks only)");
    }
    outcome
}

/// As [`authenticate`], with the account from `lookup`: tests give accounts whose home is
/// missing or empty without creating users.
fn authenticate_with(
    config: &Config,
    req: &Request,
    conv: &mut dyn Conversation,
    lookup: fn(&str) -> Result<Account, AccountError>,
) -> Outcome {
    // Whatever goes wrong before the prompt, the person is still asked for a code, so the
    // prompt does not tell who exists or who is enrolled.
    let refuse_as = |method, conv: &mut dyn Conversation, reason: String, level: Level| {
        let _ = conv.prompt_hidden(&config.prompt);
        Outcome::deny(method, reason, level)
    };
    let refuse_after_prompt = |conv: &mut dyn Conversation, reason: String, level: Level| {
        refuse_as("none", conv, reason, level)
    };
    // Before the account lookup, so that from an exempt network the answer does not depend
    // on whether the user exists.
    if let Some((network, addr)) =
        crate::network::exempt_network(&config.exempt_networks, req.service, req.rhost)
    {
        return Outcome {
            answer: Answer::Ignore,
            method: "exempt",
            reason: format!(
                "client address {addr} in exempt network {network}: second factor skipped"
            ),
            level: Level::Notice,
        };
    }
    let account = match lookup(req.user) {
        Ok(a) => a,
        Err(e @ (AccountError::BadName(_) | AccountError::Unknown)) => {
            return refuse_after_prompt(conv, e.to_string(), Level::Warning)
        }
        Err(e) => return refuse_after_prompt(conv, e.to_string(), Level::Error),
    };
    match account.member_of_any(&config.exempt_groups) {
        Ok(Some(group)) => {
            return Outcome {
                answer: Answer::Ignore,
                method: "exempt",
                reason: format!(
                    "member of exempt group `{group}`: second factor skipped (break-glass account)"
                ),
                level: Level::Notice,
            }
        }
        Ok(None) => {}
        Err(e) => {
            return refuse_after_prompt(conv, format!("exempt group check: {e}"), Level::Error)
        }
    }
    // The directory backend binds with a root-only password: root only, as in system mode.
    let as_root = config.secret_path.is_system_mode() || config.directory.is_some();
    if as_root && !req.caller.is_root() {
        // Only root can read (and must write) the system directory. A screen locker runs PAM
        // as the user it unlocks (xscreensaver, i3lock, swaylock, vlock): the answer gives it
        // nothing its user does not already have, so the rest of its stack decides. Only the
        // services named in `screen_lockers`, and only with no remote host: a VNC server or a
        // second sshd a user starts also runs PAM as that user, and must not let a remote
        // caller in with the password alone. Setuid programs (sudo, su) run as root and never
        // get here. Deciding on who runs us, not on a failed open, is deliberate: such a
        // caller could never record a code's use anyway.
        let [ruid, euid, suid] = req.caller.uids;
        // The service and the remote host are in the log line's context already.
        let why = format!(
            "system mode and the directory need root, and this program runs as uid {euid} (real {ruid}, saved {suid})"
        );
        let refusal = if !config.screen_lockers.iter().any(|s| s == req.service) {
            Some("its service is not in screen_lockers: refused; run it as root, or if it is a screen locker add its PAM service to screen_lockers in twofold.toml(5)".to_string())
        } else if req.rhost.is_some_and(|r| !r.is_empty()) {
            Some("a screen locker's service but with a remote host (PAM_RHOST), which a screen locker never sets: refused".into())
        } else {
            // A program with saved root, setgid or capabilities could act on the answer
            // with more than its user has.
            req.caller
                .not_plain_user(account.uid)
                .map(|p| format!("a screen locker's service, but {p}: refused"))
        };
        return match refusal {
            Some(refusal) => refuse_as(
                "unprivileged",
                conv,
                format!("{why}; {refusal}"),
                Level::Error,
            ),
            None => Outcome {
                answer: Answer::Ignore,
                method: "unprivileged",
                reason: format!(
                    "{why}, the user's own screen locker: second factor skipped, the rest of the stack decides"
                ),
                level: Level::Notice,
            },
        };
    }
    let mut storage = match &config.directory {
        Some(dir) => Backend::Directory(DirectoryEntry::new(dir, &account.name).at(req.now)),
        None => match Location::for_account(config, &account) {
            Ok(l) => Backend::File(UserFile::new(l)),
            Err(e) => return refuse_after_prompt(conv, e.to_string(), Level::Error),
        },
    };
    // Read outside the transaction, for the work before it (the prompt, argon2): the read
    // inside the transaction decides.
    let read = storage.read();
    if matches!(read, Ok(None)) {
        if let Some(why) = stranded_file(config, &account) {
            return refuse_as("unenrolled", conv, why, Level::Warning);
        }
    }
    let peeked = match read {
        Ok(Some(file)) => file,
        Ok(None) if config.unenrolled_may_pass(req.now) => {
            let why = match config.unenrolled_allow_until {
                Some(t) if req.now < t => format!("grace period until {}", crate::time::rfc3339(t)),
                _ => "unenrolled = \"allow\"".to_string(),
            };
            return Outcome {
                answer: Answer::Ignore,
                method: "unenrolled",
                reason: format!(
                    "not enrolled, left to the rest of the stack by policy ({why}); run `twofold enroll`"
                ),
                level: Level::Notice,
            };
        }
        Ok(None) if config.unenrolled == Unenrolled::Enroll => {
            return crate::enrollment::at_first_login(
                config,
                req,
                &account.name,
                &mut storage,
                conv,
            )
        }
        Ok(None) => {
            return refuse_as(
                "unenrolled",
                conv,
                "not enrolled and unenrolled = \"deny\"".into(),
                Level::Warning,
            )
        }
        Err(e) => return refuse_after_prompt(conv, e.to_string(), Level::Error),
    };

    let input = match conv.prompt_hidden(&config.prompt) {
        Ok(i) => i,
        Err(e) => {
            return Outcome::deny("none", format!("conversation failed: {e}"), Level::Warning)
        }
    };
    if let Some(password) = conv.password().filter(|p| !p.is_empty()) {
        // Constant time: the comparison must not tell how much of the answer matched.
        if bool::from(subtle::ConstantTimeEq::ct_eq(&input[..], password)) {
            let reason = if req.service == "sshd" {
                "sshd answered the code prompt with the password: password ssh needs KbdInteractiveAuthentication yes and AuthenticationMethods keyboard-interactive; see pam_twofold(8)"
            } else {
                "the answer to the code prompt is the user's password, not a code"
            };
            return Outcome::deny("none", reason, Level::Warning);
        }
    }
    let attempt = classify(&input);
    drop(input);
    if let Attempt::Malformed(why) = attempt {
        return Outcome::deny("none", format!("input refused: {why}"), Level::Warning);
    }
    let method = attempt.method();
    // The argon2 work (recovery codes, passes) happens here, before the lock is taken.
    let pre = precompute(&peeked, &attempt, config, req.now);

    // One transaction: the decision is taken on the file as it is now (another login may
    // have changed it since the read above), and what it changes is committed with it.
    let origin = Origin {
        rhost: req.rhost,
        service: req.service,
    };
    let updated = storage.update(|file| {
        let mut decision = decide_with(file, &attempt, config, req.now, &origin, pre.as_ref());
        let change = decision.update.take();
        (decision, change)
    });
    drop(attempt);
    let decision = match updated {
        Ok(Update::Committed(decision)) => decision,
        Ok(Update::NotSaved(decision, e)) => {
            let level = if e.kind == ErrorKind::Io {
                Level::Error
            } else {
                Level::Warning
            };
            // Accepting a code we could not record as used would allow its replay.
            return Outcome::deny(
                decision.method,
                format!("{}; state not saved: {e}", decision.reason),
                level,
            );
        }
        Ok(Update::Taken(decision)) => {
            return Outcome::deny(
                decision.method,
                "already used (replay): another login used the same answer at the same moment; not counted as a wrong answer",
                Level::Warning,
            )
        }
        Ok(Update::Absent) => {
            return Outcome::deny(
                method,
                "secret file disappeared during the login",
                Level::Warning,
            )
        }
        Err(e) => return Outcome::deny(method, e.to_string(), Level::Error),
    };
    if let Some(notice) = &decision.notice {
        conv.info(notice);
    }
    if decision.accepted {
        Outcome {
            answer: Answer::Success,
            method: decision.method,
            reason: decision.reason,
            level: Level::Info,
        }
    } else {
        Outcome::deny(decision.method, decision.reason, Level::Warning)
    }
}

/// A conversation from a script: expected prompts and the answers to give. For the tests
/// of this module only; not in the shipped module.
#[cfg(test)]
pub(crate) mod scripted {
    use super::{Conversation, Level};
    use zeroize::Zeroizing;

    #[derive(Default)]
    pub struct Script {
        pub answers: std::collections::VecDeque<Vec<u8>>,
        pub prompts: Vec<String>,
        pub infos: Vec<String>,
        /// What the stack holds as PAM_AUTHTOK.
        pub password: Option<Vec<u8>>,
        /// Whether the conversation shows informational messages (not PAM_SILENT).
        pub shows_info: bool,
        /// The clock the conversation reads.
        pub now: Option<crate::UnixTime>,
        /// Log lines written during the conversation: "method result reason".
        pub logs: Vec<String>,
    }

    impl Script {
        pub fn answering(answers: &[&[u8]]) -> Script {
            Script {
                answers: answers.iter().map(|a| a.to_vec()).collect(),
                ..Script::default()
            }
        }
    }

    impl Conversation for Script {
        fn prompt_hidden(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
            self.prompts.push(prompt.to_string());
            self.answers
                .pop_front()
                .map(Zeroizing::new)
                .ok_or_else(|| "no answer scripted".into())
        }
        fn info(&mut self, text: &str) {
            self.infos.push(text.to_string());
        }
        fn password(&self) -> Option<&[u8]> {
            self.password.as_deref()
        }
        fn shows_info(&self) -> bool {
            self.shows_info
        }
        fn now(&self) -> Option<crate::UnixTime> {
            self.now
        }
        fn log(&mut self, _level: Level, method: &str, result: &str, reason: &str) {
            self.logs.push(format!("{method} {result} {reason}"));
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Device, SecretFile, SecretKey};
    use crate::store::SecretStore;

    /// Answers the prompt with `answer`, after writing `change` to the file as another login
    /// would while this one waits at the prompt (when `change` is set).
    struct RaceAtPrompt {
        loc: Location,
        answer: Vec<u8>,
        change: Option<SecretFile>,
    }

    impl Conversation for RaceAtPrompt {
        fn prompt_hidden(&mut self, _prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
            if let Some(change) = self.change.take() {
                let store = SecretStore::open(&self.loc).unwrap().unwrap();
                let lock = store.lock().unwrap();
                store.write(&lock, &change).unwrap();
            }
            Ok(Zeroizing::new(self.answer.clone()))
        }
        fn info(&mut self, _text: &str) {}
    }

    /// A system-mode file for root in a fresh directory (system mode wants root-owned files).
    fn setup(name: &str) -> (Config, Location, SecretFile, String) {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "system mode needs root-owned files: run the tests as root (CI and scripts/test.sh do)"
        );
        let dir = format!("/tmp/twofold-auth-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config::parse(&format!("secret_path = \"{dir}/{{user}}.toml\"")).unwrap();
        let loc = Location::for_account(&config, &Account::lookup("root").unwrap()).unwrap();
        let mut file = SecretFile::new();
        file.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            0,
        ));
        let store = SecretStore::open_or_create(&loc).unwrap();
        let lock = store.lock().unwrap();
        store.write(&lock, &file).unwrap();
        (config, loc, file, dir)
    }

    const NOW: UnixTime = 1_800_000_000;
    const ROOT: Caller = Caller {
        uids: [0; 3],
        gids: [0; 3],
        capabilities: true,
    };
    const REQ: Request = Request {
        user: "root",
        service: "test",
        rhost: None,
        now: NOW,
        caller: ROOT,
    };

    #[test]
    fn an_unchanged_file_is_read_once_more_under_the_lock_and_the_code_accepted() {
        let (config, loc, file, dir) = setup("same");
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        let mut conv = RaceAtPrompt {
            loc: loc.clone(),
            answer: code.as_bytes().to_vec(),
            change: None,
        };
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Success, "{}", out.reason);
        let stored = SecretStore::open(&loc)
            .unwrap()
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(stored.devices[0].last_step, NOW / 30);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Answers the prompt after doing something to the files, as the user or an admin might
    /// while the login waits for the person.
    struct DuringPrompt {
        answer: Vec<u8>,
        action: Option<Box<dyn FnOnce()>>,
    }

    impl Conversation for DuringPrompt {
        fn prompt_hidden(&mut self, _prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
            if let Some(action) = self.action.take() {
                action();
            }
            Ok(Zeroizing::new(self.answer.clone()))
        }
        fn info(&mut self, _text: &str) {}
    }

    #[test]
    fn a_directory_made_writable_by_others_during_the_prompt_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let (config, loc, file, dir) = setup("chmod");
        let before = std::fs::read(loc.path()).unwrap();
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        let d = dir.clone();
        let mut conv = DuringPrompt {
            answer: code.as_bytes().to_vec(),
            action: Some(Box::new(move || {
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap()
            })),
        };
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Deny);
        assert!(
            out.reason.contains("writable by group or others"),
            "{}",
            out.reason
        );
        assert_eq!(std::fs::read(loc.path()).unwrap(), before, "file changed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_removed_during_the_prompt_denies_and_is_not_recreated() {
        let (config, loc, file, dir) = setup("reset");
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        let path = loc.path().to_string();
        let mut conv = DuringPrompt {
            answer: code.as_bytes().to_vec(),
            action: Some(Box::new(move || std::fs::remove_file(&path).unwrap())),
        };
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Deny);
        assert!(out.reason.contains("disappeared"), "{}", out.reason);
        assert!(!std::path::Path::new(&loc.path()).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_directory_moved_away_during_the_prompt_is_followed_not_the_new_one() {
        // The descriptor checked before the prompt is used after it: a directory put in
        // place of the old one meanwhile (by whoever may rename there) is not read or written.
        let (config, loc, file, dir) = setup("moved");
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        let moved = format!("{dir}.moved");
        let _ = std::fs::remove_dir_all(&moved);
        let (d, m) = (dir.clone(), moved.clone());
        let mut conv = DuringPrompt {
            answer: code.as_bytes().to_vec(),
            action: Some(Box::new(move || {
                std::fs::rename(&d, &m).unwrap();
                std::fs::create_dir(&d).unwrap();
            })),
        };
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Success, "{}", out.reason);
        assert!(
            !std::path::Path::new(&loc.path()).exists(),
            "wrote into the new directory"
        );
        let kept = std::fs::read_to_string(format!("{moved}/{}", loc.file)).unwrap();
        assert!(
            kept.contains(&format!("last_step = {}", NOW / 30)),
            "{kept}"
        );
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(moved).unwrap();
    }

    #[test]
    fn a_code_another_login_used_during_the_prompt_is_a_replay() {
        let (config, loc, file, dir) = setup("race");
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        // The same code was accepted elsewhere while this login waited at the prompt: the
        // decision must be taken on the file as it is under the lock, not as peeked.
        let mut used = file.clone();
        used.devices[0].last_step = NOW / 30;
        let mut conv = RaceAtPrompt {
            loc,
            answer: code.as_bytes().to_vec(),
            change: Some(used),
        };
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Deny);
        assert!(out.reason.contains("replay"), "{}", out.reason);
        std::fs::remove_dir_all(dir).unwrap();
    }

    use super::scripted::Script;

    #[test]
    fn with_a_directory_a_secret_file_left_on_the_host_refuses_instead_of_unenrolled() {
        let (mut config, loc, _file, dir) = setup("stranded");
        let root = Account::lookup("root").unwrap();
        // Files only: no directory, nothing stranded.
        assert_eq!(stranded_file(&config, &root), None);
        config.directory = Some(crate::config::Directory {
            uri: vec!["ldaps://ldap.invalid".into()],
            base: "ou=people,dc=example,dc=org".into(),
            bind_dn: "cn=host,dc=example,dc=org".into(),
            bind_password_file: "/etc/twofold/ldap.secret".into(),
            ca_file: None,
            timeout: std::time::Duration::from_secs(1),
            plain_ldap_for_tests: false,
        });
        let why = stranded_file(&config, &root).expect("a file is left on this host");
        assert!(
            why.contains(loc.path()) && why.contains("migrate --to-directory"),
            "{why}"
        );
        // Moved (the file removed): nothing stranded, the policy for unenrolled users applies.
        std::fs::remove_file(loc.path()).unwrap();
        assert_eq!(stranded_file(&config, &root), None);
        // Home mode, a home that does not exist yet (pam_mkhomedir makes it later): no file.
        let mut home = home_mode("");
        home.directory = config.directory.clone();
        assert_eq!(stranded_file(&home, &root_at(GONE_HOME).unwrap()), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Root with a home directory of the tests' choosing, in home mode (root's files need no
    /// change of file identity).
    fn root_at(home: &str) -> Result<Account, AccountError> {
        Ok(Account {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: home.into(),
        })
    }
    const GONE_HOME: &str = "/var/tmp/twofold-auth-no-such-parent/home/root";
    fn root_with_a_missing_home(_: &str) -> Result<Account, AccountError> {
        root_at(GONE_HOME)
    }
    fn root_with_an_empty_home(_: &str) -> Result<Account, AccountError> {
        root_at("/var/tmp/twofold-auth-empty-home")
    }

    fn home_mode(policy: &str) -> Config {
        Config::parse(&format!(
            "secret_path = \"{{home}}/.config/twofold/secrets.toml\"\n{policy}"
        ))
        .unwrap()
    }

    #[test]
    fn an_unenrolled_user_the_policy_allows_is_ignored_never_accepted() {
        let home = "/var/tmp/twofold-auth-empty-home";
        std::fs::create_dir_all(home).unwrap();
        for policy in [
            "unenrolled = \"allow\"\n",
            "unenrolled_allow_until = 2099-01-01T00:00:00Z\n",
        ] {
            let out = authenticate_with(
                &home_mode(policy),
                &REQ,
                &mut Script::default(),
                root_with_an_empty_home,
            );
            // PAM_SUCCESS would let a `sufficient` line pass with no factor at all.
            assert_eq!(out.answer, Answer::Ignore, "{policy}: {}", out.reason);
            assert_eq!(out.method, "unenrolled");
            assert!(out.reason.contains("not enrolled"), "{}", out.reason);
        }
    }

    #[test]
    fn a_missing_home_is_refused_whatever_the_policy_not_taken_for_unenrolled() {
        assert!(!std::path::Path::new(GONE_HOME).exists());
        for policy in ["unenrolled = \"allow\"\n", "unenrolled = \"deny\"\n"] {
            let mut conv = Script::answering(&[b"123456"]);
            let out = authenticate_with(
                &home_mode(policy),
                &REQ,
                &mut conv,
                root_with_a_missing_home,
            );
            assert_eq!(out.answer, Answer::Deny, "{policy}: {}", out.reason);
            assert_eq!(out.method, "none", "{}", out.reason);
            assert!(
                out.reason.contains("home directory not available"),
                "{}",
                out.reason
            );
            // Still prompted: the refusal does not tell what went wrong.
            assert_eq!(conv.prompts.len(), 1);
        }
    }

    #[test]
    fn a_home_without_the_secret_directory_is_not_enrolled() {
        let home = "/var/tmp/twofold-auth-empty-home";
        std::fs::create_dir_all(home).unwrap();
        let _ = std::fs::remove_dir_all(format!("{home}/.config"));
        let out = authenticate_with(
            &home_mode("unenrolled = \"deny\"\n"),
            &REQ,
            &mut Script::answering(&[b"123456"]),
            root_with_an_empty_home,
        );
        assert_eq!(out.answer, Answer::Deny);
        assert_eq!(out.method, "unenrolled", "{}", out.reason);
    }

    #[test]
    fn the_password_at_the_code_prompt_is_refused_naming_the_fix_and_not_counted() {
        let (config, loc, _file, dir) = setup("password");
        // sshd's password method answers every prompt with the password, digits or not.
        for password in [&b"123456"[..], b"correct horse battery"] {
            let mut conv = Script::answering(&[password]);
            conv.password = Some(password.to_vec());
            let req = Request {
                service: "sshd",
                ..REQ
            };
            let out = authenticate(&config, &req, &mut conv);
            assert_eq!(out.answer, Answer::Deny);
            assert_eq!(
                out.reason,
                "sshd answered the code prompt with the password: password ssh needs KbdInteractiveAuthentication yes and AuthenticationMethods keyboard-interactive; see pam_twofold(8)"
            );
            let out = authenticate(
                &config,
                &REQ,
                &mut Script {
                    password: Some(password.to_vec()),
                    ..Script::answering(&[password])
                },
            );
            assert!(
                out.reason.contains("is the user's password"),
                "{}",
                out.reason
            );
        }
        let stored = SecretStore::open(&loc)
            .unwrap()
            .unwrap()
            .read()
            .unwrap()
            .unwrap();
        assert_eq!(stored.state.failures, 0, "a password is not a failed code");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_code_that_is_not_the_password_is_still_checked() {
        let (config, _loc, file, dir) = setup("notpassword");
        let code = crate::totp::code_at(&file.devices[0], NOW).unwrap();
        let mut conv = Script::answering(&[code.as_bytes()]);
        conv.password = Some(b"hunter2".to_vec());
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Success, "{}", out.reason);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_sshd_login_from_an_exempt_network_is_ignored_without_a_prompt() {
        let config = Config::parse("exempt_networks = [\"10.0.0.0/8\"]").unwrap();
        // An unknown user too: from an exempt network nothing tells who exists.
        for user in ["root", "no-such-user-twofold"] {
            let req = Request {
                user,
                service: "sshd",
                rhost: Some("10.1.2.3"),
                now: NOW,
                caller: ROOT,
            };
            let mut conv = scripted::Script::default();
            let out = authenticate(&config, &req, &mut conv);
            assert_eq!(out.answer, Answer::Ignore, "{}", out.reason);
            assert_eq!((out.method, out.level), ("exempt", Level::Notice));
            assert!(out.reason.contains("10.1.2.3"), "{}", out.reason);
            assert!(conv.prompts.is_empty(), "{:?}", conv.prompts);
        }
    }

    #[test]
    fn logins_outside_the_exempt_networks_or_not_over_sshd_are_asked() {
        let config = Config::parse("exempt_networks = [\"10.0.0.0/8\"]").unwrap();
        for (service, rhost) in [
            ("sshd", Some("11.1.2.3")),
            ("sshd", Some("host.example.org")),
            ("sshd", None),
            ("sudo", Some("10.1.2.3")),
        ] {
            let req = Request {
                user: "no-such-user-twofold",
                service,
                rhost,
                now: NOW,
                caller: ROOT,
            };
            let mut conv = scripted::Script::answering(&[b"123456"]);
            let out = authenticate(&config, &req, &mut conv);
            assert_eq!(out.answer, Answer::Deny, "{service} {rhost:?}");
            assert_eq!(conv.prompts.len(), 1, "{service} {rhost:?}");
        }
    }

    const LOCKER_UID: u32 = 4242;
    fn locker_user(name: &str) -> Result<Account, AccountError> {
        Ok(Account {
            name: name.into(),
            uid: LOCKER_UID,
            gid: LOCKER_UID,
            home: "/var/tmp/twofold-auth-no-such-home".into(),
        })
    }
    /// A screen locker as it runs: every id the user's, no capabilities.
    const PLAIN: Caller = Caller {
        uids: [LOCKER_UID; 3],
        gids: [LOCKER_UID; 3],
        capabilities: false,
    };

    /// The unprivileged rule in system mode for one caller: the answer, the log reason and
    /// whether the person was prompted.
    fn as_caller(service: &str, rhost: Option<&str>, caller: Caller) -> (Outcome, bool) {
        let config =
            Config::parse("secret_path = \"/var/lib/twofold-auth-unused/{user}.toml\"").unwrap();
        let req = Request {
            user: "alice",
            service,
            rhost,
            now: NOW,
            caller,
        };
        let mut conv = Script::answering(&[b"123456"]);
        let out = authenticate_with(&config, &req, &mut conv, locker_user);
        assert_eq!(out.method, "unprivileged", "{}", out.reason);
        (out, !conv.prompts.is_empty())
    }

    #[test]
    fn a_listed_screen_locker_run_as_the_user_alone_is_ignored_unprompted() {
        for locker in ["i3lock", "xscreensaver", "kde"] {
            let (out, prompted) = as_caller(locker, None, PLAIN);
            assert_eq!(out.answer, Answer::Ignore, "{}", out.reason);
            assert_eq!(out.level, Level::Notice);
            assert!(!prompted);
        }
        // An empty PAM_RHOST is no remote host.
        assert_eq!(
            as_caller("i3lock", Some(""), PLAIN).0.answer,
            Answer::Ignore
        );
    }

    #[test]
    fn unprivileged_callers_other_than_a_plain_screen_locker_are_prompted_and_refused() {
        let other = |f: fn(&mut Caller)| {
            let mut c = PLAIN;
            f(&mut c);
            c
        };
        for (what, service, rhost, caller, logged) in [
            (
                "service not listed (a VNC server)",
                "vnc",
                None,
                PLAIN,
                "not in screen_lockers",
            ),
            (
                "user-run sshd",
                "sshd",
                Some("192.0.2.7"),
                PLAIN,
                "not in screen_lockers",
            ),
            (
                "remote host set",
                "i3lock",
                Some("192.0.2.7"),
                PLAIN,
                "remote host",
            ),
            (
                "setuid root that set only its effective uid",
                "i3lock",
                None,
                other(|c| c.uids[2] = 0),
                "not all of its uids",
            ),
            (
                "setuid root, real uid root",
                "i3lock",
                None,
                other(|c| c.uids[0] = 0),
                "not all of its uids",
            ),
            (
                "setgid",
                "i3lock",
                None,
                other(|c| c.gids[1..].copy_from_slice(&[42, 42])),
                "gids (4242, 42, 42) differ",
            ),
            (
                "setgid, effective gid dropped",
                "i3lock",
                None,
                other(|c| c.gids[2] = 42),
                "differ (setgid)",
            ),
            (
                "capabilities",
                "i3lock",
                None,
                other(|c| c.capabilities = true),
                "holds capabilities",
            ),
            (
                "another user",
                "i3lock",
                None,
                other(|c| c.uids = [LOCKER_UID + 1; 3]),
                "not all of its uids are the user's (4242)",
            ),
        ] {
            let (out, prompted) = as_caller(service, rhost, caller);
            assert_eq!(out.answer, Answer::Deny, "{what}: {}", out.reason);
            assert_eq!(out.level, Level::Error, "{what}");
            assert!(out.reason.contains(logged), "{what}: {}", out.reason);
            assert!(prompted, "{what}: refused without the prompt");
        }
    }
}
