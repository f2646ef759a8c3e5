//! The user's password database entry, read with `getpwnam_r(3)` directly.
//!
//! What `twofold_core::account::Account::lookup` does through nix, without nix's `User`: that
//! copies every field of the entry (name, password, GECOS, home, shell) into an allocation of
//! its own and sizes its buffer with `sysconf`, ≈ 2 k instructions a login for the two fields
//! twofold uses (BENCHMARKS.md). Same name check, same errors, same home directory rules
//! (`Account::from_entry`); `tests/libpam.rs` logs users in through it, unknown ones included.

use std::ffi::CStr;
use twofold_core::account::{self, Account, AccountError};

/// The buffer for the entry's strings: on the stack, grown on the heap only for an entry that
/// does not fit (ERANGE), up to 1 MiB as nix does.
const STACK_BUFFER: usize = 2048;
const MAX_BUFFER: usize = 1 << 20;

pub fn lookup(name: &str) -> Result<Account, AccountError> {
    lookup_sized(name, STACK_BUFFER)
}

/// `lookup` starting with `first` bytes of the stack buffer (tests make it small, to go
/// through the growth on ERANGE).
fn lookup_sized(name: &str, first: usize) -> Result<Account, AccountError> {
    account::check_name(name)?;
    // check_name refused NUL and anything over 256 bytes: the name and its NUL fit.
    let mut cname = [0u8; 258];
    let Some(slot) = cname.get_mut(..name.len()) else {
        return Err(AccountError::BadName("longer than 256 bytes"));
    };
    slot.copy_from_slice(name.as_bytes());
    let cname =
        CStr::from_bytes_until_nul(&cname).map_err(|_| AccountError::BadName("contains NUL"))?;
    let mut stack = [0u8; STACK_BUFFER];
    let mut heap = Vec::new();
    let mut buf: &mut [u8] = stack.get_mut(..first.max(1)).unwrap_or(&mut []);
    loop {
        // SAFETY: all-zero is a valid `passwd` (integers and null pointers); getpwnam_r fills it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `cname` is NUL-terminated; `pwd`, `buf` (with its true length) and `result`
        // are valid for writes for the duration of the call, which is all getpwnam_r needs.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUFFER {
            let bigger = (buf.len() * 4).max(STACK_BUFFER);
            heap.resize(bigger, 0);
            buf = heap.as_mut_slice();
            continue;
        }
        if rc != 0 {
            return Err(account::lookup_error(rc));
        }
        if result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
            return Err(AccountError::Unknown);
        }
        // SAFETY: on success pw_name and pw_dir point to NUL-terminated strings inside `buf`,
        // which outlives these borrows (they end with this block).
        let (entry_name, home) =
            unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
        // Lossy, as nix's `User` takes it.
        let entry_name = entry_name.to_string_lossy();
        return Account::from_entry(&entry_name, pwd.pw_uid, pwd.pw_gid, home.to_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The same answers as the core's lookup through nix, for users that exist and do not.
    #[test]
    fn agrees_with_the_core_lookup() {
        for name in [
            "root",
            "daemon",
            "nobody",
            "no-such-user-twofold",
            "",
            "..",
            "a/b",
            "-x",
        ] {
            assert_eq!(lookup(name), Account::lookup(name), "{name:?}");
        }
        assert_eq!(lookup("root").unwrap().uid, 0);
        let long = "a".repeat(257);
        assert_eq!(lookup(&long), Account::lookup(&long));
        let max = "a".repeat(256);
        assert_eq!(lookup(&max), Account::lookup(&max));
    }

    /// An entry larger than the buffer (ERANGE) is read with a larger one.
    #[test]
    fn a_buffer_too_small_grows() {
        for first in [1, 8, 30] {
            assert_eq!(
                lookup_sized("root", first),
                Account::lookup("root"),
                "{first}"
            );
        }
    }
}
