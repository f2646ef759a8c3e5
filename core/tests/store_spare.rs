//! `SecretStore::update` (a login's bookkeeping) keeps the previous version of the secret
//! file under the temp file's name and overwrites it in place at the next update, exchanging
//! it with the file; `write` (the CLI's edits) leaves a copy of the new version there, no
//! earlier one, and `remove` (admin reset) nothing. System mode (root-owned files): needs
//! root, as the whole suite.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use twofold_core::secret::{Device, SecretFile, SecretKey};
use twofold_core::store::{Location, Owner, SecretStore};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "system mode needs root-owned files: run the tests as root (scripts/test.sh does)"
        );
        let p = PathBuf::from(format!("/var/tmp/twofold-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        Dir(p)
    }
    fn loc(&self) -> Location {
        Location::from_path(&format!("{}/alice.toml", self.0.display()), Owner::Root).unwrap()
    }
    fn main(&self) -> PathBuf {
        self.0.join("alice.toml")
    }
    fn spare(&self) -> PathBuf {
        self.0.join(".alice.toml.tmp")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn file(failures: u32, devices: usize) -> SecretFile {
    let mut f = SecretFile::new();
    for i in 0..devices {
        f.devices.push(Device::new(
            &format!("device{i}"),
            SecretKey::from_bytes(&[i as u8 + 1; 20]),
            0,
        ));
    }
    f.state.failures = failures;
    f
}

fn text(f: &SecretFile) -> Vec<u8> {
    f.to_toml().unwrap().as_bytes().to_vec()
}

/// A way to make the temp file unfit for reuse, and its name.
type Spoil<'a> = (&'a str, &'a dyn Fn(&Dir));

fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().ino()
}

fn update(d: &Dir, f: &SecretFile) {
    let store = SecretStore::open(&d.loc()).unwrap().unwrap();
    let lock = store.lock().unwrap();
    store.update(&lock, f).unwrap();
}

fn write(d: &Dir, f: &SecretFile) {
    let store = SecretStore::open_or_create(&d.loc()).unwrap();
    let lock = store.lock().unwrap();
    store.write(&lock, f).unwrap();
}

fn read(d: &Dir) -> SecretFile {
    SecretStore::open(&d.loc())
        .unwrap()
        .unwrap()
        .read()
        .unwrap()
        .unwrap()
}

#[test]
fn update_keeps_the_previous_version_and_overwrites_it_at_the_next_update() {
    let d = Dir::new("spare-cycle");
    let (v1, v2, v3) = (file(1, 2), file(2, 2), file(3, 2));
    write(&d, &v1);
    assert_eq!(
        std::fs::read(d.spare()).unwrap(),
        text(&v1),
        "write leaves a copy"
    );
    let (a, s) = (ino(&d.main()), ino(&d.spare()));
    assert_ne!(a, s);

    update(&d, &v2);
    assert_eq!(std::fs::read(d.main()).unwrap(), text(&v2));
    assert_eq!(ino(&d.main()), s, "the copy, overwritten in place");
    assert_eq!(
        std::fs::read(d.spare()).unwrap(),
        text(&v1),
        "the previous version"
    );
    assert_eq!(ino(&d.spare()), a, "exchanged, not copied");

    update(&d, &v3);
    assert_eq!(std::fs::read(d.main()).unwrap(), text(&v3));
    assert_eq!(ino(&d.main()), a);
    assert_eq!(ino(&d.spare()), s);
    assert_eq!(std::fs::read(d.spare()).unwrap(), text(&v2));
    for p in [d.main(), d.spare()] {
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600, "{}", p.display());
        assert_eq!(m.nlink(), 1);
    }
    assert_eq!(read(&d), v3);

    // A file written before temp files were kept (or whose temp file is gone): the update
    // creates one and keeps the previous version as well.
    std::fs::remove_file(d.spare()).unwrap();
    update(&d, &v1);
    assert_eq!(read(&d), v1);
    assert_eq!(ino(&d.spare()), a);
    assert_eq!(std::fs::read(d.spare()).unwrap(), text(&v3));
}

