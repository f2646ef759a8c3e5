//! RFC 6238 codes, with the replay rule on top: a device accepts each time step at most once,
//! and never a step at or before the last one it accepted.
//!
//! Every code value comes from totp-rs; this module adds the window and the replay rule.
//! The tests hold it to the RFC 6238 vectors, and (pam_module/tests/libpam.rs) to oathtool's.

use crate::secret::{Algorithm, Device};
use crate::UnixTime;
use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

/// What checking one code against one device found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The code belongs to this new time step.
    Fresh(u64),
    /// The code is right but its step was already used: a replay.
    Replayed,
    None,
}

fn engine(device: &Device) -> Result<Totp, String> {
    let key = device.secret.bytes()?;
    let alg = match device.algorithm {
        Algorithm::SHA1 => totp_rs::Algorithm::SHA1,
        Algorithm::SHA256 => totp_rs::Algorithm::SHA256,
        Algorithm::SHA512 => totp_rs::Algorithm::SHA512,
    };
    // Not `build()`: google-authenticator secrets are 80 bits, below totp-rs's 128-bit floor.
    Ok(Builder::new()
        .with_algorithm(alg)
        .with_digits(device.digits)
        .with_step_duration(device.period)
        .with_skew(0)
        .with_secret(Secret::new(key.to_vec().into_boxed_slice()))
        .build_noncompliant())
}

/// The code of `device` for the step that contains `time`.
pub fn code_at(device: &Device, time: UnixTime) -> Result<Zeroizing<String>, String> {
    Ok(Zeroizing::new(engine(device)?.generate(time).to_string()))
}

