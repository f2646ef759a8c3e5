//! RFC 6238 codes through totp-rs, with the replay rule on top: a device accepts each
//! time step at most once, and never a step at or before the last one it accepted.

use crate::secret::{Algorithm, Device};
use crate::UnixTime;
use subtle::ConstantTimeEq;
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

/// Checks `code` against every step within `window` of `now`. All steps are computed and
/// compared in constant time, so the time taken does not tell which step matched.
pub fn check(device: &Device, code: &str, now: UnixTime, window: u8) -> Result<Match, String> {
    if code.len() != usize::from(device.digits) {
        return Ok(Match::None);
    }
    let totp = engine(device)?;
    let current = now / device.period;
    let mut fresh = None;
    let mut replayed = false;
    for step in current.saturating_sub(window.into())..=current + u64::from(window) {
        let expected = Zeroizing::new(totp.generate(step * device.period).to_string());
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
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

    #[test]
    fn code_within_window_is_fresh_once_then_replayed() {
        let mut d = device(Algorithm::SHA1, b"12345678901234567890");
        let code = code_at(&d, 59).unwrap();
        assert_eq!(check(&d, &code, 59 + 30, 1).unwrap(), Match::Fresh(1));
        assert_eq!(check(&d, &code, 59 + 60, 1).unwrap(), Match::None);
        d.last_step = 1;
        assert_eq!(check(&d, &code, 59, 1).unwrap(), Match::Replayed);
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
