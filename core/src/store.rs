//! The only code that touches secret files. Threats, and the answer to each:
//! - A user swaps a path component for a symlink (to /etc/shadow, or a directory of root's):
//!   every component is opened with `O_NOFOLLOW` relative to its parent's descriptor, and
//!   checked (type, owner, mode) on the descriptor, never by name.
//! - Root writing where the user controls the directory (pam_oath, CVE-2024-47191): files of a
//!   user's home are opened with the user's fsuid/fsgid, so the kernel allows root nothing the
//!   user could not do.
//! - A FIFO or device in place of the file: opened `O_NONBLOCK`, refused unless a regular file.
//! - Two logins with one code: a lock is held from read to write, on a lock file that is never
//!   renamed (a lock on the replaced file would be lost with its inode).
//! - A crash or full disk mid-write: temp file in the same directory, fsync, rename, fsync of
//!   the directory. The old file stays whole until the rename.

use crate::account::Account;
use crate::config::Config;
use crate::secret::{SecretFile, MAX_FILE_BYTES};
use nix::errno::Errno;
use nix::unistd::{Gid, Uid};
// The system calls on files go through rustix, which makes them itself (its linux_raw backend)
// instead of through libc: each libc function the module uses is one more symbol that every
// login's dlopen must look up (~1 k instructions each, BENCHMARKS.md). nix stays for what only
// libc can do (user and group lookups through NSS) and for setfsuid/setfsgid. Errors are
// turned into nix's `Errno` (`sys`) for matching; their texts come from `errno_text`.
use rustix::fs::{
    fdatasync, flock, fstat, fsync, mkdirat, openat, renameat, renameat_with, statat, unlinkat,
    AtFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags, Stat,
};
use std::fmt;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a login waits for another process that holds the user's lock: this many tries,
/// `LOCK_RETRY` apart (5 s on an idle machine; longer only if sleeps overrun). Counted rather
/// than timed: the store reads no clock, and the module then needs no `clock_gettime` of
/// libc's for it (one symbol fewer to resolve at every load, BENCHMARKS.md).
const LOCK_TRIES: u32 = 1000;
const LOCK_RETRY: Duration = Duration::from_millis(5);

/// Who must own the secret file and its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Self-enrollment: files in the user's home, owned by the user.
    User { uid: u32, gid: u32 },
    /// System mode: a root-owned directory the user cannot read.
    Root,
}

impl Owner {
    fn uid(self) -> u32 {
        match self {
            Owner::User { uid, .. } => uid,
            Owner::Root => 0,
        }
    }
}

/// A secret file's place: the directory (absolute), the file name, and who owns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Not public: `path` is made from them once, so they must not change after.
    pub(crate) dir: String,
    pub(crate) file: String,
    pub owner: Owner,
    /// `dir` and `file` joined, made once: logs and errors name it.
    path: String,
    /// How many leading components of `dir` must exist: the home directory in home mode,
    /// all but the secret's own directory otherwise. Only below them does a missing
    /// component mean "not enrolled"; a missing home (not mounted yet) is an error.
    must_exist: usize,
}

impl Location {
    pub fn for_account(config: &Config, account: &Account) -> Result<Location, StoreError> {
        let path = config
            .secret_path
            .expand(&account.name, account.uid, &account.home);
        let owner = if config.secret_path.is_system_mode() {
            Owner::Root
        } else {
            Owner::User {
                uid: account.uid,
                gid: account.gid,
            }
        };
        let mut loc = Location::from_path(&path, owner)?;
        let home = account.home.trim_end_matches('/');
        if matches!(owner, Owner::User { .. })
            && (loc.dir == home || loc.dir.starts_with(&format!("{home}/")))
        {
            loc.must_exist = components(home);
        }
        Ok(loc)
    }

    pub fn from_path(path: &str, owner: Owner) -> Result<Location, StoreError> {
        let (dir, file) = path.rsplit_once('/').ok_or_else(|| {
            StoreError::new(
                path,
                "is not an absolute path",
                "fix secret_path in twofold.toml",
            )
        })?;
        if !path.starts_with('/') || file.is_empty() || file == "." || file == ".." {
            return Err(StoreError::new(
                path,
                "is not an absolute path to a file",
                "fix secret_path in twofold.toml",
            ));
        }
        let mut loc = Location {
            dir: if dir.is_empty() {
                "/".into()
            } else {
                dir.into()
            },
            file: file.into(),
            owner,
            path: String::new(),
            must_exist: components(dir).saturating_sub(1),
        };
        loc.path = loc.path_of(&loc.file);
        Ok(loc)
    }

