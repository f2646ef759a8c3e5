//! Races through real libpam: many logins at once with one code, and a file changed by an
//! admin while users log in. Exactly one login may win a code; no update may be lost.

mod common;
use common::*;
use std::os::unix::fs::symlink;
use twofold_core::codes::{generate, grouped, PASS_LEN};

const ALICE: u32 = 4242;

/// Starts `n` logins at once, all typing `input`; returns how many succeeded.
fn concurrent_successes(h: &Host, n: usize, input: &str) -> usize {
    h.concurrent_successes("alice", std::iter::repeat_n(input.as_bytes(), n))
}

fn alice() -> Host {
    let mut h = Host::new();
    h.user("alice", ALICE);
    h
}

#[test]
fn sixty_four_logins_with_one_totp_code_give_exactly_one_success() {
    let h = alice();
    let e = h.enroll("alice", ALICE, 0);
    assert_eq!(concurrent_successes(&h, 64, &e.code_at(now())), 1);
    assert!(h.read_file("alice", ALICE).check().is_ok());
}

#[test]
fn sixty_four_logins_with_one_recovery_code_give_exactly_one_success() {
    let h = alice();
    let e = h.enroll("alice", ALICE, 5);
    assert_eq!(concurrent_successes(&h, 64, &e.recovery[2]), 1);
    assert_eq!(h.read_file("alice", ALICE).recovery_codes_left(), 4);
}

#[test]
fn sixty_four_logins_with_one_access_pass_give_exactly_one_success() {
    let h = alice();
    h.enroll("alice", ALICE, 0);
    let pass = generate(PASS_LEN).unwrap();
    let mut f = h.read_file("alice", ALICE);
    f.set_pass(&pass, now(), now() + 600, "root").unwrap();
    h.write_file("alice", ALICE, &f);
    assert_eq!(concurrent_successes(&h, 64, &grouped(&pass)), 1);
    assert!(h.read_file("alice", ALICE).pass.is_none());
}

/// An admin adds devices (read, modify, write under the lock, as the CLI does) while logins
/// use recovery codes: every device and every code use must survive.
#[test]
fn admin_changes_during_logins_lose_no_update() {
    let h = alice();
    let e = h.enroll("alice", ALICE, 12);
    let loc = h.location("alice", ALICE);
    let writer = std::thread::spawn(move || {
        for i in 0..12 {
            let store = twofold_core::store::SecretStore::open(&loc)
                .unwrap()
                .unwrap();
            let lock = store.lock().unwrap();
            let mut f = store.read().unwrap().unwrap();
            f.devices
                .push(device(&format!("tablet{i}"), &[i as u8; 20]));
            store.write(&lock, &f).unwrap();
            drop(lock);
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
    });
    let ok = h.concurrent_successes("alice", e.recovery.iter().map(|c| c.as_bytes()));
    writer.join().unwrap();
    let f = h.read_file("alice", ALICE);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let denials: Vec<_> = h
        .all_logs()
        .into_iter()
        .filter(|l| l.contains("result=deny"))
        .collect();
    assert_eq!(
        ok, 12,
        "every distinct recovery code logs in once; denials: {denials:#?}"
    );
    assert_eq!(f.recovery_codes_left(), 0, "every use was recorded");
    assert_eq!(f.devices.len(), 13, "every added device is still there");
}

/// alice controls her home: while logins run, she swaps her secret directory for a symlink to
/// a root-owned directory holding a secret file she cannot read. The module must never read
/// that file (its code never logs her in) nor write anything there.
#[test]
fn symlink_swaps_during_logins_never_reach_root_files() {
    let h = alice();
    let e = h.enroll("alice", ALICE, 0);
    // Root's directory, with a secret file for alice that alice cannot read.
    let root_dir = h.root.join("rootonly");
    std::fs::create_dir(&root_dir).unwrap();
    let mut root_secret = twofold_core::SecretFile::new();
    let planted = [7u8; 20];
    root_secret.devices.push(device("planted", &planted));
    std::fs::write(
        root_dir.join("secrets.toml"),
        root_secret.to_toml().unwrap().as_bytes(),
    )
    .unwrap();
    let before: Vec<_> = std::fs::read_dir(&root_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let before_bytes = std::fs::read(root_dir.join("secrets.toml")).unwrap();

    let dir = h.secret_path("alice").parent().unwrap().to_path_buf();
    let real = dir.with_file_name("twofold.real");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (dir, real, root_dir, stop) =
            (dir.clone(), real.clone(), root_dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(&dir, &real);
                let _ = symlink(&root_dir, &dir);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&dir);
                let _ = std::fs::rename(&real, &dir);
                swaps += 1;
            }
            swaps
        })
    };
    let planted_device = device("planted", &planted);
    let mut planted_wins = 0;
    for _ in 0..40 {
        let code = twofold_core::totp::code_at(&planted_device, now()).unwrap();
        if h.login("alice", code.as_bytes()).succeeded() {
            planted_wins += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 40, "the swapper ran ({swaps} swaps)");
    assert_eq!(
        planted_wins, 0,
        "the module read a root-owned file through a symlink"
    );
    let after: Vec<_> = std::fs::read_dir(&root_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        before, after,
        "the module created files in root's directory"
    );
    assert_eq!(
        std::fs::read(root_dir.join("secrets.toml")).unwrap(),
        before_bytes
    );
    // alice's own file was never damaged either.
    let _ = e;
    assert!(h.read_file("alice", ALICE).check().is_ok());
}