#[test]
fn update_to_a_shorter_or_longer_file_leaves_exactly_the_new_bytes() {
    let d = Dir::new("spare-sizes");
    let (small, big) = (file(0, 1), file(12345, 5));
    write(&d, &small);
    update(&d, &big); // spare: small
    update(&d, &small); // overwrites the small spare with small (same size)
    update(&d, &big); // overwrites the big spare... with big
    update(&d, &small); // the spare is big: overwritten with small, truncated
    assert_eq!(std::fs::read(d.main()).unwrap(), text(&small));
    update(&d, &big); // the spare is big again (the previous big version)
    update(&d, &file(7, 3)); // the spare is small: extended
    assert_eq!(std::fs::read(d.main()).unwrap(), text(&file(7, 3)));
    assert_eq!(read(&d), file(7, 3));
}

#[test]
fn write_and_remove_leave_no_previous_version() {
    let d = Dir::new("spare-discard");
    write(&d, &file(0, 2));
    update(&d, &file(1, 2));
    assert_eq!(std::fs::read(d.spare()).unwrap(), text(&file(0, 2)));
    // A device removed from the CLI: the previous version (with its secret) must go.
    write(&d, &file(1, 1));
    assert_eq!(
        std::fs::read(d.spare()).unwrap(),
        text(&file(1, 1)),
        "write keeps no earlier version, only a copy of the new one"
    );
    assert_eq!(read(&d), file(1, 1));

    update(&d, &file(2, 1));
    assert!(d.spare().exists());
    let store = SecretStore::open(&d.loc()).unwrap().unwrap();
    let lock = store.lock().unwrap();
    assert!(store.remove(&lock).unwrap());
    drop((lock, store));
    assert!(!d.main().exists());
    assert!(
        !d.spare().exists(),
        "an admin reset leaves none of the user's secrets"
    );
}

#[test]
fn a_temp_file_unfit_to_become_the_secret_file_is_replaced_not_reused() {
    let d = Dir::new("spare-unfit");
    let target = d.0.join("elsewhere");
    let other_link = d.0.join("other-link");
    let cases: [Spoil; 4] = [
        ("mode 0644", &|d: &Dir| {
            std::fs::set_permissions(d.spare(), std::fs::Permissions::from_mode(0o644)).unwrap()
        }),
        ("owned by another uid", &|d: &Dir| {
            std::os::unix::fs::lchown(d.spare(), Some(4242), None).unwrap()
        }),
        ("a symlink", &|d: &Dir| {
            std::fs::remove_file(d.spare()).unwrap();
            std::fs::write(d.0.join("elsewhere"), b"not yours").unwrap();
            std::os::unix::fs::symlink(d.0.join("elsewhere"), d.spare()).unwrap();
        }),
        ("a hard link", &|d: &Dir| {
            std::fs::hard_link(d.spare(), d.0.join("other-link")).unwrap()
        }),
    ];
    for (i, (what, spoil)) in cases.iter().enumerate() {
        write(&d, &file(0, 1));
        update(&d, &file(1, 1));
        spoil(&d);
        let linked = std::fs::read(&other_link).ok();
        update(&d, &file(100 + i as u32, 1));
        assert_eq!(read(&d), file(100 + i as u32, 1), "{what}");
        let m = std::fs::symlink_metadata(d.main()).unwrap();
        assert_eq!(
            (m.uid(), m.mode() & 0o7777, m.nlink()),
            (0, 0o600, 1),
            "{what}"
        );
        // Nothing outside the two names was written through the spoiled temp file.
        if target.exists() {
            assert_eq!(std::fs::read(&target).unwrap(), b"not yours", "{what}");
        }
        if let Some(before) = linked {
            assert_eq!(std::fs::read(&other_link).unwrap(), before, "{what}");
            std::fs::remove_file(&other_link).unwrap();
        }
        let _ = std::fs::remove_file(&target);
    }
}

#[test]
fn update_without_a_file_yet_renames_as_write_does() {
    let d = Dir::new("spare-first");
    let _ = SecretStore::open_or_create(&d.loc()).unwrap();
    update(&d, &file(0, 1));
    assert_eq!(read(&d), file(0, 1));
    assert!(!d.spare().exists());
}
