//! The whole verify step: a secret file as read from disk, what the person typed, and the
//! time (layout in `src/lib.rs`). Never panics, never accepts a code that does not match,
//! never accepts without recording the use, a denial never consumes a code, and the recorded
//! state refuses the same code again.
#![no_main]

use data_encoding::BASE64;
use libfuzzer_sys::fuzz_target;
use twofold_core::codes::{classify, Attempt};
use twofold_core::config::Config;
use twofold_core::kdf::{self, KdfParams, Purpose};
use twofold_core::secret::{RecoveryCodes, SecretFile};
use twofold_core::totp;
use twofold_core::verify::{decide, Origin};
use twofold_fuzz::Case;

/// argon2 runs once per recovery-code or pass attempt; files that ask for more than this are
/// skipped to keep executions fast (their cost is what the seeds' m_kib=8, t=1 keep low).
fn cheap(k: &KdfParams) -> bool {
    k.m_kib <= 64 && k.t <= 2
}

fn hash_b64(codes: &RecoveryCodes, purpose: Purpose, code: &str) -> String {
    let salt = BASE64.decode(codes.salt.as_bytes()).expect("checked salt");
    BASE64.encode(
        kdf::hash(codes.kdf, purpose, &salt, code)
            .expect("hash of an accepted code")
            .as_ref(),
    )
}

/// `after` is `before` less the hash of `code` (every copy of it), and nothing else.
fn one_code_used(
    before: &Option<RecoveryCodes>,
    after: &Option<RecoveryCodes>,
    purpose: Purpose,
    code: &str,
) {
    let (b, a) = (
        before.as_ref().expect("codes existed"),
        after.as_ref().expect("codes kept"),
    );
    let h = hash_b64(b, purpose, code);
    assert!(
        b.hashes.contains(&h),
        "the accepted code is one of the stored hashes"
    );
    let expected: Vec<String> = b.hashes.iter().filter(|x| **x != h).cloned().collect();
    assert_eq!(a.hashes, expected, "exactly the used code is removed");
    assert_eq!((&a.salt, a.kdf, a.created), (&b.salt, b.kdf, b.created));
}

fuzz_target!(|data: &[u8]| {
    let Some(case) = Case::split(data) else {
        return;
    };
    let Ok(file) = SecretFile::parse(case.file) else {
        return;
    };
    let kdfs = [
        file.recovery.as_ref().map(|r| r.kdf),
        file.legacy_scratch.as_ref().map(|r| r.kdf),
        file.pass.as_ref().map(|p| p.kdf),
    ];
    if kdfs.iter().flatten().any(|k| !cheap(k)) {
        return;
    }
    let config = Config::default();
    let origin = Origin {
        rhost: Some("192.0.2.1"),
        service: "fuzz",
    };
    let attempt = classify(case.typed);
    let d = decide(&file, &attempt, &config, case.now, &origin);

    if !d.accepted {
        if matches!(attempt, Attempt::Malformed(_)) {
            assert!(d.update.is_none(), "malformed input changed state");
        }
        if let Some(next) = &d.update {
            // A denial may count a failure; it never uses up or changes a credential.
            assert_eq!(next.devices, file.devices);
            assert_eq!(next.recovery, file.recovery);
            assert_eq!(next.legacy_scratch, file.legacy_scratch);
            assert_eq!(next.pass, file.pass);
            next.check().expect("the state to write is a valid file");
        }
        return;
    }

    let next = d
        .update
        .as_ref()
        .expect("an accepted code has its use recorded");
    next.check().expect("the state to write is a valid file");
    assert_eq!(next.state.failures, 0);
    match &attempt {
        Attempt::Totp(code) if d.method == "totp" => {
            let changed: Vec<usize> = (0..file.devices.len())
                .filter(|&i| file.devices[i].last_step != next.devices[i].last_step)
                .collect();
            assert!(!changed.is_empty(), "no device records the step");
            let key = &file.devices[changed[0]];
            let step = next.devices[changed[0]].last_step;
            let same_key = |d: &twofold_core::secret::Device| {
                (&d.secret, d.algorithm, d.digits, d.period)
                    == (&key.secret, key.algorithm, key.digits, key.period)
            };
            for (old, new) in file.devices.iter().zip(&next.devices) {
                if same_key(old) {
                    // Every copy of the key records the step, so none accepts the code again.
                    assert_eq!(
                        new.last_step,
                        old.last_step.max(step),
                        "a copy of the key forgot the step"
                    );
                } else {
                    assert_eq!(new, old, "a device with another key changed");
                }
            }
            assert!(changed.iter().all(|&i| file.devices[i].last_step < step));
            let in_window = |d: &twofold_core::secret::Device| {
                let w = u64::from(d.window.unwrap_or(config.window));
                let current = case.now / d.period;
                step + w >= current && step <= current + w
            };
            assert!(
                changed.iter().any(|&i| in_window(&file.devices[i])),
                "step outside the window"
            );
            let expected = totp::code_at(key, step * key.period).expect("valid device");
            assert_eq!(
                expected.as_str(),
                code.as_str(),
                "accepted a code that is not the device's"
            );
            assert_eq!(
                (&next.recovery, &next.legacy_scratch, &next.pass),
                (&file.recovery, &file.legacy_scratch, &file.pass)
            );
        }
        Attempt::Totp(code) => {
            assert_eq!(d.method, "recovery");
            assert!(file.devices.iter().all(|d| d.digits != 8));
            one_code_used(
                &file.legacy_scratch,
                &next.legacy_scratch,
                Purpose::Scratch,
                code,
            );
            assert_eq!(next.devices, file.devices);
        }
        Attempt::Recovery(code) => {
            one_code_used(&file.recovery, &next.recovery, Purpose::Recovery, code);
            assert_eq!((&next.devices, &next.pass), (&file.devices, &file.pass));
        }
        Attempt::Pass(code) => {
            let pass = file.pass.as_ref().expect("a pass was issued");
            let salt = BASE64.decode(pass.salt.as_bytes()).expect("checked salt");
            let h = kdf::hash(pass.kdf, Purpose::Pass, &salt, code).expect("hash");
            assert_eq!(
                BASE64.encode(h.as_ref()),
                pass.hash,
                "accepted a pass that does not match"
            );
            assert!(case.now < pass.expires, "accepted an expired pass");
            assert!(next.pass.is_none(), "the pass is used up");
            assert_eq!(
                (&next.devices, &next.recovery),
                (&file.devices, &file.recovery)
            );
        }
        Attempt::Malformed(_) => panic!("malformed input accepted"),
    }
    // What will be written reads back the same (or is refused at the write if too large).
    if let Ok(text) = next.to_toml() {
        assert_eq!(
            &SecretFile::parse(text.as_bytes()).expect("reads back"),
            next
        );
    }
    let again = decide(next, &attempt, &config, case.now, &origin);
    assert!(!again.accepted, "one code accepted twice: {}", again.reason);
});
