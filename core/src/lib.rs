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
}
