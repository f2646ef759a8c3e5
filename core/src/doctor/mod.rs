//! `twofold doctor`: will this host's configuration lock someone out, or let someone in?
//!
//! Pure functions over what the caller read: sshd's effective configuration, the PAM files,
//! accounts and groups, sudoers, twofold's configuration and a summary of each user's secret
//! file, the clock's synchronisation state. Each finding says what is wrong, why it matters
//! and how to fix it; twofold(1)'s DOCTOR section lists them by id.

pub mod pam;
pub mod people;
pub mod sshd;

use crate::config::Config;
use crate::UnixTime;
use serde::Serialize;
use std::collections::BTreeMap;

pub use pam::PamFiles;
pub use people::{Account, Enrollment, Group, Sudoers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable name, as twofold(1) documents it: "pam.wrong-code-passes".
    pub id: &'static str,
    /// What it is about: "sshd", "pam:sudo", "user:alice", "host".
    pub subject: String,
    pub what: String,
    /// Why it matters (empty for ok lines).
    pub why: String,
    /// What to do (empty for ok lines).
    pub fix: String,
}

fn finding(
    severity: Severity,
    id: &'static str,
    subject: impl Into<String>,
    what: impl Into<String>,
    why: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        severity,
        id,
        subject: subject.into(),
        what: what.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

fn ok(id: &'static str, subject: impl Into<String>, what: impl Into<String>) -> Finding {
    finding(Severity::Ok, id, subject, what, "", "")
}

/// The clock's synchronisation, as systemd-timesyncd, chrony or ntpd left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clock {
    Synchronized { by: String },
    NotSynchronized { by: String },
    Unknown,
}

/// sshd as `sshd -T` reports it, globally and for given users.
#[derive(Debug, Clone, Default)]
pub struct Sshd {
    /// `sshd -T`.
    pub effective: String,
    /// `sshd -T -C user=NAME,host=…,addr=…`, by user name.
    pub per_user: BTreeMap<String, String>,
    /// `/etc/ssh/sshd_config` and the files it includes, by full path.
    pub files: BTreeMap<String, String>,
    /// sshd refused its configuration (`sshd -T` failed): its message.
    pub refused: Option<String>,
}

/// A secret directory's owner and mode (system mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirInfo {
    pub path: String,
    pub uid: u32,
    pub mode: u32,
}

/// Everything the doctor looks at.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub config: Result<Config, String>,
    pub pam: PamFiles,
    /// Whether `pam_twofold.so` is in a directory libpam loads modules from (`None`: unknown).
    pub module_present: Option<bool>,
    /// `None`: sshd's configuration could not be read (not root, no sshd).
    pub sshd: Option<Sshd>,
    /// `None`: sudoers could not be read (not root).
    pub sudoers: Option<Sudoers>,
    pub accounts: Vec<Account>,
    pub groups: Vec<Group>,
    /// Secret-file state of the users looked at, by name.
    pub users: BTreeMap<String, Enrollment>,
    pub secret_dir: Option<DirInfo>,
    /// Free bytes on the filesystem of the secret files.
    pub free_bytes: Option<u64>,
    pub clock: Clock,
    pub now: UnixTime,
}

/// The services a login meets; sshd and sudo first.
pub const SERVICES: &[&str] = &["sshd", "sudo", "su", "login"];

/// Under this many free bytes where secret files live, enrollments may fail.
pub const LOW_SPACE: u64 = 1024 * 1024;

