//! `twofold status` and `twofold admin status USER`: what is enrolled and how logins went.

use crate::device::{table, DeviceInfo};
use crate::error::Result;
use crate::invocation::{printable, Invocation};
use crate::stored::{self, Answered};
use serde::Serialize;
use twofold_core::account::Account;
use twofold_core::config::Unenrolled;
use twofold_core::time::rfc3339;
use twofold_core::SecretFile;

/// At or below this many recovery codes, status warns.
pub const LOW_RECOVERY_CODES: usize = 3;

#[derive(Serialize)]
struct StatusJson<'a> {
    user: &'a str,
    enrolled: bool,
    /// Where the state was read: "files" or "directory".
    backend: &'static str,
    /// The directory server that answered (`null` for files).
    server: Option<String>,
    secret_path: String,
    /// What happens at login without enrollment: "deny", "allow", or "allow until <time>".
    #[serde(skip_serializing_if = "Option::is_none")]
    unenrolled_policy: Option<String>,
    devices: Vec<DeviceInfo<'a>>,
    recovery_codes_left: usize,
    recovery_codes_low: bool,
    legacy_scratch_codes_left: usize,
    pass: Option<PassJson<'a>>,
    last_login: Option<LastLoginJson<'a>>,
    failures: u32,
    throttled: bool,
    throttled_until: Option<String>,
    /// App codes refused until a recovery code, a pass or `twofold admin unlock`.
    locked: bool,
}

#[derive(Serialize)]
struct PassJson<'a> {
    issued: String,
    expires: String,
    issued_by: &'a str,
    expired: bool,
}

#[derive(Serialize)]
struct LastLoginJson<'a> {
    time: String,
    from: Option<&'a str>,
    method: Option<&'a str>,
}

pub fn status(inv: &Invocation, user_flag: Option<&str>) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.self_service(&account, |u| format!("twofold admin status {u}"))?;
    let (file, answered) = stored::peek_answered(&loc)?;
    show(inv, &account, loc.path(), &answered, file.as_ref(), false)
}

pub fn admin_status(inv: &Invocation, user_flag: Option<&str>, name: &str) -> Result<()> {
    let account = inv.admin_target("admin status", name, user_flag)?;
    let loc = inv.location(&account)?;
    let (file, answered) = stored::peek_answered(&loc)?;
    show(inv, &account, loc.path(), &answered, file.as_ref(), true)
}

/// "1 failure", "2 failures".
fn failures(n: u32) -> String {
    format!("{n} failure{}", if n == 1 { "" } else { "s" })
}

/// "1 failed attempt", "2 failed attempts".
pub fn failed_attempts(n: u32) -> String {
    format!("{n} failed attempt{}", if n == 1 { "" } else { "s" })
}

fn unenrolled_policy(inv: &Invocation) -> String {
    match inv.config.unenrolled_allow_until {
        Some(t) if inv.now < t => format!("allow until {}", rfc3339(t)),
        _ if inv.config.unenrolled == Unenrolled::Allow => "allow".into(),
        _ if inv.config.enrollment_offered(inv.now) => match inv.config.enroll_until {
            Some(t) => format!("enroll until {}", rfc3339(t)),
            None => "enroll".into(),
        },
        _ => "deny".into(),
    }
}