    /// The secret file's path. Made once, with the location: a login used to build it about
    /// ten times, an allocation each (BENCHMARKS.md).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `name` in the secret's directory (the file itself, its lock).
    fn path_of(&self, name: &str) -> String {
        let dir = self.dir.trim_end_matches('/');
        let mut p = String::with_capacity(dir.len() + 1 + name.len());
        p.push_str(dir);
        p.push('/');
        p.push_str(name);
        p
    }

    fn lock_name(&self) -> String {
        let mut n = String::with_capacity(self.file.len() + 5);
        n.push_str(&self.file);
        n.push_str(".lock");
        n
    }

    fn temp_name(&self) -> String {
        let mut n = String::with_capacity(self.file.len() + 5);
        n.push('.');
        n.push_str(&self.file);
        n.push_str(".tmp");
        n
    }
}

fn components(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

/// What went wrong with a file, and what the admin or user should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub path: String,
    pub problem: String,
    pub fix: String,
    /// The file is absent or the filesystem refuses writes: nothing is wrong with the file.
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A check failed (owner, mode, type, symlink, format): the file is never rewritten.
    Unsafe,
    /// The system failed (I/O, full disk, read-only, lock timeout).
    Io,
}

impl StoreError {
    fn new(path: &str, problem: impl Into<String>, fix: impl Into<String>) -> StoreError {
        StoreError {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
            kind: ErrorKind::Unsafe,
        }
    }
    fn io(path: &str, what: &str, e: Errno) -> StoreError {
        let fix = match e {
            Errno::ENOSPC | Errno::EDQUOT => "free some disk space",
            Errno::EROFS => "the filesystem is read-only; twofold must record used codes, so logins fail until it is writable",
            Errno::EACCES | Errno::EPERM => "check the permissions of the file and its directories",
            _ => "check the file system",
        };
        StoreError {
            path: path.into(),
            problem: format!("{what} failed: {}", crate::errno_text(e as i32)),
            fix: fix.into(),
            kind: ErrorKind::Io,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}; {}", self.path, self.problem, self.fix)
    }
}

impl std::error::Error for StoreError {}

/// While alive, file access runs with the owner's fsuid/fsgid (when we are root and the owner
/// is a user). `setfsuid` reports no error, so the value in force is read back and checked.
struct FsIdentity {
    restore: Option<(Uid, Gid)>,
}

impl FsIdentity {
    fn assume(owner: Owner, path: &str) -> Result<FsIdentity, StoreError> {
        let Owner::User { uid, gid } = owner else {
            return Ok(FsIdentity { restore: None });
        };
        if !rustix::process::geteuid().is_root() || uid == 0 {
            return Ok(FsIdentity { restore: None });
        }
        let old_gid = nix::unistd::setfsgid(Gid::from_raw(gid));
        let old_uid = nix::unistd::setfsuid(Uid::from_raw(uid));
        let guard = FsIdentity {
            restore: Some((old_uid, old_gid)),
        };
        // Each call returns the previous value: calling again with the same id reads it back.
        let now_uid = nix::unistd::setfsuid(Uid::from_raw(uid));
        let now_gid = nix::unistd::setfsgid(Gid::from_raw(gid));
        if now_uid.as_raw() != uid || now_gid.as_raw() != gid {
            return Err(StoreError::new(
                path,
                "could not take the user's file identity (setfsuid)",
                "report this as a bug",
            ));
        }
        Ok(guard)
    }
}

impl Drop for FsIdentity {
    fn drop(&mut self) {
        if let Some((uid, gid)) = self.restore {
            nix::unistd::setfsuid(uid);
            nix::unistd::setfsgid(gid);
        }
    }
}

/// A rustix error as nix's `Errno` (same numbers), for `StoreError::io`.
fn sys(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

fn is_type(st: &Stat, t: FileType) -> bool {
    FileType::from_raw_mode(st.st_mode) == t
}

fn type_name(st: &Stat) -> &'static str {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        _ => "of an unknown type",
    }
}

