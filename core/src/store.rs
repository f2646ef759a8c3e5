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
//!   the directory. The old file stays whole until the rename. A full disk fails the write,
//!   and a login whose use of a code cannot be recorded is refused (fail closed).
//!
//! [`Storage`] is the seam `auth` uses: a read, and one transaction that runs a pure
//! decision on the current state and commits its result. [`UserFile`] is the file backend.

use crate::account::Account;
use crate::config::Config;
use crate::secret::{SecretFile, MAX_FILE_BYTES};
use nix::errno::Errno;
use nix::unistd::{Gid, Uid};
// The *at system calls through rustix (safe wrappers; nix lacks some of them). Errors are
// turned into nix's `Errno` (`sys`) for matching and messages.
use rustix::fs::{
    flock, fstat, fsync, mkdirat, openat, renameat, statat, unlinkat, AtFlags, FileType,
    FlockOperation, Mode, OFlags, Stat,
};
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a login waits for another process that holds the user's lock: this many tries,
/// `LOCK_RETRY` apart (5 s on an idle machine; longer only if sleeps overrun). Counted rather
/// than timed: the store reads no clock.
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
        // With a template such as `/var/lib/twofold/{user}`, the user `alice.lock` would get
        // alice's lock file as their secret file, and `.alice.tmp` her temp file: enrolling
        // them would rename over her lock. No secret file may have such a name.
        if file.ends_with(".lock") || (file.starts_with('.') && file.ends_with(".tmp")) {
            return Err(StoreError::new(
                path,
                "has the name of another secret file's lock or temp file",
                "end secret_path's file name with .toml, e.g. /var/lib/twofold/{user}.toml",
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

    /// The secret file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `name` in the secret's directory (the file itself, its lock).
    fn path_of(&self, name: &str) -> String {
        format!("{}/{name}", self.dir.trim_end_matches('/'))
    }

    fn lock_name(&self) -> String {
        format!("{}.lock", self.file)
    }

    fn temp_name(&self) -> String {
        format!(".{}.tmp", self.file)
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
            problem: format!("{what} failed: {}", e.desc()),
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
pub(crate) fn sys(e: rustix::io::Errno) -> Errno {
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

    fn walk(loc: &Location, create: bool) -> Result<Option<SecretStore>, StoreError> {
        let identity = FsIdentity::assume(loc.owner, loc.path())?;
        let mut dir = rustix::fs::open("/", DIR_FLAGS, Mode::empty())
            .map_err(|e| StoreError::io("/", "open", sys(e)))?;
        let mut walked = String::with_capacity(loc.dir.len());
        check_dir(&dir, "/", loc.owner, false)?;
        let mut components = loc.dir.split('/').filter(|c| !c.is_empty()).peekable();
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

    /// The checked directory, for other root-only files kept in a directory opened this way
    /// (`session`'s login records); each is opened relative to it, never through a symlink.
    pub(crate) fn dir_fd(&self) -> &OwnedFd {
        &self.dir
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

impl SecretStore {
    /// Reads and checks the secret file. `Ok(None)` if it does not exist.
    pub fn read(&self) -> Result<Option<SecretFile>, StoreError> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(None);
        };
        SecretFile::parse(&bytes).map(Some).map_err(|e| {
            StoreError::new(self.loc.path(), e.0, "restore it from a backup, or have an admin run `twofold admin reset` and re-enroll")
        })
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
    /// does not exist.
    pub fn read_bytes(&self) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let path = self.loc.path();
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        match self.open_file(path, flags)? {
            Some(fd) => read_checked(fd, path, self.loc.owner).map(Some),
            None => Ok(None),
        }
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
                Err(Errno::EWOULDBLOCK) if tries < LOCK_TRIES => std::thread::sleep(LOCK_RETRY),
                Err(e) => return Err(StoreError::io(&path(), "locking", e)),
            }
        }
    }

    /// Replaces the secret file atomically and durably: a new temp file in the same directory,
    /// fsync, rename over the file, fsync of the directory. Requires the lock. On any error
    /// the old file is left whole and the temp file removed; on a full disk that means the
    /// change is not made (a login is then refused).
    pub fn write(&self, _lock: &Lock, file: &SecretFile) -> Result<(), StoreError> {
        let path = self.loc.path();
        let text = file.to_toml().map_err(|e| {
            StoreError::new(
                path,
                format!("would not be valid: {e}"),
                "report this as a bug",
            )
        })?;
        let tmp = self.loc.temp_name();
        let result = self.write_temp(&tmp, text.as_bytes()).and_then(|()| {
            renameat(&self.dir, tmp.as_str(), &self.dir, self.loc.file.as_str())
                .map_err(|e| StoreError::io(path, "rename", sys(e)))?;
            fsync(&self.dir).map_err(|e| StoreError::io(path, "fsync of the directory", sys(e)))
        });
        if result.is_err() {
            let _ = unlinkat(&self.dir, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// A new temp file holding `bytes`, fsynced; created exclusively, never through a
    /// symlink. One left by a crash is removed first: we hold the lock, nobody else writes it.
    fn write_temp(&self, tmp: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.loc.path();
        self.unlink_if_present(tmp)
            .map_err(|e| StoreError::io(path, "removing a stale temp file", e))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(&self.dir, tmp, flags, Mode::RUSR | Mode::WUSR)
            .map_err(|e| StoreError::io(path, "creating the temp file", sys(e)))?;
        let mut f = std::fs::File::from(fd);
        let _lifted = NoFileSizeLimit::lift();
        f.write_all(bytes)
            .map_err(|e| StoreError::io(path, "write", errno_of(&e)))?;
        fsync(&f).map_err(|e| StoreError::io(path, "fsync", sys(e)))
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
        if existed {
            fsync(&self.dir).map_err(|e| StoreError::io(path, "fsync of the directory", sys(e)))?;
        }
        Ok(existed)
    }
}

/// The caller's file-size limit (`ulimit -f`), lifted while the state is written and put
/// back after. A limit survives the exec of a setuid program (su, a setuid twofold): set to
/// the size of the state a right code writes, it would let that save while a wrong code's,
/// which grows the state when it starts the throttle, failed, so that guesses were refused
/// without being counted. Lifting the hard limit needs root, which the module and the
/// setuid CLI are; for anyone else (a user's own CLI on their own file) it stays as it was.
/// sudo lifts the same limit for itself (`unlimit_sudo`).
struct NoFileSizeLimit(Option<rustix::process::Rlimit>);

impl NoFileSizeLimit {
    fn lift() -> NoFileSizeLimit {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let was = getrlimit(Resource::Fsize);
        if was.current.is_none() {
            return NoFileSizeLimit(None);
        }
        // No limit at all needs CAP_SYS_RESOURCE; without it, up to the hard limit.
        let lifted = [None, was.maximum].into_iter().any(|maximum| {
            let up = Rlimit {
                current: maximum,
                maximum,
            };
            setrlimit(Resource::Fsize, up).is_ok()
        });
        NoFileSizeLimit(lifted.then_some(was))
    }
}

impl Drop for NoFileSizeLimit {
    fn drop(&mut self) {
        if let Some(was) = self.0.take() {
            let _ = rustix::process::setrlimit(rustix::process::Resource::Fsize, was);
        }
    }
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32))
}

/// Checks an opened secret file on its descriptor and reads it, at most `MAX_FILE_BYTES`.
pub(crate) fn read_checked(
    fd: OwnedFd,
    path: &str,
    owner: Owner,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let st = fstat(&fd).map_err(|e| StoreError::io(path, "fstat", sys(e)))?;
    check_file(&st, path, owner)?;
    // Sized by `fstat` (plus the byte that tells the end): a buffer that grew would leave
    // copies of the secrets behind, unwiped, in the memory it gave back.
    let size = usize::try_from(st.st_size).map_or(MAX_FILE_BYTES, |n| n.min(MAX_FILE_BYTES));
    let mut buf = Zeroizing::new(Vec::with_capacity(size + 1));
    std::fs::File::from(fd)
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| StoreError::io(path, "read", errno_of(&e)))?;
    if buf.len() > MAX_FILE_BYTES {
        return Err(StoreError::new(
            path,
            format!("is larger than {MAX_FILE_BYTES} bytes"),
            "restore it from a backup or re-enroll",
        ));
    }
    Ok(buf)
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
    // No links left is not refused: the file was replaced (renamed over) after a read without
    // the lock opened it, a whole older version. The read under the lock decides, and no file
    // is replaced while the lock is held.
    if st.st_nlink > 1 {
        return Err(StoreError::new(
            path,
            format!("has {} hard links", st.st_nlink),
            "replace it with a file of its own",
        ));
    }
    Ok(())
}

/// What [`Storage::update`] did.
#[derive(Debug)]
pub enum Update<T> {
    /// The user has no secret file: `decide` did not run.
    Absent,
    /// `decide` ran on the current file, and the file it returned (if any) is committed.
    Committed(T),
    /// `decide` ran, but the file it returned could not be committed: nothing changed.
    NotSaved(T, StoreError),
    /// `decide` refused the answer because another login had just used the same item (a
    /// code, recovery code or pass) at the same moment, on this host or another: the race
    /// for a right answer was lost, which is no guess, so nothing is written (the refusal
    /// is not counted). The directory backend tells this apart; the file backend, whose
    /// lock orders the logins, never does.
    Taken(T),
}

/// What [`Storage::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The file is stored: the user had none.
    Created,
    /// The user has a state already (another enrollment came first): nothing was written.
    Exists,
}

/// One user's secret file, wherever it is kept: what `auth` knows of storage.
///
/// `update` is one transaction: `decide` sees the current file and returns a value and,
/// when something changes, the new file; no other commit comes between the file `decide`
/// saw and this commit. `decide` must be a pure function of the file it is given: a backend
/// without a lock (compare-and-swap) re-reads and calls it again on a conflict.
pub trait Storage {
    /// The file as it is now, outside any transaction (for work before it: the prompt, argon2).
    fn read(&mut self) -> Result<Option<SecretFile>, StoreError>;

    /// Runs `decide` on the current file and commits its result (see the trait).
    fn update<T>(
        &mut self,
        decide: impl FnMut(&SecretFile) -> (T, Option<SecretFile>),
    ) -> Result<Update<T>, StoreError>;

    /// Stores `file` for a user who has none (enrollment at first login), in one
    /// transaction: a state that exists, whatever it holds, is never replaced.
    fn create(&mut self, file: &SecretFile) -> Result<Created, StoreError>;
}

/// The file backend: a user's secret file in a directory, read and written by [`SecretStore`].
///
/// `read` walks and checks the directory, then keeps it open without the owner's file
/// identity, so that code run between `read` and `update` (the PAM conversation) never runs
/// with it; `update` takes the identity again, re-checks the directory on that descriptor
/// (`DetachedStore::attach`), takes the lock, reads, decides and writes, holding the lock
/// from the read to the write.
pub struct UserFile {
    loc: Location,
    dir: Option<DetachedStore>,
}

impl UserFile {
    pub fn new(loc: Location) -> UserFile {
        UserFile { loc, dir: None }
    }
}

impl Storage for UserFile {
    fn read(&mut self) -> Result<Option<SecretFile>, StoreError> {
        let Some(store) = SecretStore::open(&self.loc)? else {
            return Ok(None);
        };
        let file = store.read()?;
        self.dir = Some(store.detach());
        Ok(file)
    }

    fn update<T>(
        &mut self,
        mut decide: impl FnMut(&SecretFile) -> (T, Option<SecretFile>),
    ) -> Result<Update<T>, StoreError> {
        let store = match self.dir.take() {
            Some(dir) => dir.attach()?,
            None => match SecretStore::open(&self.loc)? {
                Some(store) => store,
                None => return Ok(Update::Absent),
            },
        };
        let lock = store.lock()?;
        let Some(file) = store.read()? else {
            return Ok(Update::Absent);
        };
        let (value, change) = decide(&file);
        let saved = match &change {
            Some(new) => store.write(&lock, new),
            None => Ok(()),
        };
        drop(lock);
        self.dir = Some(store.detach());
        Ok(match saved {
            Ok(()) => Update::Committed(value),
            Err(e) => Update::NotSaved(value, e),
        })
    }

    fn create(&mut self, file: &SecretFile) -> Result<Created, StoreError> {
        // The directory checked by `read`, or (a first enrollment) the path walked again,
        // creating what is missing with the owner's identity, mode 0700.
        let store = match self.dir.take() {
            Some(dir) => dir.attach()?,
            None => SecretStore::open_or_create(&self.loc)?,
        };
        let lock = store.lock()?;
        // Under the lock: a file written since the read (another login's enrollment,
        // `twofold enroll`) is never replaced.
        let created = match store.read_bytes()? {
            Some(_) => Created::Exists,
            None => {
                store.write(&lock, file)?;
                Created::Created
            }
        };
        drop(lock);
        self.dir = Some(store.detach());
        Ok(created)
    }
}

/// The backend `twofold.toml` chose: the secret file, or the user's directory entry
/// (`[directory]`). `Storage` has generic methods, so callers hold this rather than a `dyn`.
pub enum Backend<'a> {
    File(UserFile),
    Directory(crate::directory::DirectoryEntry<'a>),
}

impl Storage for Backend<'_> {
    fn read(&mut self) -> Result<Option<SecretFile>, StoreError> {
        match self {
            Backend::File(s) => s.read(),
            Backend::Directory(s) => s.read(),
        }
    }

    fn update<T>(
        &mut self,
        decide: impl FnMut(&SecretFile) -> (T, Option<SecretFile>),
    ) -> Result<Update<T>, StoreError> {
        match self {
            Backend::File(s) => s.update(decide),
            Backend::Directory(s) => s.update(decide),
        }
    }

    fn create(&mut self, file: &SecretFile) -> Result<Created, StoreError> {
        match self {
            Backend::File(s) => s.create(file),
            Backend::Directory(s) => Storage::create(s, file),
        }
    }
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

    /// A fresh path for a system-mode directory. System mode wants root-owned directories:
    /// these tests run as root (CI does) and fail, not pass, otherwise.
    fn system_dir(name: &str) -> String {
        assert!(
            rustix::process::geteuid().is_root(),
            "system-mode store tests must run as root"
        );
        let dir = format!("/var/tmp/twofold-store-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A file-size limit set by whoever started the process (inherited through a setuid
    /// program) does not decide which states can be saved: without the lift, this write
    /// is killed by SIGXFSZ. The limit is back afterwards.
    #[test]
    fn a_file_size_limit_of_the_caller_does_not_stop_the_state_being_saved() {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let dir = system_dir("fsize");
        let loc = Location::from_path(&format!("{dir}/alice.toml"), Owner::Root).unwrap();
        let store = SecretStore::open_or_create(&loc).unwrap();
        // The soft limit, as any user may set it (the hard one too needs a root with
        // CAP_SYS_RESOURCE to lift, which a container's root may lack).
        let limit = Rlimit {
            current: Some(16),
            maximum: getrlimit(Resource::Fsize).maximum,
        };
        setrlimit(Resource::Fsize, limit).unwrap();
        let mut file = SecretFile::new();
        file.state.failures = 4;
        file.state.throttled_until = 4_000_000_000;
        let lock = store.lock().unwrap();
        store.write(&lock, &file).unwrap();
        assert_eq!(getrlimit(Resource::Fsize), limit);
        assert_eq!(
            store.read().unwrap().unwrap().state.throttled_until,
            4_000_000_000
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_system_directory_open_to_others_is_refused_and_one_created_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = system_dir("mode");
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
        let dir = system_dir("missing");
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

    fn scratch(name: &str) -> (std::path::PathBuf, Owner) {
        let dir = std::env::temp_dir().join(format!("twofold-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let owner = Owner::User {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        };
        (dir, owner)
    }

    fn chmod_600(path: &std::path::Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn open_secret(path: &std::path::Path) -> OwnedFd {
        OwnedFd::from(std::fs::File::open(path).unwrap())
    }

    /// A read without the lock that opened the file just before another process renamed a
    /// new version over it holds an inode with no links left: a whole older version, read as
    /// it is (the read under the lock decides), not refused as a hard-link trick.
    #[test]
    fn a_file_replaced_after_it_was_opened_is_read_not_refused() {
        let (dir, owner) = scratch("replaced");
        let path = dir.join("secrets.toml");
        std::fs::write(&path, "old").unwrap();
        chmod_600(&path);
        let fd = open_secret(&path);
        std::fs::write(dir.join("new"), "new").unwrap();
        std::fs::rename(dir.join("new"), &path).unwrap();
        assert_eq!(fstat(&fd).unwrap().st_nlink, 0);
        let bytes = read_checked(fd, path.to_str().unwrap(), owner).unwrap();
        assert_eq!(&bytes[..], b"old");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_secret_file_named_like_a_lock_or_temp_file_is_refused() {
        for path in ["/var/lib/twofold/alice.lock", "/var/lib/twofold/.alice.tmp"] {
            let err = Location::from_path(path, Owner::Root).unwrap_err();
            assert!(err.problem.contains("lock or temp file"), "{err}");
        }
        for path in ["/var/lib/twofold/alice.toml", "/var/lib/twofold/alice.tmp"] {
            Location::from_path(path, Owner::Root).unwrap();
        }
    }

    #[test]
    fn a_file_with_a_second_hard_link_is_refused() {
        let (dir, owner) = scratch("linked");
        let path = dir.join("secrets.toml");
        std::fs::write(&path, "x").unwrap();
        chmod_600(&path);
        std::fs::hard_link(&path, dir.join("other")).unwrap();
        let err = read_checked(open_secret(&path), path.to_str().unwrap(), owner).unwrap_err();
        assert!(err.problem.contains("2 hard links"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
