//! `codes::classify` on arbitrary bytes: never panics; a code it recognizes is returned in a
//! canonical form that classifies to itself, however it is cased, spaced or dashed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::codes::{classify, grouped, Attempt, ALPHABET};

fn canonical(a: &Attempt) -> Option<(&'static str, String)> {
    match a {
        Attempt::Totp(c) => Some(("totp", c.to_string())),
        Attempt::Recovery(c) => Some(("recovery", c.to_string())),
        Attempt::Pass(c) => Some(("pass", c.to_string())),
        Attempt::Malformed(why) => {
            assert!(!why.is_empty());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let first = classify(data);
    let Some((kind, canon)) = canonical(&first) else {
        return;
    };
    assert_eq!(first.method(), kind);
    if kind == "totp" {
        assert!((6..=8).contains(&canon.len()) && canon.bytes().all(|b| b.is_ascii_digit()));
    } else {
        assert!(canon.bytes().all(|b| ALPHABET.contains(&b)), "{canon}");
    }
    let typings = [
        canon.clone(),
        canon.to_lowercase(),
        grouped(&canon),
        grouped(&canon).to_lowercase().replace('-', " "),
        format!(" {}\t", grouped(&canon).replace('-', " - ")),
    ];
    for typed in typings {
        let again = canonical(&classify(typed.as_bytes()));
        assert_eq!(again, Some((kind, canon.clone())), "{typed:?}");
    }
});
