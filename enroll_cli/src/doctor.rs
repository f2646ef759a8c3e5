//! `twofold doctor`: gathers what the core's analysis (`twofold_core::doctor`) looks at —
//! `sshd -T`, /etc/pam.d and /usr/lib/pam.d, sudoers, accounts, each relevant user's secret
//! file through the store, the clock's synchronisation state — and prints the findings.
//! Never a network call: the clock's state comes from timedatectl or local state files.

use crate::cli::{DoctorArgs, DoctorService};
use crate::error::{Error, Result};
use crate::invocation::Invocation;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, ExitCode};
use twofold_core::account::Account;
use twofold_core::config::{Config, ConfigError};
use twofold_core::directory::DirectoryEntry;
use twofold_core::doctor::{
    self, people, Clock, DirInfo, Enrollment, Finding, Inputs, PamFiles, Severity, Sshd, Sudoers,
};
use twofold_core::store::{ErrorKind, Location, SecretStore, Storage};

/// Where libpam looks for modules on Debian, Fedora and others.
const MODULE_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu/security",
    "/usr/lib/x86_64-linux-gnu/security",
    "/lib/aarch64-linux-gnu/security",
    "/usr/lib/aarch64-linux-gnu/security",
    "/lib64/security",
    "/usr/lib64/security",
    "/lib/security",
    "/usr/lib/security",
];

/// Host and address for `sshd -T -C` when no `--from` is given: TEST-NET-1, so `Match
/// Address` blocks for real networks do not apply by accident.
const NOWHERE: &str = "192.0.2.1";