/// Checks `code` against every step within `window` of `now`; the earliest fresh match wins.
/// Every step of the window is computed, whatever matched.
pub fn check(device: &Device, code: &str, now: UnixTime, window: u8) -> Result<Match, String> {
    if code.len() != usize::from(device.digits) {
        return Ok(Match::None);
    }
    let totp = engine(device)?;
    let current = now / device.period;
    let mut fresh = None;
    let mut replayed = false;
    for step in current.saturating_sub(window.into())..=current + u64::from(window) {
        // totp-rs compares in constant time, and wipes its tokens.
        if totp
            .check(code, step.saturating_mul(device.period))
            .is_some()
        {
            if step > device.last_step {
                fresh.get_or_insert(step);
            } else {
                replayed = true;
            }
        }
    }
    Ok(match (fresh, replayed) {
        (Some(step), _) => Match::Fresh(step),
        (None, true) => Match::Replayed,
        (None, false) => Match::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretKey;

    fn device(alg: Algorithm, key: &[u8]) -> Device {
        Device {
            name: "t".into(),
            secret: SecretKey::from_bytes(key),
            algorithm: alg,
            digits: 8,
            period: 30,
            created: 0,
            last_step: 0,
            window: None,
        }
    }

    /// RFC 6238 appendix B: every published vector, for all three algorithms.
    #[test]
    fn rfc6238_test_vectors() {
        let sha1 = device(Algorithm::SHA1, b"12345678901234567890");
        let sha256 = device(Algorithm::SHA256, b"12345678901234567890123456789012");
        let sha512 = device(
            Algorithm::SHA512,
            b"1234567890123456789012345678901234567890123456789012345678901234",
        );
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, c1, c256, c512) in vectors {
            assert_eq!(*code_at(&sha1, t).unwrap(), c1, "SHA1 at {t}");
            assert_eq!(*code_at(&sha256, t).unwrap(), c256, "SHA256 at {t}");
            assert_eq!(*code_at(&sha512, t).unwrap(), c512, "SHA512 at {t}");
        }
    }

    /// `check` accepts the code shown for the moment, for every algorithm, digit count and
    /// period, over many steps, and nothing one digit off.
    #[test]
    fn check_accepts_the_code_shown_and_nothing_one_digit_off() {
        let keys: [&[u8]; 3] = [b"1234567890", &[0xff; 20], &[0x5a; 64]];
        for alg in [Algorithm::SHA1, Algorithm::SHA256, Algorithm::SHA512] {
            for key in keys {
                for digits in 6..=8 {
                    for period in [10, 30, 60] {
                        let mut d = device(alg, key);
                        d.digits = digits;
                        d.period = period;
                        for k in 0..40u64 {
                            let t = 1_700_000_000 + k * 7_919;
                            let code = code_at(&d, t).unwrap();
                            assert_eq!(code.len(), usize::from(digits));
                            let step = t / period;
                            assert_eq!(check(&d, &code, t, 0).unwrap(), Match::Fresh(step));
                            let mut off = code.to_string().into_bytes();
                            off[0] = if off[0] == b'9' { b'0' } else { off[0] + 1 };
                            let off = String::from_utf8(off).unwrap();
                            assert_eq!(check(&d, &off, t, 0).unwrap(), Match::None);
                        }
                    }
                }
            }
        }
    }

    /// RFC 6238 appendix B through `check`, not only through `code_at`.
    #[test]
    fn check_accepts_the_rfc6238_vectors() {
        let sha1 = device(Algorithm::SHA1, b"12345678901234567890");
        for (t, code) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(check(&sha1, code, t, 0).unwrap(), Match::Fresh(t / 30));
        }
        let sha512 = device(
            Algorithm::SHA512,
            b"1234567890123456789012345678901234567890123456789012345678901234",
        );
        assert_eq!(
            check(&sha512, "47863826", 20000000000, 0).unwrap(),
            Match::Fresh(20000000000 / 30)
        );
    }

    #[test]
    fn code_within_window_is_fresh_once_then_replayed() {
        let mut d = device(Algorithm::SHA1, b"12345678901234567890");
        let code = code_at(&d, 59).unwrap();
        assert_eq!(check(&d, &code, 59 + 30, 1).unwrap(), Match::Fresh(1));
        assert_eq!(check(&d, &code, 59 + 60, 1).unwrap(), Match::None);
        d.last_step = 1;
        assert_eq!(check(&d, &code, 59, 1).unwrap(), Match::Replayed);
    }

    /// A used step is a replay, and the steps either side of now are fresh until used.
    #[test]
    fn replay_and_window_rules_hold_either_side_of_now() {
        let mut d = device(Algorithm::SHA1, b"12345678901234567890");
        let t = 1_000_000_000;
        let step = t / 30;
        let now_code = code_at(&d, t).unwrap();
        let prev_code = code_at(&d, t - 30).unwrap();
        let next_code = code_at(&d, t + 30).unwrap();
        d.last_step = step - 2;
        assert_eq!(check(&d, &now_code, t, 1).unwrap(), Match::Fresh(step));
        assert_eq!(check(&d, &prev_code, t, 1).unwrap(), Match::Fresh(step - 1));
        assert_eq!(check(&d, &next_code, t, 1).unwrap(), Match::Fresh(step + 1));
        d.last_step = step;
        assert_eq!(check(&d, &now_code, t, 1).unwrap(), Match::Replayed);
        assert_eq!(check(&d, &prev_code, t, 1).unwrap(), Match::Replayed);
        assert_eq!(check(&d, &next_code, t, 1).unwrap(), Match::Fresh(step + 1));
        d.last_step = step + 1;
        assert_eq!(check(&d, &next_code, t, 1).unwrap(), Match::Replayed);
        assert_eq!(check(&d, &now_code, t, 0).unwrap(), Match::Replayed);
    }

    #[test]
    fn code_outside_window_is_rejected() {
        let d = device(Algorithm::SHA1, b"12345678901234567890");
        let code = code_at(&d, 1_000_000).unwrap();
        assert_eq!(check(&d, &code, 1_000_000 + 61, 1).unwrap(), Match::None);
        assert_eq!(
            check(&d, &code, 1_000_000 + 61, 2).unwrap(),
            Match::Fresh(1_000_000 / 30)
        );
    }
}
