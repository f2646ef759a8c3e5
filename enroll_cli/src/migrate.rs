//! `twofold admin migrate --to-directory | --to-files (--user NAME | --all)`: moves users'
//! state, unchanged, between this host's secret files and the directory (`[directory]` in
//! twofold.toml). What may be written is decided by `twofold_core::migrate::plan`: a
//! destination that holds a state is never overwritten.
//!
//! To the directory, the file's lock is held from its read until it is removed, after the
//! entry took the state (a compare-and-swap that adds a value only where there is none): a
//! login that still uses the file finishes first, and none uses it afterwards, so the host
//! never has two sources of truth. To the files, the entry keeps its state (other hosts may
//! use it); a login in flight could still commit to the entry after the copy, so the admin
//! stops logins for the user meanwhile (twofold(1), MIGRATION).

use crate::cli::MigrateArgs;
use crate::error::{Error, Result};
use crate::invocation::{printable, Invocation};
use crate::journal::{Event, Journal};
use serde::Serialize;
use twofold_core::account::Account;
use twofold_core::config::Directory;
use twofold_core::directory::{self, DirectoryEntry};
use twofold_core::migrate::{plan, Plan};
use twofold_core::store::{Location, SecretStore, Storage, StoreError};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToDirectory,
    ToFiles,
}

impl Direction {
    fn ends(self) -> (&'static str, &'static str) {
        match self {
            Direction::ToDirectory => ("files", "directory"),
            Direction::ToFiles => ("directory", "files"),
        }
    }
}

/// What became of one user.
enum Outcome {
    /// Copied (and, to the directory, the file removed).
    Moved,
    /// An earlier run had copied it; to the directory, the file is removed now.
    Finished,
    /// No state to move.
    NothingToMove,
}

#[derive(Serialize)]
struct UserJson {
    user: String,
    /// "moved", "finished", "nothing-to-move", "skipped" or "failed".
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct MigrateJson<'a> {
    from: &'a str,
    to: &'a str,
    users: Vec<UserJson>,
    /// With --all: accounts looked at that had no state to move.
    without_state: usize,
}

