//! Before a self-service change in a setuid-root run: the user's current second factor, a
//! code from one of their apps or a recovery code, checked by the login path itself
//! (`twofold_core::auth::authenticate`, PAM service name `twofold`). So it is throttled,
//! replay-protected and recorded in the user's state as a login is, and logged like one; a
//! wrong code changes nothing else. Whoever has only the user's password (or their shell)
//! gets no new device and no recovery codes.
//!
//! Root, and users who keep their own state (home mode), are not asked: they could change
//! the state without twofold anyway.

use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::journal;
use crate::privilege::{self, AsUser, Root};
use crate::prompt;
use twofold_core::account::Account;
use twofold_core::auth::{self, Answer, Caller, Conversation, Request};
use twofold_core::UnixTime;
use zeroize::Zeroizing;

/// The PAM service name the check is logged under, as a login's would be.
pub const SERVICE: &str = "twofold";

/// Asks for and verifies `account`'s current second factor, when this run is the
/// setuid-root self-service path. `Some(method)` once verified (`totp`, `recovery`, for the
/// record of the change), `None` when no check applies.
pub fn current_factor(inv: &Invocation, account: &Account) -> Result<Option<&'static str>> {
    if !privilege::self_service() {
        return Ok(None);
    }
    inv.tell("Confirm it is you: a code from one of your apps, or a recovery code.\n")?;
    let now = inv.clock()?;
    let outcome = {
        let _root = Root::gain()?;
        let request = Request {
            user: &account.name,
            service: SERVICE,
            rhost: None,
            now,
            caller: Caller::of_this_process(),
        };
        auth::authenticate(&inv.config, &request, &mut Person { inv })
    };
    journal::login_line(&outcome, &account.name, inv.invoker.uid);
    match outcome.answer {
        // A code from an app or a recovery code: what the user holds. Not a pass an admin
        // issued for a login, nor an enrollment offered because the state vanished meanwhile.
        Answer::Success if matches!(outcome.method, "totp" | "recovery") => {
            Ok(Some(outcome.method))
        }
        Answer::Success => Err(Error::NotVerified {
            unverifiable: Some(outcome.method),
        }),
        Answer::Deny => Err(Error::NotVerified { unverifiable: None }),
        Answer::Ignore => Err(Error::NotVerified {
            unverifiable: Some(outcome.method),
        }),
    }
}

/// The person at the terminal, as the login's conversation. They type as themselves: root is
/// lowered while the prompt waits.
struct Person<'a> {
    inv: &'a Invocation,
}

impl Conversation for Person<'_> {
    fn prompt_hidden(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        let _user = AsUser::lower();
        self.inv.tell(prompt).map_err(|e| e.to_string())?;
        let line = prompt::read_line().map_err(|e| e.to_string())?;
        if !prompt::stdin_is_terminal() {
            // Nothing was echoed: end the prompt's line.
            let _ = self.inv.tell("\n");
        }
        Ok(Zeroizing::new(
            line.map(|l| l.as_bytes().to_vec()).unwrap_or_default(),
        ))
    }

    fn info(&mut self, text: &str) {
        let _user = AsUser::lower();
        let _ = self.inv.tell(&format!("{text}\n"));
    }

    fn now(&self) -> Option<UnixTime> {
        self.inv.clock().ok()
    }
}

/// The details of a change's record, with how the user proved it was them.
pub fn noted(
    mut details: Vec<(&'static str, String)>,
    verified: Option<&'static str>,
) -> Vec<(&'static str, String)> {
    if let Some(method) = verified {
        details.push(("verified", method.to_string()));
    }
    details
}
