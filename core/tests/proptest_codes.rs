//! Properties of `codes::classify`: it never panics; a recognized code comes back in a
//! canonical form that classifies to itself; case, spaces and dashes do not matter; a typo in
//! a recovery code or pass is caught by the check character.

mod proptest_strategies;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest_strategies::*;
use twofold_core::codes::{classify, Attempt, ALPHABET};

fn kind_and_code(a: &Attempt) -> Option<(&'static str, String)> {
    match a {
        Attempt::Totp(c) => Some(("totp", c.to_string())),
        Attempt::Recovery(c) => Some(("recovery", c.to_string())),
        Attempt::Pass(c) => Some(("pass", c.to_string())),
        Attempt::Malformed(_) => None,
    }
}

/// `code` as a person might type it: any case, with spaces, tabs and dashes anywhere.
fn typed(code: String) -> impl Strategy<Value = String> {
    let n = code.len();
    (
        prop::collection::vec(any::<bool>(), n),
        prop::collection::vec(
            (
                any::<Index>(),
                prop::sample::select(vec![" ", "-", "\t", "  ", " - "]),
            ),
            0..6,
        ),
    )
        .prop_map(move |(lower, separators)| {
            let mut chars: Vec<String> = code
                .chars()
                .zip(lower)
                .map(|(c, l)| {
                    if l {
                        c.to_ascii_lowercase().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            for (at, sep) in separators {
                chars.insert(at.index(chars.len() + 1), sep.to_string());
            }
            chars.concat()
        })
}

fn code_and_typing(code: impl Strategy<Value = String>) -> impl Strategy<Value = (String, String)> {
    code.prop_flat_map(|c| (Just(c.clone()), typed(c)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn classify_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = classify(&bytes);
    }

    #[test]
    fn canonical_forms_are_fixed_points(text in "[0-9A-Za-z \\t-]{0,40}|.{0,30}") {
        if let Some((kind, canon)) = kind_and_code(&classify(text.as_bytes())) {
            prop_assert_eq!(kind_and_code(&classify(canon.as_bytes())), Some((kind, canon.clone())));
            prop_assert!(canon.bytes().all(|b| b.is_ascii_digit() || ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn recovery_codes_survive_case_spaces_and_dashes((code, typing) in code_and_typing(recovery_code())) {
        prop_assert_eq!(kind_and_code(&classify(typing.as_bytes())), Some(("recovery", code)));
    }

    #[test]
    fn passes_survive_case_spaces_and_dashes((code, typing) in code_and_typing(pass_code())) {
        prop_assert_eq!(kind_and_code(&classify(typing.as_bytes())), Some(("pass", code)));
    }

    #[test]
    fn totp_codes_survive_spaces_and_dashes((code, typing) in code_and_typing("[0-9]{6,8}".prop_map(String::from))) {
        prop_assert_eq!(kind_and_code(&classify(typing.as_bytes())), Some(("totp", code)));
    }

    #[test]
    fn one_wrong_character_is_caught_by_the_check(code in prop_oneof![recovery_code(), pass_code()], at in any::<Index>(), by in 1u8..32) {
        let mut bytes = code.into_bytes();
        let i = at.index(bytes.len());
        let v = ALPHABET.iter().position(|a| *a == bytes[i]).unwrap() as u8;
        bytes[i] = ALPHABET[usize::from((v + by) % 32)];
        prop_assert!(matches!(classify(&bytes), Attempt::Malformed(_)));
    }
}
