//! The setuid-root run: how a user manages a second factor that root keeps (system mode, the
//! directory), the way `passwd` changes root's /etc/shadow (twofold(1), SELF-SERVICE;
//! SECURITY.md, "The setuid-root CLI").
//!
//! Installed mode 4755, twofold starts with the user's real uid and effective uid 0. At the
//! very start of `main` it lowers the effective ids to the user's ([`lower_at_start`]),
//! keeping root only as the saved uid; then parses the arguments as the user; then
//! ([`Setuid::enter`]) clears the environment and refuses what only root may ask for (another
//! user, another configuration, the admin commands); the caller's supplementary groups are
//! kept as they came (a sandbox that dropped some gets none back). The
//! self-service commands (`status`, `device list|add|remove`, `recovery regenerate`) keep the
//! saved uid 0 and take root back only around the user's state ([`Root::gain`], in
//! `stored` and `reverify`); every other command gives root up for good and runs as that
//! user, exactly as without the setuid bit. Root itself, and a binary without the bit, never
//! get here.
//!
//! Threats, and what answers them: the environment (cleared before anything reads it; only a
//! fixed PATH is set), the arguments (parsed without root; `--config`, `--user` for others
//! and admin commands refused), other users' state (the invoker is the real uid, nothing
//! else), files named on the command line (`--qr-png`: written without root, so a planted
//! symlink leads nowhere the user could not write), core dumps (the core size limit is 0
//! from the start, and the process is made undumpable again after every change of ids,
//! since the kernel then resets it to `fs.suid_dumpable`), ptrace (the saved uid 0 keeps
//! the user out), the standard descriptors closed at exec (the Rust runtime opens /dev/null
//! on them before `main`), the caller's file-size limit (the store lifts it around its
//! writes).

use crate::cli::{AdminCommand, Cli, Command, DeviceCommand, RecoveryCommand};
use crate::error::{Error, Result};
use nix::unistd::{getresgid, getresuid, setegid, seteuid, setresgid, setresuid};
use nix::unistd::{Gid, Uid};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use twofold_core::account::Account;
use twofold_core::config::DEFAULT_PATH;

/// The only PATH of a setuid run (nothing twofold runs by name needs another).
const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Who the user is, once a self-service command kept the way back to root.
static SESSION: OnceLock<Ids> = OnceLock::new();
/// Whether the way back to root is still kept (home mode gives it up in [`settle`]).
static KEPT: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy)]
struct Ids {
    uid: Uid,
    gid: Gid,
}

/// A setuid-root run between the start of `main` and [`Setuid::enter`]: effective ids
/// already the user's, root kept as the saved uid.
#[must_use]
pub struct Setuid(Ids);

/// First thing in `main`. `None` when not run setuid root by another user (root itself, a
/// binary without the bit): nothing changes then.
pub fn lower_at_start() -> Result<Option<Setuid>> {
    let uids = getresuid().map_err(|e| failed("getresuid", e))?;
    if !uids.effective.is_root() || uids.real.is_root() {
        return Ok(None);
    }
    // No core file, whatever ids come later and whatever fs.suid_dumpable says: a core
    // taken while root held the user's state, or while a new key was on screen.
    let none = 0;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, none, none)
        .map_err(|e| failed("setrlimit", e))?;
    let gid = getresgid().map_err(|e| failed("getresgid", e))?.real;
    let ids = Ids {
        uid: uids.real,
        gid,
    };
    setresgid(gid, gid, gid).map_err(|e| failed("setresgid", e))?;
    seteuid(ids.uid).map_err(|e| failed("seteuid", e))?;
    undumpable()?;
    Ok(Some(Setuid(ids)))
}

/// After a change of ids the kernel sets "dumpable" from `fs.suid_dumpable`, which an
/// administrator may have set to 1: set it back.
fn undumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| failed("prctl(PR_SET_DUMPABLE)", e))
}

