//! Reading and changing a user's state, always through `twofold_core` (the code paths the
//! module uses): the secret file through `store` (fsuid, no symlinks, lock, atomic replace),
//! or the user's directory entry through `directory` (one compare-and-swap modify). Slow
//! work (argon2) is done by the callers before they take the lock, so logins never wait on it.
//! In a setuid-root self-service run, these functions are where root is taken back
//! (`privilege::Root`), and only for their length.

use crate::error::{Error, Result};
use crate::privilege::Root;
use twofold_core::account::Account;
use twofold_core::config::Directory;
use twofold_core::directory::DirectoryEntry;
use twofold_core::store::{ErrorKind, Location, SecretStore, StoreError};
use twofold_core::{Config, SecretFile};

/// Where a user's state is kept: their secret file, or their entry in the directory
/// (`[directory]` in twofold.toml).
pub enum Place {
    File(Location),
    Directory {
        dir: Directory,
        user: String,
        /// For messages, where a file would give its path.
        name: String,
    },
}

impl Place {
    pub fn for_account(config: &Config, account: &Account) -> Result<Place> {
        let Some(dir) = &config.directory else {
            return Ok(Place::File(Location::for_account(config, account)?));
        };
        if dir.plain_ldap_for_tests {
            eprintln!("twofold: warning: directory.plain_ldap_for_tests = true: the directory may be reached without TLS (test networks only)");
        }
        Ok(Place::Directory {
            dir: dir.clone(),
            user: account.name.clone(),
            name: format!("the directory entry of uid={}", account.name),
        })
    }

    /// The file's path, or which directory entry.
    pub fn path(&self) -> &str {
        match self {
            Place::File(loc) => loc.path(),
            Place::Directory { name, .. } => name,
        }
    }
}

/// The state as it is now, without the lock (for display and early checks).
pub fn peek(place: &Place) -> Result<Option<SecretFile>> {
    Ok(peek_file(place)??)
}

/// Which backend answered a read: "files", or "directory" and the URI of its server.
pub struct Answered {
    pub backend: &'static str,
    pub server: Option<String>,
}

/// Like [`peek`], and which backend answered (for `status`).
pub fn peek_answered(place: &Place) -> Result<(Option<SecretFile>, Answered)> {
    match place {
        Place::File(_) => Ok((
            peek(place)?,
            Answered {
                backend: "files",
                server: None,
            },
        )),
        Place::Directory { dir, user, .. } => {
            use twofold_core::store::Storage;
            let _root = Root::gain()?;
            let mut entry = DirectoryEntry::new(dir, user);
            let file = entry.read()?;
            let server = entry.server().map(str::to_string);
            Ok((
                file,
                Answered {
                    backend: "directory",
                    server,
                },
            ))
        }
    }
}

/// Like [`peek`], but a problem with the state itself (not its directory, not the
/// connection) is returned as the inner error, for commands that may replace a broken one.
pub fn peek_file(place: &Place) -> Result<Result<Option<SecretFile>, StoreError>> {
    let _root = Root::gain()?;
    let loc = match place {
        Place::File(loc) => loc,
        Place::Directory { dir, user, .. } => {
            use twofold_core::store::Storage;
            return match DirectoryEntry::new(dir, user).read() {
                Err(e) if e.kind == ErrorKind::Io => Err(e.into()),
                read => Ok(read),
            };
        }
    };
    Ok(match SecretStore::open(loc)? {
        Some(store) => store.read(),
        None => Ok(None),
    })
}

/// Removes the state under the lock (admin reset). `false` if there was none.
pub fn remove(place: &Place) -> Result<bool> {
    let _root = Root::gain()?;
    let loc = match place {
        Place::File(loc) => loc,
        Place::Directory { dir, user, .. } => return Ok(DirectoryEntry::new(dir, user).remove()?),
    };
    let Some(store) = SecretStore::open(loc)? else {
        return Ok(false);
    };
    let lock = store.lock()?;
    Ok(store.remove(&lock)?)
}

/// Runs `decide` on the current state under the user's lock (in the directory: one
/// compare-and-swap; an entry another host changed meanwhile is an error, nothing written)
/// and stores the file it returns. `create` makes the directories when missing (a first
/// enrollment); without it, a missing directory means there is no file, and `decide` must
/// refuse.
pub fn transact<T>(
    place: &Place,
    create: bool,
    decide: impl FnOnce(Result<Option<SecretFile>, StoreError>) -> Result<(SecretFile, T)>,
) -> Result<T> {
    // The decision is pure: it runs as root with the state, nothing else does.
    let _root = Root::gain()?;
    let loc = match place {
        Place::File(loc) => loc,
        Place::Directory { dir, user, .. } => {
            return DirectoryEntry::new(dir, user).replace(decide)
        }
    };
    let store = if create {
        SecretStore::open_or_create(loc)?
    } else {
        match SecretStore::open(loc)? {
            Some(store) => store,
            None => {
                decide(Ok(None))?;
                return Err(Error::Internal(
                    "no secret file, yet a change was made".into(),
                ));
            }
        }
    };
    let lock = store.lock()?;
    let (file, value) = decide(store.read())?;
    store.write(&lock, &file)?;
    Ok(value)
}
