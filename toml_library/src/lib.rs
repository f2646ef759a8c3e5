//! `libtwofold_toml.so`: the `toml` crate for `pam_twofold.so`.
//!
//! The module reads plain configuration files and secret files in twofold's own shape without
//! a TOML parser, and links none (core/src/fallback.rs says why: about 14 k instructions at
//! every login's load). For anything else it loads this library, once per process, and calls
//! [`twofold_toml_parse_v1`], which runs `twofold_core::fallback::with_toml_crate`: the same
//! code the CLI runs in-process. The answer (or the error message) goes back in a buffer
//! allocated here and wiped and freed by [`twofold_toml_free_v1`]: it may hold a secret file.
//!
//! Both sides are built from the same sources and shipped in the same package; the `_v1` in
//! the names is the version of this interface.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use twofold_core::fallback::{with_toml_crate, Kind};
use zeroize::Zeroize;

/// Bytes allocated by this library: a `Vec<u8>`'s parts.
#[repr(C)]
pub struct Answer {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl Answer {
    const EMPTY: Answer = Answer {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
}

/// Parses the UTF-8 text of `len` bytes at `text` as `kind` (`twofold_core::fallback::Kind`:
/// 1 a secret file, 2 the configuration). Returns 0 with the answer in `*out`, 1 with the error
/// message in `*out`, or 2 with nothing (an unknown kind, text that is not UTF-8, a panic).
/// Whatever it returns, `*out` is to be given to [`twofold_toml_free_v1`].
///
/// # Safety
/// `text` points to `len` readable bytes; `out` points to an `Answer` that may be written.
#[no_mangle]
pub unsafe extern "C" fn twofold_toml_parse_v1(
    kind: u32,
    text: *const u8,
    len: usize,
    out: *mut Answer,
) -> i32 {
    if out.is_null() {
        return 2;
    }
    // SAFETY: `out` is not null and, per the contract, may be written.
    unsafe { out.write(Answer::EMPTY) };
    if text.is_null() {
        return 2;
    }
    // SAFETY: per the contract, `text` points to `len` readable bytes, alive during the call.
    let bytes = unsafe { std::slice::from_raw_parts(text, len) };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let kind = Kind::from_raw(kind)?;
        let text = std::str::from_utf8(bytes).ok()?;
        Some(with_toml_crate(kind, text))
    }));
    let (code, answer) = match result {
        // Moved out of its `Zeroizing`, which wipes what is left (nothing); wiped in
        // `twofold_toml_free_v1`.
        Ok(Some(Ok(mut answer))) => (0, std::mem::take(&mut *answer)),
        Ok(Some(Err(message))) => (1, message),
        _ => return 2,
    };
    let mut bytes = std::mem::ManuallyDrop::new(answer.into_bytes());
    // SAFETY: as above; the parts are those of a live `Vec<u8>` given up here.
    unsafe {
        out.write(Answer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        })
    };
    code
}

/// Wipes and frees an answer of [`twofold_toml_parse_v1`].
///
/// # Safety
/// `answer` was written by [`twofold_toml_parse_v1`] and is not used or freed again.
#[no_mangle]
pub unsafe extern "C" fn twofold_toml_free_v1(answer: Answer) {
    if answer.ptr.is_null() {
        return;
    }
    // SAFETY: per the contract, these are the parts of the `Vec<u8>` given up in
    // `twofold_toml_parse_v1`, not freed since.
    let mut bytes = unsafe { Vec::from_raw_parts(answer.ptr, answer.len, answer.cap) };
    bytes.zeroize();
}
