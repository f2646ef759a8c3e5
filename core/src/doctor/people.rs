//! People: root and the sudoers, their enrollment against the `unenrolled` policy, and
//! whether at least one of them can still get in.

use super::{finding, ok, Finding, Inputs, Severity};
use crate::config::Config;
use crate::{SecretFile, UnixTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The shell is not nologin or false.
    pub login_shell: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// What a user's secret file says, as far as getting in goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrollment {
    NotEnrolled,
    Enrolled {
        devices: usize,
        recovery_left: usize,
        pass_valid: bool,
        throttled: bool,
        /// App codes refused until a recovery code, a pass or `twofold admin unlock`.
        locked: bool,
    },
    /// The secret file failed the store's checks (owner, mode, format), or the directory entry
    /// could not be read: the module refuses the user.
    Broken {
        problem: String,
        fix: String,
    },
}

impl Enrollment {
    pub fn of(file: &SecretFile, config: &Config, now: UnixTime) -> Enrollment {
        Enrollment::Enrolled {
            devices: file.devices.len(),
            recovery_left: file.recovery_codes_left()
                + file.legacy_scratch.as_ref().map_or(0, |r| r.hashes.len()),
            pass_valid: file.pass.as_ref().is_some_and(|p| now < p.expires),
            throttled: now < file.state.throttled_until,
            locked: file.state.failures >= config.rate_limit.totp_lockout_after,
        }
    }

    /// Some code of theirs would be accepted.
    pub fn has_way_in(&self) -> bool {
        match self {
            Enrollment::Enrolled {
                devices,
                recovery_left,
                pass_valid,
                locked,
                ..
            } => (*devices > 0 && !locked) || *recovery_left > 0 || *pass_valid,
            _ => false,
        }
    }
}

/// sudoers and the files it includes, as texts (the caller follows the includes).
#[derive(Debug, Clone, Default)]
pub struct Sudoers {
    pub texts: Vec<(String, String)>,
}

/// Who a sudoers rule names: a user or a group.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    User(String),
    Group(String),
}

impl Sudoers {
    /// The rules' subjects, with whether the rule says NOPASSWD. Aliases and Defaults are
    /// not rules; `ALL` as a subject names everyone and is left out.
    fn rules(&self) -> Vec<(Who, bool)> {
        let mut out = Vec::new();
        for (_, text) in &self.texts {
            let joined = text.replace("\\\n", " ");
            for line in joined.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                    continue;
                }
                let first = line.split_whitespace().next().unwrap_or("");
                if first.starts_with("Defaults") || first.ends_with("_Alias") || !line.contains('=')
                {
                    continue;
                }
                let nopasswd = line.contains("NOPASSWD");
                for who in first.split(',') {
                    let who = who.trim_start_matches('!');
                    if let Some(g) = who.strip_prefix("%:").or_else(|| who.strip_prefix('%')) {
                        out.push((Who::Group(g.to_string()), nopasswd));
                    } else if who != "ALL" && !who.is_empty() {
                        out.push((Who::User(who.to_string()), nopasswd));
                    }
                }
            }
        }
        out
    }

    /// Groups named by rules (`%sudo`).
    pub fn group_names(&self) -> Vec<String> {
        self.rules()
            .into_iter()
            .filter_map(|(w, _)| match w {
                Who::Group(g) => Some(g),
                Who::User(_) => None,
            })
            .collect()
    }

    /// Users named by rules.
    pub fn user_names(&self) -> Vec<String> {
        self.rules()
            .into_iter()
            .filter_map(|(w, _)| match w {
                Who::User(u) => Some(u),
                Who::Group(_) => None,
            })
            .collect()
    }

    pub fn nopasswd(&self, user: &str, accounts: &[Account], groups: &[Group]) -> bool {
        self.rules()
            .iter()
            .any(|(w, np)| *np && names(w, user, accounts, groups))
    }
}

fn member(user: &str, group: &str, accounts: &[Account], groups: &[Group]) -> bool {
    groups.iter().any(|g| {
        g.name == group
            && (g.members.iter().any(|m| m == user)
                || accounts.iter().any(|a| a.name == user && a.gid == g.gid))
    })
}

