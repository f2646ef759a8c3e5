//! PAM stacks as libpam runs them: files from `/etc/pam.d` (first) and `/usr/lib/pam.d`,
//! `@include`, `include` and `substack` expanded, bracketed controls, and the dispatch of
//! Linux-PAM's `_pam_dispatch_aux` (libpam/pam_dispatch.c) replayed over assumed module
//! answers. Nothing here reads a file: the caller brings the texts.

use std::collections::BTreeMap;

/// The texts of `/etc/pam.d` and `/usr/lib/pam.d`, by file name.
#[derive(Debug, Clone, Default)]
pub struct PamFiles {
    pub etc: BTreeMap<String, String>,
    pub vendor: BTreeMap<String, String>,
}

impl PamFiles {
    /// The file libpam reads for a service or an include: `/etc/pam.d` wins.
    pub fn get(&self, name: &str) -> Option<(String, &str)> {
        let base = name
            .strip_prefix("/etc/pam.d/")
            .or_else(|| name.strip_prefix("/usr/lib/pam.d/"))
            .unwrap_or(name);
        if let Some(t) = self.etc.get(base) {
            return Some((format!("/etc/pam.d/{base}"), t));
        }
        self.vendor
            .get(base)
            .map(|t| (format!("/usr/lib/pam.d/{base}"), t.as_str()))
    }

    /// Services whose auth stack reaches `pam_twofold.so`, directly or through includes.
    pub fn services(&self) -> Vec<String> {
        let mut names: Vec<String> = self.etc.keys().chain(self.vendor.keys()).cloned().collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A module's answer, as far as the stack cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Success,
    AuthErr,
    Ignore,
    /// The module file could not be loaded.
    ModuleUnknown,
    UserUnknown,
    /// libpam's PAM_MUST_FAIL_CODE (PAM_PERM_DENIED), for lines it could not parse.
    PermDenied,
}

impl Ret {
    fn key(self) -> &'static str {
        match self {
            Ret::Success => "success",
            Ret::AuthErr => "auth_err",
            Ret::Ignore => "ignore",
            Ret::ModuleUnknown => "module_unknown",
            Ret::UserUnknown => "user_unknown",
            Ret::PermDenied => "perm_denied",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ignore,
    Ok,
    Done,
    Bad,
    Die,
    Reset,
    Jump(usize),
}

/// The actions of one line: `required` and friends are shorthands for brackets (pam.conf(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// As written, for messages.
    pub text: String,
    map: BTreeMap<String, Action>,
    default: Action,
}

/// Every return value name pam.conf(5) accepts in brackets.
const RETURN_NAMES: &[&str] = &[
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
];

impl Control {
    fn keyword(text: &str, success: Action, ignore: Action, default: Action) -> Control {
        let mut map = BTreeMap::new();
        map.insert("success".into(), success);
        map.insert("new_authtok_reqd".into(), success);
        map.insert("ignore".into(), ignore);
        Control {
            text: text.into(),
            map,
            default,
        }
    }

    /// `None` for a control libpam does not understand (it makes such a line fail).
    pub fn parse(text: &str) -> Option<Control> {
        use Action::*;
        match text {
            "required" => return Some(Control::keyword(text, Ok, Ignore, Bad)),
            "requisite" => return Some(Control::keyword(text, Ok, Ignore, Die)),
            "sufficient" => return Some(Control::keyword(text, Done, Ignore, Ignore)),
            "optional" => return Some(Control::keyword(text, Ok, Ignore, Ignore)),
            _ => {}
        }
        let inner = text.strip_prefix('[')?.strip_suffix(']')?;
        let mut map = BTreeMap::new();
        // Values left unset with no `default=` are a bad jump for libpam: the stack fails.
        let mut default = Bad;
        for pair in inner.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let key = key.to_ascii_lowercase();
            if !RETURN_NAMES.contains(&key.as_str()) {
                return None;
            }
            let action = match value {
                "ignore" => Ignore,
                "ok" => Ok,
                "done" => Done,
                "bad" => Bad,
                "die" => Die,
                "reset" => Reset,
                n => Jump(n.parse().ok().filter(|n| *n > 0)?),
            };
            if key == "default" {
                default = action;
            } else {
                map.insert(key, action);
            }
        }
        Some(Control {
            text: text.into(),
            map,
            default,
        })
    }

