//! Used single-use items, each by a name of its own, for a store that keeps them as separate
//! records beside the state (the directory backend: one child entry per used item, which
//! replication merges where it would replace a single state value written on two servers).
//!
//! Pure, no I/O. A name says which item was used, never the item: a TOTP step is named by
//! a hash of its device's key (algorithm, digits and period included, as `verify` compares
//! keys) and the step number; a recovery code, an imported scratch code or a pass by a hash
//! of its stored argon2id hash and salt. SHA-256, cut to 128 bits; domain-separated. The
//! same item always gets the same name, so two hosts that use it record the same name, and
//! the store refuses the second record.
//!
//! - [`forget_used`]: the state with every item a record names taken out (a used step
//!   raises its device's `last_step`), so `decide` refuses them as it refuses any used item.
//! - [`consumed`]: the items a decision used, compared with the state it was taken on: the
//!   records to write before the state.
//! - [`prunable`]: records that can go, because nothing they name can be accepted again.

use crate::secret::{AccessPass, Device, RecoveryCodes, SecretFile};
use crate::UnixTime;
use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// How long a used TOTP step's record is kept: the step can no longer be accepted by then
/// (10 steps of 300 s either side, at most, plus any clock difference under an hour).
pub const STEP_RETENTION: UnixTime = 3 * 3600;
/// How long a used recovery code's, scratch code's or pass's record is kept once the state
/// holds that item no more: a year. A state that still holds the item can come back only from
/// a server that missed its use (two writable servers cut from each other, the one written
/// last wins the entry); a split longer than this is outside the guarantee.
pub const CODE_RETENTION: UnixTime = 366 * 24 * 3600;
/// Records deleted at most per commit: more than the one a login adds, so they shrink.
pub const PRUNE_PER_COMMIT: usize = 2;

/// A used item's record as the store holds it: its name and when the store created it
/// (`None`: unknown, kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub created: Option<UnixTime>,
}

fn digest(tag: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    HEXLOWER.encode(&h.finalize()[..16])
}

/// The name of a device's key, the same for every entry holding that key.
pub fn key_name(d: &Device) -> String {
    digest(
        "twofold-used-key-v1",
        &[
            d.secret.base32(),
            d.algorithm.as_str(),
            &d.digits.to_string(),
            &d.period.to_string(),
        ],
    )
}

/// The name of step `step` of `d`'s key: `t-KEY-STEP`.
pub fn step_name(d: &Device, step: u64) -> String {
    format!("t-{}-{step}", key_name(d))
}

/// The name of the stored hash `hash` of a recovery code set: `r-HASH`.
pub fn recovery_name(set: &RecoveryCodes, hash: &str) -> String {
    format!(
        "r-{}",
        digest("twofold-used-recovery-v1", &[&set.salt, hash])
    )
}

/// The name of the stored hash `hash` of imported scratch codes: `s-HASH`.
pub fn scratch_name(set: &RecoveryCodes, hash: &str) -> String {
    format!(
        "s-{}",
        digest("twofold-used-scratch-v1", &[&set.salt, hash])
    )
}

/// The name of a pass: `p-HASH`.
pub fn pass_name(pass: &AccessPass) -> String {
    format!(
        "p-{}",
        digest("twofold-used-pass-v1", &[&pass.salt, &pass.hash])
    )
}

/// Whether `name` has the form of a record's name (what a store accepts as one).
pub fn valid_name(name: &str) -> bool {
    let hex = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match name.split_once('-') {
        Some(("r" | "s" | "p", h)) => hex(h) && h.bytes().all(|b| !b.is_ascii_uppercase()),
        Some(("t", rest)) => match rest.split_once('-') {
            Some((k, step)) => {
                hex(k)
                    && k.bytes().all(|b| !b.is_ascii_uppercase())
                    && !step.is_empty()
                    && step.len() <= 20
                    && step.bytes().all(|b| b.is_ascii_digit())
                    && step.parse::<u64>().is_ok()
            }
            None => false,
        },
        _ => false,
    }
}

/// The names, sorted into what each kind of item looks up.
struct Names<'a> {
    items: HashSet<&'a str>,
    /// The highest used step of each key.
    steps: HashMap<&'a str, u64>,
}

fn sort<'a>(names: impl IntoIterator<Item = &'a str>) -> Names<'a> {
    let mut items = HashSet::new();
    let mut steps: HashMap<&str, u64> = HashMap::new();
    for name in names {
        if let Some(rest) = name.strip_prefix("t-") {
            if let Some((key, step)) = rest.split_once('-') {
                if let Ok(step) = step.parse::<u64>() {
                    let max = steps.entry(key).or_default();
                    *max = (*max).max(step);
                }
            }
        } else {
            items.insert(name);
        }
    }
    Names { items, steps }
}