fn show(
    inv: &Invocation,
    account: &Account,
    path: &str,
    answered: &Answered,
    file: Option<&SecretFile>,
    admin: bool,
) -> Result<()> {
    // Where the state is: the file, or the entry and the server that answered.
    let (label, place) = match &answered.server {
        Some(server) => (
            "Directory:",
            format!("{} (entry uid={})", printable(server), account.name),
        ),
        None => ("Secret file:", printable(path).into_owned()),
    };
    let Some(file) = file else {
        let policy = unenrolled_policy(inv);
        let meaning = if policy == "deny" {
            "logins are refused"
        } else if policy.starts_with("enroll") {
            "the next login offers enrollment with a code from an app"
        } else {
            "logins pass without a second factor"
        };
        let next = if admin {
            format!(
                "Run `twofold enroll --user {}` to enroll them.",
                account.name
            )
        } else {
            "Run `twofold enroll` to set up an authenticator app.".into()
        };
        inv.say(&format!(
            "{} is not enrolled.\n{label:<17}{place} (no state)\nPolicy for unenrolled users: {policy} ({meaning}).\n{next}\n",
            account.name,
        ))?;
        return inv.emit(&StatusJson {
            user: &account.name,
            enrolled: false,
            backend: answered.backend,
            server: answered.server.clone(),
            secret_path: path.to_string(),
            unenrolled_policy: Some(policy),
            devices: Vec::new(),
            recovery_codes_left: 0,
            recovery_codes_low: false,
            legacy_scratch_codes_left: 0,
            pass: None,
            last_login: None,
            failures: 0,
            throttled: false,
            throttled_until: None,
            locked: false,
        });
    };

    let recovery_left = file.recovery_codes_left();
    let scratch_left = file.legacy_scratch.as_ref().map_or(0, |r| r.hashes.len());
    let low = recovery_left <= LOW_RECOVERY_CODES;
    let throttled = inv.now < file.state.throttled_until;
    let locked = file.state.failures >= inv.config.rate_limit.totp_lockout_after;
    let st = &file.state;

    let mut t = format!("User:            {}\n{label:<17}{place}\n", account.name);
    if file.devices.is_empty() {
        t.push_str("Devices:         none (only recovery codes or a pass log in)\n");
    } else {
        t.push_str(&format!("Devices:         {}\n", file.devices.len()));
        t.push_str(&table(&file.devices));
    }
    t.push_str(&format!("Recovery codes:  {recovery_left} left"));
    if low {
        let fix = if admin {
            format!(
                "the user should run `twofold recovery regenerate`, or root `twofold --user {} recovery regenerate`",
                account.name
            )
        } else {
            "run `twofold recovery regenerate`".into()
        };
        let count = if recovery_left == 0 {
            "none left".to_string()
        } else {
            format!("only {recovery_left} left")
        };
        t.push_str(&format!("  (warning: {count}; {fix})"));
    }
    t.push('\n');
    if scratch_left > 0 {
        // 8 digits are too few to be tried without a limit (verify.rs): unlike recovery
        // codes, they are refused while app codes are paused or locked.
        t.push_str(&format!(
            "Scratch codes:   {scratch_left} left (imported from google-authenticator; paused and locked with app codes, unlike recovery codes)\n"
        ));
    }
    match &file.pass {
        Some(p) if inv.now < p.expires => t.push_str(&format!(
            "Access pass:     valid until {} (issued by {})\n",
            rfc3339(p.expires),
            printable(&p.issued_by)
        )),
        Some(p) => t.push_str(&format!(
            "Access pass:     expired at {}\n",
            rfc3339(p.expires)
        )),
        None => t.push_str("Access pass:     none\n"),
    }
    match st.last_login {
        Some(time) => t.push_str(&format!(
            "Last login:      {} from {} ({})\n",
            rfc3339(time),
            printable(st.last_login_from.as_deref().unwrap_or("unknown")),
            printable(st.last_login_method.as_deref().unwrap_or("unknown method"))
        )),
        None => t.push_str("Last login:      none recorded\n"),
    }
    let unlock = if admin {
        format!("; `twofold admin unlock {}` clears it", account.name)
    } else {
        String::new()
    };
    if locked {
        t.push_str(&format!(
            "Locked:          yes, codes from apps are refused after {}, until a login with a recovery code or pass{unlock}\n",
            failures(st.failures)
        ));
    } else if throttled {
        t.push_str(&format!(
            "Throttled:       yes, codes from apps are refused until {} after {}{unlock}\n",
            rfc3339(st.throttled_until),
            failures(st.failures)
        ));
    } else {
        t.push_str(&format!(
            "Throttled:       no ({} since the last login)\n",
            failed_attempts(st.failures)
        ));
    }
    inv.say(&t)?;
    inv.emit(&StatusJson {
        user: &account.name,
        enrolled: true,
        backend: answered.backend,
        server: answered.server.clone(),
        secret_path: path.to_string(),
        unenrolled_policy: None,
        devices: file.devices.iter().map(DeviceInfo::of).collect(),
        recovery_codes_left: recovery_left,
        recovery_codes_low: low,
        legacy_scratch_codes_left: scratch_left,
        pass: file.pass.as_ref().map(|p| PassJson {
            issued: rfc3339(p.issued),
            expires: rfc3339(p.expires),
            issued_by: &p.issued_by,
            expired: inv.now >= p.expires,
        }),
        last_login: st.last_login.map(|time| LastLoginJson {
            time: rfc3339(time),
            from: st.last_login_from.as_deref(),
            method: st.last_login_method.as_deref(),
        }),
        failures: st.failures,
        throttled,
        throttled_until: throttled.then(|| rfc3339(st.throttled_until)),
        locked,
    })
}