/// An open secret directory, checked component by component, with the owner's file identity.
pub struct SecretStore {
    loc: Location,
    dir: OwnedFd,
    // Dropped last: file descriptors are closed before the identity is restored.
    _identity: FsIdentity,
}

/// What a replace does with the previous version of the file (`write`, `update`).
#[derive(Clone, Copy)]
enum Previous {
    Discard,
    Keep,
}

/// The user's lock; writing requires holding it.
pub struct Lock {
    // The flock is released when this, its only descriptor, is closed.
    _fd: OwnedFd,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl SecretStore {
    /// Opens the directory of `loc`. `Ok(None)` if some component does not exist.
    pub fn open(loc: &Location) -> Result<Option<SecretStore>, StoreError> {
        SecretStore::walk(loc, false)
    }

    /// Opens the directory, creating missing components with mode 0700 (enrollment).
    pub fn open_or_create(loc: &Location) -> Result<SecretStore, StoreError> {
        SecretStore::walk(loc, true)?.ok_or_else(|| {
            StoreError::new(
                &loc.dir,
                "could not be created",
                "check the parent directory",
            )
        })
    }

    // A closure pattern on purpose (see the split below).
    #[allow(clippy::manual_pattern_char_comparison)]
    fn walk(loc: &Location, create: bool) -> Result<Option<SecretStore>, StoreError> {
        let identity = FsIdentity::assume(loc.owner, loc.path())?;
        let mut dir = rustix::fs::open("/", DIR_FLAGS, Mode::empty())
            .map_err(|e| StoreError::io("/", "open", sys(e)))?;
        let mut walked = String::with_capacity(loc.dir.len());
        check_dir(&dir, "/", loc.owner, false)?;
        // A closure, not `'/'`: for a few short components the char-by-char search is
        // cheaper than the `memchr` searcher's set-up per component (BENCHMARKS.md).
        let mut components = loc
            .dir
            .split(|c: char| c == '/')
            .filter(|c| !c.is_empty())
            .peekable();
        let mut depth = 0;
        while let Some(comp) = components.next() {
            let last = components.peek().is_none();
            depth += 1;
            walked.push('/');
            walked.push_str(comp);
            if comp == "." || comp == ".." {
                return Err(StoreError::new(
                    &walked,
                    "contains `.` or `..`",
                    "fix secret_path in twofold.toml",
                ));
            }
            let next = match openat(&dir, comp, DIR_FLAGS, Mode::empty()).map_err(sys) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(&dir, comp, Mode::RWXU).map_err(sys) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(StoreError::io(&walked, "creating the directory", e)),
                    }
                    openat(&dir, comp, DIR_FLAGS, Mode::empty())
                        .map_err(|e| StoreError::io(&walked, "open", sys(e)))?
                }
                Err(Errno::ENOENT) if depth > loc.must_exist => return Ok(None),
                Err(Errno::ENOENT) => {
                    let what = match loc.owner {
                        Owner::User { .. } => "home directory not available",
                        Owner::Root => "directory above the secret directory not available",
                    };
                    return Err(StoreError {
                        kind: ErrorKind::Io,
                        ..StoreError::new(
                            &walked,
                            format!("does not exist: {what} (not mounted yet?); refused, never taken for \"not enrolled\""),
                            "mount it or create it; until then the user cannot log in with twofold",
                        )
                    });
                }
                Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                    return Err(StoreError::new(
                        &walked,
                        "is a symlink or not a directory",
                        "replace it with a real directory; twofold never follows symlinks",
                    ))
                }
                Err(e) => return Err(StoreError::io(&walked, "open", e)),
            };
            check_dir(&next, &walked, loc.owner, last)?;
            dir = next;
        }
        Ok(Some(SecretStore {
            loc: loc.clone(),
            dir,
            _identity: identity,
        }))
    }

    pub fn location(&self) -> &Location {
        &self.loc
    }

    /// Gives up the owner's file identity but keeps the checked directory open, for a caller
    /// that must not run foreign code (the PAM conversation) with another fsuid and wants to
    /// come back to the same directory afterwards without walking the path again.
    pub fn detach(self) -> DetachedStore {
        let SecretStore {
            loc,
            dir,
            _identity,
        } = self;
        drop(_identity);
        DetachedStore { loc, dir }
    }
}