/// `file` without the items `names` record as used: their hashes and pass removed, and each
/// device's `last_step` raised to the highest used step of its key (as if the state itself
/// had recorded those uses; steps up to it are then replays, as after any login).
pub fn forget_used<'a>(file: &SecretFile, names: impl IntoIterator<Item = &'a str>) -> SecretFile {
    let names = sort(names);
    let mut out = file.clone();
    if names.items.is_empty() && names.steps.is_empty() {
        return out;
    }
    for d in &mut out.devices {
        if let Some(step) = names.steps.get(key_name(d).as_str()) {
            d.last_step = d.last_step.max(*step);
        }
    }
    if let Some(r) = out.recovery.as_mut() {
        let salt = r.salt.clone();
        r.hashes.retain(|h| {
            let name = format!("r-{}", digest("twofold-used-recovery-v1", &[&salt, h]));
            !names.items.contains(name.as_str())
        });
    }
    if let Some(s) = out.legacy_scratch.as_mut() {
        let salt = s.salt.clone();
        s.hashes.retain(|h| {
            let name = format!("s-{}", digest("twofold-used-scratch-v1", &[&salt, h]));
            !names.items.contains(name.as_str())
        });
    }
    if out
        .pass
        .as_ref()
        .is_some_and(|p| names.items.contains(pass_name(p).as_str()))
    {
        out.pass = None;
    }
    out
}

