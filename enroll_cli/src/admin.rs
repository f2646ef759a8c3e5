//! `twofold admin reset | unlock | issue-pass`: root only, each one audited.

use crate::error::{Error, Result};
use crate::invocation::{printable, Invocation};
use crate::journal::{Event, Journal};
use crate::stored;
use serde::Serialize;
use twofold_core::codes::{self, PASS_LEN};
use twofold_core::time::{parse_duration, rfc3339};
use twofold_core::SecretFile;
use zeroize::Zeroizing;

/// Shortest and longest life of a temporary access pass.
pub const MIN_PASS_TTL: u64 = 60;
pub const MAX_PASS_TTL: u64 = 7 * 86_400;

#[derive(Serialize)]
struct ResetJson<'a> {
    user: &'a str,
    removed: bool,
}

pub fn reset(inv: &Invocation, user_flag: Option<&str>, name: &str) -> Result<()> {
    let account = inv.admin_target("admin reset", name, user_flag)?;
    let loc = inv.location(&account)?;
    crate::doctor::warn_last_way_in(inv, &account, twofold_core::doctor::Enrollment::NotEnrolled);
    let mut journal = Journal::open(inv)?;
    let removed = stored::remove(&loc)?;
    journal.record(
        inv,
        Event {
            action: "admin-reset",
            user: &account.name,
            details: vec![
                ("removed", if removed { "yes" } else { "no" }.into()),
                ("path", loc.path().to_string()),
            ],
        },
    )?;
    let policy = if inv.config.unenrolled_may_pass(inv.now) {
        "unenrolled users pass without a second factor"
    } else if inv.config.enrollment_offered(inv.now) {
        "their next login offers enrollment (unenrolled = \"enroll\")"
    } else {
        "unenrolled users are refused at login"
    };
    // In the directory the state goes, the entry stays.
    let (what, none) = match &loc {
        stored::Place::File(_) => (printable(loc.path()).into_owned(), "had no secret file"),
        stored::Place::Directory { .. } => (
            format!("the state on {}", loc.path()),
            "had no state in the directory",
        ),
    };
    if removed {
        inv.say(&format!(
            "Removed {what} ({}'s devices, recovery codes and pass). {} is now unenrolled: {policy}.\n\
             To enroll them again: `twofold enroll --user {}`, or issue a pass with `twofold admin issue-pass {} --ttl 1h`.\n",
            account.name,
            account.name,
            account.name,
            account.name
        ))?;
    } else {
        inv.say(&format!(
            "{} {none} ({}); nothing changed.\n",
            account.name,
            printable(loc.path())
        ))?;
    }
    inv.emit(&ResetJson {
        user: &account.name,
        removed,
    })
}

#[derive(Serialize)]
struct UnlockJson<'a> {
    user: &'a str,
    failures_cleared: u32,
    was_throttled: bool,
}

pub fn unlock(inv: &Invocation, user_flag: Option<&str>, name: &str) -> Result<()> {
    let account = inv.admin_target("admin unlock", name, user_flag)?;
    let loc = inv.location(&account)?;
    let mut journal = Journal::open(inv)?;
    let (failures, was_throttled) = stored::transact(&loc, false, |current| {
        let mut file = current?.ok_or_else(|| Error::NotEnrolled {
            user: account.name.clone(),
            by_admin: true,
        })?;
        let before = (
            file.state.failures,
            inv.now < file.state.throttled_until
                || file.state.failures >= inv.config.rate_limit.totp_lockout_after,
        );
        file.state.failures = 0;
        file.state.throttled_until = 0;
        Ok((file, before))
    })?;
    journal.record(
        inv,
        Event {
            action: "admin-unlock",
            user: &account.name,
            details: vec![("failures", failures.to_string())],
        },
    )?;
    inv.say(&format!(
        "Unlocked {}: {} cleared{}.\n",
        account.name,
        crate::status::failed_attempts(failures),
        if was_throttled {
            ", throttling or lock lifted"
        } else {
            " (was not throttled)"
        }
    ))?;
    inv.emit(&UnlockJson {
        user: &account.name,
        failures_cleared: failures,
        was_throttled,
    })
}