/// The whole examination, in a stable order: host, PAM, sshd, people.
pub fn examine(inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    let config = match &inputs.config {
        Ok(c) => {
            out.push(ok("config.valid", "host", "the configuration is valid"));
            c.clone()
        }
        Err(e) => {
            out.push(finding(
                Severity::Error,
                "config.invalid",
                "host",
                format!("the configuration is not valid: {e}"),
                "pam_twofold refuses every login it guards while its configuration is broken",
                "correct /etc/twofold/twofold.toml (keys in twofold.toml(5)) and run `twofold doctor` again",
            ));
            // The rest is still worth knowing, judged against the defaults.
            Config::default()
        }
    };
    host(inputs, &config, &mut out);
    let stacks = stacks(inputs, &config, &mut out);
    sshd_findings(inputs, &stacks, &mut out);
    let start = out.len();
    people::findings(inputs, &config, &mut out);
    // Nothing asks for a code yet: who would be locked out is worth knowing before it is
    // enabled, not an error today.
    if !stacks.values().any(|s| s.stack.has_twofold()) {
        for f in &mut out[start..] {
            if f.severity == Severity::Error && f.id != "user.file-refused" {
                f.severity = Severity::Warning;
                f.what = format!("once pam_twofold.so is enabled: {}", f.what);
            }
        }
    }
    out
}

/// A service's auth stack, loaded and replayed.
pub struct Service {
    pub stack: pam::Stack,
    pub analysis: pam::Analysis,
}

fn host(inputs: &Inputs, config: &Config, out: &mut Vec<Finding>) {
    if let Some(dir) = &inputs.secret_dir {
        if dir.mode & 0o077 != 0 {
            out.push(finding(
                Severity::Warning,
                "secret-dir.open",
                "host",
                format!("{} has mode {:04o}", dir.path, dir.mode & 0o7777),
                "other users can list who is enrolled and see from file times when they logged in",
                format!("chmod 0700 {}", dir.path),
            ));
        }
    }
    if let Some(free) = inputs.free_bytes {
        if free < LOW_SPACE {
            out.push(finding(
                Severity::Warning,
                "disk.low",
                "host",
                format!("{free} bytes free where the secret files live"),
                "enrollments and new recovery codes need space to be written; a full disk makes them fail",
                "free some space on that filesystem",
            ));
        }
    }
    match &inputs.clock {
        Clock::Synchronized { by } => {
            out.push(ok("clock.synchronized", "host", format!("the clock is synchronised ({by})")))
        }
        Clock::NotSynchronized { by } => out.push(finding(
            Severity::Warning,
            "clock.unsynchronized",
            "host",
            format!("the clock is not synchronised ({by})"),
            format!(
                "app codes change every 30 s; a clock more than {} s off refuses right codes",
                30 * (u32::from(config.window) + 1)
            ),
            "enable time synchronisation: `timedatectl set-ntp true` (or chrony/ntpd)",
        )),
        Clock::Unknown => out.push(finding(
            Severity::Warning,
            "clock.unknown",
            "host",
            "whether the clock is synchronised could not be told (no timesyncd, chrony or ntpd state)",
            "app codes change every 30 s; an unsynchronised clock refuses right codes",
            "run a time synchronisation service (systemd-timesyncd, chrony or ntpd)",
        )),
    }
}

