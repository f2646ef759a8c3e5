//! A full disk and a read-only filesystem under the secret file. The documented outcome is
//! to fail closed: a right code is DENIED when its use cannot be recorded (accepting it
//! would let it be replayed); nothing is accepted without being recorded; the secret file is
//! left intact; the auth log says why. Once the filesystem is writable again, the same codes
//! work: nothing was used up by the failed attempts.
//!
//! The filesystems are tiny tmpfs mounts (size=64k) on the test's own directories, unmounted
//! when the test ends, passed or not. Needs root, like the rest of this suite.

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use twofold_core::store::{Location, Owner, SecretStore};

const ALICE: u32 = 4242;

/// A tmpfs mounted for the life of the value.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                options,
                "tmpfs",
                path.to_str().unwrap(),
            ],
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    fn remount(&self, options: &str) {
        run(
            "mount",
            &[
                "-o",
                &format!("remount,{options}"),
                self.path.to_str().unwrap(),
            ],
        );
    }

    /// Fills the filesystem with a file of root's, up to the last byte it takes.
    fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = [0x55u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", filler.display()),
            }
        }
        for n in [512, 64, 1] {
            while f.write(&chunk[..n]).is_ok_and(|w| w > 0) {}
        }
        f.sync_all().unwrap();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A host with alice, her home a 64 KiB tmpfs of her own.
fn alice_on_a_tiny_home() -> (Host, Tmpfs) {
    let mut h = Host::new();
    h.user("alice", ALICE);
    let fs = Tmpfs::mount(
        &h.home("alice"),
        &format!("size=64k,mode=0755,uid={ALICE},gid={ALICE}"),
    );
    (h, fs)
}

fn temp_of(path: &Path) -> PathBuf {
    path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_str().unwrap()
    ))
}

/// The secret file unchanged, and no temp file left behind.
fn assert_left_clean(path: &Path, before: &[u8]) {
    assert_unchanged(path, before);
    let tmp = temp_of(path);
    assert!(!tmp.exists(), "{} left behind", tmp.display());
}

fn wrong(code: &str) -> String {
    format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    )
}

/// Recording a login writes a new temp file: on a full disk that fails, and the login too.
#[test]
fn full_home_filesystem_denies_right_codes_and_keeps_them_usable() {
    let (h, fs) = alice_on_a_tiny_home();
    let e = h.enroll("alice", ALICE, 2);
    let path = h.secret_path("alice");
    let before = std::fs::read(&path).unwrap();
    let filler = fs.fill();

    let code = e.code_at(now());
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("method=totp result=deny")
        .assert_log("code accepted (device phone); state not saved")
        .assert_log("No space left on device")
        .assert_log("free some disk space");
    assert_left_clean(&path, &before);

    h.login("alice", e.recovery[0].as_bytes())
        .assert_denied()
        .assert_log("method=recovery result=deny")
        .assert_log("No space left on device");
    assert_left_clean(&path, &before);

    // A wrong code is denied as always; its failure cannot be counted, and the log says so.
    h.login("alice", wrong(&code).as_bytes())
        .assert_denied()
        .assert_log("wrong code")
        .assert_log("No space left");
    assert_left_clean(&path, &before);

    std::fs::remove_file(filler).unwrap();
    h.login("alice", code.as_bytes()).assert_success();
    h.login("alice", e.recovery[0].as_bytes()).assert_success();
    let after = h.read_file("alice", ALICE);
    assert_eq!(after.recovery_codes_left(), 1);
    assert_eq!(after.state.failures, 0);
}

#[test]
fn read_only_home_filesystem_denies_right_codes_and_keeps_them_usable() {
    let (h, fs) = alice_on_a_tiny_home();
    let e = h.enroll("alice", ALICE, 2);
    let path = h.secret_path("alice");
    let before = std::fs::read(&path).unwrap();
    fs.remount("ro");

    let code = e.code_at(now());
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("code accepted (device phone); state not saved")
        .assert_log("Read-only file system")
        .assert_log("logins fail until it is writable");
    h.login("alice", e.recovery[1].as_bytes())
        .assert_denied()
        .assert_log("Read-only file system");
    assert_left_clean(&path, &before);

    fs.remount("rw");
    h.login("alice", code.as_bytes()).assert_success();
    h.login("alice", e.recovery[1].as_bytes()).assert_success();
    assert_eq!(h.read_file("alice", ALICE).recovery_codes_left(), 1);
}

#[test]
fn read_only_filesystem_without_a_lock_file_denies_and_says_why() {
    let (h, fs) = alice_on_a_tiny_home();
    let e = h.enroll("alice", ALICE, 0);
    let path = h.secret_path("alice");
    std::fs::remove_file(path.with_file_name("secrets.toml.lock")).unwrap();
    let before = std::fs::read(&path).unwrap();
    fs.remount("ro");
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_denied()
        .assert_log("creating the lock file failed: Read-only file system");
    assert_unchanged(&path, &before);
}

/// System mode: the template has no {home}; files are root's, in a directory of their own.
#[test]
fn system_mode_full_and_read_only_filesystems_deny_right_codes() {
    let mut h = Host::new();
    h.user("alice", ALICE);
    let dir = h.root.join("var-lib-twofold");
    h.config(&format!(
        "secret_path = \"{}/{{user}}.toml\"\n",
        dir.display()
    ));
    let fs = Tmpfs::mount(&dir, "size=64k,mode=0700,uid=0,gid=0");
    // Enrolled in the home layout by the harness, then moved to the system location.
    let e = h.enroll("alice", ALICE, 1);
    let file = h.read_file("alice", ALICE);
    let loc = Location::from_path(&format!("{}/alice.toml", dir.display()), Owner::Root).unwrap();
    let store = SecretStore::open_or_create(&loc).unwrap();
    store.write(&store.lock().unwrap(), &file).unwrap();
    drop(store);
    let path = PathBuf::from(loc.path());
    let before = std::fs::read(&path).unwrap();

    let filler = fs.fill();
    let code = e.code_at(now());
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("state not saved")
        .assert_log("No space left on device");
    assert_left_clean(&path, &before);
    std::fs::remove_file(filler).unwrap();

    fs.remount("ro");
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("Read-only file system");
    h.login("alice", e.recovery[0].as_bytes())
        .assert_denied()
        .assert_log("Read-only file system");
    assert_left_clean(&path, &before);

    fs.remount("rw");
    h.login("alice", code.as_bytes()).assert_success();
    h.login("alice", e.recovery[0].as_bytes()).assert_success();
    let store = SecretStore::open(&loc).unwrap().unwrap();
    assert_eq!(store.read().unwrap().unwrap().recovery_codes_left(), 0);
}