/// A secret directory opened and checked earlier, held without the owner's file identity
/// (see `SecretStore::detach`).
pub struct DetachedStore {
    loc: Location,
    dir: OwnedFd,
}

impl DetachedStore {
    /// Takes the owner's file identity again and re-checks the directory on its descriptor:
    /// its owner or mode may have changed since it was opened. The path above it is not walked
    /// again: the descriptor is the directory that was checked, wherever it is now, and only
    /// its own owner and mode decide who else could change the files in it.
    pub fn attach(self) -> Result<SecretStore, StoreError> {
        let identity = FsIdentity::assume(self.loc.owner, self.loc.path())?;
        check_dir(&self.dir, &self.loc.dir, self.loc.owner, true)?;
        Ok(SecretStore {
            loc: self.loc,
            dir: self.dir,
            _identity: identity,
        })
    }
}

/// A secret file's bytes and what they parse to (`SecretStore::read_parsed`).
pub type ParsedFile = (Zeroizing<Vec<u8>>, SecretFile);

/// Reads of a secret file that does not parse before `read_parsed` calls it broken (a read
/// without the lock can meet an `update` writing; a broken file fails every time).
const UNLOCKED_READ_TRIES: u32 = 3;

/// Opens of a file being replaced (no links left) before `read_bytes` gives up: 8 at once,
/// then 192 a quarter of a millisecond apart.
const STALE_INODE_ATTEMPTS: u32 = 200;

impl SecretStore {
    /// Reads and checks the secret file. `Ok(None)` if it does not exist.
    ///
    /// Without the lock, a read can meet an `update` overwriting the inode it opened (see
    /// `update`): what does not parse is read again, twice, before it is called broken.
    pub fn read(&self) -> Result<Option<SecretFile>, StoreError> {
        Ok(self.read_parsed()?.map(|(_, file)| file))
    }