/// Loads and judges the stacks of the usual services and of every service that reaches us.
fn stacks(inputs: &Inputs, config: &Config, out: &mut Vec<Finding>) -> BTreeMap<String, Service> {
    let mut names: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    for name in inputs.pam.services() {
        if !names.contains(&name)
            && !name.starts_with("common-")
            && !name.ends_with("-auth")
            && name != "other"
            && name != "postlogin"
            && pam::Stack::load(&inputs.pam, &name, "auth").has_twofold()
        {
            names.push(name);
        }
    }
    let ignore_matters = !config.exempt_groups.is_empty() || config.unenrolled_may_pass(inputs.now);
    let enroll = config.enrollment_offered(inputs.now);
    let mut services = BTreeMap::new();
    for name in names {
        if inputs.pam.get(&name).is_none() {
            continue;
        }
        let stack = pam::Stack::load(&inputs.pam, &name, "auth");
        let analysis = pam::analyse(&stack);
        judge_stack(
            inputs,
            &name,
            &stack,
            &analysis,
            ignore_matters,
            enroll,
            out,
        );
        services.insert(name, Service { stack, analysis });
    }
    // Debian's sudo authenticates `sudo -i` through its own service, whose stock file
    // includes common-auth: a code on sudo alone leaves `sudo -i` on the password.
    if services.get("sudo").is_some_and(|s| s.stack.has_twofold())
        && inputs.pam.get("sudo-i").is_some()
        && !pam::Stack::load(&inputs.pam, "sudo-i", "auth").has_twofold()
    {
        out.push(finding(
            Severity::Error,
            "pam.sudo-i-skips-code",
            "pam:sudo-i",
            "sudo asks for a code, but /etc/pam.d/sudo-i (the service of `sudo -i`) does not reach pam_twofold.so",
            "`sudo -i` gives a root shell on the password alone",
            "cp /usr/share/doc/twofold/examples/pam.d-sudo-i /etc/pam.d/sudo-i (or `pam-auth-update --enable twofold`)",
        ));
    }
    if !services.values().any(|s| s.stack.has_twofold()) {
        out.push(finding(
            Severity::Warning,
            "pam.unused",
            "pam",
            "no PAM stack uses pam_twofold.so",
            "no login asks for a code",
            "enable it: `pam-auth-update --enable twofold`, or the files in /usr/share/doc/twofold/examples",
        ));
    } else if inputs.module_present == Some(false) {
        out.push(finding(
            Severity::Error,
            "module.missing",
            "host",
            "pam_twofold.so is used but is not in the PAM module directory",
            "libpam cannot load it: logins through those stacks fail (or skip the code, see the pam findings)",
            "reinstall the package: `apt-get install --reinstall twofold` (or `dnf reinstall twofold`)",
        ));
    }
    services
}

