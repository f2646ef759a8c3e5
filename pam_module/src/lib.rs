//! `pam_twofold.so`: the thin layer between libpam and twofold's core.
//!
//! Everything that decides lives in `twofold_core::auth`; this crate reads PAM items, runs the
//! conversation, reads the clock, and writes the decision to the auth log. pam-bindings'
//! `pam_hooks!` generates the `extern "C"` entry points and catches panics (answering
//! PAM_ABORT); we catch them first too, so a bug is logged and answered with PAM_AUTH_ERR.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// No unsafe code of our own; `mod hooks` allows it for what `pam_hooks!` expands to.
#![deny(unsafe_code)]

use pam::constants::{PamFlag, PamResultCode, PAM_PROMPT_ECHO_OFF, PAM_SILENT, PAM_TEXT_INFO};
use pam::conv::Conv;
use pam::items::{AuthTok, RHost, Service, User};
use pam::module::{PamHandle, PamHooks};
use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use twofold_core::auth::{Answer, Caller, Conversation, Level, Outcome, Request};
use twofold_core::config::{self, Config};
use twofold_core::log::quote;
use twofold_core::session;
use zeroize::Zeroizing;

mod log;

struct Twofold;
// The only `unsafe` in the module: the entry points `pam_hooks!` expands to.
#[allow(unsafe_code)]
mod hooks {
    use super::Twofold;
    pam::pam_hooks!(Twofold);
}

impl PamHooks for Twofold {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        match catch_unwind(AssertUnwindSafe(|| authenticate(pamh, &args, flags))) {
            Ok(code) => code,
            Err(_) => {
                log::write(
                    Level::Error,
                    "result=deny reason=\"internal error (panic caught); please report this bug\"",
                );
                PamResultCode::PAM_AUTH_ERR
            }
        }
    }

    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        PamResultCode::PAM_SUCCESS
    }

    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        session_hook(pamh, &args, session::open_session)
    }

    fn sm_close_session(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        session_hook(pamh, &args, session::close_session)
    }
}

type SessionStep = fn(&Config, &str, &str, &session::Process, u64, &str) -> Option<(Level, String)>;

/// The session hooks keep `sudo_after_login`'s records (`twofold_core::session`). They
/// grant nothing: whatever goes wrong, sudo asks for a code, and the session goes on
/// (PAM_IGNORE), so a session line can never lock anyone out.
fn session_hook(pamh: &mut PamHandle, args: &[&CStr], step: SessionStep) -> PamResultCode {
    let run = || {
        let service = item_text(pamh.get_item::<Service>().ok().flatten().map(|s| s.0))
            .unwrap_or_else(|| "?".into());
        let rhost = item_text(pamh.get_item::<RHost>().ok().flatten().map(|s| s.0));
        let user = item_text(pamh.get_item::<User>().ok().flatten().map(|s| s.0))
            .unwrap_or_else(|| "?".into());
        let context = format!(
            "service={} user={} rhost={} method=session",
            quote(&service),
            quote(&user),
            quote(rhost.as_deref().unwrap_or("-"))
        );
        let config = match parse_args(args).and_then(|args| match args.source {
            Source::File(path) => Config::load(&path).map_err(|e| e.to_string()),
            Source::BuiltinDefaults => Ok(Config::default()),
        }) {
            Ok(c) => c,
            Err(e) => {
                log::write(Level::Error, &format!("{context} reason={}", quote(&e)));
                return PamResultCode::PAM_IGNORE;
            }
        };
        let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
            return PamResultCode::PAM_IGNORE;
        };
        let process = session::Process::of_this_process();
        match step(
            &config,
            &service,
            &user,
            &process,
            now.as_secs(),
            session::RECORD_DIR,
        ) {
            Some((level, line)) => {
                log::write(level, &format!("{context} reason={}", quote(&line)));
                if level <= Level::Warning {
                    PamResultCode::PAM_IGNORE
                } else {
                    PamResultCode::PAM_SUCCESS
                }
            }
            None => PamResultCode::PAM_IGNORE,
        }
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(PamResultCode::PAM_IGNORE)
}