    pub fn action(&self, ret: Ret) -> Action {
        self.map.get(ret.key()).copied().unwrap_or(self.default)
    }
}

/// Where a line comes from, for messages: "/etc/pam.d/common-auth line 17".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}", self.file, self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Module {
        /// File name without directory: "pam_unix.so".
        name: String,
        args: Vec<String>,
        control: Control,
        /// `-auth`: a module that cannot be loaded is skipped silently.
        silent: bool,
    },
    /// The start of a substack (its lines follow one level deeper).
    Substack,
    /// A line libpam could not use: it fails the stack (PAM_MUST_FAIL_CODE).
    MustFail(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    pub level: usize,
    pub kind: Kind,
    pub origin: Origin,
}

impl Handler {
    pub fn module(&self) -> Option<&str> {
        match &self.kind {
            Kind::Module { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn is_twofold(&self) -> bool {
        self.module() == Some(TWOFOLD)
    }

    /// "sufficient pam_unix.so (/etc/pam.d/common-auth line 17)".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Module { name, control, .. } => {
                format!("`{} {name}` ({})", control.text, self.origin)
            }
            Kind::Substack => format!("substack ({})", self.origin),
            Kind::MustFail(why) => format!("{why} ({})", self.origin),
        }
    }
}

pub const TWOFOLD: &str = "pam_twofold.so";

/// The lines of one type ("auth") of a service's stack, flattened as libpam loads them.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub service: String,
    pub file: Option<String>,
    pub handlers: Vec<Handler>,
    /// Files named by an include that do not exist, and include loops.
    pub problems: Vec<String>,
}

impl Stack {
    pub fn load(files: &PamFiles, service: &str, ty: &str) -> Stack {
        let mut stack = Stack {
            service: service.into(),
            ..Stack::default()
        };
        let (name, found) = match files.get(service) {
            Some(_) => (service, true),
            None => ("other", files.get("other").is_some()),
        };
        if !found {
            stack.problems.push(format!(
                "no /etc/pam.d/{service} and no /etc/pam.d/other: libpam refuses everything"
            ));
            return stack;
        }
        stack.file = files.get(name).map(|(p, _)| p);
        let mut chain = Vec::new();
        load_file(files, name, ty, 0, &mut chain, &mut stack);
        stack
    }

    pub fn has_twofold(&self) -> bool {
        self.handlers.iter().any(Handler::is_twofold)
    }
}

/// pam.conf(5): "#" starts a comment, a backslash continues a line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            start = i + 1;
        }
        let line = raw.split('#').next().unwrap_or("");
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        if !full.trim().is_empty() {
            out.push((start, full));
        }
    }
    out
}

fn load_file(
    files: &PamFiles,
    name: &str,
    ty: &str,
    level: usize,
    chain: &mut Vec<String>,
    stack: &mut Stack,
) {
    let Some((path, text)) = files.get(name) else {
        stack
            .problems
            .push(format!("included file {name} does not exist"));
        stack.handlers.push(Handler {
            level,
            kind: Kind::MustFail(format!("missing include {name}")),
            origin: Origin {
                file: name.into(),
                line: 0,
            },
        });
        return;
    };
    if chain.contains(&path) {
        stack.problems.push(format!("{path} includes itself"));
        return;
    }
    chain.push(path.clone());
    for (line, text) in logical_lines(text) {
        let origin = Origin {
            file: path.clone(),
            line,
        };
        let text = text.trim();
        if let Some(target) = text.strip_prefix("@include") {
            load_file(files, target.trim(), ty, level, chain, stack);
            continue;
        }
        let (first, rest) = split_token(text);
        let (silent, line_ty) = match first.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, first),
        };
        if !line_ty.eq_ignore_ascii_case(ty) {
            continue;
        }
        let (control, rest) = if rest.starts_with('[') {
            match rest.find(']') {
                Some(end) => (&rest[..=end], rest[end + 1..].trim_start()),
                None => (rest, ""),
            }
        } else {
            split_token(rest)
        };
        let (module, args) = split_token(rest);
        match control {
            "include" => load_file(files, module, ty, level, chain, stack),
            "substack" => {
                stack.handlers.push(Handler {
                    level,
                    kind: Kind::Substack,
                    origin,
                });
                load_file(files, module, ty, level + 1, chain, stack);
            }
            _ => {
                let kind = match Control::parse(control) {
                    Some(control) if !module.is_empty() => Kind::Module {
                        name: module.rsplit('/').next().unwrap_or(module).to_string(),
                        args: args.split_whitespace().map(String::from).collect(),
                        control,
                        silent,
                    },
                    _ => Kind::MustFail(format!("unusable line `{text}`")),
                };
                stack.handlers.push(Handler {
                    level,
                    kind,
                    origin,
                });
            }
        }
    }
    chain.pop();
}