fn judge_stack(
    inputs: &Inputs,
    name: &str,
    stack: &pam::Stack,
    a: &pam::Analysis,
    ignore_matters: bool,
    enroll: bool,
    out: &mut Vec<Finding>,
) {
    let subject = format!("pam:{name}");
    let before = out.len();
    let file = stack
        .file
        .clone()
        .unwrap_or_else(|| format!("/etc/pam.d/{name}"));
    for p in &stack.problems {
        out.push(finding(
            Severity::Error,
            "pam.broken",
            subject.clone(),
            format!("{file}: {p}"),
            "libpam fails a stack it cannot load: nobody logs in through it",
            "create the missing file or correct the line",
        ));
    }
    if !stack.has_twofold() || !stack.problems.is_empty() {
        return;
    }
    let ours: Vec<&pam::Handler> = stack.handlers.iter().filter(|h| h.is_twofold()).collect();
    let line = ours[0].describe();
    if a.too_complex {
        out.push(finding(
            Severity::Warning,
            "pam.too-complex",
            subject,
            format!("{file} has too many modules with varying answers to replay"),
            "the doctor cannot tell whether the code can be skipped",
            "simplify the stack, or test with `pamtester` from a second session",
        ));
        return;
    }
    if !a.reached {
        out.push(finding(
            Severity::Error,
            "pam.unreached",
            subject,
            format!("{line} is never reached"),
            "a line before it always ends the stack: the code is never asked",
            "move pam_twofold.so before the line that ends the stack, or remove that line",
        ));
        return;
    }
    if let Some(t) = &a.wrong_code_passes {
        let (id, what, fix) = match t.skipped_by {
            Some(i) => {
                let by = stack.handlers[i].describe();
                let via_include = stack.handlers[i].origin.file != file;
                (
                    "pam.code-skipped",
                    format!("{by} ends the stack with success before {line}"),
                    if via_include {
                        format!("include that file with `substack` instead of `include`, so its success ends only the substack (see {file})")
                    } else {
                        "make the line before pam_twofold.so fail or continue instead of ending the stack (`required`, or `[success=ok default=die]`)".to_string()
                    },
                )
            }
            None => (
                "pam.wrong-code-passes",
                format!("{line}: a wrong code still lets the stack succeed"),
                "use `required` (or `requisite`) on the pam_twofold.so line".to_string(),
            ),
        };
        out.push(finding(
            Severity::Error,
            id,
            subject,
            what,
            "the second factor can be skipped: the other modules alone log in",
            fix,
        ));
        return;
    }
    if !a.right_code_passes {
        out.push(finding(
            Severity::Error,
            "pam.never-succeeds",
            subject,
            format!("no login through {file} can succeed, even with a right code"),
            "everybody is locked out of this service",
            "make sure a module before pam_twofold.so succeeds (e.g. `auth required pam_permit.so` after it when the key is the first factor)",
        ));
        return;
    }
    if a.runs_twice {
        out.push(finding(
            Severity::Error,
            "pam.twice",
            subject.clone(),
            format!("pam_twofold.so runs twice in {file} (e.g. the pam-auth-update profile and an example file)"),
            "the code is asked twice and the second time refused as a replay: nobody gets in",
            "keep one of them: either `pam-auth-update --enable twofold` or the example file's line",
        ));
    }
    // sshd's keyboard-interactive step after a public key needs only the code.
    // With enrollment at login, whoever reaches the module for an unenrolled user without
    // having passed a first factor could set up that user's second factor.
    const ENROLL_WHY: &str = "with unenrolled = \"enroll\", anyone who knows a user name is offered that user's enrollment without their password and can set up the second factor in their place";
    if a.code_alone_passes.is_some() && name != "sshd" {
        out.push(finding(
                Severity::Error,
                "pam.code-alone",
                subject.clone(),
                format!("{line}: a code alone, without a password, lets the stack succeed"),
                if enroll {
                    ENROLL_WHY
                } else {
                    "the second factor becomes the only factor: anyone holding a code logs in"
                },
                "put the first factor (e.g. `@include common-auth`) before pam_twofold.so and make pam_twofold.so `required`",
            ));
    }
    if a.runs_after_failure.is_some() {
        out.push(finding(
            if enroll {
                Severity::Error
            } else {
                Severity::Warning
            },
            "pam.after-failure",
            subject.clone(),
            format!("{line} still runs after the password failed"),
            if enroll {
                ENROLL_WHY
            } else {
                "anyone who knows a user name can make wrong code guesses count against that user's throttling"
            },
            "end the stack on a wrong password before pam_twofold.so (Debian: `@include common-auth`; Fedora: `auth [success=ok default=die] ...` or `requisite` on the password module)",
        ));
    }
    if !a.ignore_passes {
        let severity = if ignore_matters {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(finding(
            severity,
            "pam.ignore-fails",
            subject.clone(),
            format!("when pam_twofold.so answers PAM_IGNORE (exempt users), {file} fails"),
            "libpam never grants access on PAM_IGNORE alone: the break-glass members of exempt_groups are locked out",
            "add `auth required pam_permit.so` after the pam_twofold.so line (it cannot turn a failure into success)",
        ));
    }
    if a.missing_passes {
        out.push(finding(
            if inputs.module_present == Some(false) || a.missing_is_skipped {
                Severity::Error
            } else {
                Severity::Warning
            },
            "pam.missing-passes",
            subject.clone(),
            format!(
                "{line}: if pam_twofold.so cannot be loaded, the stack succeeds without a code"
            ),
            "a removed or broken module file turns the second factor off silently",
            "use `required` without a leading `-` on the pam_twofold.so line",
        ));
    }
    if out[before..].iter().any(|f| f.severity == Severity::Error) {
        return;
    }
    out.push(ok(
        "pam.ok",
        subject,
        format!(
            "{}: {}",
            file,
            if a.has_first_factor {
                "password, then a code"
            } else {
                "a code (the first factor must come from elsewhere)"
            }
        ),
    ));
}

/// One way into ssh: a method list sshd accepts, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Way {
    /// "publickey, then a code".
    pub words: String,
    /// Some step asks for the code.
    pub code: bool,
    /// The code is the only thing asked.
    pub code_alone: bool,
}

