//! Generators shared by the property tests: valid secret files of every shape, and files whose
//! recovery codes, scratch codes and pass are known in plain text (hashed with argon2 at
//! m_kib=8, t=1 so that a case costs microseconds, not the 50 ms of the real parameters).
#![allow(dead_code)]

use data_encoding::BASE64;
use proptest::prelude::*;
use twofold_core::codes::{ALPHABET, PASS_LEN, RECOVERY_LEN};
use twofold_core::kdf::{self, KdfParams, Purpose};
use twofold_core::secret::{
    AccessPass, Algorithm, Device, RecoveryCodes, SecretFile, SecretKey, State,
};
use zeroize::Zeroizing;

/// TOML's integers are signed 64-bit; the toml crate writes larger u64 values as well.
pub const MAX_TOML_INT: u64 = i64::MAX as u64;
/// A time field as a file may hold it: anything, but mostly near the epoch and now, where
/// the interesting comparisons are.
pub fn time() -> impl Strategy<Value = u64> {
    prop_oneof![0..=MAX_NOW, 0..=MAX_TOML_INT]
}
/// Realistic clocks: 1970 to 9999.
pub const MAX_NOW: u64 = 253_402_300_799;
pub const CHEAP: KdfParams = KdfParams {
    m_kib: 8,
    t: 1,
    p: 1,
};

pub fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::SHA1),
        Just(Algorithm::SHA256),
        Just(Algorithm::SHA512)
    ]
}

/// A device without its name (names come from a map's keys, so they are unique).
pub fn device_body() -> impl Strategy<Value = (Vec<u8>, Algorithm, u8, u64, u64, u64, Option<u8>)> {
    (
        prop::collection::vec(any::<u8>(), 10..=64),
        algorithm(),
        6u8..=8,
        10u64..=300,
        time(),
        0..=MAX_NOW / 10,
        prop::option::of(0u8..=10),
    )
}

pub fn devices() -> impl Strategy<Value = Vec<Device>> {
    prop::collection::btree_map("[A-Za-z0-9._-]{1,32}", device_body(), 0..=4).prop_map(|m| {
        m.into_iter()
            .map(
                |(name, (key, algorithm, digits, period, created, last_step, window))| Device {
                    name,
                    secret: SecretKey::from_bytes(&key),
                    algorithm,
                    digits,
                    period,
                    created,
                    last_step,
                    window,
                },
            )
            .collect()
    })
}

pub fn kdf_params() -> impl Strategy<Value = KdfParams> {
    (8u32..=65_536, 1u32..=10, 1u32..=4).prop_map(|(m_kib, t, p)| KdfParams { m_kib, t, p })
}

pub fn b64(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), len).prop_map(|b| BASE64.encode(&b))
}

/// Stored hashes with arbitrary (valid) parameters: for format tests, never hashed.
pub fn recovery_codes() -> impl Strategy<Value = RecoveryCodes> {
    (
        kdf_params(),
        b64(8..=64),
        prop::collection::vec(b64(32..=32), 0..=30),
        time(),
    )
        .prop_map(|(kdf, salt, hashes, created)| RecoveryCodes {
            kdf,
            salt,
            hashes,
            created,
        })
}

pub fn access_pass() -> impl Strategy<Value = AccessPass> {
    (
        kdf_params(),
        b64(8..=64),
        b64(32..=32),
        time(),
        time(),
        ".{0,40}",
    )
        .prop_map(|(kdf, salt, hash, issued, expires, issued_by)| AccessPass {
            kdf,
            salt,
            hash,
            issued,
            expires,
            issued_by,
        })
}

pub fn state() -> impl Strategy<Value = State> {
    (
        any::<u32>(),
        time(),
        prop::option::of(time()),
        prop::option::of(".{0,60}"),
        prop::option::of("[a-z]{0,10}"),
    )
        .prop_map(
            |(failures, throttled_until, last_login, last_login_from, last_login_method)| State {
                failures,
                throttled_until,
                last_login,
                last_login_from,
                last_login_method,
            },
        )
}