pub fn run(
    config_path: &str,
    json: bool,
    user: Option<&str>,
    args: &DoctorArgs,
) -> Result<ExitCode> {
    if user.is_none() && (args.service.is_some() || args.from.is_some()) {
        return Err(Error::Usage("--service and --from need --user NAME".into()));
    }
    let invoker_uid = nix::unistd::getuid().as_raw();
    let root = invoker_uid == 0;
    let invoker = Account::by_uid(invoker_uid).map_err(|err| Error::UnknownInvoker {
        uid: invoker_uid,
        err,
    })?;
    let target = match user {
        Some(name) => {
            let found = Account::lookup(name);
            if !root && found.as_ref().map_or(true, |a| a.uid != invoker_uid) {
                return Err(Error::OtherUser { name: name.into() });
            }
            Some(found.map_err(|err| Error::Account {
                name: name.into(),
                err,
            })?)
        }
        None => None,
    };
    let config: std::result::Result<Config, String> = Config::load(config_path)
        .map_err(|ConfigError { path, message }| format!("{path} {message}"));
    let judged = config.clone().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::Internal("the clock is before 1970".into()))?
        .as_secs();

    let mut inputs = Inputs {
        config,
        pam: pam_files(),
        module_present: Some(
            MODULE_DIRS
                .iter()
                .any(|d| std::path::Path::new(d).join("pam_twofold.so").exists()),
        ),
        sshd: None,
        sudoers: if root { sudoers() } else { None },
        accounts: Vec::new(),
        groups: Vec::new(),
        users: BTreeMap::new(),
        secret_dir: None,
        free_bytes: None,
        clock: clock(),
        now,
    };

    gather_people(&mut inputs, &judged, root, &invoker, target.as_ref());
    if root {
        check_every_secret_file(&judged, &mut inputs);
    }
    secret_space(&judged, &invoker, &mut inputs);

    if root {
        let admins = people::admins(&inputs);
        let mut per_user = admins.clone();
        if let Some(t) = &target {
            per_user.push(t.name.clone());
        }
        inputs.sshd = sshd(&per_user, args.from.as_deref());
    }

    let mut findings = doctor::examine(&inputs);
    if !root {
        let mine = format!("user:{}", invoker.name);
        findings.retain(|f| {
            (!f.subject.starts_with("user:") || f.subject == mine) && f.subject != "admins"
        });
    }
    let way_in = target.as_ref().map(|t| {
        let service = args.service.map(|s| match s {
            DoctorService::Sshd => "sshd",
            DoctorService::Sudo => "sudo",
        });
        doctor::way_in(&inputs, &t.name, service)
    });
    print(&findings, way_in.as_deref(), json)?;
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Accounts, groups and enrollments of the people the doctor looks at: root, the sudoers
/// and the exempt groups' members when run by root; the invoker otherwise; and `target`.
fn gather_people(
    inputs: &mut Inputs,
    judged: &Config,
    root: bool,
    invoker: &Account,
    target: Option<&Account>,
) {
    // Whom to look at: root sees root, the sudoers and the exempt groups' members; a user
    // sees themselves.
    let mut names: Vec<String> = Vec::new();
    let mut down = None;
    if root {
        names.push("root".into());
        let mut groups: Vec<String> = judged.exempt_groups.clone();
        match &inputs.sudoers {
            Some(s) => groups.extend(s.group_names()),
            None => groups.extend(["sudo", "wheel", "admin"].map(String::from)),
        }
        if let Some(s) = &inputs.sudoers {
            names.extend(s.user_names());
        }
        groups.sort();
        groups.dedup();
        for g in groups {
            if let Ok(Some(group)) = nix::unistd::Group::from_name(&g) {
                names.extend(group.mem.iter().cloned());
                inputs.groups.push(doctor::Group {
                    name: group.name,
                    gid: group.gid.as_raw(),
                    members: group.mem,
                });
            }
        }
    } else {
        names.push(invoker.name.clone());
    }
    if let Some(t) = target {
        names.push(t.name.clone());
    }
    names.sort();
    names.dedup();
    for name in &names {
        let Ok(Some(u)) = nix::unistd::User::from_name(name) else {
            continue;
        };
        let shell = u.shell.to_string_lossy().to_string();
        inputs.accounts.push(doctor::Account {
            name: u.name.clone(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            login_shell: !shell.ends_with("/nologin") && !shell.ends_with("/false"),
        });
        // Primary groups of the accounts looked at, so membership by gid counts.
        if let Ok(Some(g)) = nix::unistd::Group::from_gid(u.gid) {
            if !inputs.groups.iter().any(|x| x.gid == g.gid.as_raw()) {
                inputs.groups.push(doctor::Group {
                    name: g.name,
                    gid: g.gid.as_raw(),
                    members: g.mem,
                });
            }
        }
        if let Ok(account) = Account::lookup(name) {
            if let Some(state) = enrollment(judged, &account, root, inputs.now, &mut down) {
                inputs.users.insert(name.clone(), state);
            }
        }
    }
}

/// Warns when changing `account`'s enrollment to `after` would leave no admin able to pass
/// the second factor (`twofold admin reset`, `device remove`): the doctor's own check.
/// Root only, as only root sees every admin's file.
pub fn warn_last_way_in(inv: &Invocation, account: &Account, after: Enrollment) {
    if !inv.invoker.is_root() {
        return;
    }
    let mut inputs = Inputs {
        config: Ok(inv.config.clone()),
        pam: PamFiles::default(),
        module_present: None,
        sshd: None,
        sudoers: sudoers(),
        accounts: Vec::new(),
        groups: Vec::new(),
        users: BTreeMap::new(),
        secret_dir: None,
        free_bytes: None,
        clock: Clock::Unknown,
        now: inv.now,
    };
    gather_people(
        &mut inputs,
        &inv.config,
        true,
        &inv.invoker.account,
        Some(account),
    );
    let before = people::admins_who_get_in(&inputs, &inv.config);
    inputs.users.insert(account.name.clone(), after);
    let after = people::admins_who_get_in(&inputs, &inv.config);
    if !before.is_empty() && after.is_empty() {
        inv.warn(&format!(
            "this removes the last way in of the last admin who can pass the second factor ({}): \
             after it, no admin can get root through a login that asks for a code. \
             Enroll another admin first, or keep a root shell open; `twofold doctor` shows the state",
            before.join(", ")
        ));
    }
}

/// The user's state with the checks the module makes: their secret file through the store,
/// or their directory entry (root only: the host's bind password is root's). A directory
/// that cannot be reached is asked once: `down` keeps the answer for the next users.
fn enrollment(
    config: &Config,
    account: &Account,
    root: bool,
    now: u64,
    down: &mut Option<Enrollment>,
) -> Option<Enrollment> {
    if (config.secret_path.is_system_mode() || config.directory.is_some()) && !root {
        return None;
    }
    let broken = |e: twofold_core::store::StoreError| Enrollment::Broken {
        problem: format!("{} {}", e.path, e.problem),
        fix: e.fix,
    };
    if let Some(dir) = &config.directory {
        if let Some(state) = down {
            return Some(state.clone());
        }
        return Some(match DirectoryEntry::new(dir, &account.name).read() {
            Ok(None) => Enrollment::NotEnrolled,
            Ok(Some(file)) => Enrollment::of(&file, config, now),
            Err(e) if e.kind == ErrorKind::Io => down.insert(broken(e)).clone(),
            Err(e) => broken(e),
        });
    }
    let loc = match Location::for_account(config, account) {
        Ok(l) => l,
        Err(e) => return Some(broken(e)),
    };
    Some(match SecretStore::open(&loc) {
        Ok(None) => Enrollment::NotEnrolled,
        Ok(Some(store)) => match store.read() {
            Ok(None) => Enrollment::NotEnrolled,
            Ok(Some(file)) => Enrollment::of(&file, config, now),
            Err(e) => broken(e),
        },
        Err(e) => broken(e),
    })
}

/// System mode with one file a user (`DIR/{user}.toml` or `DIR/{user}`): every file in the
/// directory goes through the store's checks; a file the module would refuse is reported
/// (the enrollments of people who are not admins are theirs to look after).
fn check_every_secret_file(config: &Config, inputs: &mut Inputs) {
    let template = config.secret_path.template();
    if !config.secret_path.is_system_mode() || config.directory.is_some() {
        return;
    }
    let Some((dir, file)) = template.rsplit_once('/') else {
        return;
    };
    let Some((prefix, suffix)) = file.split_once("{user}") else {
        return;
    };
    if dir.contains('{') || suffix.contains('{') || prefix.contains('{') {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(user) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        // Without a suffix, the lock and temp files beside the secrets have dotted names.
        if user.is_empty()
            || (suffix.is_empty() && user.contains('.'))
            || inputs.users.contains_key(user)
        {
            continue;
        }
        let Ok(account) = Account::lookup(user) else {
            continue;
        };
        if let Some(state @ Enrollment::Broken { .. }) =
            enrollment(config, &account, true, inputs.now, &mut None)
        {
            inputs.users.insert(user.to_string(), state);
        }
    }
}

/// The system-mode directory's mode, and free space where the secret files live.
fn secret_space(config: &Config, invoker: &Account, inputs: &mut Inputs) {
    let template = config.secret_path.template();
    let dir = if config.secret_path.is_system_mode() {
        let fixed = template.split('{').next().unwrap_or(template);
        match fixed.rsplit_once('/') {
            Some((d, _)) if !d.is_empty() => d.to_string(),
            _ => "/".into(),
        }
    } else {
        invoker.home.clone()
    };
    if config.secret_path.is_system_mode() {
        if let Ok(st) = nix::sys::stat::stat(dir.as_str()) {
            inputs.secret_dir = Some(DirInfo {
                path: dir.clone(),
                uid: st.st_uid,
                mode: st.st_mode & 0o7777,
            });
        }
    }
    // The nearest existing directory: the secret directory may not exist before the first
    // enrollment.
    let mut probe = std::path::PathBuf::from(&dir);
    loop {
        if let Ok(v) = nix::sys::statvfs::statvfs(&probe) {
            inputs.free_bytes = Some(v.blocks_available().saturating_mul(v.fragment_size()));
            break;
        }
        if !probe.pop() {
            break;
        }
    }
}

fn read_dir_texts(dir: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_file() {
            continue;
        }
        if let (Some(name), Ok(text)) = (
            path.file_name().and_then(|n| n.to_str()),
            std::fs::read_to_string(&path),
        ) {
            out.insert(name.to_string(), text);
        }
    }
    out
}