/// What a setuid run may do with these arguments.
#[derive(Debug, PartialEq, Eq)]
enum Allowed {
    /// A self-service command on the user's own state: root is kept for it.
    SelfService,
    /// A command a user runs without root (enroll in home mode, doctor, man, ...).
    AsTheUser,
}

fn allowed(cli: &Cli, invoker: &Account) -> Result<Allowed> {
    if cli.config != DEFAULT_PATH {
        return Err(Error::Setuid {
            refused: "--config",
        });
    }
    if let Some(name) = &cli.user {
        // The invoker's own name only: not another account that shares their uid (whose
        // state root keeps apart). The same answer whether or not the user exists.
        if *name != invoker.name {
            return Err(Error::OtherUser { name: name.clone() });
        }
    }
    Ok(match &cli.command {
        Command::Admin(admin) => {
            return Err(Error::NotRoot {
                command: match admin {
                    AdminCommand::Status { .. } => "admin status",
                    AdminCommand::Reset { .. } => "admin reset",
                    AdminCommand::Unlock { .. } => "admin unlock",
                    AdminCommand::IssuePass { .. } => "admin issue-pass",
                    AdminCommand::Migrate(_) => "admin migrate",
                },
            })
        }
        Command::Status
        | Command::Device(DeviceCommand::List | DeviceCommand::Add { .. })
        | Command::Device(DeviceCommand::Remove { .. })
        | Command::Recovery(RecoveryCommand::Regenerate) => Allowed::SelfService,
        Command::Enroll(_)
        | Command::Import(_)
        | Command::Doctor(_)
        | Command::Completions { .. }
        | Command::Man => Allowed::AsTheUser,
    })
}

impl Setuid {
    /// After the arguments are parsed: clears the environment, refuses what only root may
    /// ask for (nothing changed), and keeps the way back to root
    /// for a self-service command only.
    pub fn enter(self, cli: &Cli) -> Result<()> {
        let Setuid(ids) = self;
        clear_environment();
        let checked = Account::by_uid(ids.uid.as_raw())
            .map_err(|err| Error::UnknownInvoker {
                uid: ids.uid.as_raw(),
                err,
            })
            .and_then(|invoker| allowed(cli, &invoker));
        let allowed = match checked {
            Ok(found) => found,
            Err(e) => {
                give_up_root(ids)?;
                return Err(e);
            }
        };
        match allowed {
            Allowed::SelfService => {
                setresuid(ids.uid, ids.uid, Uid::from_raw(0))
                    .map_err(|e| failed("setresuid", e))?;
                undumpable()?;
                let _ = SESSION.set(ids);
                KEPT.store(true, Ordering::SeqCst);
                Ok(())
            }
            Allowed::AsTheUser => give_up_root(ids),
        }
    }
}

/// Root for good no more: all three uids the user's. Checked, since everything after
/// relies on it.
fn give_up_root(ids: Ids) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        seteuid(Uid::from_raw(0)).map_err(|e| failed("seteuid", e))?;
    }
    setresgid(ids.gid, ids.gid, ids.gid).map_err(|e| failed("setresgid", e))?;
    setresuid(ids.uid, ids.uid, ids.uid).map_err(|e| failed("setresuid", e))?;
    undumpable()?;
    let uids = getresuid().map_err(|e| failed("getresuid", e))?;
    if [uids.real, uids.effective, uids.saved] != [ids.uid; 3] {
        return Err(Error::Internal("root could not be given up".into()));
    }
    Ok(())
}

/// Nothing from the caller's environment reaches a setuid run: no variable twofold or a
/// library might read (TWOFOLD_*, locale, TZ, proxies, NSS hints), only a fixed PATH.
fn clear_environment() {
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    std::env::set_var("PATH", SAFE_PATH);
}

/// Whether this run is a self-service command that kept the way back to root.
pub fn self_service() -> bool {
    kept().is_some()
}

fn kept() -> Option<Ids> {
    SESSION
        .get()
        .copied()
        .filter(|_| KEPT.load(Ordering::SeqCst))
}