    /// As `read`, with the bytes the file was parsed from (for a caller that reads again
    /// under the lock and reuses the parse when nothing changed).
    pub fn read_parsed(&self) -> Result<Option<ParsedFile>, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.read_bytes()? {
                Some(bytes) => match self.parse(&bytes) {
                    Ok(file) => return Ok(Some((bytes, file))),
                    Err(_) if tries < UNLOCKED_READ_TRIES => {}
                    Err(e) => return Err(e),
                },
                None => return Ok(None),
            }
        }
    }

    /// Opens the secret file itself (never through a symlink). `Ok(None)` if it is absent.
    fn open_file(&self, path: &str, flags: OFlags) -> Result<Option<OwnedFd>, StoreError> {
        match openat(&self.dir, self.loc.file.as_str(), flags, Mode::empty()).map_err(sys) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(Errno::ELOOP) => Err(StoreError::new(
                path,
                "is a symlink",
                "replace it with the real file; twofold never follows symlinks",
            )),
            Err(Errno::EACCES) => {
                // Say why, if the reason is a wrong owner (the usual case).
                if let Ok(st) = statat(&self.dir, self.loc.file.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                {
                    check_file(&st, path, self.loc.owner)?;
                }
                Err(StoreError::io(path, "open", Errno::EACCES))
            }
            Err(e) => Err(StoreError::io(path, "open", e)),
        }
    }

    /// The secret file's bytes, with every check of `read` but the parse. `Ok(None)` if it
    /// does not exist. For callers that read twice and reuse a parse when nothing changed.
    pub fn read_bytes(&self) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let path = self.loc.path();
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        // A read without the lock can open the file while another process's atomic replace
        // is under way: after a `write`, that inode then has no links left. It is a stale
        // version, not a hard-link trick: open the new one instead. (After an `update` the
        // previous version keeps its link, as the temp file; reading it is a stale read,
        // which only the read under the lock could not afford.) The window is not only the
        // instant of the rename: ext4 drops the old inode's link inside the rename, and the
        // name points to the new inode only when the rename returns, which can wait for a
        // journal commit (another login's fsync). A tight retry loop saw the stale inode 8 times in a row
        // (core/tests/store_races.rs, 3 runs in 30). So: a few immediate retries, then short
        // sleeps, up to about 50 ms in all, which only a stuck writer exceeds.
        let mut attempts = 0u32;
        let (fd, st) = loop {
            attempts += 1;
            let fd = match self.open_file(path, flags)? {
                Some(fd) => fd,
                None => return Ok(None),
            };
            let st = fstat(&fd).map_err(|e| StoreError::io(path, "fstat", sys(e)))?;
            if st.st_nlink != 0 || attempts == STALE_INODE_ATTEMPTS {
                break (fd, st);
            }
            if attempts > 8 {
                sleep(Duration::from_micros(250));
            }
        };
        check_file(&st, path, self.loc.owner)?;
        // Sized by the file (plus the byte that tells the end): the buffer is wiped whole on
        // drop, spare capacity included, so a fixed 4 KiB cost a login two 4 KiB wipes.
        let expected = usize::try_from(st.st_size)
            .unwrap_or(MAX_FILE_BYTES)
            .min(MAX_FILE_BYTES);
        let mut buf = Zeroizing::new(Vec::with_capacity(expected + 1));
        let mut file = std::fs::File::from(fd);
        crate::read_sized(&mut file, st.st_size as u64, MAX_FILE_BYTES, &mut buf)
            .map_err(|e| StoreError::io(path, "read", errno_of(&e)))?;
        if buf.len() > MAX_FILE_BYTES {
            return Err(StoreError::new(
                path,
                format!("is larger than {MAX_FILE_BYTES} bytes"),
                "restore it from a backup or re-enroll",
            ));
        }
        Ok(Some(buf))
    }

    /// Parses bytes from `read_bytes`; the error names this file and says what to do.
    pub fn parse(&self, bytes: &[u8]) -> Result<SecretFile, StoreError> {
        SecretFile::parse(bytes).map_err(|e| {
            StoreError::new(self.loc.path(), e.0, "restore it from a backup, or have an admin run `twofold admin reset` and re-enroll")
        })
    }

    /// Takes the user's lock, waiting up to a few seconds for another login.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        let name = self.loc.lock_name();
        // Its path only for an error: no allocation on the way through.
        let path = || self.loc.path_of(&name);
        let base = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        // Read-only is enough for flock, and works on a read-only filesystem.
        let fd = match openat(
            &self.dir,
            name.as_str(),
            base | OFlags::RDONLY,
            Mode::empty(),
        )
        .map_err(sys)
        {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => openat(
                &self.dir,
                name.as_str(),
                base | OFlags::WRONLY | OFlags::CREATE,
                Mode::RUSR | Mode::WUSR,
            )
            .map_err(|e| StoreError::io(&path(), "creating the lock file", sys(e)))?,
            Err(Errno::ELOOP) => {
                return Err(StoreError::new(
                    &path(),
                    "is a symlink",
                    "remove it; twofold recreates it",
                ))
            }
            Err(e) => return Err(StoreError::io(&path(), "open", e)),
        };
        let st = fstat(&fd).map_err(|e| StoreError::io(&path(), "fstat", sys(e)))?;
        if !is_type(&st, FileType::RegularFile) || st.st_uid != self.loc.owner.uid() {
            return Err(StoreError::new(
                &path(),
                format!("is {} owned by uid {}", type_name(&st), st.st_uid),
                "remove it; twofold recreates it",
            ));
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match flock(&fd, FlockOperation::NonBlockingLockExclusive).map_err(sys) {
                Ok(()) => return Ok(Lock { _fd: fd }),
                Err(Errno::EWOULDBLOCK) if tries < LOCK_TRIES => sleep(LOCK_RETRY),
                Err(e) => return Err(StoreError::io(&path(), "locking", e)),
            }
        }
    }

    /// Replaces the secret file atomically and durably, keeping no earlier version of it in
    /// the directory. Requires the lock. For edits that take secrets away (a device removed,
    /// codes regenerated): the previous version is not kept anywhere. The temp file it leaves
    /// is a copy of the new version, for the next `update` to overwrite (`leave_spare`).
    pub fn write(&self, lock: &Lock, file: &SecretFile) -> Result<(), StoreError> {
        self.replace(lock, file, Previous::Discard)
    }

    /// Replaces the secret file as `write` does, as atomically and as durably, and keeps the
    /// previous version under the temp file's name, where the next update overwrites it in
    /// place. For the bookkeeping of a login (a used step, code or pass; failure counters):
    /// the previous version holds no secret the new one does not, bar hashes of used codes.
    ///
    /// Why: replacing a file by a new one allocates an inode and a block and frees the old
    /// ones, work the filesystem does inside the rename and at the journal commits (about
    /// 0.4 ms on ext4 here, more than the directory fsync; BENCHMARKS.md). Overwriting the
    /// spare in place and exchanging it with the file (`renameat2(RENAME_EXCHANGE)`)
    /// allocates and frees nothing, and the spare's data needs only `fdatasync`. The order is the same: the new version is on disk
    /// before the exchange, the exchange is on disk (directory fsync) before this returns.
    pub fn update(&self, lock: &Lock, file: &SecretFile) -> Result<(), StoreError> {
        self.replace(lock, file, Previous::Keep)
    }

    fn replace(
        &self,
        _lock: &Lock,
        file: &SecretFile,
        previous: Previous,
    ) -> Result<(), StoreError> {
        let path = self.loc.path();
        let text = file.to_toml().map_err(|e| {
            StoreError::new(
                path,
                format!("would not be valid: {e}"),
                "report this as a bug",
            )
        })?;
        let tmp = self.loc.temp_name();
        let spare = match previous {
            Previous::Keep => self.open_spare(&tmp),
            Previous::Discard => None,
        };
        let result = match spare {
            Some((fd, size)) => (|| {
                let bytes = text.as_bytes();
                let mut done = 0;
                while done < bytes.len() {
                    match rustix::io::pwrite(&fd, &bytes[done..], done as u64).map_err(sys) {
                        Ok(0) => return Err(StoreError::io(path, "write", Errno::EIO)),
                        Ok(n) => done += n,
                        Err(Errno::EINTR) => {}
                        Err(e) => return Err(StoreError::io(path, "write", e)),
                    }
                }
                if size > bytes.len() as u64 {
                    rustix::fs::ftruncate(&fd, bytes.len() as u64)
                        .map_err(|e| StoreError::io(path, "truncate", sys(e)))?;
                }
                // The inode is the spare's, already allocated: its data (and its size, when
                // that changed) is what must reach the disk before the exchange.
                fdatasync(&fd).map_err(|e| StoreError::io(path, "fdatasync", sys(e)))?;
                drop(fd);
                self.swap_in(&tmp, previous)
            })(),
            None => self
                .write_new_temp(&tmp, text.as_bytes())
                .and_then(|()| self.swap_in(&tmp, previous)),
        };
        match (&result, previous) {
            (Err(_), _) => {
                let _ = unlinkat(&self.dir, tmp.as_str(), AtFlags::empty());
            }
            (Ok(()), Previous::Discard) => self.leave_spare(&tmp, text.as_bytes()),
            (Ok(()), Previous::Keep) => {}
        }
        result
    }

    /// After a `write`: a copy of the new version as the temp file the next `update`
    /// overwrites, so that a user's first login after an edit costs what every other login
    /// costs, and is recorded even on a full disk. It holds nothing the file does not. Best
    /// effort: without it, the next update creates a temp file as `write` does.
    fn leave_spare(&self, tmp: &str, bytes: &[u8]) {
        // fsynced, so that its block is allocated and on disk: the update then writes data only.
        if self.write_new_temp(tmp, bytes).is_err() {
            let _ = unlinkat(&self.dir, tmp, AtFlags::empty());
        }
    }

    /// A new temp file holding `bytes`, fsynced. On error the caller removes it.
    fn write_new_temp(&self, tmp: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.loc.path();
        let mut f = std::fs::File::from(self.create_temp(tmp)?);
        f.write_all(bytes)
            .map_err(|e| StoreError::io(path, "write", errno_of(&e)))?;
        fsync(&f).map_err(|e| StoreError::io(path, "fsync", sys(e)))
    }

    /// The temp file left by the previous `update`, if it can become the secret file as it
    /// is: a regular file of the owner's, mode 0600 or stricter, one link, not too large.
    /// Anything else is not reused: `create_temp` removes it and starts afresh.
    fn open_spare(&self, tmp: &str) -> Option<(OwnedFd, u64)> {
        let flags =
            OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = openat(&self.dir, tmp, flags, Mode::empty()).ok()?;
        let st = fstat(&fd).ok()?;
        // What a secret file must be (`check_file`), and no set-id, sticky or execute bit.
        let usable = check_file(&st, self.loc.path(), self.loc.owner).is_ok()
            && st.st_mode & 0o7100 == 0
            && (st.st_size as u64) <= MAX_FILE_BYTES as u64;
        usable.then_some((fd, st.st_size as u64))
    }

    /// A new, empty temp file, created exclusively (never through a symlink).
    fn create_temp(&self, tmp: &str) -> Result<OwnedFd, StoreError> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let create = || openat(&self.dir, tmp, flags, Mode::RUSR | Mode::WUSR).map_err(sys);
        match create() {
            Ok(fd) => Ok(fd),
            // A temp file left by a crash, or a spare not fit for reuse: we hold the lock,
            // nobody else writes it. Removed only when found (not before every create: one
            // system call a login).
            Err(Errno::EEXIST) => {
                if let Err(e) = self.unlink_if_present(tmp) {
                    return Err(StoreError::io(
                        self.loc.path(),
                        "removing a stale temp file",
                        e,
                    ));
                }
                create()
            }
            Err(e) => Err(e),
        }
        .map_err(|e| StoreError::io(self.loc.path(), "creating the temp file", e))
    }

    /// Puts the temp file, whose data is on disk, in the secret file's place, then makes that
    /// durable. `Keep`: exchanged with the file, so the previous version becomes the next
    /// spare; a plain rename where there is no file yet or the filesystem cannot exchange
    /// (before Linux 3.15; NFS).
    fn swap_in(&self, tmp: &str, previous: Previous) -> Result<(), StoreError> {
        let path = self.loc.path();
        let file = self.loc.file.as_str();
        let renamed = match previous {
            Previous::Keep => {
                match renameat_with(&self.dir, tmp, &self.dir, file, RenameFlags::EXCHANGE)
                    .map_err(sys)
                {
                    Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
                        renameat(&self.dir, tmp, &self.dir, file).map_err(sys)
                    }
                    r => r,
                }
            }
            Previous::Discard => renameat(&self.dir, tmp, &self.dir, file).map_err(sys),
        };
        renamed.map_err(|e| StoreError::io(path, "rename", e))?;
        fsync(&self.dir).map_err(|e| StoreError::io(path, "fsync of the directory", sys(e)))
    }

    /// Removes `name` from the secret directory: whether it was there.
    fn unlink_if_present(&self, name: &str) -> Result<bool, Errno> {
        match unlinkat(&self.dir, name, AtFlags::empty()).map_err(sys) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the secret file (admin reset). Requires the lock.
    pub fn remove(&self, _lock: &Lock) -> Result<bool, StoreError> {
        let path = self.loc.path();
        let existed = self
            .unlink_if_present(&self.loc.file)
            .map_err(|e| StoreError::io(path, "remove", e))?;
        // The previous version `update` keeps: a reset leaves none of the user's secrets.
        let spare = self
            .unlink_if_present(&self.loc.temp_name())
            .map_err(|e| StoreError::io(path, "removing the temp file", e))?;
        if existed || spare {
            fsync(&self.dir).map_err(|e| StoreError::io(path, "fsync of the directory", sys(e)))?;
        }
        Ok(existed)
    }
}

