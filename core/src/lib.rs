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
pub mod doctor;
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

/// Reads a regular file that `fstat` said holds `size` bytes, at most `limit` bytes of it
/// plus one (so a caller can tell a file that is too large), appending to `buf`.
///
/// One `read` of `size + 1` bytes that returns exactly `size` is the whole file: a short read
/// of a regular file is its end, and the size agrees with `fstat`. std's `read_to_end` makes
/// a second `read` to see the end returned as 0 bytes, one system call per file read on every
/// login (BENCHMARKS.md). Anything else (the file grew or shrank since the `fstat`) goes on
/// with `read_to_end`, which reads until the end.
pub(crate) fn read_sized(
    file: &mut std::fs::File,
    size: u64,
    limit: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    use std::io::Read;
    let size = usize::try_from(size).unwrap_or(limit).min(limit);
    let start = buf.len();
    buf.resize(start + size + 1, 0);
    let n = loop {
        match file.read(&mut buf[start..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    };
    buf.truncate(start + n);
    if n == size {
        return Ok(());
    }
    let left = (limit + 1).saturating_sub(n) as u64;
    file.take(left).read_to_end(buf).map(|_| ())
}

/// Appends `n` in decimal, zero-padded to at least `min_width` digits. For text built on the
/// login path (the secret file, the secret path, the auth log line), where `format!`'s
/// machinery costs more than the rest of the line (BENCHMARKS.md).
pub fn push_decimal(out: &mut String, n: u64, min_width: usize) {
    // itoa writes two digits at a time from a table; appended in one piece.
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    for _ in digits.len()..min_width {
        out.push('0');
    }
    out.push_str(digits);
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

    /// Whatever size `fstat` gave, the bytes read are the file's, up to the limit plus one.
    #[test]
    fn read_sized_reads_the_whole_file_whatever_the_size_said() {
        let dir = std::env::temp_dir().join(format!("twofold-read-sized-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        for len in [0usize, 1, 193, 4096, 5000] {
            let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            std::fs::write(&path, &text).unwrap();
            // The true size, sizes of a file that grew or shrank since, and nonsense.
            for hint in [len as u64, 0, len as u64 / 2, len as u64 + 7, u64::MAX] {
                for limit in [10_000usize, 4096, 100] {
                    let mut file = std::fs::File::open(&path).unwrap();
                    let mut buf = b"kept".to_vec();
                    super::read_sized(&mut file, hint, limit, &mut buf).unwrap();
                    let want = &text[..len.min(limit + 1)];
                    assert_eq!(&buf[..4], b"kept");
                    assert_eq!(&buf[4..], want, "len {len} hint {hint} limit {limit}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
