//! `twofold admin migrate`: what to do with one user's state when it moves between the
//! per-host secret file and the directory. Pure: the CLI reads both sides, asks here, and
//! writes only what the answer allows.
//!
//! The state moves unchanged (used steps, used recovery codes, pass, counters), so nothing
//! used becomes usable again. A destination that already holds a state is never
//! overwritten: it may be newer (logins on other hosts since), and replacing it would make
//! its used codes usable again. Only the very same state counts as already moved, so a
//! migration cut short after the copy can be run again to finish.

use crate::SecretFile;

/// What a migration of one user does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The source has no state: nothing to move.
    NothingToMove,
    /// The destination holds none: copy the source's state there.
    Copy,
    /// The destination holds the very same state (an earlier run copied it): only what
    /// follows the copy is left to do.
    AlreadyThere,
    /// The destination holds another state: refused, nothing changes on either side.
    Refuse(&'static str),
}

/// The plan for moving `source` onto `destination`.
pub fn plan(source: Option<&SecretFile>, destination: Option<&SecretFile>) -> Plan {
    match (source, destination) {
        (None, _) => Plan::NothingToMove,
        (Some(_), None) => Plan::Copy,
        (Some(s), Some(d)) if s == d => Plan::AlreadyThere,
        (Some(s), Some(d)) if is_ahead(d, s) => Plan::Refuse(
            "the destination already holds a newer state (codes used since); it is never overwritten",
        ),
        (Some(_), Some(_)) => Plan::Refuse(
            "the destination already holds another state; it is never overwritten",
        ),
    }
}

/// Whether `a` has seen a login `b` has not: a later step on a device both have, or a
/// recovery code used that `b` still holds.
fn is_ahead(a: &SecretFile, b: &SecretFile) -> bool {
    let later_step = a.devices.iter().any(|da| {
        b.devices
            .iter()
            .any(|db| db.secret == da.secret && da.last_step > db.last_step)
    });
    let fewer_codes = match (&a.recovery, &b.recovery) {
        (Some(ra), Some(rb)) => ra.salt == rb.salt && ra.hashes.len() < rb.hashes.len(),
        _ => false,
    };
    later_step || fewer_codes || a.state.last_login > b.state.last_login
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Device;

    fn enrolled() -> SecretFile {
        let mut file = SecretFile::new();
        let secret = crate::secret::SecretKey::from_bytes(&[7; 20]);
        file.devices.push(Device::new("phone", secret, 1_000));
        file.devices[0].last_step = 100;
        file
    }

    #[test]
    fn a_state_moves_onto_a_destination_that_holds_none() {
        assert_eq!(plan(Some(&enrolled()), None), Plan::Copy);
    }

    #[test]
    fn no_state_means_nothing_to_move_whatever_the_destination_holds() {
        assert_eq!(plan(None, None), Plan::NothingToMove);
        assert_eq!(plan(None, Some(&enrolled())), Plan::NothingToMove);
    }

    #[test]
    fn the_same_state_already_there_is_finished_not_copied_again() {
        let file = enrolled();
        assert_eq!(plan(Some(&file), Some(&file.clone())), Plan::AlreadyThere);
    }

    #[test]
    fn a_newer_destination_is_never_overwritten() {
        let source = enrolled();
        let mut newer = source.clone();
        newer.devices[0].last_step = 101;
        let refused = plan(Some(&source), Some(&newer));
        assert!(
            matches!(refused, Plan::Refuse(why) if why.contains("newer")),
            "{refused:?}"
        );
        let mut logged_in = source.clone();
        logged_in.state.last_login = Some(2_000);
        assert!(matches!(
            plan(Some(&source), Some(&logged_in)),
            Plan::Refuse(why) if why.contains("newer")
        ));
    }

    #[test]
    fn an_older_or_unrelated_destination_is_not_overwritten_either() {
        let source = enrolled();
        let mut older = source.clone();
        older.devices[0].last_step = 99;
        for other in [older, SecretFile::new()] {
            assert!(
                matches!(plan(Some(&source), Some(&other)), Plan::Refuse(why) if why.contains("another state")),
                "{other:?}"
            );
        }
    }
}
