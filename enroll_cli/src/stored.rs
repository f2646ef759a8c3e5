//! Reading and changing a secret file, always through `twofold_core::store` (the code path
//! the module uses: fsuid, no symlinks, lock, atomic replace). Slow work (argon2) is done by
//! the callers before they take the lock, so logins never wait on it.

use crate::error::{Error, Result};
use twofold_core::store::{Location, SecretStore, StoreError};
use twofold_core::SecretFile;

/// The file as it is now, without the lock (for display and early checks).
pub fn peek(loc: &Location) -> Result<Option<SecretFile>> {
    Ok(peek_file(loc)??)
}

/// Like [`peek`], but a problem with the file itself (not its directory) is returned as the
/// inner error, for commands that may replace a broken file.
pub fn peek_file(loc: &Location) -> Result<Result<Option<SecretFile>, StoreError>> {
    Ok(match SecretStore::open(loc)? {
        Some(store) => store.read(),
        None => Ok(None),
    })
}

/// Removes the file under the lock (admin reset). `false` if there was none.
pub fn remove(loc: &Location) -> Result<bool> {
    let Some(store) = SecretStore::open(loc)? else {
        return Ok(false);
    };
    let lock = store.lock()?;
    Ok(store.remove(&lock)?)
}

/// Runs `decide` on the current file under the user's lock and writes the file it returns.
/// `create` makes the directories when missing (a first enrollment); without it, a missing
/// directory means there is no file, and `decide` must refuse.
pub fn transact<T>(
    loc: &Location,
    create: bool,
    decide: impl FnOnce(Result<Option<SecretFile>, StoreError>) -> Result<(SecretFile, T)>,
) -> Result<T> {
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
