//! Users as the password database knows them. The home directory comes from there and never
//! from `$HOME`: under sudo the module runs setuid with the caller's environment.

use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::CString;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The name could be a path trick or is not a name at all; never looked up.
    BadName(&'static str),
    Unknown,
    Lookup(String),
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountError::BadName(why) => write!(f, "user name refused: {why}"),
            AccountError::Unknown => f.write_str("no such user in the password database"),
            AccountError::Lookup(e) => write!(f, "password database lookup failed: {e}"),
        }
    }
}

/// A user name is expanded into file paths: refuse anything that could walk elsewhere.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    if name.is_empty() {
        return Err(AccountError::BadName("empty"));
    }
    if name.len() > 256 {
        return Err(AccountError::BadName("longer than 256 bytes"));
    }
    if name == "." || name == ".." || name.starts_with('-') {
        return Err(AccountError::BadName("not a valid user name"));
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b'\0' || b.is_ascii_control() || b == b' ' || b == b':')
    {
        return Err(AccountError::BadName(
            "contains a path, control or separator character",
        ));
    }
    Ok(())
}

/// getpwnam_r(3): "ENOENT, ESRCH, EBADF, EPERM, ...: the given name or uid was not found" on
/// some systems (nss_wrapper, LDAP backends) instead of a NULL result.
fn lookup_error(errno: nix::errno::Errno) -> AccountError {
    use nix::errno::Errno;
    match errno {
        Errno::ENOENT | Errno::ESRCH | Errno::EBADF | Errno::EPERM => AccountError::Unknown,
        e => AccountError::Lookup(e.desc().to_string()),
    }
}

impl Account {
    pub fn lookup(name: &str) -> Result<Account, AccountError> {
        check_name(name)?;
        let user = User::from_name(name)
            .map_err(lookup_error)?
            .ok_or(AccountError::Unknown)?;
        Account::from_entry(
            &user.name,
            user.uid.as_raw(),
            user.gid.as_raw(),
            user.dir.as_os_str().as_encoded_bytes(),
        )
    }

    /// An account from a password database entry: the home directory must be UTF-8 and
    /// absolute.
    fn from_entry(name: &str, uid: u32, gid: u32, home: &[u8]) -> Result<Account, AccountError> {
        let home = std::str::from_utf8(home)
            .map_err(|_| AccountError::Lookup("home directory is not UTF-8".into()))?;
        if !home.starts_with('/') {
            return Err(AccountError::Lookup(format!(
                "home directory `{home}` is not absolute"
            )));
        }
        Ok(Account {
            name: name.to_string(),
            uid,
            gid,
            home: home.to_string(),
        })
    }

    pub fn by_uid(uid: u32) -> Result<Account, AccountError> {
        let user = User::from_uid(Uid::from_raw(uid))
            .map_err(lookup_error)?
            .ok_or(AccountError::Unknown)?;
        Account::lookup(&user.name)
    }

    /// The first of `groups` this user belongs to (primary or supplementary), if any.
    pub fn member_of_any(&self, groups: &[String]) -> Result<Option<String>, AccountError> {
        if groups.is_empty() {
            return Ok(None);
        }
        let cname =
            CString::new(self.name.as_str()).map_err(|_| AccountError::BadName("contains NUL"))?;
        let mine = nix::unistd::getgrouplist(&cname, Gid::from_raw(self.gid))
            .map_err(|e| AccountError::Lookup(format!("group list: {}", e.desc())))?;
        for g in groups {
            if let Ok(Some(group)) = Group::from_name(g) {
                if mine.contains(&group.gid) {
                    return Ok(Some(g.clone()));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_path_characters_are_refused() {
        for bad in [
            "", "..", ".", "../root", "a/b", "a\0b", "-rf", "a b", "a:b", "a\nb",
        ] {
            assert!(
                matches!(check_name(bad), Err(AccountError::BadName(_))),
                "{bad:?}"
            );
        }
        assert!(check_name("alice").is_ok());
        assert!(check_name("first.last@example").is_ok());
    }

    #[test]
    fn root_is_found_and_nonexistent_is_unknown() {
        let root = Account::lookup("root").unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(
            Account::lookup("no-such-user-twofold"),
            Err(AccountError::Unknown)
        );
    }
}