/// `std::thread::sleep` without libc's `clock_nanosleep` (one import fewer); an interrupted
/// sleep is simply shorter, which every caller tolerates (they retry or re-check a deadline).
fn sleep(d: Duration) {
    let t = rustix::thread::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    };
    let _ = rustix::thread::nanosleep(&t);
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc_eio()))
}

const fn libc_eio() -> i32 {
    5
}

fn check_dir(fd: &impl AsFd, path: &str, owner: Owner, last: bool) -> Result<(), StoreError> {
    let st = fstat(fd).map_err(|e| StoreError::io(path, "fstat", sys(e)))?;
    if !is_type(&st, FileType::Directory) {
        return Err(StoreError::new(
            path,
            format!("is {}, not a directory", type_name(&st)),
            "replace it with a directory",
        ));
    }
    let uid = owner.uid();
    let owner_ok = if last {
        st.st_uid == uid
    } else {
        st.st_uid == 0 || st.st_uid == uid
    };
    if !owner_ok {
        let who = if uid == 0 {
            "root".to_string()
        } else {
            format!("uid {uid}")
        };
        return Err(StoreError::new(
            path,
            format!("is owned by uid {}, expected {who}", st.st_uid),
            format!("chown it to {who}"),
        ));
    }
    // A sticky ancestor such as /tmp may be world-writable; the secret's own directory may not.
    let sticky_ancestor = st.st_mode & 0o1000 != 0 && !last;
    if st.st_mode & 0o022 != 0 && !sticky_ancestor {
        return Err(StoreError::new(
            path,
            format!(
                "is writable by group or others (mode {:04o})",
                st.st_mode & 0o7777
            ),
            format!("run `chmod go-w {path}`"),
        ));
    }
    // The system directory hides who is enrolled (names, file times) from users.
    if last && owner == Owner::Root && st.st_mode & 0o077 != 0 {
        return Err(StoreError::new(
            path,
            format!(
                "is open to group or others (mode {:04o}); the system directory must be 0700",
                st.st_mode & 0o7777
            ),
            format!("run `chmod 700 {path}`"),
        ));
    }
    Ok(())
}

