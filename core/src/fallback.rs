//! The way to the `toml` crate for files the plain readers decline.
//!
//! Secret files as twofold writes them (`canonical.rs`) and plain configuration files
//! (`config/fast.rs`) are read without the `toml` crate. Everything else (a file written by
//! hand, with comments or literal strings, a configuration with a date-time) needs a full TOML
//! parser, and goes through the parser installed here, which answers in a form the plain
//! readers take: the secret file rewritten as twofold writes it, the configuration's values in
//! [`RawConfig`](crate::config)'s private line form.
//!
//! Why not call the `toml` crate directly: the PAM module is loaded into sshd or sudo for every
//! login, and the `toml` crate's code and data cost about 14 k instructions of relocation and
//! symbol work at each load (BENCHMARKS.md), though a usual login never parses TOML. So the
//! module installs a parser that loads the library `libtwofold_toml.so` (crate `toml_library`)
//! only when a file needs it, and nothing in this crate calls the `toml` crate on the way to
//! the installed parser: the module links none of it. The CLI, the tests and the library
//! itself install [`with_toml_crate`], the same code in-process.
//!
//! Both answers are read back by the plain readers, so a file means the same whichever way it
//! went; the messages for a file that is not valid are the `toml` path's own.

use std::sync::OnceLock;
use zeroize::Zeroizing;

/// What is being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A secret file: the answer is the file as twofold writes it.
    SecretFile = 1,
    /// The configuration: the answer is its values in the private line form.
    Config = 2,
}

impl Kind {
    pub fn from_raw(n: u32) -> Option<Kind> {
        match n {
            1 => Some(Kind::SecretFile),
            2 => Some(Kind::Config),
            _ => None,
        }
    }
}

/// A full TOML parser: the text in, the answer (see [`Kind`]) or the error message out.
pub type Parser = fn(Kind, &str) -> Result<Zeroizing<String>, String>;

static PARSER: OnceLock<Parser> = OnceLock::new();

/// Installs the parser for this process; the first one installed stays.
pub fn install(parser: Parser) {
    let _ = PARSER.set(parser);
}

/// The `toml` crate, in this process.
pub fn with_toml_crate(kind: Kind, text: &str) -> Result<Zeroizing<String>, String> {
    match kind {
        // Not `to_toml`: its size limit is for writing; a file read is checked as read.
        Kind::SecretFile => crate::secret::SecretFile::parse_with_toml(text)
            .map(|f| crate::canonical::write(&f))
            .map_err(|e| e.0),
        Kind::Config => crate::config::encode_with_toml(text).map(Zeroizing::new),
    }
}

/// Parses `text` with the installed parser.
pub(crate) fn parse(kind: Kind, text: &str) -> Result<Zeroizing<String>, String> {
    match PARSER.get() {
        Some(parser) => parser(kind, text),
        // The crate's own unit tests need no installation.
        #[cfg(test)]
        None => with_toml_crate(kind, text),
        #[cfg(not(test))]
        None => Err("is not in the plain form twofold reads without a TOML parser, and none is available here".into()),
    }
}