/// One step of an ssh method list: its words and whether it asks the code.
fn method_words(
    m: &str,
    e: &sshd::Effective,
    stack: Option<&Service>,
) -> Result<(String, bool), String> {
    let asks = stack.filter(|s| s.stack.has_twofold() && s.analysis.reached);
    match m {
        "publickey" => Ok(("publickey".into(), false)),
        "password" => match asks {
            Some(_) if e.use_pam() => {
                Err("sshd's password method answers the code prompt with the password".into())
            }
            _ => Ok(("password".into(), false)),
        },
        "keyboard-interactive" => {
            if !e.use_pam() {
                return Err("keyboard-interactive needs UsePAM yes".into());
            }
            match asks {
                Some(s) if s.analysis.has_first_factor => {
                    Ok(("password, then a code".into(), true))
                }
                Some(_) => Ok(("a code".into(), true)),
                None => Ok(("keyboard-interactive without a code".into(), false)),
            }
        }
        other => Ok((other.into(), false)),
    }
}

/// Ways in over ssh for one configuration; `Err` for method lists that cannot succeed.
pub fn ssh_ways(
    e: &sshd::Effective,
    root: bool,
    stack: Option<&Service>,
) -> Vec<Result<Way, String>> {
    e.method_lists(root)
        .iter()
        .map(|list| {
            let mut words = Vec::new();
            let mut code = false;
            for m in list {
                let (w, c) = method_words(m, e, stack)
                    .map_err(|why| format!("{} ({why})", list.join(",")))?;
                words.push(w);
                code |= c;
            }
            Ok(Way {
                code_alone: code && words.len() == 1 && words[0] == "a code",
                words: words.join(", then "),
                code,
            })
        })
        .collect()
}

