//! One run of the command: the configuration, who runs it, for whom, the time, and where
//! output goes. Permission rules live here, in one place.

use crate::error::{Error, Result};
use crate::stored::Place;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use twofold_core::account::Account;
use twofold_core::{Config, UnixTime};
use zeroize::Zeroizing;

/// Who runs twofold: the real uid, as the spec of `--user` asks.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub uid: u32,
    pub account: Account,
}

impl Invoker {
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Reads the time. The system clock, or a clock that tests move.
pub type Clock = Box<dyn Fn() -> Result<UnixTime>>;

pub struct Invocation {
    pub config: Config,
    pub json: bool,
    pub invoker: Invoker,
    /// When the command started: the time it records (created, issued, audit lines).
    pub now: UnixTime,
    /// For what must be checked against the time it happens, such as a code typed minutes
    /// after the start.
    clock: Clock,
}

/// Seconds since 1970, from the system clock.
pub fn system_clock() -> Result<UnixTime> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::Internal("the clock is before 1970".into()))?
        .as_secs())
}

impl Invocation {
    pub fn start(config_path: &str, json: bool) -> Result<Invocation> {
        let config = Config::load(config_path)?;
        let uid = nix::unistd::getuid().as_raw();
        let account = Account::by_uid(uid).map_err(|err| Error::UnknownInvoker { uid, err })?;
        Ok(Invocation {
            config,
            json,
            invoker: Invoker { uid, account },
            now: system_clock()?,
            clock: Box::new(system_clock),
        })
    }

    /// A run for unit tests: built-in defaults, `--json` (nothing printed where no person
    /// sees it), run by root, the time from `clock`.
    #[cfg(test)]
    pub fn for_tests(clock: Clock) -> Invocation {
        Invocation {
            config: Config::default(),
            json: true,
            invoker: Invoker {
                uid: 0,
                account: Account {
                    name: "root".into(),
                    uid: 0,
                    gid: 0,
                    home: "/root".into(),
                },
            },
            now: clock().unwrap_or(0),
            clock,
        }
    }

    /// The time now, read again (`now` is when the command started).
    pub fn clock(&self) -> Result<UnixTime> {
        (self.clock)()
    }

    /// The user a self-service command acts for: `--user NAME`, or whoever runs twofold.
    /// A non-root user may name only themselves.
    pub fn acting_user(&self, flag: Option<&str>) -> Result<Account> {
        let Some(name) = flag else {
            return Ok(self.invoker.account.clone());
        };
        let found = Account::lookup(name);
        if !self.invoker.is_root() {
            // Same answer whether or not the user exists: the rule is about permission.
            return match found {
                Ok(a) if a.uid == self.invoker.uid => Ok(a),
                _ => Err(Error::OtherUser {
                    name: name.to_string(),
                }),
            };
        }
        found.map_err(|err| Error::Account {
            name: name.to_string(),
            err,
        })
    }

    /// The target of an admin command, which only root may run.
    pub fn admin_target(
        &self,
        command: &'static str,
        name: &str,
        flag: Option<&str>,
    ) -> Result<Account> {
        self.require_root(command)?;
        if let Some(other) = flag.filter(|f| *f != name) {
            return Err(Error::Usage(format!(
                "`twofold {command}` names its user as an argument; --user {other} names another one"
            )));
        }
        Account::lookup(name).map_err(|err| Error::Account {
            name: name.to_string(),
            err,
        })
    }

    pub fn require_root(&self, command: &'static str) -> Result<()> {
        if self.invoker.is_root() {
            Ok(())
        } else {
            Err(Error::NotRoot { command })
        }
    }

    /// The state of `account`, for a self-service command (`status`, `device`, `recovery`).
    /// Where root keeps it (system mode, the directory), a user reaches it only through the
    /// setuid-root run (`privilege`), which re-verifies their second factor before a change;
    /// `instead` is the command an administrator would run.
    pub fn self_service(
        &self,
        account: &Account,
        instead: impl FnOnce(&str) -> String,
    ) -> Result<Place> {
        self.own_state(account, instead, Some(crate::privilege::self_service()))
    }

