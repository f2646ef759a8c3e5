//! The decision for one attempt. No I/O: it takes the file as read, the attempt and the time,
//! and returns what to answer, why, and the new file to persist (if anything changes).

use crate::codes::Attempt;
use crate::config::Config;
use crate::kdf::{Precomputed, Purpose};
use crate::secret::{Device, SecretFile};
use crate::totp::{self, Match};
use crate::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub accepted: bool,
    /// totp, recovery, pass or none.
    pub method: &'static str,
    /// For the auth log: exactly why. Never a code, secret or hash.
    pub reason: String,
    /// For the person at the prompt, when there is something safe and useful to say.
    pub notice: Option<String>,
    /// The file to write back, when the attempt changed state.
    pub update: Option<SecretFile>,
}

impl Decision {
    fn deny(method: &'static str, reason: impl Into<String>) -> Decision {
        Decision {
            accepted: false,
            method,
            reason: reason.into(),
            notice: None,
            update: None,
        }
    }
}

/// Where the attempt comes from, recorded on success.
pub struct Origin<'a> {
    pub rhost: Option<&'a str>,
    pub service: &'a str,
}

// `[..].concat()`, not `format!`: one allocation, without the formatting machinery, for
// the texts every successful login builds (BENCHMARKS.md).
fn record_login(file: &mut SecretFile, now: UnixTime, origin: &Origin, method: &str) {
    file.state.failures = 0;
    file.state.throttled_until = 0;
    file.state.last_login = Some(now);
    file.state.last_login_from = Some(
        origin
            .rhost
            .filter(|h| !h.is_empty())
            .map_or_else(|| ["local (", origin.service, ")"].concat(), str::to_string),
    );
    file.state.last_login_method = Some(method.to_string());
}

pub fn decide(
    file: &SecretFile,
    attempt: &Attempt,
    config: &Config,
    now: UnixTime,
    origin: &Origin,
) -> Decision {
    decide_with(file, attempt, config, now, origin, None)
}

/// As [`decide`], reusing a hash computed by [`precompute`] where its salt still applies.
pub fn decide_with(
    file: &SecretFile,
    attempt: &Attempt,
    config: &Config,
    now: UnixTime,
    origin: &Origin,
    pre: Option<&Precomputed>,
) -> Decision {
    match attempt {
        Attempt::Malformed(why) => Decision::deny("none", format!("input refused: {why}")),
        Attempt::Totp(code) => decide_totp(file, code, config, now, origin, pre),
        Attempt::Recovery(code) => decide_recovery(file, code, now, origin, pre),
        Attempt::Pass(code) => decide_pass(file, code, now, origin, pre),
    }
}

/// The argon2 work an attempt will need, done from a copy of the file read without the lock.
/// `None` when the attempt needs no hashing (a TOTP code, malformed input, nothing stored, an
/// imported scratch code while app codes are paused or locked: `decide` refuses it unchecked).
pub fn precompute(
    file: &SecretFile,
    attempt: &Attempt,
    config: &Config,
    now: UnixTime,
) -> Option<Precomputed> {
    let (purpose, kdf, salt, code) = match attempt {
        Attempt::Recovery(code) => {
            let r = file.recovery.as_ref().filter(|r| !r.hashes.is_empty())?;
            (Purpose::Recovery, r.kdf, &r.salt, code)
        }
        Attempt::Pass(code) => {
            let p = file.pass.as_ref()?;
            (Purpose::Pass, p.kdf, &p.salt, code)
        }
        Attempt::Totp(code)
            if code.len() == 8
                && now >= file.state.throttled_until
                && file.state.failures < config.rate_limit.totp_lockout_after
                && !file.devices.iter().any(|d| d.digits == 8) =>
        {
            let s = file
                .legacy_scratch
                .as_ref()
                .filter(|s| !s.hashes.is_empty())?;
            (Purpose::Scratch, s.kdf, &s.salt, code)
        }
        _ => return None,
    };
    Precomputed::new(purpose, kdf, salt, code).ok()
}

fn same_key(a: &Device, b: &Device) -> bool {
    a.secret == b.secret
        && a.algorithm == b.algorithm
        && a.digits == b.digits
        && a.period == b.period
}

/// Removes the hash at `i` and any copy of it, so a code stored twice is still used once.
fn remove_every_copy(hashes: &mut Vec<String>, i: usize) {
    let used = hashes.remove(i);
    hashes.retain(|h| *h != used);
}