pub fn migrate(inv: &Invocation, user_flag: Option<&str>, args: &MigrateArgs) -> Result<()> {
    inv.require_root("admin migrate")?;
    let direction = if args.to_directory {
        Direction::ToDirectory
    } else {
        Direction::ToFiles
    };
    let single = match (user_flag, args.all) {
        (Some(name), false) => Some(name),
        (None, true) => None,
        (Some(_), true) => {
            return Err(Error::Usage(
                "give either --user NAME or --all, not both; nothing was moved".into(),
            ))
        }
        (None, false) => {
            return Err(Error::Usage(
                "name whose state to move: --user NAME, or --all".into(),
            ))
        }
    };
    let dir = inv.config.directory.as_ref().ok_or(Error::NoDirectory {
        command: "admin migrate",
    })?;
    let (from, to) = direction.ends();
    let mut journal = Journal::open(inv)?;

    if let Some(name) = single {
        let account = inv.acting_user(Some(name))?;
        let outcome = migrate_one(inv, dir, &account, direction, &mut journal)?;
        let (result, text) = describe(&outcome, direction);
        inv.say(&format!("{}: {text}\n", account.name))?;
        return inv.emit(&MigrateJson {
            from,
            to,
            users: vec![UserJson {
                user: account.name,
                result,
                reason: None,
            }],
            without_state: 0,
        });
    }

    let (names, server) = match direction {
        Direction::ToDirectory => {
            let (mut names, server) = directory::users(dir, false)?;
            names.extend(local_accounts()?);
            names.sort();
            names.dedup();
            (names, server)
        }
        Direction::ToFiles => directory::users(dir, true)?,
    };
    inv.say(&format!(
        "Moving every user's state from the {from} to the {to} ({} accounts to look at; directory {}).\n",
        names.len(),
        printable(&server)
    ))?;
    let mut users = Vec::new();
    let mut without_state = 0;
    let mut failed = 0;
    for name in &names {
        let account = match Account::lookup(name) {
            Ok(account) => account,
            Err(e) => {
                // To the directory, names come from the password database and the
                // directory; one without an account here has no file here either.
                if direction == Direction::ToDirectory {
                    without_state += 1;
                    continue;
                }
                let reason = format!("no account on this host ({e})");
                inv.say(&format!("{}: skipped: {reason}\n", printable(name)))?;
                users.push(UserJson {
                    user: name.clone(),
                    result: "skipped",
                    reason: Some(reason),
                });
                continue;
            }
        };
        if direction == Direction::ToDirectory {
            match has_file(inv, &account) {
                Ok(true) => {}
                Ok(false) => {
                    without_state += 1;
                    continue;
                }
                // Such as a home that does not exist (system accounts: /nonexistent), or
                // is not mounted: whether a file is there cannot be told; said, not fatal.
                Err(e) => {
                    let reason = format!("cannot look for a secret file: {e}");
                    inv.say(&format!("{}: skipped: {reason}\n", account.name))?;
                    users.push(UserJson {
                        user: account.name,
                        result: "skipped",
                        reason: Some(reason),
                    });
                    continue;
                }
            }
        }
        match migrate_one(inv, dir, &account, direction, &mut journal) {
            Ok(Outcome::NothingToMove) => without_state += 1,
            Ok(outcome) => {
                let (result, text) = describe(&outcome, direction);
                inv.say(&format!("{}: {text}\n", account.name))?;
                users.push(UserJson {
                    user: account.name,
                    result,
                    reason: None,
                });
            }
            Err(e) => {
                failed += 1;
                inv.say(&format!(
                    "{}: FAILED: {e}\n    hint: {}\n",
                    account.name,
                    e.hint()
                ))?;
                users.push(UserJson {
                    user: account.name,
                    result: "failed",
                    reason: Some(e.to_string()),
                });
            }
        }
    }
    let skipped = users.iter().filter(|u| u.result == "skipped").count();
    inv.say(&format!(
        "{} moved, {failed} failed, {skipped} skipped; {without_state} accounts had no state to move.\n",
        users.len() - failed - skipped
    ))?;
    inv.emit(&MigrateJson {
        from,
        to,
        users,
        without_state,
    })?;
    if failed > 0 {
        return Err(Error::MigrationIncomplete { failed });
    }
    Ok(())
}

fn describe(outcome: &Outcome, direction: Direction) -> (&'static str, &'static str) {
    match (outcome, direction) {
        (Outcome::Moved, Direction::ToDirectory) => (
            "moved",
            "moved to the directory; this host's secret file is removed",
        ),
        (Outcome::Moved, Direction::ToFiles) => (
            "moved",
            "copied to this host's secret file; the directory entry keeps its state for the other hosts",
        ),
        (Outcome::Finished, Direction::ToDirectory) => (
            "finished",
            "the directory already held this state (an earlier run); this host's secret file is removed",
        ),
        (Outcome::Finished, Direction::ToFiles) => (
            "finished",
            "this host's secret file already holds the directory's state; nothing changed",
        ),
        (Outcome::NothingToMove, Direction::ToDirectory) => (
            "nothing-to-move",
            "no secret file on this host; nothing to move",
        ),
        (Outcome::NothingToMove, Direction::ToFiles) => (
            "nothing-to-move",
            "no state in the directory; nothing to move",
        ),
    }
}