/// After the configuration is read: where the user keeps their own state (home mode), root
/// is not needed at all, and the command runs as without the setuid bit.
pub fn settle(root_keeps_the_state: bool) -> Result<()> {
    match kept() {
        Some(ids) if !root_keeps_the_state => {
            KEPT.store(false, Ordering::SeqCst);
            give_up_root(ids)
        }
        _ => Ok(()),
    }
}

/// Root, for as long as it lives: around reading and changing the user's state. Nothing
/// when the run kept no way back to root (root itself, home mode, no setuid bit).
#[must_use]
pub struct Root {
    lowered_to: Option<Ids>,
}

impl Root {
    pub fn gain() -> Result<Root> {
        let Some(ids) = kept() else {
            return Ok(Root { lowered_to: None });
        };
        if nix::unistd::geteuid().is_root() {
            // Already root (nested): the outer guard lowers again.
            return Ok(Root { lowered_to: None });
        }
        seteuid(Uid::from_raw(0)).map_err(|e| failed("seteuid", e))?;
        // From here a failure lowers again as the guard drops.
        let root = Root {
            lowered_to: Some(ids),
        };
        // Files root creates are root's group too.
        setegid(Gid::from_raw(0)).map_err(|e| failed("setegid", e))?;
        undumpable()?;
        Ok(root)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if let Some(ids) = self.lowered_to {
            if setegid(ids.gid).and_then(|()| seteuid(ids.uid)).is_err() || undumpable().is_err() {
                // Going on as root, or dumpable, is not an option.
                std::process::abort();
            }
        }
    }
}

/// The user's ids, for as long as it lives, inside a [`Root`]: while a person types.
#[must_use]
pub struct AsUser {
    regain: bool,
}

impl AsUser {
    pub fn lower() -> AsUser {
        let Some(ids) = kept() else {
            return AsUser { regain: false };
        };
        if !nix::unistd::geteuid().is_root() {
            return AsUser { regain: false };
        }
        if setegid(ids.gid).and_then(|()| seteuid(ids.uid)).is_err() || undumpable().is_err() {
            std::process::abort();
        }
        AsUser { regain: true }
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        // A failure leaves the user's ids: what follows fails closed without root.
        if self.regain {
            let _ = seteuid(Uid::from_raw(0)).and_then(|()| setegid(Gid::from_raw(0)));
            if undumpable().is_err() {
                std::process::abort();
            }
        }
    }
}

fn failed(call: &str, e: nix::Error) -> Error {
    Error::Internal(format!("{call}: {e} (changing privileges)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("twofold").chain(args.iter().copied())).unwrap()
    }

    fn nobody() -> Account {
        Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: "/nonexistent".into(),
        }
    }

    #[test]
    fn only_the_self_service_commands_keep_root() {
        for args in [
            &["status"][..],
            &["device", "list"],
            &["device", "add", "tablet"],
            &["device", "remove", "phone", "--yes"],
            &["recovery", "regenerate"],
            &["--json", "status"],
        ] {
            assert_eq!(
                allowed(&parse(args), &nobody()).unwrap(),
                Allowed::SelfService,
                "{args:?}"
            );
        }
        for args in [
            &["enroll"][..],
            &["doctor"],
            &["man"],
            &["import", "google-authenticator"],
        ] {
            assert_eq!(
                allowed(&parse(args), &nobody()).unwrap(),
                Allowed::AsTheUser,
                "{args:?}"
            );
        }
    }

    #[test]
    fn another_user_another_configuration_and_admin_commands_are_refused() {
        for args in [
            &["--config", "/tmp/evil.toml", "status"][..],
            &["status", "--config", "/tmp/evil.toml"],
            &["--user", "root", "device", "list"],
            &["--user", "no-such-user-here", "recovery", "regenerate"],
            // Another name for the same uid is another account.
            &["--user", "nobody-alias", "status"],
            &["admin", "reset", "root"],
            &["admin", "status", "nobody"],
            &["admin", "issue-pass", "nobody", "--ttl", "1h"],
        ] {
            assert!(allowed(&parse(args), &nobody()).is_err(), "{args:?}");
        }
    }
}
