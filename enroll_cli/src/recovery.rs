//! `twofold recovery regenerate`.

use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::journal::{Event, Journal};
use crate::stored;
use serde::Serialize;
use twofold_core::codes;
use twofold_core::enrollment::{codes_block, new_recovery_codes};
use twofold_core::SecretFile;
use zeroize::Zeroizing;

#[derive(Serialize)]
struct RegenerateJson<'a> {
    recovery_codes: Vec<&'a str>,
}

pub fn regenerate(inv: &Invocation, user_flag: Option<&str>) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.self_service(&account, |u| {
        format!("twofold recovery regenerate --user {u}")
    })?;
    let not_enrolled = || Error::NotEnrolled {
        user: account.name.clone(),
        by_admin: false,
    };
    stored::peek(&loc)?.ok_or_else(not_enrolled)?;
    let verified = crate::reverify::current_factor(inv, &account)?;
    let mut journal = Journal::open(inv)?;
    // Hashed before taking the lock: argon2 is slow and logins wait on the lock.
    let fresh = new_recovery_codes()?;
    let mut hashed = SecretFile::new();
    hashed
        .set_recovery_codes(&fresh, inv.now)
        .map_err(Error::Internal)?;
    stored::transact(&loc, false, |current| {
        let mut file = current?.ok_or_else(not_enrolled)?;
        file.recovery = hashed.recovery;
        Ok((file, ()))
    })?;
    journal.record(
        inv,
        Event {
            action: "recovery-regenerate",
            user: &account.name,
            details: crate::reverify::noted(vec![("codes", fresh.len().to_string())], verified),
        },
    )?;
    let printed = Zeroizing::new(
        fresh
            .iter()
            .map(|c| codes::grouped(c))
            .collect::<Vec<String>>(),
    );
    let mut text = Zeroizing::new(format!(
        "New recovery codes for {}; the old ones no longer work. Each works once:\n\n",
        account.name
    ));
    text.push_str(&codes_block(&printed));
    inv.say(&text)?;
    inv.emit(&RegenerateJson {
        recovery_codes: printed.iter().map(String::as_str).collect(),
    })
}
