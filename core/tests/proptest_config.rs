//! Properties of `Config::parse`: it never panics, and whatever it accepts is in range.

use proptest::prelude::*;
use twofold_core::config::Config;

/// A value of any TOML type, written as TOML.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-20i64..120).prop_map(|n| n.to_string()),
        ".{0,30}".prop_map(|s| format!("{s:?}")),
        "[{}a-z/._]{0,40}".prop_map(|s| format!("\"{s}\"")),
        Just("\"deny\"".to_string()),
        Just("\"allow\"".to_string()),
        (1u32..=9999, 1u32..=12, 1u32..=31).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1u32..=9999, 0u32..=25).prop_map(|(y, h)| format!("{y:04}-12-31T{h:02}:00:00Z")),
        Just("[\"wheel\", \"\"]".to_string()),
        Just("true".to_string()),
        Just("1.5".to_string()),
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "secret_path",
        "unenrolled",
        "unenrolled_allow_until",
        "exempt_groups",
        "window",
        "prompt",
        "issuer",
        "rate_limit.free_failures",
        "rate_limit.base_delay_secs",
        "rate_limit.max_delay_secs",
        "windw",
    ]);
    prop::collection::vec((key, toml_value()), 0..8).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
    })
}

fn assert_in_range(c: &Config) {
    assert!(c.window <= 10);
    let r = &c.rate_limit;
    assert!(
        r.free_failures >= 1 && r.base_delay_secs >= 1 && r.base_delay_secs <= r.max_delay_secs
    );
    for failures in [0, r.free_failures, u32::MAX] {
        assert!(r.delay_after(failures) <= r.max_delay_secs);
    }
    assert!(!c.prompt.is_empty() && !c.issuer.is_empty());
    if let Some(t) = c.unenrolled_allow_until {
        assert!(!twofold_core::time::rfc3339(t).is_empty());
    }
}

/// 512 cases, or PROPTEST_CASES for a longer soak.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in ".{0,300}") {
        if let Ok(c) = Config::parse(&text) {
            assert_in_range(&c);
        }
    }

    #[test]
    fn accepted_configurations_are_in_range(text in config_text()) {
        if let Ok(c) = Config::parse(&text) {
            assert_in_range(&c);
        }
    }

    #[test]
    fn window_is_accepted_exactly_from_0_to_10(w in any::<i64>()) {
        prop_assert_eq!(Config::parse(&format!("window = {w}")).is_ok(), (0..=10).contains(&w));
    }
}