fn names(who: &Who, user: &str, accounts: &[Account], groups: &[Group]) -> bool {
    match who {
        Who::User(u) => u == user,
        Who::Group(g) => member(user, g, accounts, groups),
    }
}

/// Root and everyone sudoers gives rights to (without sudoers: the sudo, wheel and admin
/// groups), in account order.
pub fn admins(inputs: &Inputs) -> Vec<String> {
    let rules = match &inputs.sudoers {
        Some(s) => s.rules(),
        None => ["sudo", "wheel", "admin"]
            .iter()
            .map(|g| (Who::Group(g.to_string()), false))
            .collect(),
    };
    inputs
        .accounts
        .iter()
        .filter(|a| {
            a.uid == 0
                || rules
                    .iter()
                    .any(|(w, _)| names(w, &a.name, &inputs.accounts, &inputs.groups))
        })
        .map(|a| a.name.clone())
        .collect()
}

/// The exempt group `user` is in, if any.
pub fn exempt_group(inputs: &Inputs, config: &Config, user: &str) -> Option<String> {
    config
        .exempt_groups
        .iter()
        .find(|g| member(user, g, &inputs.accounts, &inputs.groups))
        .cloned()
}

/// Whether `user` passes the second factor today.
fn gets_in(inputs: &Inputs, config: &Config, user: &str) -> bool {
    if exempt_group(inputs, config, user).is_some() {
        return true;
    }
    match inputs.users.get(user) {
        Some(Enrollment::NotEnrolled) | None => {
            config.unenrolled_may_pass(inputs.now) || config.enrollment_offered(inputs.now)
        }
        Some(e) => e.has_way_in(),
    }
}

/// The admins who can pass the second factor.
pub fn admins_who_get_in(inputs: &Inputs, config: &Config) -> Vec<String> {
    admins(inputs)
        .into_iter()
        .filter(|a| gets_in(inputs, config, a))
        .collect()
}

