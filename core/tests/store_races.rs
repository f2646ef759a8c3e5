//! The storage layer against a writer replacing the file while it is read without the lock
//! (the module's read before the prompt does that).

use twofold_core::secret::{Device, SecretFile, SecretKey};
use twofold_core::store::{Location, Owner, SecretStore};

/// A reader that opens the file just before a writer's rename sees the old inode with no
/// links left: that is a replaced file, not a hard-link trick, and must not be refused.
#[test]
fn unlocked_reads_during_atomic_replaces_never_fail() {
    reads_during_replaces(false);
}

/// The same with `update`, which overwrites the previous version in place and exchanges it
/// with the file: a read that opened the file just before two updates can see the second one
/// writing; `read` reads again what does not parse.
#[test]
fn unlocked_reads_during_in_place_updates_never_fail() {
    reads_during_replaces(true);
}

fn reads_during_replaces(in_place: bool) {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "system mode needs root-owned files: run the tests as root (scripts/test.sh does)"
    );
    let dir = format!(
        "/var/tmp/twofold-store-race-{}-{in_place}",
        std::process::id()
    );
    let _ = std::fs::remove_dir_all(&dir);
    let loc = Location::from_path(&format!("{dir}/root.toml"), Owner::Root).unwrap();
    let mut file = SecretFile::new();
    file.devices
        .push(Device::new("phone", SecretKey::from_bytes(&[1; 20]), 0));
    {
        let store = SecretStore::open_or_create(&loc).unwrap();
        let lock = store.lock().unwrap();
        store.write(&lock, &file).unwrap();
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    const WRITES: u64 = 500;
    let writes = std::sync::Arc::new(AtomicU64::new(0));
    let writer = {
        let (loc, writes, mut file) = (loc.clone(), writes.clone(), file.clone());
        std::thread::spawn(move || {
            let store = SecretStore::open(&loc).unwrap().unwrap();
            for n in 0..WRITES {
                let lock = store.lock().unwrap();
                // Sizes change too (1 or 2 digits; a device more or less).
                file.state.failures = (n % 50) as u32;
                if n % 7 == 0 {
                    file.devices.truncate(1);
                } else if n % 7 == 3 {
                    file.devices
                        .push(Device::new("tablet", SecretKey::from_bytes(&[2; 20]), 0));
                }
                if in_place {
                    store.update(&lock, &file).unwrap();
                } else {
                    store.write(&lock, &file).unwrap();
                }
                writes.store(n + 1, Ordering::Relaxed);
            }
        })
    };
    // Read for as long as the writer replaces the file.
    let store = SecretStore::open(&loc).unwrap().unwrap();
    let (mut reads, mut errors) = (0, Vec::new());
    while writes.load(Ordering::Relaxed) < WRITES {
        reads += 1;
        if let Err(e) = store.read() {
            errors.push(e.to_string());
        }
    }
    writer.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        reads > 100,
        "the reader ran alongside the writer ({reads} reads)"
    );
    assert!(
        errors.is_empty(),
        "{} of {reads} reads failed, e.g. {}",
        errors.len(),
        errors[0]
    );
}