fn sshd_findings(inputs: &Inputs, stacks: &BTreeMap<String, Service>, out: &mut Vec<Finding>) {
    let Some(cfg) = &inputs.sshd else {
        out.push(finding(
            Severity::Warning,
            "sshd.unknown",
            "sshd",
            "sshd's effective configuration could not be read",
            "whether ssh logins ask for the code is not checked",
            "run `sudo twofold doctor` on a host with sshd installed",
        ));
        return;
    };
    if let Some(why) = &cfg.refused {
        out.push(finding(
            Severity::Error,
            "sshd.refused",
            "sshd",
            format!("sshd refuses its configuration: {}", why.trim()),
            "sshd will not start (or restart) with it: no ssh login at all after the next reload",
            "correct the files `sshd -t` names (a drop-in in /etc/ssh/sshd_config.d/ read first may set `KbdInteractiveAuthentication no`), then `sshd -t` before reloading",
        ));
        return;
    }
    let e = sshd::Effective::parse(&cfg.effective);
    let stack = stacks.get("sshd");
    let guarded = stack.is_some_and(|s| s.stack.has_twofold());
    if !guarded {
        out.push(finding(
            Severity::Warning,
            "sshd.not-guarded",
            "sshd",
            "sshd's PAM stack does not use pam_twofold.so",
            "ssh logins never ask for a code",
            "use /usr/share/doc/twofold/examples/pam.d-sshd with the sshd_config drop-in, or `pam-auth-update --enable twofold` for password logins",
        ));
        return;
    }
    let source = |key: &str| {
        sshd::first_setting(&cfg.files, key)
            .map(|(f, l, v)| format!(" (`{key} {v}` in {f} line {l}, read first)"))
            .unwrap_or_default()
    };
    if !e.use_pam() {
        out.push(finding(
            Severity::Error,
            "sshd.no-pam",
            "sshd",
            format!("UsePAM is off{}", source("UsePAM")),
            "sshd never runs its PAM stack: the code is never asked",
            "set `UsePAM yes` in /etc/ssh/sshd_config.d/twofold.conf, `sshd -t`, then reload sshd",
        ));
    }
    if !e.kbd_interactive() {
        let key = if e.get("kbdinteractiveauthentication").is_some() {
            "KbdInteractiveAuthentication"
        } else {
            "ChallengeResponseAuthentication"
        };
        out.push(finding(
            Severity::Error,
            "sshd.kbdint-off",
            "sshd",
            format!("keyboard-interactive is off{}", source(key)),
            "the code is asked in sshd's keyboard-interactive step: with it off, the code is never asked",
            format!("set `{key} yes` in the file sshd reads first (a drop-in in /etc/ssh/sshd_config.d/ sorts before the main file; remove the `no` there), `sshd -t`, reload sshd"),
        ));
    }
    let ways = ssh_ways(&e, false, stack);
    let mut any_code = false;
    for way in &ways {
        match way {
            Ok(w) if w.code && !w.code_alone => any_code = true,
            Ok(w) if w.code_alone => out.push(finding(
                Severity::Error,
                "sshd.code-alone",
                "sshd",
                "ssh logs in with a code alone (keyboard-interactive with no password or key before it)",
                "the second factor becomes the only factor",
                "`AuthenticationMethods publickey,keyboard-interactive`, or the password example's PAM stack",
            )),
            Ok(w) => out.push(finding(
                Severity::Error,
                "sshd.code-skipped",
                "sshd",
                format!("ssh logs in with {} only (the code is never asked)", w.words),
                "sshd accepts this method without the keyboard-interactive step where the code is asked",
                format!(
                    "set `AuthenticationMethods publickey,keyboard-interactive` (or `keyboard-interactive` with the password stack) in /etc/ssh/sshd_config.d/twofold.conf{}",
                    source("AuthenticationMethods")
                ),
            )),
            Err(w) => out.push(finding(
                Severity::Warning,
                "sshd.method-fails",
                "sshd",
                format!("ssh method {w} can never succeed"),
                "clients that try it are refused (password users: every login fails)",
                "`PasswordAuthentication no` and `KbdInteractiveAuthentication yes`; password users log in through keyboard-interactive (the password example)",
            )),
        }
    }
    if any_code {
        let words: Vec<&str> = ways.iter().flatten().map(|w| w.words.as_str()).collect();
        out.push(ok(
            "sshd.ok",
            "sshd",
            format!("ssh: {}", words.join("; or ")),
        ));
    }
    // Each admin as sshd sees them (`sshd -T -C user=…`), so Match blocks count.
    for (user, text) in &cfg.per_user {
        let e = sshd::Effective::parse(text);
        let root = user == "root";
        let subject = format!("user:{user}");
        let mine = ssh_ways(&e, root, stack);
        let usable: Vec<&Way> = mine.iter().flatten().collect();
        if usable.is_empty() {
            out.push(if root {
                ok("sshd.user", subject, "root cannot log in over ssh (PermitRootLogin)")
            } else {
                finding(
                    Severity::Warning,
                    "sshd.no-way-in",
                    subject,
                    format!("{user} cannot log in over ssh: no method list sshd accepts for them can succeed"),
                    "an admin without ssh needs the console",
                    "check the Match blocks and AuthenticationMethods that apply to them (`sshd -T -C user=NAME,host=HOST,addr=ADDR`)",
                )
            });
            continue;
        }
        for w in usable
            .iter()
            .filter(|w| !w.code && !ways.iter().flatten().any(|g| g == **w))
        {
            out.push(finding(
                Severity::Error,
                "sshd.code-skipped",
                subject.clone(),
                format!("for {user}, a Match block lets ssh log in with {} only (the code is never asked)", w.words),
                "sshd accepts this method without the keyboard-interactive step where the code is asked",
                "give that Match block `AuthenticationMethods publickey,keyboard-interactive`, or keep it narrow and audited",
            ));
        }
        let words: Vec<&str> = usable.iter().map(|w| w.words.as_str()).collect();
        out.push(ok(
            "sshd.user",
            subject,
            format!("ssh for {user}: {}", words.join("; or ")),
        ));
    }
}

/// The user's codes, in words: "a code from one of 2 devices or one of 7 recovery codes".
pub fn codes_words(state: &Enrollment) -> String {
    match state {
        Enrollment::Enrolled {
            devices,
            recovery_left,
            pass_valid,
            locked,
            ..
        } => {
            let mut parts = Vec::new();
            if *devices > 0 && !locked {
                parts.push(if *devices == 1 {
                    "a code from their device".to_string()
                } else {
                    format!("a code from one of {devices} devices")
                });
            }
            if *recovery_left > 0 {
                parts.push(format!("one of {recovery_left} recovery codes"));
            }
            if *pass_valid {
                parts.push("their temporary access pass".into());
            }
            if parts.is_empty() {
                "no code that works".into()
            } else {
                parts.join(" or ")
            }
        }
        Enrollment::NotEnrolled => "no code (not enrolled)".into(),
        Enrollment::Broken { .. } => "no code (their state is refused or cannot be read)".into(),
    }
}