/// The items `after` used of those `before` held: a device whose `last_step` went up (its
/// new step), a stored hash gone from the same set (same salt), a pass gone. A set or pass
/// replaced by another is not "used". Each name once.
pub fn consumed(before: &SecretFile, after: &SecretFile) -> Vec<String> {
    let mut names = Vec::new();
    for a in &after.devices {
        let grew = before
            .devices
            .iter()
            .any(|b| b.name == a.name && key_name(b) == key_name(a) && a.last_step > b.last_step);
        if grew {
            names.push(step_name(a, a.last_step));
        }
    }
    let gone = |b: &Option<RecoveryCodes>,
                a: &Option<RecoveryCodes>,
                name: fn(&RecoveryCodes, &str) -> String| {
        match (b, a) {
            (Some(b), Some(a)) if a.salt == b.salt => (b.hashes.iter())
                .filter(|h| !a.hashes.contains(h))
                .map(|h| name(b, h))
                .collect(),
            _ => Vec::new(),
        }
    };
    names.extend(gone(&before.recovery, &after.recovery, recovery_name));
    names.extend(gone(
        &before.legacy_scratch,
        &after.legacy_scratch,
        scratch_name,
    ));
    if let (Some(p), None) = (&before.pass, &after.pass) {
        names.push(pass_name(p));
    }
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Records that can be deleted now that `file` is the state, oldest first, at most
/// `PRUNE_PER_COMMIT`: a step's record `STEP_RETENTION` after it was made (no host accepts
/// that step any more, whatever the state); any other record `CODE_RETENTION` after it was
/// made, and only if `file` no longer holds its item. A record of unknown age, or whose
/// name is not one of ours, is kept.
pub fn prunable<'a>(records: &'a [Record], file: &SecretFile, now: UnixTime) -> Vec<&'a str> {
    let mut held: HashSet<String> = HashSet::new();
    if let Some(r) = &file.recovery {
        held.extend(r.hashes.iter().map(|h| recovery_name(r, h)));
    }
    if let Some(s) = &file.legacy_scratch {
        held.extend(s.hashes.iter().map(|h| scratch_name(s, h)));
    }
    if let Some(p) = &file.pass {
        held.insert(pass_name(p));
    }
    let mut old: Vec<(&Record, UnixTime)> = records
        .iter()
        .filter(|r| valid_name(&r.name))
        .filter_map(|r| {
            let created = r.created?;
            let keep_for = if r.name.starts_with("t-") {
                STEP_RETENTION
            } else if held.contains(&r.name) {
                return None;
            } else {
                CODE_RETENTION
            };
            (created.saturating_add(keep_for) < now).then_some((r, created))
        })
        .collect();
    old.sort_by_key(|(r, created)| (*created, r.name.as_str()));
    old.into_iter()
        .take(PRUNE_PER_COMMIT)
        .map(|(r, _)| r.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{classify, generate, grouped, PASS_LEN, RECOVERY_LEN};
    use crate::config::Config;
    use crate::secret::SecretKey;
    use crate::totp;
    use crate::verify::{decide, Origin};
    use zeroize::Zeroizing;

    const NOW: UnixTime = 1_800_000_000;
    const ORIGIN: Origin = Origin {
        rhost: Some("192.0.2.7"),
        service: "sshd",
    };

    /// A device, ten recovery codes and a pass, with the codes as typed.
    fn enrolled() -> (SecretFile, Vec<Zeroizing<String>>, Zeroizing<String>) {
        let mut f = SecretFile::new();
        f.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            0,
        ));
        let codes: Vec<_> = (0..10).map(|_| generate(RECOVERY_LEN).unwrap()).collect();
        f.set_recovery_codes(&codes, 0).unwrap();
        let pass = generate(PASS_LEN).unwrap();
        f.set_pass(&pass, NOW, NOW + 600, "root").unwrap();
        (f, codes, pass)
    }

    fn totp_at(f: &SecretFile, t: UnixTime) -> crate::codes::Attempt {
        classify(totp::code_at(&f.devices[0], t).unwrap().as_bytes())
    }

    /// What a directory login does: forget what the records name, decide, and the names
    /// the decision used.
    fn login(
        state: &SecretFile,
        records: &[String],
        attempt: &crate::codes::Attempt,
        now: UnixTime,
    ) -> (bool, Option<SecretFile>, Vec<String>) {
        let seen = forget_used(state, records.iter().map(String::as_str));
        let d = decide(&seen, attempt, &Config::default(), now, &ORIGIN);
        let used = d.update.as_ref().map_or(Vec::new(), |n| consumed(&seen, n));
        (d.accepted, d.update, used)
    }

    /// Two servers split: each side starts from the same state and accepts an item; the
    /// records of both sides survive the merge, the state of one side only. Whichever state
    /// wins, every item used on either side is refused after the merge.
    #[test]
    fn items_used_on_either_side_of_a_split_stay_used_whichever_state_wins() {
        let (start, codes, pass) = enrolled();
        let rc = |i: usize| classify(grouped(&codes[i]).as_bytes());
        let typed_pass = || classify(grouped(&pass).as_bytes());
        // Side 1: recovery code 0 and the pass; side 2: recovery code 1 and a TOTP step.
        let mut side1 = (start.clone(), Vec::new());
        for attempt in [rc(0), typed_pass()] {
            let (ok, new, used) = login(&side1.0, &side1.1, &attempt, NOW);
            assert!(ok);
            assert_eq!(used.len(), 1, "one record per accepted item");
            side1 = (new.unwrap(), [side1.1, used].concat());
        }
        let mut side2 = (start.clone(), Vec::new());
        for attempt in [rc(1), totp_at(&start, NOW)] {
            let (ok, new, used) = login(&side2.0, &side2.1, &attempt, NOW);
            assert!(ok);
            assert_eq!(used.len(), 1);
            side2 = (new.unwrap(), [side2.1, used].concat());
        }
        let records = [side1.1.clone(), side2.1.clone()].concat();
        for winner in [&side1.0, &side2.0, &start] {
            for attempt in [rc(0), rc(1), typed_pass(), totp_at(&start, NOW)] {
                let (ok, _, _) = login(winner, &records, &attempt, NOW + 10);
                assert!(!ok, "an item used before the merge was accepted again");
            }
            // Unused items still work.
            assert!(login(winner, &records, &rc(2), NOW + 10).0);
            assert!(login(winner, &records, &totp_at(&start, NOW + 30), NOW + 30).0);
        }
    }

    #[test]
    fn a_used_step_refuses_it_and_every_earlier_step_of_that_key() {
        let (f, _, _) = enrolled();
        let step = NOW / 30;
        let mut copy = f.devices[0].clone();
        copy.name = "phone-again".into();
        let mut two = f.clone();
        two.devices.push(copy);
        let seen = forget_used(&two, [step_name(&f.devices[0], step).as_str()]);
        assert!(
            seen.devices.iter().all(|d| d.last_step == step),
            "every entry of the key"
        );
        for t in [NOW - 30, NOW] {
            let d = decide(&seen, &totp_at(&f, t), &Config::default(), NOW, &ORIGIN);
            assert!(!d.accepted && d.reason.contains("replay"), "{}", d.reason);
        }
        assert!(
            decide(
                &seen,
                &totp_at(&f, NOW + 30),
                &Config::default(),
                NOW,
                &ORIGIN
            )
            .accepted
        );
        // A record never lowers a step the state holds.
        let mut ahead = f.clone();
        ahead.devices[0].last_step = step + 5;
        let seen = forget_used(&ahead, [step_name(&f.devices[0], step).as_str()]);
        assert_eq!(seen.devices[0].last_step, step + 5);
    }

    #[test]
    fn names_are_stable_distinct_and_reveal_nothing() {
        let (f, codes, pass) = enrolled();
        let r = f.recovery.as_ref().unwrap();
        let p = f.pass.as_ref().unwrap();
        let d = &f.devices[0];
        // The same item, the same name: after a round trip through the file format too.
        let again = SecretFile::parse(f.to_toml().unwrap().as_bytes()).unwrap();
        let r2 = again.recovery.as_ref().unwrap();
        assert_eq!(
            recovery_name(r, &r.hashes[0]),
            recovery_name(r2, &r2.hashes[0])
        );
        assert_eq!(pass_name(p), pass_name(again.pass.as_ref().unwrap()));
        assert_eq!(step_name(d, 7), step_name(&again.devices[0], 7));
        // Pinned: a change to the names would forget every record written before it.
        assert_eq!(
            key_name(d),
            digest(
                "twofold-used-key-v1",
                &["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "SHA1", "6", "30"]
            )
        );
        assert_eq!(key_name(d), "83b43df360ecdf6f664ef01678282c68");
        let mut all: Vec<String> = r.hashes.iter().map(|h| recovery_name(r, h)).collect();
        all.extend(r.hashes.iter().map(|h| scratch_name(r, h)));
        all.push(pass_name(p));
        all.push(step_name(d, 7));
        all.push(step_name(d, 8));
        let mut longer = d.clone();
        longer.digits = 8;
        all.push(step_name(&longer, 7));
        for name in &all {
            assert!(valid_name(name), "{name}");
            for secret in codes.iter().map(|c| c.as_str()).chain([
                pass.as_str(),
                d.secret.base32(),
                r.salt.as_str(),
                r.hashes[0].as_str(),
            ]) {
                assert!(!name.contains(secret) && !name.contains(&secret.to_lowercase()));
            }
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        for bad in [
            "",
            "r-",
            "x-00",
            "r-ABCDEF0123456789abcdef0123456789",
            "t-00-1",
            "t-b3d5a0ad6a0fba7bf1d3e7bc84c6f99a-",
            "t-b3d5a0ad6a0fba7bf1d3e7bc84c6f99a-99999999999999999999",
            "r-0123456789abcdef0123456789abcdef,uid=x",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_refusal_or_a_replaced_set_uses_nothing() {
        let (f, _, _) = enrolled();
        let d = decide(&f, &classify(b"000000"), &Config::default(), NOW, &ORIGIN);
        assert!(
            consumed(&f, &d.update.unwrap()).is_empty(),
            "a wrong code uses nothing"
        );
        let mut regenerated = f.clone();
        regenerated
            .set_recovery_codes(&[generate(RECOVERY_LEN).unwrap()], 1)
            .unwrap();
        regenerated
            .set_pass(&generate(PASS_LEN).unwrap(), NOW, NOW + 60, "root")
            .unwrap();
        assert!(consumed(&f, &regenerated).is_empty());
    }

    #[test]
    fn records_go_only_once_nothing_they_name_can_be_accepted_and_a_few_at_a_time() {
        let (f, _, _) = enrolled();
        let r = f.recovery.as_ref().unwrap();
        let held = recovery_name(r, &r.hashes[0]);
        let gone = format!("r-{}", "0".repeat(32));
        let step = step_name(&f.devices[0], NOW / 30);
        let rec = |name: &str, created: Option<UnixTime>| Record {
            name: name.into(),
            created,
        };
        // Young records stay.
        let young = [rec(&step, Some(NOW)), rec(&gone, Some(NOW))];
        assert!(prunable(&young, &f, NOW + STEP_RETENTION).is_empty());
        // A step's record goes after STEP_RETENTION; a code's after CODE_RETENTION, and
        // only when the state no longer holds the code.
        let later = NOW + STEP_RETENTION + 1;
        assert_eq!(prunable(&young, &f, later), vec![step.as_str()]);
        let much_later = NOW + CODE_RETENTION + 1;
        let records = [rec(&held, Some(NOW)), rec(&gone, Some(NOW))];
        assert_eq!(prunable(&records, &f, much_later), vec![gone.as_str()]);
        // Unknown age, or a name that is not ours: kept.
        let odd = [rec(&step, None), rec("someone-else", Some(0))];
        assert!(prunable(&odd, &f, much_later).is_empty());
        // Oldest first, PRUNE_PER_COMMIT at most.
        let many: Vec<Record> = (0..10)
            .map(|i| rec(&step_name(&f.devices[0], i), Some(100 - i)))
            .collect();
        let pruned = prunable(&many, &f, much_later);
        assert_eq!(pruned.len(), PRUNE_PER_COMMIT);
        assert_eq!(pruned[0], many[9].name);
        assert_eq!(pruned[1], many[8].name);
    }

    /// STEP_RETENTION outlasts the widest acceptance a step can have.
    #[test]
    fn a_step_record_outlives_every_window() {
        let widest = 2 * 10 * 300;
        assert!(STEP_RETENTION > widest + 3600);
    }
}