fn split_token(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// What a module other than ours can answer, from what it is known to do.
fn possible(handler: &Handler) -> &'static [Ret] {
    let Kind::Module { name, args, .. } = &handler.kind else {
        return &[Ret::PermDenied];
    };
    let stem = name.trim_end_matches(".so");
    match stem {
        "pam_permit" => &[Ret::Success],
        "pam_deny" => &[Ret::AuthErr],
        // We reason about a person who is not root already.
        "pam_rootok" => &[Ret::AuthErr],
        "pam_faillock" if args.iter().any(|a| a == "authfail") => &[Ret::AuthErr],
        _ if is_factor(stem) => &[Ret::Success, Ret::AuthErr],
        "pam_succeed_if" | "pam_usertype" | "pam_localuser" | "pam_listfile" | "pam_wheel"
        | "pam_access" | "pam_shells" | "pam_securetty" | "pam_time" | "pam_nologin"
        | "pam_sepermit" => &[Ret::Success, Ret::AuthErr],
        _ => &[Ret::Success],
    }
}

/// Modules that check something the person knows or has: a first factor.
pub fn is_factor(stem: &str) -> bool {
    matches!(
        stem.trim_end_matches(".so"),
        "pam_unix"
            | "pam_sss"
            | "pam_ldap"
            | "pam_krb5"
            | "pam_winbind"
            | "pam_systemd_home"
            | "pam_google_authenticator"
            | "pam_oath"
            | "pam_u2f"
            | "pam_fprintd"
            | "pam_yubico"
            | "pam_radius_auth"
            | "pam_pkcs11"
            | "pam_p11"
            | "pam_userdb"
            | "pam_pwdfile"
    )
}

/// One replay of the stack.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub success: bool,
    /// Indexes of our lines that ran, and whether the stack had already failed then.
    pub twofold_runs: Vec<(usize, bool)>,
    /// The line whose `done` (or jump) ended the stack or skipped over our line.
    pub skipped_by: Option<usize>,
    /// Other lines that answered success.
    pub succeeded: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

/// `_pam_dispatch_aux` of Linux-PAM, for a stack run once (no cached chain).
pub fn dispatch(handlers: &[Handler], answer: &dyn Fn(usize) -> Ret) -> Trace {
    let mut trace = Trace::default();
    let mut impression = Impression::Undef;
    let mut status = Ret::PermDenied;
    let mut saved: Vec<(Impression, Ret)> = vec![(Impression::Undef, Ret::PermDenied); 64];
    let mut prev_level = 0;
    let mut i = 0;
    while i < handlers.len() {
        let h = &handlers[i];
        let level = h.level.min(63);
        if prev_level < level {
            saved[level] = (impression, status);
        }
        prev_level = level;
        let (retval, action) = match &h.kind {
            Kind::Substack => {
                i += 1;
                continue;
            }
            Kind::MustFail(_) => (Ret::PermDenied, Action::Bad),
            Kind::Module {
                control, silent, ..
            } => {
                let ret = answer(i);
                if ret == Ret::ModuleUnknown && *silent {
                    i += 1;
                    continue;
                }
                (ret, control.action(ret))
            }
        };
        if h.is_twofold() {
            trace
                .twofold_runs
                .push((i, impression == Impression::Negative));
        } else if retval == Ret::Success {
            trace.succeeded.push(i);
        }
        let mut decided = false;
        match action {
            Action::Reset => (impression, status) = saved[level],
            Action::Ok | Action::Done => {
                if impression == Impression::Undef
                    || (impression == Impression::Positive && status == Ret::Success)
                {
                    impression = Impression::Positive;
                    status = retval;
                }
                if impression != Impression::Negative && action == Action::Done {
                    decided = true;
                }
            }
            Action::Bad | Action::Die => {
                if impression != Impression::Negative {
                    impression = Impression::Negative;
                    status = if retval == Ret::Ignore {
                        Ret::PermDenied
                    } else {
                        retval
                    };
                }
                decided = action == Action::Die;
            }
            Action::Ignore => {}
            Action::Jump(mut n) => {
                let from = i;
                while i + 1 < handlers.len() && handlers[i + 1].level >= h.level && n > 0 {
                    loop {
                        i += 1;
                        if handlers[i].is_twofold() && trace.skipped_by.is_none() {
                            trace.skipped_by = Some(from);
                        }
                        if !(i + 1 < handlers.len() && handlers[i + 1].level > h.level) {
                            break;
                        }
                    }
                    n -= 1;
                }
                if n > 0 {
                    impression = Impression::Negative;
                    status = Ret::PermDenied;
                }
            }
        }
        if decided {
            let from = i;
            while i + 1 < handlers.len() && handlers[i + 1].level >= h.level {
                i += 1;
                if handlers[i].is_twofold() && trace.skipped_by.is_none() {
                    trace.skipped_by = Some(from);
                }
            }
        }
        i += 1;
    }
    trace.success = status == Ret::Success && impression == Impression::Positive;
    trace
}

