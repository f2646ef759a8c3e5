//! Properties of `Config::parse`: it never panics, whatever it accepts is in range, and it
//! answers exactly what the `toml` crate alone answers (`Config::parse_with_toml`), whether its
//! fast reader for plain files (`config/fast.rs`) took the text or declined it.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
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

/// `Config::parse` answers what the `toml` path answers: the same `Config`, or the same message;
/// and where the fast reader takes the text, it answers that too.
fn agrees_with_toml(text: &str) -> Result<(), TestCaseError> {
    let by_toml = Config::parse_with_toml(text);
    if let Some(fast) = Config::parse_fast_only(text) {
        prop_assert_eq!(&fast, &by_toml, "the fast reader differs on {:?}", text);
    }
    prop_assert_eq!(Config::parse(text), by_toml, "on {:?}", text);
    Ok(())
}

/// Spaces and tabs, mostly none or one space.
fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", " ", " ", "\t", "  ", " \t"])
}

/// A string as it may appear in a file: mostly plain, sometimes with the characters (`"`,
/// `\`, control characters, non-ASCII) that make the fast reader decline or the toml crate
/// refuse.
fn string_body() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(vec![
            "/var/lib/twofold/{user}.toml", "{home}/.config/twofold/secrets.toml",
            "/var/lib/twofold/{uid}", "relative/{user}", "/var/lib/{usr}.toml",
            "/var/log/twofold/audit.log", "/var/log/", "deny", "allow", "Deny", "",
            "Code: ", "Verification code: ", "host1", "a:b", "wheel", "twofold-exempt",
            "a b", "ünïcödé ✓ 𝄞", "#", "'", "''", "[x]", "\u{a0}\u{2028}\u{feff}\u{ffff}",
        ]).prop_map(String::from),
        4 => "[a-z{}/ ._:#'-]{0,20}",
        // Any characters but line ends: `"`, `\`, tabs, control characters, DEL.
        1 => "[^\n]{0,12}",
        1 => "[\"\\\\\t\u{0}-\u{1f}\u{7f}a-z]{0,6}",
    ]
}

/// A string value: mostly a basic string written raw, as a person would.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => string_body().prop_map(|s| format!("\"{s}\"")),
        1 => string_body().prop_map(|s| format!("'{s}'")),
        1 => string_body().prop_map(|s| format!("\"\"\"{s}\"\"\"")),
        1 => string_body().prop_map(|s| format!("{s:?}")), // Rust's escapes, some not TOML's
    ]
}

/// An integer value: mostly plain decimal, in and out of the ranges the fields allow.
fn int_value() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (-3i64..120).prop_map(|n| n.to_string()),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (0i64..=1_000_000_000_000_000_000).prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            "+1", "01", "00", "-0", "+0", "1_0", "0x1", "0o7", "0b1", "1e1", "1.0", "inf",
            "999999999999999999", "-999999999999999999", "1000000000000000000",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "--1", "-",
            "1-", "1 2", "1#", "true", "1979-05-27", "07:32:00",
        ]).prop_map(String::from),
    ]
}

/// An array of strings, with the spacing and separators varied.
fn array_value() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((string_value(), ws(), ws()), 0..4),
        ws(),
        prop_oneof![8 => Just(""), 1 => Just(","), 1 => Just(", ")],
    )
        .prop_map(|(items, inner, trailing)| {
            let mut s = format!("[{inner}");
            for (i, (v, before, after)) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(before);
                    s.push(',');
                    s.push_str(after);
                }
                s.push_str(v);
            }
            if !items.is_empty() {
                s.push_str(trailing);
            }
            s.push_str(inner);
            s.push(']');
            s
        })
}

/// A date-time: mostly the plain form, with fields at and past their limits, and other forms.
fn datetime_value() -> impl Strategy<Value = String> {
    let two = |max: u32| (0..=max).prop_map(|n| format!("{n:02}"));
    prop_oneof![
        6 => ("[0-9]{4}", two(13), two(32), two(25), two(61), two(61))
            .prop_map(|(y, mo, d, h, mi, s)| format!("{y}-{mo}-{d}T{h}:{mi}:{s}Z")),
        1 => prop::sample::select(vec![
            "2026-12-31T00:00:00Z",
            "2026-12-31 00:00:00Z",
            "2026-12-31t00:00:00z",
            "2026-12-31T00:00:00.123Z",
            "2026-12-31T00:00:00+05:30",
            "2026-12-31T00:00:00",
            "2026-12-31",
            "00:00:00",
            "\"2026-12-31T00:00:00Z\"",
        ])
        .prop_map(String::from),
    ]
}