/// Every account name in the password database (`getent passwd`: local files and whatever
/// else NSS enumerates).
fn local_accounts() -> Result<Vec<String>> {
    let out = std::process::Command::new("getent")
        .arg("passwd")
        .output()
        .map_err(|e| Error::Internal(format!("cannot run getent passwd: {e}")))?;
    if !out.status.success() {
        return Err(Error::Internal(format!(
            "getent passwd failed ({})",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split(':').next())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect())
}

/// Whether `account` has a secret file on this host (a quick look, without the lock).
fn has_file(inv: &Invocation, account: &Account) -> Result<bool> {
    let loc = Location::for_account(&inv.config, account)?;
    Ok(match SecretStore::open(&loc)? {
        Some(store) => store.read_bytes()?.is_some(),
        None => false,
    })
}

fn refused(account: &Account, direction: Direction, why: &'static str) -> Error {
    Error::MigrationRefused {
        user: account.name.clone(),
        to: direction.ends().1,
        why,
    }
}

/// Moves one user's state and records it. Either the whole move is done, or nothing changed.
fn migrate_one(
    inv: &Invocation,
    dir: &Directory,
    account: &Account,
    direction: Direction,
    journal: &mut Journal,
) -> Result<Outcome> {
    let loc = Location::for_account(&inv.config, account)?;
    let mut entry = DirectoryEntry::new(dir, &account.name);
    // The directory first, as root: in home mode the file is opened with the user's file
    // identity (fsuid), under which the root-only bind password file cannot be read.
    let in_directory = entry.read()?;
    // Once the entry holds the state, the move is recorded even if removing the file fails.
    let mut cleanup = Ok(());
    let outcome = match direction {
        Direction::ToDirectory => {
            let Some(store) = SecretStore::open(&loc)? else {
                return Ok(Outcome::NothingToMove);
            };
            let lock = store.lock()?;
            let file = store.read()?;
            match plan(file.as_ref(), in_directory.as_ref()) {
                Plan::NothingToMove => return Ok(Outcome::NothingToMove),
                Plan::Refuse(why) => return Err(refused(account, direction, why)),
                Plan::Copy => {
                    let file = file.ok_or_else(|| Error::Internal("copy without a file".into()))?;
                    entry.create(&file)?;
                    cleanup = remove_copied(&store, &lock, &loc);
                    Outcome::Moved
                }
                Plan::AlreadyThere => {
                    cleanup = remove_copied(&store, &lock, &loc);
                    Outcome::Finished
                }
            }
        }
        Direction::ToFiles => {
            let Some(state) = in_directory else {
                return Ok(Outcome::NothingToMove);
            };
            let store = SecretStore::open_or_create(&loc)?;
            let lock = store.lock()?;
            // A file that cannot be read is not replaced either.
            let existing = store.read()?;
            match plan(Some(&state), existing.as_ref()) {
                Plan::NothingToMove => return Ok(Outcome::NothingToMove),
                Plan::Refuse(why) => return Err(refused(account, direction, why)),
                Plan::Copy => {
                    store.write(&lock, &state)?;
                    Outcome::Moved
                }
                Plan::AlreadyThere => Outcome::Finished,
            }
        }
    };
    let (from, to) = direction.ends();
    let result = match outcome {
        Outcome::Moved => "moved",
        _ => "finished",
    };
    let mut details = vec![
        ("from", from.to_string()),
        ("to", to.to_string()),
        ("path", loc.path().to_string()),
        ("server", entry.server().unwrap_or("").to_string()),
        ("result", result.to_string()),
    ];
    if direction == Direction::ToDirectory {
        let removed = if cleanup.is_ok() { "yes" } else { "no" };
        details.push(("file_removed", removed.to_string()));
    }
    journal.record(
        inv,
        Event {
            action: "admin-migrate",
            user: &account.name,
            details,
        },
    )?;
    cleanup?;
    Ok(outcome)
}

/// Removes the secret file whose state the directory now holds, under the lock taken
/// before it was read.
fn remove_copied(
    store: &SecretStore,
    lock: &twofold_core::store::Lock,
    loc: &Location,
) -> Result<()> {
    store.remove(lock).map_err(|e: StoreError| {
        Error::Store(StoreError {
            problem: format!(
                "{}; the directory holds the state now, and logins use it: remove {} by hand",
                e.problem,
                loc.path()
            ),
            ..e
        })
    })?;
    Ok(())
}