/// Every way the other modules could answer, at most this many (2^12).
const MAX_CASES: usize = 4096;

/// What a stack does with each answer of pam_twofold, over every answer of the others.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// The replay was not done: too many modules whose answers vary.
    pub too_complex: bool,
    /// pam_twofold runs in some login.
    pub reached: bool,
    /// A login that succeeds when it answers PAM_AUTH_ERR (a wrong code gets in).
    pub wrong_code_passes: Option<Trace>,
    /// It answers PAM_SUCCESS while every first factor failed, and the stack succeeds.
    pub code_alone_passes: Option<Trace>,
    /// Some login succeeds with a right code.
    pub right_code_passes: bool,
    /// Some login succeeds when it answers PAM_IGNORE (exempt users).
    pub ignore_passes: bool,
    /// Some login succeeds when the module file is missing.
    pub missing_passes: bool,
    /// Our line starts with `-`: libpam skips it silently when the module file is missing.
    pub missing_is_skipped: bool,
    /// It runs after the stack has already failed (a wrong password reaches the code prompt).
    pub runs_after_failure: Option<usize>,
    /// It runs twice in one login.
    pub runs_twice: bool,
    /// A first factor is in the stack.
    pub has_first_factor: bool,
}

pub fn analyse(stack: &Stack) -> Analysis {
    let h = &stack.handlers;
    let varying: Vec<usize> = (0..h.len())
        .filter(|&i| !h[i].is_twofold() && possible(&h[i]).len() > 1)
        .collect();
    let mut a = Analysis {
        has_first_factor: h
            .iter()
            .any(|x| x.module().is_some_and(is_factor) && !x.is_twofold()),
        missing_is_skipped: h
            .iter()
            .any(|x| x.is_twofold() && matches!(&x.kind, Kind::Module { silent: true, .. })),
        ..Analysis::default()
    };
    if 1usize
        .checked_shl(varying.len() as u32)
        .unwrap_or(usize::MAX)
        > MAX_CASES
    {
        a.too_complex = true;
        return a;
    }
    for case in 0..(1usize << varying.len()) {
        let pick = |i: usize| -> Ret {
            match varying.iter().position(|&v| v == i) {
                Some(bit) => possible(&h[i])[(case >> bit) & 1],
                None => possible(&h[i])[0],
            }
        };
        let factors_fail = varying.iter().enumerate().all(|(bit, &i)| {
            !h[i].module().is_some_and(is_factor)
                || possible(&h[i])[(case >> bit) & 1] != Ret::Success
        });
        for ours in [Ret::Success, Ret::AuthErr, Ret::Ignore, Ret::ModuleUnknown] {
            let t = dispatch(h, &|i| if h[i].is_twofold() { ours } else { pick(i) });
            if !t.twofold_runs.is_empty() {
                a.reached = true;
            }
            if t.twofold_runs.len() > 1 {
                a.runs_twice = true;
            }
            if ours == Ret::AuthErr && a.runs_after_failure.is_none() {
                a.runs_after_failure = t.twofold_runs.iter().find(|r| r.1).map(|r| r.0);
            }
            if !t.success {
                continue;
            }
            match ours {
                Ret::Success => {
                    a.right_code_passes = true;
                    if factors_fail && a.code_alone_passes.is_none() {
                        a.code_alone_passes = Some(t);
                    }
                }
                Ret::AuthErr => {
                    if a.wrong_code_passes.is_none() {
                        a.wrong_code_passes = Some(t);
                    }
                }
                Ret::Ignore => a.ignore_passes = true,
                _ => a.missing_passes = true,
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(files: &[(&str, &str)]) -> Stack {
        let mut pam = PamFiles::default();
        for (n, t) in files {
            pam.etc.insert(n.to_string(), t.to_string());
        }
        Stack::load(&pam, "svc", "auth")
    }

    fn run(s: &Stack, ours: Ret) -> bool {
        dispatch(&s.handlers, &|i| {
            if s.handlers[i].is_twofold() {
                ours
            } else {
                possible(&s.handlers[i])[0]
            }
        })
        .success
    }

    /// NOTES.md, checked against libpam: `[ignore=ok]` leaves PAM_IGNORE as the stack's
    /// answer even with pam_permit after it.
    #[test]
    fn ignore_ok_does_not_turn_ignore_into_success() {
        let s = stack(&[(
            "svc",
            "auth [success=ok ignore=ok default=bad] pam_twofold.so\nauth required pam_permit.so\n",
        )]);
        assert!(!run(&s, Ret::Ignore));
        assert!(run(&s, Ret::Success));
    }

    #[test]
    fn a_stack_where_everything_ignored_fails() {
        let s = stack(&[("svc", "auth required pam_twofold.so\n")]);
        assert!(!run(&s, Ret::Ignore));
        let s = stack(&[(
            "svc",
            "auth required pam_twofold.so\nauth required pam_permit.so\n",
        )]);
        assert!(run(&s, Ret::Ignore));
        assert!(!run(&s, Ret::AuthErr));
    }

    /// pam.conf(5): done and die in a substack end only the substack, and a jump in the
    /// parent counts the whole substack as one module.
    #[test]
    fn substack_scopes_done_die_and_jumps() {
        let inner = (
            "inner",
            "auth sufficient pam_permit.so\nauth required pam_deny.so\n",
        );
        let s = stack(&[
            ("svc", "auth substack inner\nauth required pam_twofold.so\n"),
            inner,
        ]);
        assert!(
            !run(&s, Ret::AuthErr),
            "done in the substack must not end the stack"
        );
        assert!(run(&s, Ret::Success));
        let s = stack(&[
            ("svc", "auth include inner\nauth required pam_twofold.so\n"),
            inner,
        ]);
        assert!(
            run(&s, Ret::AuthErr),
            "done in an include ends the whole stack"
        );
        let s = stack(&[
            ("svc", "auth [success=1 default=ignore] pam_permit.so\nauth substack inner\nauth required pam_twofold.so\n"),
            ("inner", "auth required pam_deny.so\nauth required pam_deny.so\n"),
        ]);
        assert!(
            run(&s, Ret::Success),
            "the jump skips the substack as one module"
        );
    }

    #[test]
    fn etc_wins_over_the_vendor_directory_and_other_is_the_fallback() {
        let mut pam = PamFiles::default();
        pam.vendor
            .insert("sudo".into(), "auth required pam_deny.so\n".into());
        pam.etc
            .insert("sudo".into(), "auth required pam_twofold.so\n".into());
        pam.vendor
            .insert("other".into(), "auth required pam_deny.so\n".into());
        assert!(Stack::load(&pam, "sudo", "auth").has_twofold());
        let s = Stack::load(&pam, "nosuch", "auth");
        assert_eq!(s.file.as_deref(), Some("/usr/lib/pam.d/other"));
    }

    #[test]
    fn continued_lines_and_bracket_controls_parse() {
        let s = stack(&[("svc", "auth [success=1 \\\n default=ignore] pam_unix.so nullok # c\n-auth optional pam_x.so\n")]);
        assert_eq!(s.handlers.len(), 2);
        assert_eq!(s.handlers[0].module(), Some("pam_unix.so"));
        assert!(matches!(
            &s.handlers[1].kind,
            Kind::Module { silent: true, .. }
        ));
    }
}