#[derive(Serialize)]
struct PassJson<'a> {
    pass: &'a str,
    expires: String,
}

pub fn parse_ttl(text: &str) -> Result<u64> {
    let secs = parse_duration(text).map_err(|problem| Error::BadTtl { problem })?;
    if secs < MIN_PASS_TTL {
        return Err(Error::BadTtl {
            problem: format!("`{text}` is shorter than 1m"),
        });
    }
    if secs > MAX_PASS_TTL {
        return Err(Error::BadTtl {
            problem: format!("`{text}` is longer than 7d"),
        });
    }
    Ok(secs)
}

pub fn issue_pass(inv: &Invocation, user_flag: Option<&str>, name: &str, ttl: &str) -> Result<()> {
    inv.require_root("admin issue-pass")?;
    let ttl = parse_ttl(ttl)?;
    let account = inv.admin_target("admin issue-pass", name, user_flag)?;
    let loc = inv.location(&account)?;
    let mut journal = Journal::open(inv)?;
    let expires = inv.now + ttl;
    let pass = codes::generate(PASS_LEN)?;
    // Hashed before taking the lock: argon2 is slow and logins wait on the lock.
    let mut hashed = SecretFile::new();
    hashed
        .set_pass(&pass, inv.now, expires, inv.by())
        .map_err(Error::Internal)?;
    let created = stored::transact(&loc, true, |current| {
        let current = current?;
        let created = current.is_none();
        let mut file = current.unwrap_or_default();
        file.pass = hashed.pass;
        Ok((file, created))
    })?;
    journal.record(
        inv,
        Event {
            action: "admin-issue-pass",
            user: &account.name,
            details: vec![
                ("expires", rfc3339(expires)),
                ("new_file", if created { "yes" } else { "no" }.into()),
            ],
        },
    )?;
    let printed = Zeroizing::new(codes::grouped(&pass));
    inv.say(&format!(
        "Temporary access pass for {}:\n\n    {}\n\n\
         It works for one login, in place of a code from an app, until {} ({}).\n\
         It replaces any earlier pass. Give it to {} in person or over a channel you trust;\n\
         {}.\n",
        account.name,
        *printed,
        rfc3339(expires),
        human_duration(ttl),
        account.name,
        next_step(&inv.config, &account.name, created)
    ))?;
    inv.emit(&PassJson {
        pass: &printed,
        expires: rfc3339(expires),
    })
}

/// Who sets up the new app after a pass: the user where they own their secret file (home
/// mode), root where root keeps it (system mode, the directory).
fn next_step(config: &twofold_core::config::Config, user: &str, created: bool) -> String {
    let force = if created { "" } else { " --force" };
    if config.directory.is_some() || config.secret_path.is_system_mode() {
        format!("root then sets up their new app with `twofold enroll --user {user}{force}`")
    } else {
        format!("once logged in, they can set up an app with `twofold enroll{force}`")
    }
}

fn human_duration(secs: u64) -> String {
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let (size, unit) = units
        .into_iter()
        .find(|(size, _)| secs / size * size == secs)
        .unwrap_or((1, "second"));
    let n = secs / size;
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds() {
        assert_eq!(parse_ttl("15m").unwrap(), 900);
        assert_eq!(parse_ttl("7d").unwrap(), 7 * 86_400);
        assert_eq!(parse_ttl("1m").unwrap(), 60);
        for bad in ["59s", "8d", "0", "soon", "-5m", ""] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn after_a_pass_the_one_who_keeps_the_secret_sets_up_the_app() {
        use twofold_core::config::Config;
        let home = Config::parse("").unwrap();
        assert!(next_step(&home, "alice", true).contains("`twofold enroll`"));
        assert!(next_step(&home, "alice", false).contains("`twofold enroll --force`"));
        let system = Config::parse("secret_path = \"/var/lib/twofold/{user}.toml\"").unwrap();
        assert!(next_step(&system, "alice", true).contains("root then sets up"));
        assert!(
            next_step(&system, "alice", false).contains("`twofold enroll --user alice --force`")
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(900), "15 minutes");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(2 * 86_400), "2 days");
    }
}