/// Any value, of any type: for a key it may not fit.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        string_value(),
        int_value(),
        array_value(),
        prop::sample::select(vec![
            "2026-12-31T00:00:00Z",
            "2026-12-31",
            "true",
            "false",
            "1.5",
            "{}",
            "{ free_failures = 3 }",
            "[1, 2]",
            "[[\"a\"]]",
            "",
        ])
        .prop_map(String::from),
    ]
}

/// What follows a value: mostly nothing, sometimes a comment, with or without a space.
fn trailer() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => Just(String::new()),
        3 => (ws(), comment_body()).prop_map(|(w, c)| format!("{w}#{c}")),
        2 => ws().prop_map(String::from),
        1 => prop::sample::select(vec![" x", " // no", "#", "\r"]).prop_map(String::from),
    ]
}

/// The text of a comment after its `#`: mostly plain, sometimes with control characters, also
/// far into a long comment (which the fast reader scans eight bytes at a time).
fn comment_body() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[ -~]{0,20}",
        2 => "[ -~é✓]{0,70}",
        2 => "[^\n]{0,12}",
        1 => "[\t\u{0}-\u{1f}\u{7f}a ]{0,4}",
        1 => "[ -~]{0,40}[\t\u{0}-\u{1f}\u{7f}\u{80}-\u{ff}][ -~]{0,20}",
    ]
}

/// `key = value` with the key's own kind of value (mostly) and varied spacing.
fn key_line(keys: &'static [(&'static str, char)]) -> impl Strategy<Value = String> {
    let wrong = prop::bool::weighted(0.1);
    (prop::sample::select(keys), ws(), ws(), ws(), wrong).prop_flat_map(
        |((key, kind), indent, before, after, wrong)| {
            let value = match kind {
                _ if wrong => any_value().boxed(),
                's' => string_value().boxed(),
                'u' => prop_oneof![
                    4 => prop::sample::select(vec!["\"deny\"", "\"allow\""]).prop_map(String::from),
                    1 => string_value(),
                ]
                .boxed(),
                'i' => int_value().boxed(),
                'a' => array_value().boxed(),
                'd' => datetime_value().boxed(),
                _ => any_value().boxed(),
            };
            (value, trailer())
                .prop_map(move |(v, t)| format!("{indent}{key}{before}={after}{v}{t}"))
        },
    )
}

const TOP_KEYS: &[(&str, char)] = &[
    ("secret_path", 's'),
    ("unenrolled", 'u'),
    ("exempt_groups", 'a'),
    ("window", 'i'),
    ("prompt", 's'),
    ("issuer", 's'),
    ("audit_log", 's'),
    ("unenrolled_allow_until", 'd'),
];
const RATE_KEYS: &[(&str, char)] = &[
    ("free_failures", 'i'),
    ("base_delay_secs", 'i'),
    ("max_delay_secs", 'i'),
    ("totp_lockout_after", 'i'),
];
/// Keys the fast reader leaves to the toml crate, in either table.
const OTHER_KEYS: &[(&str, char)] = &[
    ("rate_limit", '?'),
    ("rate_limit.free_failures", 'i'),
    ("\"window\"", 'i'),
    ("'prompt'", 's'),
    ("windw", 'i'),
    ("Window", 'i'),
    ("window.x", 'i'),
    ("free_failures", 'i'),
    ("window", 'i'),
    ("", 'i'),
];