pub(super) fn findings(inputs: &Inputs, config: &Config, out: &mut Vec<Finding>) {
    let may_pass = config.unenrolled_may_pass(inputs.now);
    let enrolls = config.enrollment_offered(inputs.now);
    for (user, state) in &inputs.users {
        let subject = format!("user:{user}");
        if exempt_group(inputs, config, user).is_some() {
            out.push(ok(
                "user.exempt",
                subject,
                format!("{user} is exempt (break-glass)"),
            ));
            continue;
        }
        match state {
            Enrollment::NotEnrolled if may_pass => out.push(finding(
                Severity::Warning,
                "user.unenrolled-passes",
                subject,
                format!("{user} is not enrolled and passes without a second factor"),
                "until they enroll, their password or key alone logs them in",
                format!("`twofold --user {user} enroll` (or `twofold enroll` as {user} in home mode)"),
            )),
            Enrollment::NotEnrolled if enrolls => out.push(finding(
                Severity::Warning,
                "user.unenrolled-enrolls",
                subject,
                format!("{user} is not enrolled and will be offered enrollment at their next login (unenrolled = \"enroll\")"),
                "whoever passes their password or key first sets up their second factor: it should be them, soon",
                format!("ask {user} to log in now, or enroll them yourself: `twofold --user {user} enroll`; set enroll_until to end the offer"),
            )),
            Enrollment::NotEnrolled => out.push(finding(
                Severity::Error,
                "user.unenrolled-denied",
                subject,
                format!("{user} is not enrolled and unenrolled = \"deny\""),
                "every login of theirs that asks for a code is refused",
                format!("enroll them: `twofold --user {user} enroll`, or set `unenrolled_allow_until` or add them to an exempt group"),
            )),
            Enrollment::Broken { problem, fix } => out.push(finding(
                Severity::Error,
                "user.file-refused",
                subject,
                format!("{user}'s state: {problem}"),
                "the module refuses every login of theirs while the file fails its checks",
                fix.clone(),
            )),
            Enrollment::Enrolled {
                devices,
                recovery_left,
                pass_valid,
                throttled,
                locked,
            } => {
                if *locked {
                    out.push(finding(
                        if *recovery_left > 0 || *pass_valid {
                            Severity::Warning
                        } else {
                            Severity::Error
                        },
                        "user.locked",
                        subject.clone(),
                        format!("{user}'s app codes are locked after too many wrong codes"),
                        "only a recovery code or an access pass gets them in",
                        format!("`twofold admin unlock {user}` once you know who guessed"),
                    ));
                } else if *throttled {
                    out.push(finding(
                        Severity::Warning,
                        "user.throttled",
                        subject.clone(),
                        format!("{user}'s app codes are throttled after wrong codes"),
                        "their next code must wait; someone may be guessing",
                        format!("check the auth log; `twofold admin unlock {user}` clears it"),
                    ));
                }
                if *devices == 0 {
                    out.push(finding(
                        Severity::Warning,
                        "user.no-device",
                        subject.clone(),
                        format!("{user} has no device"),
                        "only recovery codes or a pass get them in",
                        format!("`twofold --user {user} device add NAME`"),
                    ));
                }
                if *recovery_left == 0 {
                    out.push(finding(
                        Severity::Warning,
                        "user.no-recovery-codes",
                        subject.clone(),
                        format!("{user} has no recovery codes left"),
                        "a lost phone means asking an admin for a pass",
                        format!("`twofold --user {user} recovery regenerate`"),
                    ));
                } else if *recovery_left < 3 {
                    out.push(finding(
                        Severity::Warning,
                        "user.few-recovery-codes",
                        subject.clone(),
                        format!("{user} has {recovery_left} recovery codes left"),
                        "a lost phone soon means asking an admin for a pass",
                        format!("`twofold --user {user} recovery regenerate`"),
                    ));
                }
                out.push(ok(
                    "user.enrolled",
                    subject,
                    format!("{user}: {}", super::codes_words(state)),
                ));
            }
        }
    }
    if let Some(s) = &inputs.sudoers {
        for a in &inputs.accounts {
            if s.nopasswd(&a.name, &inputs.accounts, &inputs.groups) {
                out.push(finding(
                    Severity::Warning,
                    "sudo.nopasswd",
                    format!("user:{}", a.name),
                    format!("sudoers gives {} NOPASSWD", a.name),
                    "NOPASSWD skips sudo's whole auth stack, the code included",
                    "remove NOPASSWD from that rule (visudo) unless the account is meant to skip both factors",
                ));
            }
        }
    }
    let admins = admins(inputs);
    if admins.iter().any(|a| !inputs.users.contains_key(a)) {
        // Not all looked at (a user's own run): no verdict on partial knowledge.
        return;
    }
    let getting_in = admins_who_get_in(inputs, config);
    let break_glass = config.exempt_groups.iter().any(|g| {
        inputs
            .accounts
            .iter()
            .any(|a| a.login_shell && member(&a.name, g, &inputs.accounts, &inputs.groups))
    });
    if getting_in.is_empty() {
        out.push(finding(
            Severity::Error,
            "admins.locked-out",
            "admins",
            format!("none of the admins ({}) can pass the second factor", admins.join(", ")),
            "nobody can get root through a login that asks for a code: only the console or a rescue boot is left",
            "keep this root shell open and enroll an admin now (`twofold --user NAME enroll`), or add one to an exempt group",
        ));
    } else if getting_in.len() == 1 && !break_glass {
        out.push(finding(
            Severity::Warning,
            "admins.single",
            "admins",
            format!("{} is the only admin who can get in, and no exempt group has a member who can log in", getting_in[0]),
            "one lost phone and used-up recovery codes lock every admin out",
            "enroll a second admin, or put a break-glass account in an exempt group",
        ));
    } else {
        out.push(ok(
            "admins.ok",
            "admins",
            format!(
                "admins who can get in: {}{}",
                getting_in.join(", "),
                if break_glass {
                    " (and a break-glass account)"
                } else {
                    ""
                }
            ),
        ));
    }
}