/// Where the configuration comes from.
#[derive(Debug, PartialEq)]
enum Source {
    File(String),
    /// The module argument `builtin_defaults`: no file is read. A missing file is an error
    /// otherwise (`Config::load`), so deleting it cannot change where secrets are read from.
    BuiltinDefaults,
}

/// What the module arguments say.
#[derive(Debug, PartialEq)]
struct Args {
    source: Source,
    /// Obsolete arguments given, each ignored (and logged at notice).
    obsolete: Vec<String>,
}

/// Module arguments: `config=PATH` and `builtin_defaults`; `toml_library=PATH` of the first
/// release is accepted and ignored, so its hosts keep working after an upgrade. Anything
/// else is a configuration error.
fn parse_args(args: &[&CStr]) -> Result<Args, String> {
    let mut path = None;
    let mut defaults = false;
    let mut obsolete = Vec::new();
    for arg in args {
        let arg = arg
            .to_str()
            .map_err(|_| "a module argument is not UTF-8".to_string())?;
        match arg.split_once('=') {
            Some(("config", p)) if p.starts_with('/') => path = Some(p.to_string()),
            Some(("toml_library", _)) => obsolete.push("toml_library".to_string()),
            None if arg == "builtin_defaults" => defaults = true,
            _ => {
                return Err(format!(
                    "unknown module argument `{}`; the known ones are config=/path and builtin_defaults",
                    arg.escape_default()
                ))
            }
        }
    }
    let source = match (path, defaults) {
        (Some(_), true) => {
            return Err(
                "module arguments config= and builtin_defaults contradict each other; give one"
                    .into(),
            )
        }
        (None, true) => Source::BuiltinDefaults,
        (path, false) => Source::File(path.unwrap_or_else(|| config::DEFAULT_PATH.into())),
    };
    Ok(Args { source, obsolete })
}

struct PamConversation<'a, 'b> {
    conv: Conv<'a>,
    silent: bool,
    /// service, user and rhost, for the log lines written during the conversation.
    context: String,
    /// PAM_AUTHTOK as the stack holds it (libpam's memory, never copied; libpam lets only
    /// modules set it, so the application's conversation cannot free it under us).
    password: Option<&'b [u8]>,
}

impl Conversation for PamConversation<'_, '_> {
    fn prompt_hidden(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        match self.conv.send(PAM_PROMPT_ECHO_OFF, prompt) {
            // SecretBytes wipes its buffer on drop; our copy is wiped by Zeroizing.
            Ok(Some(answer)) => Ok(Zeroizing::new(answer.as_bytes().to_vec())),
            Ok(None) => Err("no answer".into()),
            Err(code) => Err(format!("PAM conversation error {code:?}")),
        }
    }

    fn info(&mut self, text: &str) {
        if !self.silent {
            let _ = self.conv.send(PAM_TEXT_INFO, text);
        }
    }

    fn password(&self) -> Option<&[u8]> {
        self.password
    }

    fn shows_info(&self) -> bool {
        !self.silent
    }

    fn now(&self) -> Option<u64> {
        clock()
    }

    fn log(&mut self, level: Level, method: &str, result: &str, reason: &str) {
        log::write(
            level,
            &format!(
                "{} method={method} result={result} reason={}",
                self.context,
                quote(reason)
            ),
        );
    }
}

/// Seconds since the epoch; `None` for a clock before 1970.
fn clock() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|t| t.as_secs())
}

fn item_text(value: Option<&CStr>) -> Option<String> {
    value
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}

