//! twofold's core: the rules of a second factor, and the files that hold its state.
//!
//! Everything here is safe Rust and takes the current time as a parameter; only the outer
//! layers (the PAM module and the CLI) read the clock. The pieces:
//! - [`config`]: `/etc/twofold/twofold.toml`, parsed strictly.
//! - [`secret`]: the per-user secret file format (versioned TOML).
//! - [`codes`]: what a person typed, normalized and classified; recovery-code and pass formats.
//! - [`totp`], [`kdf`]: RFC 6238 codes and the argon2id hashing of recovery codes and passes.
//! - [`verify`]: the decision for one attempt, returning the new state to persist.
//! - [`store`]: the only code that touches secret files (fsuid, no symlinks, lock, atomic replace).
//! - [`auth`]: the login flow used by the PAM module, written against a conversation trait.
#![forbid(unsafe_code)]

pub mod account;
pub mod auth;
pub mod canonical;
pub mod codes;
pub mod config;
pub mod fallback;
pub mod kdf;
pub mod secret;
pub mod store;
pub mod time;
pub mod totp;
pub mod verify;

pub use config::Config;
pub use secret::SecretFile;

/// Seconds since the Unix epoch. The core never reads the clock itself.
pub type UnixTime = u64;

/// The system's text for an errno value, as `strerror` gives it ("No such file or directory").
/// Not nix's `Errno::desc` or `Display`: their tables of 134 texts and 134 names are pointers
/// the dynamic loader relocates at every login's load of the module (≈ 3.5 k instructions,
/// BENCHMARKS.md), for messages only written when something fails.
pub fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std's form is "TEXT (os error N)".
    match text.rfind(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// Appends `n` in decimal, zero-padded to at least `min_width` digits. For text built on the
/// login path (the secret file, the secret path, the auth log line), where `format!`'s
/// machinery costs more than the rest of the line (BENCHMARKS.md).
pub fn push_decimal(out: &mut String, mut n: u64, min_width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(min_width));
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_decimal_pads_and_writes_whole_numbers() {
        let mut s = String::new();
        super::push_decimal(&mut s, 7, 2);
        super::push_decimal(&mut s, 0, 1);
        super::push_decimal(&mut s, 123, 2);
        super::push_decimal(&mut s, 0, 0);
        super::push_decimal(&mut s, u64::MAX, 1);
        assert_eq!(s, format!("0701230{}", u64::MAX));
    }

    /// The system's texts, without std's " (os error N)"; for the errors a login's messages
    /// name (a full or read-only disk, permissions), the same texts nix gave.
    #[test]
    fn errno_texts_are_the_systems() {
        use nix::errno::Errno;
        for e in [Errno::ENOENT, Errno::EACCES, Errno::EROFS, Errno::ENOSPC] {
            assert_eq!(super::errno_text(e as i32), e.desc());
        }
        // glibc's own wording where nix had another.
        assert_eq!(
            super::errno_text(Errno::ELOOP as i32),
            "Too many levels of symbolic links"
        );
        assert_eq!(
            super::errno_text(Errno::EDQUOT as i32),
            "Disk quota exceeded"
        );
        assert_eq!(
            super::errno_text(Errno::ENOENT as i32),
            "No such file or directory"
        );
        assert_eq!(super::errno_text(99_999), "Unknown error 99999");
    }
}
