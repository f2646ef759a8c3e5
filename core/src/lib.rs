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
//! - [`log`]: the quoting rule of the log lines.
//! - [`migrate`]: moving a user's state between secret files and the directory, decided.
//! - [`network`]: `exempt_networks`, matched against sshd's client address.
//! - [`session`]: `sudo_after_login`, one code per login session.
//! - [`used`]: used single-use items by name, for the directory's records of them.
//! - [`enrollment`], [`otpauth`], [`qr`]: a new enrollment's secrets, its URI and QR code
//!   (the CLI's `twofold enroll` and the module's enrollment at first login).
#![forbid(unsafe_code)]

pub mod account;
pub mod auth;
pub mod codes;
pub mod config;
pub mod directory;
pub mod doctor;
pub mod enrollment;
pub mod kdf;
pub mod log;
pub mod migrate;
pub mod network;
pub mod otpauth;
pub mod qr;
pub mod secret;
pub mod session;
pub mod store;
pub mod time;
pub mod totp;
pub mod used;
pub mod verify;

pub use config::Config;
pub use secret::SecretFile;

/// Seconds since the Unix epoch. The core never reads the clock itself.
pub type UnixTime = u64;