    /// The state of `account`, for enrollment and import, which an administrator does where
    /// root keeps the state.
    pub fn enrollment(
        &self,
        account: &Account,
        instead: impl FnOnce(&str) -> String,
    ) -> Result<Place> {
        self.own_state(account, instead, None)
    }

    fn own_state(
        &self,
        account: &Account,
        instead: impl FnOnce(&str) -> String,
        setuid_serves: Option<bool>,
    ) -> Result<Place> {
        let directory = self.config.directory.is_some();
        if self.root_keeps_the_state() && !self.invoker.is_root() && setuid_serves != Some(true) {
            return Err(Error::SystemMode {
                user: account.name.clone(),
                instead: instead(&account.name),
                directory,
                setuid_would_do: setuid_serves.is_some(),
            });
        }
        self.location(account)
    }

    /// System mode, or the directory (whose password is root's): a user cannot reach their
    /// own state without root.
    pub fn root_keeps_the_state(&self) -> bool {
        self.config.secret_path.is_system_mode() || self.config.directory.is_some()
    }

    pub fn location(&self, account: &Account) -> Result<Place> {
        Place::for_account(&self.config, account)
    }

    /// Who did it, for logs and `issued_by`.
    pub fn by(&self) -> &str {
        &self.invoker.account.name
    }

    /// Text for the person (stdout). Silent under --json.
    pub fn say(&self, text: &str) -> Result<()> {
        if self.json {
            return Ok(());
        }
        write_all(&mut std::io::stdout().lock(), text)
    }

    /// Text a person must see to go on, even under --json (QR code, prompt): stdout normally,
    /// stderr under --json when stderr is a terminal, nowhere otherwise.
    pub fn tell(&self, text: &str) -> Result<()> {
        if !self.json {
            return write_all(&mut std::io::stdout().lock(), text);
        }
        let stderr = std::io::stderr();
        if stderr.is_terminal() {
            return write_all(&mut stderr.lock(), text);
        }
        Ok(())
    }

    /// Whether a person can see `tell` output.
    pub fn has_person(&self) -> bool {
        !self.json || std::io::stderr().is_terminal()
    }

    /// The JSON document of a command (only under --json). Wiped after printing: it may
    /// hold a secret.
    pub fn emit(&self, value: &impl Serialize) -> Result<()> {
        if !self.json {
            return Ok(());
        }
        let text = Zeroizing::new(
            serde_json::to_string(value).map_err(|e| Error::Internal(format!("JSON: {e}")))?,
        );
        write_all(&mut std::io::stdout().lock(), &text)?;
        write_all(&mut std::io::stdout().lock(), "\n")
    }

    /// Something went wrong that does not stop the command.
    pub fn warn(&self, message: &str) {
        let line = if self.json {
            serde_json::json!({ "warning": message }).to_string()
        } else {
            format!("twofold: warning: {message}")
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn write_all(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| Error::Output {
            path: "standard output".into(),
            err,
        })
}

/// `text` as it may be shown on a terminal: control characters (escape sequences that clear
/// the screen or retitle the window) and bidirectional overrides (text that reads otherwise
/// than it is) written as `\u{..}`. For every value read from a file a user may write (in home
/// mode the user writes their own secret file, and root reads it with `admin status`).
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn terminal_escapes_are_shown_not_sent() {
        assert_eq!(printable("192.0.2.7"), "192.0.2.7");
        assert_eq!(printable("hôte-é"), "hôte-é");
        assert_eq!(
            printable("\u{1b}]2;x\u{7}\u{9b}1J\n"),
            "\\u{1b}]2;x\\u{7}\\u{9b}1J\\u{a}"
        );
        assert_eq!(printable("a\u{202E}b"), "a\\u{202e}b");
    }
}