fn pam_files() -> PamFiles {
    PamFiles {
        etc: read_dir_texts("/etc/pam.d"),
        vendor: read_dir_texts("/usr/lib/pam.d"),
    }
}

/// /etc/sudoers and the files and directories it includes (one level, as Debian and Fedora
/// ship it); `None` when it cannot be read.
fn sudoers() -> Option<Sudoers> {
    let main = std::fs::read_to_string("/etc/sudoers").ok()?;
    let mut texts = vec![("/etc/sudoers".to_string(), main.clone())];
    for line in main.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("@includedir" | "#includedir"), Some(dir)) => {
                // sudo skips files whose names end in ~ or contain a dot.
                for (name, text) in read_dir_texts(dir) {
                    if !name.ends_with('~') && !name.contains('.') {
                        texts.push((format!("{dir}/{name}"), text));
                    }
                }
            }
            (Some("@include" | "#include"), Some(file)) => {
                if let Ok(text) = std::fs::read_to_string(file) {
                    texts.push((file.to_string(), text));
                }
            }
            _ => {}
        }
    }
    Some(Sudoers { texts })
}

fn find_sshd() -> Option<&'static str> {
    ["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// `sshd -T`, then `sshd -T -C` for each user; `None` without sshd.
fn sshd(users: &[String], from: Option<&str>) -> Option<Sshd> {
    let bin = find_sshd()?;
    let run = |extra: &[String]| -> std::result::Result<String, String> {
        let out = Command::new(bin)
            .arg("-T")
            .args(extra)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    };
    let mut files = BTreeMap::new();
    if let Ok(t) = std::fs::read_to_string("/etc/ssh/sshd_config") {
        files.insert("/etc/ssh/sshd_config".to_string(), t);
    }
    for (name, text) in read_dir_texts("/etc/ssh/sshd_config.d") {
        files.insert(format!("/etc/ssh/sshd_config.d/{name}"), text);
    }
    let effective = match run(&[]) {
        Ok(t) => t,
        Err(why) => {
            return Some(Sshd {
                files,
                refused: Some(why),
                ..Sshd::default()
            })
        }
    };
    let addr = from.unwrap_or(NOWHERE);
    let mut per_user = BTreeMap::new();
    for u in users {
        if let Ok(t) = run(&["-C".into(), format!("user={u},host={addr},addr={addr}")]) {
            per_user.insert(u.clone(), t);
        }
    }
    Some(Sshd {
        effective,
        per_user,
        files,
        refused: None,
    })
}

/// timedatectl's view, else timesyncd's or chrony's local state; never a network call.
fn clock() -> Clock {
    if let Ok(out) = Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
    {
        if out.status.success() {
            let by = "timedatectl".to_string();
            return match String::from_utf8_lossy(&out.stdout).trim() {
                "yes" => Clock::Synchronized { by },
                _ => Clock::NotSynchronized { by },
            };
        }
    }
    // systemd-timesyncd creates this file once it has synchronised.
    if std::path::Path::new("/run/systemd/timesync/synchronized").exists() {
        return Clock::Synchronized {
            by: "systemd-timesyncd".into(),
        };
    }
    // chronyc talks to the local chronyd over its Unix socket.
    if let Ok(out) = Command::new("chronyc").args(["-n", "tracking"]).output() {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            let by = "chrony".to_string();
            return if text.contains("Leap status     : Normal") {
                Clock::Synchronized { by }
            } else {
                Clock::NotSynchronized { by }
            };
        }
    }
    Clock::Unknown
}

/// Control characters from files become visible escapes, so no value can drive the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn print(findings: &[Finding], way_in: Option<&[String]>, json: bool) -> Result<()> {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let text = if json {
        let mut doc = serde_json::json!({
            "findings": findings,
            "errors": errors,
            "warnings": warnings,
        });
        if let Some(w) = way_in {
            doc["way_in"] = serde_json::json!(w);
        }
        format!("{doc}\n")
    } else {
        let mut text = String::new();
        for line in way_in.unwrap_or_default() {
            text.push_str(&format!("{}\n", clean(line)));
        }
        for f in findings {
            text.push_str(&format!(
                "{:<7} {}: {}",
                f.severity.as_str(),
                clean(&f.subject),
                clean(&f.what)
            ));
            if !f.why.is_empty() {
                text.push_str(&format!(" ({}); fix: {}", clean(&f.why), clean(&f.fix)));
            }
            text.push('\n');
        }
        text.push_str(&format!("{errors} errors, {warnings} warnings\n"));
        text
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| Error::Output {
            path: "standard output".into(),
            err,
        })
}