/// Any file that `SecretFile::check` accepts.
pub fn valid_file() -> impl Strategy<Value = SecretFile> {
    (
        devices(),
        prop::option::of(recovery_codes()),
        prop::option::of(access_pass()),
        prop::option::of(recovery_codes()),
        state(),
    )
        .prop_map(
            |(devices, recovery, pass, legacy_scratch, state)| SecretFile {
                version: twofold_core::secret::VERSION,
                devices,
                recovery,
                pass,
                legacy_scratch,
                state,
            },
        )
}

/// A code in canonical form with a valid check character, from 5-bit values.
pub fn code_of(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..32, len - 1).prop_map(|mut values| {
        values.push(check_value(&values));
        values
            .iter()
            .map(|v| ALPHABET[*v as usize] as char)
            .collect()
    })
}

/// Luhn mod 32, as `codes` computes it (an independent copy, so a change there is noticed).
pub fn check_value(values: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, v) in values.iter().rev().enumerate() {
        let addend = if i % 2 == 0 {
            2 * u32::from(*v)
        } else {
            u32::from(*v)
        };
        sum += addend / 32 + addend % 32;
    }
    ((32 - sum % 32) % 32) as u8
}

pub fn recovery_code() -> impl Strategy<Value = String> {
    code_of(RECOVERY_LEN)
}

pub fn pass_code() -> impl Strategy<Value = String> {
    code_of(PASS_LEN)
}

pub fn hashed(purpose: Purpose, salt: &[u8], plain: &[String]) -> RecoveryCodes {
    let hashes = plain
        .iter()
        .map(|c| {
            BASE64.encode(
                kdf::hash(CHEAP, purpose, salt, c)
                    .expect("cheap parameters are valid")
                    .as_ref(),
            )
        })
        .collect();
    RecoveryCodes {
        kdf: CHEAP,
        salt: BASE64.encode(salt),
        hashes,
        created: 0,
    }
}

/// A file whose credentials are known in plain text, and the time of the attempt. Throttling
/// and the pass's expiry fall near that time, so both sides of each rule are exercised.
#[derive(Debug, Clone)]
pub struct Known {
    pub file: SecretFile,
    pub recovery: Vec<String>,
    pub scratch: Vec<String>,
    pub pass: Option<String>,
    pub now: u64,
}

pub fn known_file() -> impl Strategy<Value = Known> {
    (
        devices(),
        prop::collection::vec(recovery_code(), 0..=4),
        prop::collection::vec("[0-9]{8}", 0..=3),
        prop::option::of((pass_code(), -1000i64..1000)),
        prop::collection::vec(any::<u8>(), 16..=16),
        (
            prop_oneof![0u32..=20, 90u32..=110],
            prop::option::of(-1000i64..1000),
        ),
        1000..=MAX_NOW - 1000,
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                devices,
                mut recovery,
                scratch,
                pass,
                salt,
                (failures, throttle),
                now,
                (twice_key, twice_code),
            )| {
                let mut file = SecretFile::new();
                file.devices = devices;
                // Sometimes a key enrolled twice, or a code stored twice: still one use each.
                if twice_key && !file.devices.is_empty() && file.device("key-copy").is_none() {
                    let mut copy = file.devices[0].clone();
                    copy.name = "key-copy".into();
                    copy.last_step = 0;
                    file.devices.push(copy);
                }
                if twice_code && !recovery.is_empty() {
                    recovery.push(recovery[0].clone());
                }
                if !recovery.is_empty() {
                    file.recovery = Some(hashed(Purpose::Recovery, &salt, &recovery));
                }
                if !scratch.is_empty() {
                    file.legacy_scratch = Some(hashed(Purpose::Scratch, &salt, &scratch));
                }
                if let Some((code, expires_in)) = &pass {
                    let h = kdf::hash(CHEAP, Purpose::Pass, &salt, code)
                        .expect("cheap parameters are valid");
                    file.pass = Some(AccessPass {
                        kdf: CHEAP,
                        salt: BASE64.encode(&salt),
                        hash: BASE64.encode(h.as_ref()),
                        issued: 0,
                        expires: now.saturating_add_signed(*expires_in),
                        issued_by: "root".into(),
                    });
                }
                file.state.failures = failures;
                file.state.throttled_until = throttle.map_or(0, |d| now.saturating_add_signed(d));
                Known {
                    file,
                    recovery,
                    scratch,
                    pass: pass.map(|(c, _)| c),
                    now,
                }
            },
        )
}

pub fn zeroizing(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}