/// What a login of `user` would meet, one line per service, without asking for any code.
pub fn way_in(inputs: &Inputs, user: &str, service: Option<&str>) -> Vec<String> {
    let config = inputs.config.clone().unwrap_or_default();
    let mut scratch = Vec::new();
    let stacks = stacks(inputs, &config, &mut scratch);
    let state = inputs
        .users
        .get(user)
        .cloned()
        .unwrap_or(Enrollment::NotEnrolled);
    let exempt = people::exempt_group(inputs, &config, user);
    let refused = match (&state, &exempt) {
        (_, Some(_)) => None,
        (Enrollment::NotEnrolled, _)
            if !config.unenrolled_may_pass(inputs.now)
                && !config.enrollment_offered(inputs.now) =>
        {
            Some("not enrolled and unenrolled = deny".to_string())
        }
        (Enrollment::Broken { problem, .. }, _) => Some(format!("state refused: {problem}")),
        (s, _) if codes_words(s) == "no code that works" => {
            Some("app codes locked and no recovery code or pass left".into())
        }
        _ => None,
    };
    let code = match (&state, &exempt) {
        (_, Some(g)) => format!("no code (member of exempt group {g})"),
        (Enrollment::NotEnrolled, _) if config.enrollment_offered(inputs.now) => {
            "enrollment at login (not enrolled: shown a new key, then a code from it)".into()
        }
        (Enrollment::NotEnrolled, _) => "no code (not enrolled; unenrolled users pass)".into(),
        (s, _) => codes_words(s),
    };
    let mut lines = Vec::new();
    let wanted = |s: &str| service.is_none_or(|w| w == s);
    if wanted("sshd") {
        let e = inputs
            .sshd
            .as_ref()
            .map(|c| sshd::Effective::parse(c.per_user.get(user).unwrap_or(&c.effective)));
        let stack = stacks.get("sshd");
        match e {
            None => lines.push("ssh: unknown (sshd's configuration could not be read)".into()),
            Some(e) => {
                let asks = stack.is_some_and(|s| s.stack.has_twofold());
                let ways: Vec<Way> = ssh_ways(&e, user == "root", stack)
                    .into_iter()
                    .flatten()
                    .collect();
                let words: Vec<String> = ways
                    .iter()
                    .map(|w| {
                        if w.code {
                            w.words.replace("a code", &code)
                        } else {
                            w.words.clone()
                        }
                    })
                    .collect();
                let ways_all_ask = ways.iter().all(|w| w.code);
                match (&refused, ways.is_empty()) {
                    (_, true) => lines.push(format!(
                        "{user} cannot log in over ssh: no method sshd accepts can succeed"
                    )),
                    (Some(why), false) if asks && ways_all_ask => {
                        lines.push(format!("{user} cannot log in over ssh: {why}"))
                    }
                    _ => lines.push(format!("ssh: {}", words.join("; or "))),
                }
            }
        }
    }
    if wanted("sudo") {
        match (stacks.get("sudo"), inputs.sudoers.as_ref()) {
            (_, Some(s)) if s.nopasswd(user, &inputs.accounts, &inputs.groups) => {
                lines.push("sudo: no password and no code (NOPASSWD)".into())
            }
            (Some(s), _) if s.stack.has_twofold() => match &refused {
                Some(why) => lines.push(format!("{user} cannot use sudo: {why}")),
                None if s.analysis.has_first_factor => {
                    lines.push(format!("sudo: password, then {code}"))
                }
                None => lines.push(format!("sudo: {code}")),
            },
            (Some(_), _) => lines.push("sudo: password only (no code)".into()),
            (None, _) => lines.push("sudo: no PAM stack (no /etc/pam.d/sudo)".into()),
        }
    }
    lines
}