fn authenticate(pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag) -> PamResultCode {
    // Test builds only: a way to prove that a panic inside the module, as linked, is caught
    // and answered. Release builds have no such
    // argument (it is an unknown argument there, which fails closed).
    #[cfg(debug_assertions)]
    #[allow(clippy::panic)]
    if args.iter().any(|a| a.to_bytes() == b"debug_panic") {
        panic!("debug_panic: a test asked the module to panic");
    }
    let service = item_text(pamh.get_item::<Service>().ok().flatten().map(|s| s.0))
        .unwrap_or_else(|| "?".into());
    let rhost = item_text(pamh.get_item::<RHost>().ok().flatten().map(|s| s.0));
    let context = |user: &str| {
        format!(
            "service={} user={} rhost={}",
            quote(&service),
            quote(user),
            quote(rhost.as_deref().unwrap_or("-"))
        )
    };

    let config = match parse_args(args).and_then(|args| {
        for name in &args.obsolete {
            log::write(
                Level::Notice,
                &format!(
                    "{} notice=\"module argument {name}= is obsolete and ignored (this release reads the configuration without a helper library); remove it from the PAM configuration\"",
                    context("?")
                ),
            );
        }
        match args.source {
            Source::File(path) => Config::load(&path).map_err(|e| e.to_string()),
            Source::BuiltinDefaults => Ok(Config::default()),
        }
    }) {
        Ok(c) => c,
        Err(e) => {
            log::write(
                Level::Error,
                &format!("{} result=deny reason={}", context("?"), quote(&e)),
            );
            return PamResultCode::PAM_SERVICE_ERR;
        }
    };
    let user = match pamh.get_user(None) {
        Ok(u) => u,
        Err(code) => {
            log::write(
                Level::Error,
                &format!(
                    "{} result=deny reason=\"cannot get the user name ({code:?})\"",
                    context("?")
                ),
            );
            return PamResultCode::PAM_AUTH_ERR;
        }
    };
    let now = match clock() {
        Some(t) => t,
        None => {
            log::write(
                Level::Error,
                &format!(
                    "{} result=deny reason=\"system clock unreadable or before 1970\"",
                    context(&user)
                ),
            );
            return PamResultCode::PAM_AUTH_ERR;
        }
    };
    let conv = match pamh.get_item::<Conv>() {
        Ok(Some(conv)) => conv,
        _ => {
            log::write(
                Level::Error,
                &format!(
                    "{} result=deny reason=\"application gave no PAM conversation\"",
                    context(&user)
                ),
            );
            return PamResultCode::PAM_CONV_ERR;
        }
    };
    let password = pamh.get_item::<AuthTok>().ok().flatten();
    let mut conversation = PamConversation {
        conv,
        silent: flags & PAM_SILENT != 0,
        context: context(&user),
        password: password.as_ref().map(|p| p.as_bytes()),
    };
    let request = Request {
        user: &user,
        service: &service,
        rhost: rhost.as_deref(),
        now,
        caller: Caller::of_this_process(),
    };
    let outcome = session::authenticate(
        &config,
        &request,
        &session::Process::of_this_process,
        session::RECORD_DIR,
        &mut conversation,
    );
    report(&context(&user), &outcome);
    match outcome.answer {
        Answer::Success => PamResultCode::PAM_SUCCESS,
        Answer::Ignore => PamResultCode::PAM_IGNORE,
        Answer::Deny => PamResultCode::PAM_AUTH_ERR,
    }
}

fn report(context: &str, outcome: &Outcome) {
    let result = match outcome.answer {
        Answer::Success => "success",
        Answer::Ignore => "ignore",
        Answer::Deny => "deny",
    };
    let line = format!(
        "{context} method={} result={result} reason={}",
        outcome.method,
        quote(&outcome.reason)
    );
    log::write(outcome.level, &line);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn source(args: &[&CStr]) -> Source {
        let args = parse_args(args).unwrap();
        assert!(args.obsolete.is_empty());
        args.source
    }

    #[test]
    fn only_the_known_arguments_are_accepted() {
        let good = c"config=/etc/x.toml";
        assert_eq!(source(&[good]), Source::File("/etc/x.toml".into()));
        assert_eq!(source(&[]), Source::File(config::DEFAULT_PATH.into()));
        assert_eq!(source(&[c"builtin_defaults"]), Source::BuiltinDefaults);
        assert_eq!(
            parse_args(&[c"toml_library=/usr/lib/x/libtwofold_toml.so", good]).unwrap(),
            Args {
                source: Source::File("/etc/x.toml".into()),
                obsolete: vec!["toml_library".into()]
            }
        );
        assert!(parse_args(&[good, c"builtin_defaults"]).is_err());
        assert!(parse_args(&[c"builtin_defaults=1"]).is_err());
        assert!(parse_args(&[c"nullok"]).is_err());
        assert!(parse_args(&[c"config=relative"]).is_err());
    }
}