fn decide_totp(
    file: &SecretFile,
    code: &str,
    config: &Config,
    now: UnixTime,
    origin: &Origin,
    pre: Option<&Precomputed>,
) -> Decision {
    if file.state.failures >= config.rate_limit.totp_lockout_after {
        let mut d = Decision::deny(
            "totp",
            format!(
                "app codes locked after {} (code not checked); a recovery code, a pass or `twofold admin unlock` clears it",
                consecutive_failures(file.state.failures)
            ),
        );
        d.notice = Some(
            "Too many wrong codes: codes from your app are locked. Log in with a recovery code, or ask an administrator.".into(),
        );
        return d;
    }
    if now < file.state.throttled_until {
        let mut d = Decision::deny(
            "totp",
            format!(
                "throttled after {}, until {} (code not checked)",
                consecutive_failures(file.state.failures),
                crate::time::rfc3339(file.state.throttled_until)
            ),
        );
        let mins = (file.state.throttled_until - now).div_ceil(60);
        d.notice = Some(format!(
            "Too many wrong codes: codes from your app are paused for {mins} more minute(s). A recovery code still works."
        ));
        return d;
    }
    if file.devices.is_empty() && file.legacy_scratch.is_none() {
        return Decision::deny("totp", "no authenticator device is enrolled");
    }
    let mut replayed_on = None;
    for (i, device) in file.devices.iter().enumerate() {
        match totp::check(device, code, now, device.window.unwrap_or(config.window)) {
            Ok(Match::Fresh(step)) => {
                let mut next = file.clone();
                // Every entry holding this key records the step: a key enrolled twice (under
                // two names) would otherwise accept the code once per copy.
                for d in next.devices.iter_mut().filter(|d| same_key(d, device)) {
                    d.last_step = d.last_step.max(step);
                }
                debug_assert_eq!(next.devices[i].last_step, step);
                record_login(&mut next, now, origin, "totp");
                return Decision {
                    accepted: true,
                    method: "totp",
                    reason: ["code accepted (device ", device.name.as_str(), ")"].concat(),
                    notice: None,
                    update: Some(next),
                };
            }
            Ok(Match::Replayed) => replayed_on = Some(device.name.as_str()),
            Ok(Match::None) => {}
            Err(e) => return Decision::deny("totp", format!("device {}: {e}", device.name)),
        }
    }
    // Imported scratch codes are 8 digits: checked only when no device uses 8 digits, so a
    // TOTP code never costs an argon2 evaluation.
    if let Some(scratch) = file.legacy_scratch.as_ref().filter(|_| code.len() == 8) {
        if !file.devices.iter().any(|d| d.digits == 8) {
            match scratch.find(Purpose::Scratch, code, pre) {
                Ok(Some(i)) => {
                    let mut next = file.clone();
                    if let Some(s) = next.legacy_scratch.as_mut() {
                        remove_every_copy(&mut s.hashes, i);
                    }
                    record_login(&mut next, now, origin, "recovery");
                    return Decision {
                        accepted: true,
                        method: "recovery",
                        reason: "imported google-authenticator scratch code accepted".into(),
                        notice: Some("Scratch code accepted; it cannot be used again. Run `twofold recovery regenerate` for stronger codes.".into()),
                        update: Some(next),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    return Decision::deny("recovery", format!("scratch codes unreadable: {e}"))
                }
            }
        }
    }
    let mut next = file.clone();
    next.state.failures = next.state.failures.saturating_add(1);
    let delay = config.rate_limit.delay_after(next.state.failures);
    if delay > 0 {
        next.state.throttled_until = now + delay;
    }
    let why = match replayed_on {
        Some(name) => format!("code already used (replay, device {name})"),
        None => "wrong code".to_string(),
    };
    let throttle = if delay > 0 {
        format!("; TOTP paused for {delay} s")
    } else {
        String::new()
    };
    Decision {
        accepted: false,
        method: "totp",
        reason: format!(
            "{why}; {}{throttle}",
            consecutive_failures(next.state.failures)
        ),
        notice: None,
        update: Some(next),
    }
}

/// "1 consecutive failure", "2 consecutive failures".
fn consecutive_failures(n: u32) -> String {
    format!("{n} consecutive failure{}", if n == 1 { "" } else { "s" })
}

fn decide_recovery(
    file: &SecretFile,
    code: &str,
    now: UnixTime,
    origin: &Origin,
    pre: Option<&Precomputed>,
) -> Decision {
    let Some(rec) = file.recovery.as_ref().filter(|r| !r.hashes.is_empty()) else {
        return Decision::deny("recovery", "no recovery codes are left");
    };
    // One argon2id evaluation, however many codes remain.
    let i = match rec.find(Purpose::Recovery, code, pre) {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Decision::deny(
                "recovery",
                "recovery code does not match (wrong or already used)",
            )
        }
        Err(e) => return Decision::deny("recovery", format!("recovery codes unreadable: {e}")),
    };
    let mut next = file.clone();
    if let Some(r) = next.recovery.as_mut() {
        remove_every_copy(&mut r.hashes, i);
    }
    record_login(&mut next, now, origin, "recovery");
    let left = next.recovery_codes_left();
    Decision {
        accepted: true,
        method: "recovery",
        reason: format!("recovery code accepted, {left} left"),
        notice: Some(if left <= 2 {
            format!(
                "Recovery code accepted. Only {left} left: run `twofold recovery regenerate` now."
            )
        } else {
            format!("Recovery code accepted; it cannot be used again. {left} left.")
        }),
        update: Some(next),
    }
}