fn check_file(st: &Stat, path: &str, owner: Owner) -> Result<(), StoreError> {
    if !is_type(st, FileType::RegularFile) {
        return Err(StoreError::new(
            path,
            format!("is {}, not a regular file", type_name(st)),
            "replace it with the real secret file",
        ));
    }
    let uid = owner.uid();
    if st.st_uid != uid {
        return Err(StoreError::new(
            path,
            format!("is owned by uid {}, expected uid {uid}", st.st_uid),
            format!("chown it to uid {uid}, or re-enroll"),
        ));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(StoreError::new(
            path,
            format!(
                "is readable or writable by group or others (mode {:04o})",
                st.st_mode & 0o7777
            ),
            format!("run `chmod 600 {path}`"),
        ));
    }
    if st.st_nlink != 1 {
        return Err(StoreError::new(
            path,
            format!("has {} hard links", st.st_nlink),
            "replace it with a file of its own",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_names() {
        let l = Location::from_path("/var/lib/twofold/alice.toml", Owner::Root).unwrap();
        assert_eq!(l.path(), "/var/lib/twofold/alice.toml");
        assert_eq!(l.lock_name(), "alice.toml.lock");
        assert_eq!(l.temp_name(), ".alice.toml.tmp");
        let top = Location::from_path("/x.toml", Owner::Root).unwrap();
        assert_eq!(top.path(), "/x.toml");
    }

    /// A fresh directory for a system-mode location, or `None` when not root (system mode
    /// wants root-owned directories).
    fn system_dir(name: &str) -> Option<String> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: system mode needs root-owned directories");
            return None;
        }
        let dir = format!("/var/tmp/twofold-store-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        Some(dir)
    }

    #[test]
    fn a_system_directory_open_to_others_is_refused_and_one_created_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let Some(dir) = system_dir("mode") else {
            return;
        };
        let loc = Location::from_path(&format!("{dir}/alice.toml"), Owner::Root).unwrap();
        SecretStore::open_or_create(&loc).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Readable by others, users could list who is enrolled and when they logged in.
        for open in [0o755, 0o750, 0o701] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(open)).unwrap();
            let err = SecretStore::open(&loc).err().expect("refused");
            assert!(err.problem.contains("must be 0700"), "{err}");
            assert!(err.fix.contains("chmod 700"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_the_secret_directory_may_be_missing_not_what_is_above_it() {
        let Some(dir) = system_dir("missing") else {
            return;
        };
        std::fs::create_dir(&dir).unwrap();
        let absent =
            Location::from_path(&format!("{dir}/twofold/alice.toml"), Owner::Root).unwrap();
        assert!(
            SecretStore::open(&absent).unwrap().is_none(),
            "not enrolled"
        );
        let above =
            Location::from_path(&format!("{dir}/gone/twofold/alice.toml"), Owner::Root).unwrap();
        let err = SecretStore::open(&above).err().expect("refused");
        assert!(err.problem.contains("not available"), "{err}");
        assert_eq!(err.path, format!("{dir}/gone"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
