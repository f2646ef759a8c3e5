//! Secret files written by twofold 0.1.0 (format version 1, its own hand-written writer) are
//! still read, field for field, by the `toml` crate reader, and written back readable.

use twofold_core::kdf::Purpose;
use twofold_core::secret::{Algorithm, SecretFile};

const FIXTURE: &str = include_str!("fixtures/v1-release-0.1.0.toml");

#[test]
fn a_file_written_by_release_0_1_0_is_read_field_for_field() {
    let file = SecretFile::parse(FIXTURE.as_bytes()).unwrap();
    assert_eq!(file.version, 1);
    let phone = file.device("phone").unwrap();
    assert_eq!(
        phone.secret.bytes().unwrap().as_slice(),
        b"12345678901234567890"
    );
    assert_eq!(
        (
            phone.algorithm,
            phone.digits,
            phone.period,
            phone.created,
            phone.last_step,
            phone.window
        ),
        (Algorithm::SHA1, 6, 30, 1_764_000_000, 0, None)
    );
    let tablet = file.device("tablet").unwrap();
    assert_eq!(
        (
            tablet.algorithm,
            tablet.digits,
            tablet.period,
            tablet.last_step,
            tablet.window
        ),
        (Algorithm::SHA256, 8, 60, 29_400_000, Some(2))
    );
    let recovery = file.recovery.as_ref().unwrap();
    assert_eq!(recovery.hashes.len(), 3);
    assert_eq!(
        recovery
            .find(Purpose::Recovery, "5TBZJBUAPXFTSRL3", None)
            .unwrap(),
        Some(1)
    );
    let pass = file.pass.as_ref().unwrap();
    assert_eq!(
        (pass.expires, pass.issued_by.as_str()),
        (4_102_444_800, "root")
    );
    assert!(pass.matches("FGT5M2M7KWVQJ9UKR2BN", None).unwrap());
    let scratch = file.legacy_scratch.as_ref().unwrap();
    assert_eq!(
        scratch.find(Purpose::Scratch, "12345678", None).unwrap(),
        Some(0)
    );
    assert_eq!(file.state.failures, 2);
    assert_eq!(file.state.throttled_until, 1_764_000_300);
    assert_eq!(file.state.last_login, Some(1_764_000_200));
    assert_eq!(file.state.last_login_from.as_deref(), Some("192.0.2.1"));
    assert_eq!(file.state.last_login_method.as_deref(), Some("totp"));
}

#[test]
fn a_file_written_by_release_0_1_0_is_written_back_readable_and_unchanged() {
    let file = SecretFile::parse(FIXTURE.as_bytes()).unwrap();
    let text = file.to_toml().unwrap();
    assert_eq!(SecretFile::parse(text.as_bytes()).unwrap(), file);
}
