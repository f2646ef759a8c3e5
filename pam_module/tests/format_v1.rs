//! The module accepts codes against a secret file written by twofold 0.1.0 (format version 1,
//! core/tests/fixtures/v1-release-0.1.0.toml), as committed, byte for byte.

mod common;
use common::*;
use twofold_core::secret::SecretFile;

const ALICE: u32 = 4242;
const FIXTURE: &[u8] = include_bytes!("../../core/tests/fixtures/v1-release-0.1.0.toml");

#[test]
fn a_file_written_by_release_0_1_0_accepts_its_codes() {
    let mut h = Host::new();
    h.user("alice", ALICE);
    // The directories and an owned 0600 file, then the fixture's bytes in it.
    h.write_file("alice", ALICE, &SecretFile::parse(FIXTURE).unwrap());
    std::fs::write(h.secret_path("alice"), FIXTURE).unwrap();

    let phone = device("phone", b"12345678901234567890");
    let t = now();
    let code = twofold_core::totp::code_at(&phone, t).unwrap();
    h.login("alice", code.as_bytes())
        .assert_success()
        .assert_log("method=totp result=success");
    h.login("alice", b"4WMW-XQUV-QDTX-QULA")
        .assert_success()
        .assert_log("method=recovery result=success");
    let after = h.read_file("alice", ALICE);
    assert_eq!(after.recovery_codes_left(), 2);
    assert_eq!(after.device("phone").unwrap().last_step, t / 30);
}
