//! The TOML parser for files that are not plain, loaded only when one turns up.
//!
//! The module links no TOML parser (core/src/fallback.rs: the `toml` crate's code would cost
//! about 14 k instructions at every login's load, BENCHMARKS.md). A configuration file or a
//! secret file that the plain readers decline is handed to `libtwofold_toml.so` (crate
//! `toml_library`), loaded here with `dlopen` the first time one is needed in a process and
//! kept loaded. The library is checked before it is loaded: a regular file owned by root and
//! writable by no one else, in a directory owned by root and writable by no one else.
//!
//! Where: the module argument `toml_library=/path` (tests, installs from source), else the
//! first of [`DEFAULT_PATHS`] that exists: where the .deb and the .rpm put it.
//!
//! Any failure (no library, a library that fails the checks or the call) is an error for the
//! file being read, and so a denied login with the reason in the auth log: fail closed.

use rustix::fs::{statat, AtFlags, FileType, CWD};
use std::ffi::{c_void, CString};
use std::sync::{Mutex, OnceLock};
use twofold_core::fallback::Kind;
use zeroize::Zeroizing;

/// Where the packages install the library (.deb, then .rpm).
pub const DEFAULT_PATHS: [&str; 2] = [
    "/usr/lib/x86_64-linux-gnu/twofold/libtwofold_toml.so",
    "/usr/lib64/twofold/libtwofold_toml.so",
];

/// `toml_library/src/lib.rs`'s `Answer`.
#[repr(C)]
struct Answer {
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

type ParseFn = unsafe extern "C" fn(u32, *const u8, usize, *mut Answer) -> i32;
type FreeFn = unsafe extern "C" fn(Answer);

#[derive(Clone, Copy)]
struct Library {
    parse: ParseFn,
    free: FreeFn,
}

/// The path from the module argument, if any (the last login's stack decides, until loaded).
static ARGUMENT: Mutex<Option<String>> = Mutex::new(None);
/// Loaded once per process: the functions, or why not.
static LOADED: OnceLock<Result<Library, String>> = OnceLock::new();

/// Records the module argument `toml_library=PATH` (or its absence) of this login.
pub fn set_path(path: Option<&str>) {
    if let Ok(mut a) = ARGUMENT.lock() {
        *a = path.map(str::to_owned);
    }
}

/// `twofold_core::fallback::Parser`: parses `text` with the library.
pub fn parse(kind: Kind, text: &str) -> Result<Zeroizing<String>, String> {
    let lib = match LOADED.get_or_init(load) {
        Ok(lib) => *lib,
        Err(why) => return Err(why.clone()),
    };
    let mut answer = Answer {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
    // SAFETY: `lib.parse` is `twofold_toml_parse_v1` of the checked library, with this
    // signature (same sources); `text` is valid for its length during the call and `answer`
    // may be written.
    let code = unsafe { (lib.parse)(kind as u32, text.as_ptr(), text.len(), &mut answer) };
    let bytes: &[u8] = if answer.ptr.is_null() {
        &[]
    } else {
        // SAFETY: the library wrote `ptr`/`len` of a live buffer of its own, which stays
        // until `free` below.
        unsafe { std::slice::from_raw_parts(answer.ptr, answer.len) }
    };
    let out = Zeroizing::new(String::from_utf8_lossy(bytes).into_owned());
    // SAFETY: `answer` came from `lib.parse` and is freed once, after its last use above.
    unsafe { (lib.free)(answer) };
    match code {
        0 => Ok(out),
        1 => Err(out.to_string()),
        _ => Err("the TOML parser library failed on it".into()),
    }
}

fn load() -> Result<Library, String> {
    let argument = ARGUMENT.lock().ok().and_then(|a| a.clone());
    let path = match argument {
        Some(p) => p,
        None => DEFAULT_PATHS
            .iter()
            .find(|p| statat(CWD, **p, AtFlags::SYMLINK_NOFOLLOW).is_ok())
            .map_or(DEFAULT_PATHS[0], |p| *p)
            .to_string(),
    };
    let fail = |why: &str| {
        Err(format!(
            "is not in the plain form twofold reads itself, and the TOML parser library {path} {why}"
        ))
    };
    if let Err(why) = check(&path) {
        return fail(&why);
    }
    let Ok(c_path) = CString::new(path.as_str()) else {
        return fail("has a NUL byte in its name");
    };
    // SAFETY: a valid C string; the library is twofold's own, checked above to be a file that
    // only root can change; loading it runs its initializers (Rust's standard library's).
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return fail("could not be loaded");
    }
    // Never closed: kept for later files in this process.
    // SAFETY: `handle` is a live handle from dlopen; the names are C strings.
    let (parse, free) = unsafe {
        (
            libc::dlsym(handle, c"twofold_toml_parse_v1".as_ptr()),
            libc::dlsym(handle, c"twofold_toml_free_v1".as_ptr()),
        )
    };
    if parse.is_null() || free.is_null() {
        return fail("is not the one this module was built with");
    }
    // SAFETY: these symbols are the `extern "C"` functions of toml_library/src/lib.rs, of these
    // types (same sources, same package).
    Ok(unsafe {
        Library {
            parse: std::mem::transmute::<*mut c_void, ParseFn>(parse),
            free: std::mem::transmute::<*mut c_void, FreeFn>(free),
        }
    })
}

/// The library and its directory: owned by root, writable by no one else, not symlinks.
fn check(path: &str) -> Result<(), String> {
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(i) if path.starts_with('/') => &path[..i],
        _ => return Err("is not an absolute path".into()),
    };
    for (name, want, what) in [
        (path, FileType::RegularFile, "a regular file"),
        (dir, FileType::Directory, "a directory"),
    ] {
        let st = statat(CWD, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| match e {
            rustix::io::Errno::NOENT => "is not installed".to_string(),
            e => format!("cannot be checked ({name}: {e})"),
        })?;
        if FileType::from_raw_mode(st.st_mode) != want {
            return Err(format!("is not safe to load: {name} is not {what}"));
        }
        if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
            return Err(format!(
                "is not safe to load: {name} must be owned by root and writable by no one else"
            ));
        }
    }
    Ok(())
}