/// A line that is not `key = value`: blank, a comment, a header, or something near one.
fn other_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ws().prop_map(String::from),
        8 => (ws(), comment_body()).prop_map(|(w, c)| format!("{w}#{c}")),
        2 => (ws(), trailer()).prop_map(|(w, t)| format!("{w}[rate_limit]{t}")),
        1 => prop::sample::select(vec![
            "[ rate_limit ]", "[rate_limit ]", "[\"rate_limit\"]", "[rate_limit.x]", "[other]",
            "[[rate_limit]]", "[[x]]", "[rate_limit", "rate_limit]", "=", "window", "\u{feff}",
            "\u{b}", "\"\"\"", "x = \"\"\"", "\"\"\"", "exempt_groups = [", "\"a\"]",
        ])
        .prop_map(String::from),
        1 => (prop::sample::select(OTHER_KEYS), ws(), any_value(), trailer())
            .prop_map(|((k, _), w, v, t)| format!("{k}{w}={w}{v}{t}")),
    ]
}

/// A line of the top table: mostly a key of that table.
fn top_line() -> impl Strategy<Value = String> {
    prop_oneof![8 => key_line(TOP_KEYS), 4 => other_line()]
}

/// A line of the `[rate_limit]` table: mostly a key of that table.
fn rate_line() -> impl Strategy<Value = String> {
    prop_oneof![8 => key_line(RATE_KEYS), 4 => other_line()]
}

/// A configuration file made of such lines: top-level lines, maybe a `[rate_limit]` header
/// and its lines, each line ended by `\n` (mostly), `\r\n`, or rarely a lone `\r`; the last
/// line maybe without an end.
fn config_file() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        3 => Just(None),
        2 => (ws(), trailer()).prop_map(|(w, t)| Some(format!("{w}[rate_limit]{t}"))),
    ];
    let end = prop_oneof![60 => Just("\n"), 8 => Just("\r\n"), 1 => Just("\r")];
    (
        prop::collection::vec((top_line(), end.clone()), 0..7),
        header,
        prop::collection::vec((rate_line(), end), 0..5),
        prop_oneof![3 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(top, header, rate, last_end)| {
            let mut text = String::new();
            for (line, end) in &top {
                text.push_str(line);
                text.push_str(end);
            }
            if let Some(h) = header {
                text.push_str(&h);
                text.push('\n');
                for (line, end) in &rate {
                    text.push_str(line);
                    text.push_str(end);
                }
            }
            if !last_end {
                let trimmed = text.trim_end_matches(['\n', '\r']).len();
                text.truncate(trimmed);
            }
            text
        })
}

#[test]
fn the_generated_files_reach_the_fast_reader() {
    // Texts that are not plain go to the toml crate, in this process.
    twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
    // The comparison below is worth something only if the fast reader takes a good share of
    // the generated files, and of those a good share are valid configurations.
    let mut runner = TestRunner::deterministic();
    let strategy = config_file();
    let (mut fast, mut fast_ok, mut toml_ok) = (0, 0, 0);
    let n = 4000;
    for _ in 0..n {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        match Config::parse_fast_only(&text) {
            Some(r) => {
                fast += 1;
                fast_ok += usize::from(r.is_ok());
            }
            None => toml_ok += usize::from(Config::parse_with_toml(&text).is_ok()),
        }
    }
    eprintln!(
        "of {n} generated files: {fast} read by the fast reader ({fast_ok} valid), \
         {} left to the toml crate ({toml_ok} valid)",
        n - fast
    );
    assert!(fast >= n / 5, "only {fast} of {n} read by the fast reader");
    assert!(fast_ok >= n / 20, "only {fast_ok} of {n} fast and valid");
    assert!(
        toml_ok >= n / 100,
        "only {toml_ok} of {n} declined and valid"
    );
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
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        if let Ok(c) = Config::parse(&text) {
            assert_in_range(&c);
        }
        agrees_with_toml(&text)?;
    }

    #[test]
    fn accepted_configurations_are_in_range(text in config_text()) {
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        if let Ok(c) = Config::parse(&text) {
            assert_in_range(&c);
        }
        agrees_with_toml(&text)?;
    }

    #[test]
    fn the_fast_reader_reads_as_the_toml_crate_does(text in config_file()) {
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        if let Ok(c) = Config::parse(&text) {
            assert_in_range(&c);
        }
        agrees_with_toml(&text)?;
    }

    #[test]
    fn window_is_accepted_exactly_from_0_to_10(w in any::<i64>()) {
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        prop_assert_eq!(Config::parse(&format!("window = {w}")).is_ok(), (0..=10).contains(&w));
    }
}
