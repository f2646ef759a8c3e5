//! Properties of `verify::decide`: it never panics; it never accepts a code that does not
//! match (checked against an independent model); an accepted code is recorded and never
//! accepted again; a denial never uses up a credential.

mod proptest_strategies;

use proptest::prelude::*;
use proptest_strategies::*;
use twofold_core::codes::{classify, grouped, Attempt};
use twofold_core::config::Config;
use twofold_core::secret::SecretFile;
use twofold_core::totp;
use twofold_core::verify::{decide, Decision, Origin};

const ORIGIN: Origin = Origin {
    rhost: Some("192.0.2.7"),
    service: "sshd",
};

/// What a person types: right codes (any device's code near now, the known recovery codes,
/// scratch codes and pass) and wrong ones, spelled as people spell them.
fn typed_for(k: &Known) -> impl Strategy<Value = String> {
    let mut right: Vec<String> = Vec::new();
    for d in &k.file.devices {
        for delta in -2i64..=2 {
            let t = k.now.saturating_add_signed(delta * d.period as i64);
            right.push(totp::code_at(d, t).unwrap().to_string());
        }
    }
    right.extend(k.recovery.iter().map(|c| grouped(c).to_lowercase()));
    right.extend(k.scratch.iter().cloned());
    right.extend(k.pass.iter().map(|p| grouped(p)));
    let wrong = prop_oneof![
        "[0-9]{6,8}".prop_map(String::from),
        recovery_code(),
        pass_code(),
        ".{0,20}".prop_map(String::from),
    ];
    if right.is_empty() {
        wrong.boxed()
    } else {
        prop_oneof![prop::sample::select(right), wrong].boxed()
    }
}

/// Anything at all, and things shaped like each kind of code.
fn any_typing() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        "[0-9]{6,8}".prop_map(String::into_bytes),
        recovery_code().prop_map(String::into_bytes),
        pass_code().prop_map(String::into_bytes),
    ]
}

fn scenario() -> impl Strategy<Value = (Known, String)> {
    known_file().prop_flat_map(|k| {
        let typed = typed_for(&k);
        (Just(k), typed)
    })
}

/// The independent model: may `decide` accept `attempt` for `k` at `now`?
fn may_accept(k: &Known, file: &SecretFile, attempt: &Attempt, now: u64, config: &Config) -> bool {
    match attempt {
        Attempt::Totp(code) => {
            if now < file.state.throttled_until
                || file.state.failures >= config.rate_limit.totp_lockout_after
            {
                return false;
            }
            let device_match = file.devices.iter().any(|d| {
                let w = u64::from(d.window.unwrap_or(config.window));
                let current = now / d.period;
                (current.saturating_sub(w)..=current + w).any(|s| {
                    s > d.last_step
                        && totp::code_at(d, s * d.period).unwrap().as_str() == code.as_str()
                })
            });
            let scratch = file.legacy_scratch.is_some()
                && !file.devices.iter().any(|d| d.digits == 8)
                && k.scratch.iter().any(|s| s == code.as_str());
            device_match || scratch
        }
        Attempt::Recovery(code) => {
            file.recovery.is_some() && k.recovery.iter().any(|c| c == code.as_str())
        }
        Attempt::Pass(code) => {
            file.pass.as_ref().is_some_and(|p| now < p.expires)
                && k.pass.as_deref() == Some(code.as_str())
        }
        Attempt::Malformed(_) => false,
    }
}

fn credentials(f: &SecretFile) -> impl PartialEq + std::fmt::Debug + '_ {
    (&f.devices, &f.recovery, &f.legacy_scratch, &f.pass)
}

fn run(file: &SecretFile, attempt: &Attempt, now: u64) -> Decision {
    decide(file, attempt, &Config::default(), now, &ORIGIN)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decide_never_panics(file in valid_file(), typed in any_typing(), now in 0..=MAX_NOW) {
        let mut file = file;
        // Real argon2 parameters would make a case take seconds; the format allows these.
        for codes in [&mut file.recovery, &mut file.legacy_scratch].into_iter().flatten() {
            codes.kdf = CHEAP;
        }
        if let Some(p) = &mut file.pass {
            p.kdf = CHEAP;
        }
        let _ = run(&file, &classify(&typed), now);
    }

    #[test]
    fn only_matching_codes_are_accepted_and_never_twice((k, typed) in scenario(), later in 0u64..90) {
        let attempt = classify(typed.as_bytes());
        let config = Config::default();
        let d = run(&k.file, &attempt, k.now);
        prop_assert!(!d.accepted || may_accept(&k, &k.file, &attempt, k.now, &config), "accepted a non-matching code: {}", d.reason);
        if !d.accepted {
            if let Some(next) = &d.update {
                prop_assert_eq!(credentials(next), credentials(&k.file), "a denial changed a credential");
            }
            return Ok(());
        }
        let next = d.update.expect("an accepted code has its use recorded");
        prop_assert!(next.check().is_ok());
        // The recorded state refuses the same code, now and for the rest of its window.
        for t in [k.now, k.now + later] {
            let again = run(&next, &attempt, t);
            prop_assert!(!again.accepted, "one code accepted twice ({} then {})", d.reason, again.reason);
        }
    }

    #[test]
    fn a_right_code_is_accepted_unless_throttled_expired_or_replayed((k, typed) in scenario()) {
        let attempt = classify(typed.as_bytes());
        let d = run(&k.file, &attempt, k.now);
        if may_accept(&k, &k.file, &attempt, k.now, &Config::default()) {
            prop_assert!(d.accepted, "{}", d.reason);
        }
    }

    #[test]
    fn using_one_recovery_code_leaves_the_others_usable(k in known_file().prop_filter("two codes or more", |k| k.recovery.len() >= 2)) {
        let first = classify(k.recovery[0].as_bytes());
        let d = run(&k.file, &first, k.now);
        prop_assert!(d.accepted, "{}", d.reason);
        let next = d.update.unwrap();
        let copies = k.recovery.iter().filter(|c| **c == k.recovery[0]).count();
        prop_assert_eq!(next.recovery_codes_left(), k.recovery.len() - copies);
        for other in k.recovery.iter().filter(|c| **c != k.recovery[0]) {
            prop_assert!(run(&next, &classify(other.as_bytes()), k.now).accepted);
        }
        prop_assert!(!run(&next, &first, k.now).accepted);
    }
}