fn decide_pass(
    file: &SecretFile,
    code: &str,
    now: UnixTime,
    origin: &Origin,
    pre: Option<&Precomputed>,
) -> Decision {
    let Some(pass) = file.pass.as_ref() else {
        return Decision::deny("pass", "no temporary access pass is issued");
    };
    match pass.matches(code, pre) {
        Ok(true) => {}
        Ok(false) => return Decision::deny("pass", "temporary access pass does not match"),
        Err(e) => return Decision::deny("pass", format!("temporary access pass unreadable: {e}")),
    }
    if now >= pass.expires {
        return Decision::deny(
            "pass",
            format!(
                "temporary access pass expired at {}",
                crate::time::rfc3339(pass.expires)
            ),
        );
    }
    let mut next = file.clone();
    next.pass = None;
    record_login(&mut next, now, origin, "pass");
    Decision {
        accepted: true,
        method: "pass",
        reason: format!("temporary access pass accepted (issued by {})", pass.issued_by),
        notice: Some("Temporary access pass accepted; it is now used up. Run `twofold enroll --force` to set up your authenticator again.".into()),
        update: Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{classify, generate, grouped, RECOVERY_LEN};
    use crate::secret::SecretKey;
    use zeroize::Zeroizing;

    const NOW: UnixTime = 1_800_000_000;
    const ORIGIN: Origin = Origin {
        rhost: Some("192.0.2.7"),
        service: "sshd",
    };

    fn file() -> SecretFile {
        let mut f = SecretFile::new();
        f.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            0,
        ));
        f
    }

    fn code(f: &SecretFile, t: UnixTime) -> Attempt {
        classify(totp::code_at(&f.devices[0], t).unwrap().as_bytes())
    }

    #[test]
    fn valid_code_is_accepted_and_its_step_recorded() {
        let f = file();
        let d = decide(&f, &code(&f, NOW), &Config::default(), NOW, &ORIGIN);
        assert!(d.accepted, "{}", d.reason);
        let next = d.update.unwrap();
        assert_eq!(next.devices[0].last_step, NOW / 30);
        assert_eq!(next.state.last_login_from.as_deref(), Some("192.0.2.7"));
    }

    #[test]
    fn replayed_code_is_rejected() {
        let f = file();
        let first = decide(&f, &code(&f, NOW), &Config::default(), NOW, &ORIGIN)
            .update
            .unwrap();
        let d = decide(&first, &code(&f, NOW), &Config::default(), NOW + 5, &ORIGIN);
        assert!(!d.accepted);
        assert!(d.reason.contains("replay"), "{}", d.reason);
    }

    #[test]
    fn older_code_after_newer_one_is_a_replay() {
        let f = file();
        let after_next = decide(&f, &code(&f, NOW + 30), &Config::default(), NOW, &ORIGIN)
            .update
            .unwrap();
        let d = decide(
            &after_next,
            &code(&f, NOW),
            &Config::default(),
            NOW,
            &ORIGIN,
        );
        assert!(!d.accepted);
    }

    #[test]
    fn wrong_codes_throttle_totp_but_not_recovery_codes() {
        let config = Config::default();
        let mut f = file();
        let rc = generate(RECOVERY_LEN).unwrap();
        f.set_recovery_codes(std::slice::from_ref(&rc), 0).unwrap();
        let wrong = classify(b"000000");
        for _ in 0..config.rate_limit.free_failures {
            let d = decide(&f, &wrong, &config, NOW, &ORIGIN);
            assert!(!d.accepted);
            f = d.update.unwrap();
        }
        assert_eq!(f.state.throttled_until, NOW + 30);
        // Even the right code is refused (and not checked) while throttled.
        let d = decide(&f, &code(&f, NOW + 1), &config, NOW + 1, &ORIGIN);
        assert!(
            !d.accepted && d.reason.contains("throttled"),
            "{}",
            d.reason
        );
        assert!(d.update.is_none());
        // The owner still gets in with a recovery code, which clears the throttle.
        let d = decide(
            &f,
            &classify(grouped(&rc).as_bytes()),
            &config,
            NOW + 2,
            &ORIGIN,
        );
        assert!(d.accepted, "{}", d.reason);
        let f = d.update.unwrap();
        assert_eq!((f.state.failures, f.state.throttled_until), (0, 0));
        assert!(decide(&f, &code(&f, NOW + 3), &config, NOW + 3, &ORIGIN).accepted);
    }

    #[test]
    fn the_log_reason_counts_failures_in_good_english() {
        let f = file();
        let wrong = classify(b"000000");
        let d = decide(&f, &wrong, &Config::default(), NOW, &ORIGIN);
        assert_eq!(d.reason, "wrong code; 1 consecutive failure");
        let d = decide(&d.update.unwrap(), &wrong, &Config::default(), NOW, &ORIGIN);
        assert_eq!(d.reason, "wrong code; 2 consecutive failures");
    }

    /// A file with one imported google-authenticator scratch code, and that code typed.
    fn with_an_imported_scratch_code() -> (SecretFile, Attempt) {
        let mut f = file();
        let scratch = Zeroizing::new("12345678".to_string());
        f.set_legacy_scratch_codes(std::slice::from_ref(&scratch), 0)
            .unwrap();
        (f, classify(scratch.as_bytes()))
    }

    /// Imported google-authenticator scratch codes have 8 digits, about 27 bits: guessed
    /// without a limit they would fall in days, so they share the app codes' throttle and
    /// lock (as google-authenticator's RATE_LIMIT covered them too). Recovery codes (80 bits)
    /// are the way in that is never paused; `twofold import` and `status` say so.
    #[test]
    fn imported_scratch_codes_are_paused_and_locked_with_app_codes() {
        let config = Config::default();
        let (mut f, typed) = with_an_imported_scratch_code();
        f.state.failures = config.rate_limit.free_failures;
        f.state.throttled_until = NOW + 30;
        let d = decide(&f, &typed, &config, NOW, &ORIGIN);
        assert!(
            !d.accepted && d.reason.contains("throttled"),
            "{}",
            d.reason
        );
        f.state.throttled_until = 0;
        f.state.failures = config.rate_limit.totp_lockout_after;
        let d = decide(&f, &typed, &config, NOW, &ORIGIN);
        assert!(!d.accepted && d.reason.contains("locked"), "{}", d.reason);
        f.state.failures = 0;
        assert!(precompute(&f, &typed, &config, NOW).is_some());
        let d = decide(&f, &typed, &config, NOW, &ORIGIN);
        assert!(d.accepted, "{}", d.reason);
        let d = decide(&d.update.unwrap(), &typed, &config, NOW, &ORIGIN);
        assert!(!d.accepted, "single use");
    }

    /// Refused unchecked while paused or locked, so hashing it first would be argon2 spent
    /// for the attacker (NOTES.md: a wrong code must be the cheapest path).
    #[test]
    fn no_argon2_for_a_scratch_code_while_app_codes_are_paused_or_locked() {
        let config = Config::default();
        let (mut f, typed) = with_an_imported_scratch_code();
        assert!(precompute(&f, &typed, &config, NOW).is_some());
        f.state.failures = config.rate_limit.totp_lockout_after;
        assert!(precompute(&f, &typed, &config, NOW).is_none(), "locked");
        f.state.failures = config.rate_limit.totp_lockout_after + 7;
        assert!(precompute(&f, &typed, &config, NOW).is_none(), "locked");
        f.state.failures = config.rate_limit.free_failures;
        f.state.throttled_until = NOW + 30;
        assert!(precompute(&f, &typed, &config, NOW).is_none(), "paused");
    }

    #[test]
    fn recovery_code_works_once() {
        let mut f = file();
        let codes: Vec<_> = (0..10).map(|_| generate(RECOVERY_LEN).unwrap()).collect();
        f.set_recovery_codes(&codes, 0).unwrap();
        let typed = classify(grouped(&codes[3]).to_lowercase().as_bytes());
        let d = decide(&f, &typed, &Config::default(), NOW, &ORIGIN);
        assert!(d.accepted);
        let f = d.update.unwrap();
        assert_eq!(f.recovery_codes_left(), 9);
        let d = decide(&f, &typed, &Config::default(), NOW, &ORIGIN);
        assert!(!d.accepted && d.update.is_none());
    }

    #[test]
    fn pass_works_once_and_not_after_expiry() {
        let mut f = file();
        let p = generate(crate::codes::PASS_LEN).unwrap();
        f.set_pass(&p, NOW, NOW + 600, "root").unwrap();
        let typed = classify(grouped(&p).as_bytes());
        assert!(!decide(&f, &typed, &Config::default(), NOW + 600, &ORIGIN).accepted);
        let d = decide(&f, &typed, &Config::default(), NOW + 599, &ORIGIN);
        assert!(d.accepted);
        assert!(
            !decide(
                &d.update.unwrap(),
                &typed,
                &Config::default(),
                NOW + 599,
                &ORIGIN
            )
            .accepted
        );
    }

    #[test]
    fn recovery_code_does_not_open_a_pass_and_malformed_input_changes_nothing() {
        let f = file();
        let d = decide(&f, &classify(b"hello"), &Config::default(), NOW, &ORIGIN);
        assert!(!d.accepted && d.update.is_none());
        let d = decide(
            &f,
            &classify(grouped(&generate(RECOVERY_LEN).unwrap()).as_bytes()),
            &Config::default(),
            NOW,
            &ORIGIN,
        );
        assert!(!d.accepted && d.update.is_none());
    }

    #[test]
    fn hash_precomputed_before_a_regenerate_is_not_reused() {
        let mut f = file();
        let old = generate(RECOVERY_LEN).unwrap();
        f.set_recovery_codes(std::slice::from_ref(&old), 0).unwrap();
        let typed = classify(grouped(&old).as_bytes());
        let pre = precompute(&f, &typed, &Config::default(), NOW)
            .expect("recovery attempts are precomputed");
        // An admin regenerates while the person types: new salt, old code gone.
        let mut regenerated = f.clone();
        regenerated
            .set_recovery_codes(&[generate(RECOVERY_LEN).unwrap()], 1)
            .unwrap();
        let d = decide_with(
            &regenerated,
            &typed,
            &Config::default(),
            NOW,
            &ORIGIN,
            Some(&pre),
        );
        assert!(!d.accepted, "{}", d.reason);
        // Against the file it was computed from, it is used as is.
        assert!(decide_with(&f, &typed, &Config::default(), NOW, &ORIGIN, Some(&pre)).accepted);
    }

    #[test]
    fn totp_attempts_need_no_argon2() {
        let mut f = file();
        f.set_recovery_codes(&[generate(RECOVERY_LEN).unwrap()], 0)
            .unwrap();
        assert!(precompute(&f, &code(&f, NOW), &Config::default(), NOW).is_none());
    }

    #[test]
    fn app_codes_lock_after_the_limit_and_a_recovery_code_unlocks() {
        let config = Config::default();
        let mut f = file();
        let rc = generate(RECOVERY_LEN).unwrap();
        f.set_recovery_codes(std::slice::from_ref(&rc), 0).unwrap();
        f.state.failures = config.rate_limit.totp_lockout_after;
        let d = decide(&f, &code(&f, NOW), &config, NOW, &ORIGIN);
        assert!(!d.accepted && d.reason.contains("locked"), "{}", d.reason);
        assert!(d.update.is_none(), "a locked attempt is not even counted");
        let d = decide(
            &f,
            &classify(grouped(&rc).as_bytes()),
            &config,
            NOW,
            &ORIGIN,
        );
        assert!(d.accepted);
        assert!(decide(&d.update.unwrap(), &code(&f, NOW), &config, NOW, &ORIGIN).accepted);
    }

    #[test]
    fn a_key_enrolled_twice_accepts_each_code_once() {
        // Two entries with one key (the same QR code added under two names): the code must
        // not be accepted once per copy.
        let mut f = file();
        let mut copy = f.devices[0].clone();
        copy.name = "phone-again".into();
        f.devices.push(copy);
        let first = decide(&f, &code(&f, NOW), &Config::default(), NOW, &ORIGIN);
        assert!(first.accepted);
        let next = first.update.unwrap();
        let again = decide(&next, &code(&f, NOW), &Config::default(), NOW, &ORIGIN);
        assert!(!again.accepted, "{}", again.reason);
    }

    #[test]
    fn a_recovery_code_stored_twice_is_used_up_at_once() {
        let mut f = file();
        let rc = generate(RECOVERY_LEN).unwrap();
        f.set_recovery_codes(&[rc.clone(), rc.clone()], 0).unwrap();
        let typed = classify(rc.as_bytes());
        let first = decide(&f, &typed, &Config::default(), NOW, &ORIGIN);
        assert!(first.accepted);
        let next = first.update.unwrap();
        assert!(!decide(&next, &typed, &Config::default(), NOW, &ORIGIN).accepted);
    }
}
