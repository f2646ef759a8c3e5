//! Every way a command can fail, each with what happened (`Display`) and what to do next
//! (`hint`). Both go to the person, or to a script as `{"error", "hint"}`.

use std::fmt;
use twofold_core::account::AccountError;
use twofold_core::config::ConfigError;
use twofold_core::store::StoreError;

#[derive(Debug)]
pub enum Error {
    /// clap refused the command line (exit code 2).
    Usage(String),
    Config(ConfigError),
    Account {
        name: String,
        err: AccountError,
    },
    /// The invoking uid has no passwd entry.
    UnknownInvoker {
        uid: u32,
        err: AccountError,
    },
    NotRoot {
        command: &'static str,
    },
    OtherUser {
        name: String,
    },
    /// System mode: only root reads and writes secret files.
    SystemMode {
        user: String,
        instead: String,
        /// Root-only because of `[directory]` (the host's directory password is root's).
        directory: bool,
        /// A self-service command, which the setuid-root twofold would have run.
        setuid_would_do: bool,
    },
    /// Run setuid root by a user, with an option only root may give.
    Setuid {
        refused: &'static str,
    },
    /// A self-service change whose second factor was not verified (`reverify`).
    NotVerified {
        /// Verified by nothing at all: exempt, not enrolled (the outcome's method).
        unverifiable: Option<&'static str>,
    },
    Store(StoreError),
    /// The store's error, where `--force` would replace the file.
    StoreForceable(StoreError),
    AlreadyEnrolled {
        user: String,
        devices: usize,
    },
    NotEnrolled {
        user: String,
        by_admin: bool,
    },
    BadDeviceName {
        name: String,
    },
    DeviceExists {
        name: String,
    },
    NoSuchDevice {
        name: String,
        known: Vec<String>,
    },
    TooManyDevices {
        max: usize,
    },
    NoCodeEntered,
    NotACode {
        why: &'static str,
        digits: u8,
    },
    WrongCode {
        tries: u32,
    },
    NotConfirmed,
    NeedsYes,
    BadTtl {
        problem: String,
    },
    OutputExists {
        path: String,
    },
    Output {
        path: String,
        err: std::io::Error,
    },
    Terminal(std::io::Error),
    Import {
        file: String,
        line: usize,
        problem: String,
    },
    ImportFile {
        file: String,
        problem: String,
        fix: String,
    },
    Hotp {
        file: String,
    },
    Audit {
        path: String,
        problem: String,
    },
    /// A command for the directory backend without `[directory]` in twofold.toml.
    NoDirectory {
        command: &'static str,
    },
    /// `admin migrate` would overwrite a state at the destination.
    MigrationRefused {
        user: String,
        to: &'static str,
        why: &'static str,
    },
    /// `admin migrate --all` could not move some users (each one reported).
    MigrationIncomplete {
        failed: usize,
    },
    Random(String),
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    /// What to do next.
    pub fn hint(&self) -> String {
        match self {
            Error::Usage(_) => "run `twofold --help`, or `twofold COMMAND --help`".into(),
            Error::Config(_) => {
                "fix the file (`man 5 twofold.toml` lists the keys), or pass --config PATH to use another one"
                    .into()
            }
            Error::Account { name, err } => match err {
                AccountError::Unknown => {
                    format!("check the spelling; `getent passwd {name}` shows whether the user exists")
                }
                AccountError::BadName(_) => "give a plain user name".into(),
                AccountError::Lookup(_) => "check the password database (NSS configuration)".into(),
            },
            Error::UnknownInvoker { .. } => {
                "twofold needs your account in the password database (`getent passwd $(id -u)`)".into()
            }
            Error::NotRoot { command } => format!("run it as root: `sudo twofold {command} ...`"),
            Error::OtherUser { name } => format!(
                "leave out --user to act for yourself, or ask an administrator to run `sudo twofold --user {name} ...`"
            ),
            Error::SystemMode {
                instead,
                setuid_would_do: true,
                ..
            } => format!(
                "this twofold is not setuid root, which the packages install it as (mode 4755, twofold(1) SELF-SERVICE): ask an administrator to run `{instead}`, or to install it so"
            ),
            Error::SystemMode { instead, .. } => format!("ask an administrator to run `{instead}`"),
            Error::Setuid { refused } => format!(
                "leave out {refused}: run as a user, twofold reads /etc/twofold/twofold.toml and acts for you alone; root may use {refused}"
            ),
            Error::NotVerified { unverifiable: None } => "type a current code from one of your apps, or an unused recovery code; after a few wrong codes app codes pause (`twofold status` shows until when), recovery codes always work"
                .into(),
            Error::NotVerified { unverifiable: Some(_) } => {
                "ask an administrator to make the change (`twofold --user NAME ...`)".into()
            }
            Error::Store(e) => e.fix.clone(),
            Error::StoreForceable(e) => format!("{}; or add --force to replace the file", e.fix),
            Error::AlreadyEnrolled { .. } => "add a second app with `twofold device add NAME`, or replace the \
enrollment with --force (its devices and recovery codes stop working)"
                .into(),
            Error::NotEnrolled { by_admin: false, .. } => "run `twofold enroll` first".into(),
            Error::NotEnrolled { user, by_admin: true } => {
                format!("nothing to do; to enroll the user run `twofold enroll --user {user}`")
            }
            Error::BadDeviceName { .. } => {
                "use 1 to 32 letters, digits, dots, dashes or underscores, e.g. `phone`".into()
            }
            Error::DeviceExists { name } => format!(
                "pick another name, or remove the old one first with `twofold device remove {name}`"
            ),
            Error::NoSuchDevice { known, .. } if known.is_empty() => {
                "no devices are enrolled; `twofold status` shows what is".into()
            }
            Error::NoSuchDevice { known, .. } => format!("enrolled devices: {}", known.join(", ")),
            Error::TooManyDevices { .. } => "remove one you no longer use: `twofold device remove NAME`".into(),
            Error::NoCodeEntered => "run it again and type the 6-digit code your app shows".into(),
            Error::NotACode { .. } => "type the digits your app shows, e.g. 123456".into(),
            Error::WrongCode { .. } => "make sure the phone sets its clock automatically, scan the new QR code \
(an old entry in the app has another secret), then run the command again"
                .into(),
            Error::NotConfirmed => "nothing was removed; type `yes` to confirm, or pass --yes".into(),
            Error::NeedsYes => "pass --yes to remove the last device".into(),
            Error::BadTtl { .. } => "give a duration from 1m to 7d, such as 15m, 2h or 1d".into(),
            Error::OutputExists { .. } => "remove the file or choose another name".into(),
            Error::Output { .. } => "check the path and its directory's permissions".into(),
            Error::Terminal(_) => "run it again from a terminal, or with --no-confirm".into(),
            Error::Import { .. } => {
                "fix that line, or re-create the file with google-authenticator; nothing was imported".into()
            }
            Error::ImportFile { fix, .. } => fix.clone(),
            Error::Hotp { .. } => "run `twofold enroll` to set up a time-based (TOTP) code instead; \
counter-based (HOTP) tokens are not supported"
                .into(),
            Error::Audit { path, .. } => format!(
                "admin actions are only done when they can be audited: fix {path} (a root-owned file of mode 0600 in a root-owned directory)"
            ),
            Error::NoDirectory { .. } => "add the [directory] table to twofold.toml first (`man 5 twofold.toml`), then run it again".into(),
            Error::MigrationRefused { user, .. } => format!(
                "compare the two with `twofold admin status {user}`; to keep this host's copy instead, remove the other one first (`twofold admin reset {user}` acts on the backend twofold.toml selects)"
            ),
            Error::MigrationIncomplete { .. } => {
                "fix what each failed user's line says, then run the same command again: users already moved are not moved twice".into()
            }
            Error::Random(_) => "the kernel's random number generator is not available; check /dev/urandom".into(),
            Error::Internal(_) => "please report this as a bug".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Config(e) => write!(f, "{e}"),
            Error::Account { name, err } => write!(f, "user `{name}`: {err}"),
            Error::UnknownInvoker { uid, err } => write!(f, "your uid {uid}: {err}"),
            Error::NotRoot { command } => write!(f, "`twofold {command}` is for root only"),
            Error::OtherUser { name } => {
                write!(f, "only root may act for another user (--user {name})")
            }
            Error::SystemMode {
                user,
                directory: true,
                ..
            } => write!(
                f,
                "the second factor is kept in the directory, which only root reaches (the host's directory password is root's), so {user} cannot manage it directly"
            ),
            Error::Setuid { refused } => write!(
                f,
                "{refused} is for root only when twofold runs setuid root for a user; nothing was changed"
            ),
            Error::NotVerified { unverifiable: None } => {
                f.write_str("your second factor was not accepted; nothing was changed")
            }
            Error::NotVerified {
                unverifiable: Some(method),
            } => write!(
                f,
                "your second factor cannot be checked here ({method}); nothing was changed"
            ),
            Error::SystemMode { user, .. } => write!(
                f,
                "the secret files are kept by root (system mode), so {user} cannot manage them directly"
            ),
            Error::Store(e) | Error::StoreForceable(e) => write!(f, "{} {}", e.path, e.problem),
            Error::AlreadyEnrolled { user, devices } => write!(
                f,
                "{user} is already enrolled ({devices} device{}); nothing was changed",
                if *devices == 1 { "" } else { "s" }
            ),
            Error::NotEnrolled { user, .. } => write!(f, "{user} is not enrolled"),
            Error::BadDeviceName { name } => {
                write!(f, "`{}` is not a valid device name", name.escape_default())
            }
            Error::DeviceExists { name } => write!(f, "a device named `{name}` already exists"),
            Error::NoSuchDevice { name, .. } => write!(f, "there is no device named `{}`", name.escape_default()),
            Error::TooManyDevices { max } => write!(f, "already {max} devices, the most allowed"),
            Error::NoCodeEntered => f.write_str("no code was entered; nothing was changed"),
            Error::NotACode { why, digits } => {
                write!(f, "that is not a {digits}-digit code ({why}); nothing was changed")
            }
            Error::WrongCode { tries: 1 } => f.write_str("the code did not match; nothing was changed"),
            Error::WrongCode { tries } => {
                write!(f, "none of the {tries} codes matched; nothing was changed")
            }
            Error::NotConfirmed => f.write_str("not confirmed"),
            Error::NeedsYes => {
                f.write_str("removing the last device needs confirmation, and --json does not ask")
            }
            Error::BadTtl { problem } => write!(f, "--ttl {problem}; no pass was issued"),
            Error::OutputExists { path } => write!(f, "{path} already exists; nothing was changed"),
            Error::Output { path, err } => write!(f, "cannot write {path}: {err}"),
            Error::Terminal(e) => write!(f, "cannot talk to the terminal: {e}"),
            Error::Import { file, line, problem } => write!(f, "{file}, line {line}: {problem}"),
            Error::ImportFile { file, problem, .. } => write!(f, "{file} {problem}"),
            Error::Hotp { file } => write!(
                f,
                "{file} is a counter-based (HOTP) enrollment, which twofold does not support; nothing was imported"
            ),
            Error::Audit { path, problem } => {
                write!(f, "audit log {path}: {problem}; nothing was changed")
            }
            Error::NoDirectory { command } => write!(
                f,
                "`twofold {command}` needs a directory, and twofold.toml has no [directory] table; nothing was changed"
            ),
            Error::MigrationRefused { user, to, why } => write!(
                f,
                "{user} was not moved to the {to}: {why}; nothing was changed"
            ),
            Error::MigrationIncomplete { failed } => write!(
                f,
                "{failed} user{} could not be moved (see above); the others were",
                if *failed == 1 { "" } else { "s" }
            ),
            Error::Random(e) => write!(f, "no randomness: {e}"),
            Error::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

impl From<getrandom::Error> for Error {
    fn from(e: getrandom::Error) -> Error {
        Error::Random(e.to_string())
    }
}
