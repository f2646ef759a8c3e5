//! A reader for plain configuration files, tried before the `toml` crate.
//!
//! The configuration is read on every login, and the `toml` crate's parse through serde cost
//! about 7.7 k of a login's 250 k instructions for the benchmark's three-line file
//! (callgrind, BENCHMARKS.md), and 87 k for `packaging/twofold.toml` as shipped, 3.4 kB of
//! comments only; this reader takes 1.4 k and 15 k for them. As for the secret file (`canonical.rs`), the `toml` crate stays the judge of what a file
//! means: [`read`] accepts only a plain subset of TOML, fills the same [`RawConfig`] serde
//! fills, and answers `None` for anything else. `Config::parse` then parses the text with the
//! `toml` crate as before, with its error messages. Whichever reader ran, `validate` checks
//! the values, so `read` can make a file be read more cheaply, never differently (checked by
//! the tests here, by `tests/proptest_config.rs` and by the fuzz target `config`, which
//! compare the two).
//!
//! The subset, line by line (lines end with `\n` or `\r\n`; the last may have no end):
//! - a blank line (spaces and tabs), or a comment line `# …`, maybe indented;
//! - the table header `[rate_limit]`, once, maybe indented, maybe with a comment after a space
//!   or tab, and no other header;
//! - `key = value`, maybe indented, spaces or tabs around `=`, where the key is a bare word
//!   naming a field of the table it is in, each at most once; the value of the field's type:
//!   - a string: a basic string `"…"` without escapes, so without `\`, and without control
//!     characters (tab included: allowed by TOML, but left to the `toml` crate);
//!   - `unenrolled`: one of the strings `"deny"` and `"allow"`;
//!   - an integer: decimal, at most 18 digits (so within `i64`), an optional `-`, no leading
//!     zero (`0` itself, not `-0`), no `+` and no `_`;
//!   - `exempt_groups`: such strings in `[…]` on one line, separated by commas, without a
//!     trailing comma; spaces and tabs inside;
//!   - `unenrolled_allow_until`: a date-time written `YYYY-MM-DDTHH:MM:SSZ` exactly, with a
//!     day of the month up to 28 (so valid in every month) and a time up to 23:59:59; any
//!     other form of TOML date-time (an offset, a fraction, a space for `T`, a later day) is
//!     left to the `toml` crate;
//!
//!   and after the value maybe spaces or tabs and a comment, with at least one space or tab
//!   between the value and the `#`.
//!
//! A comment may hold any character but control characters other than tab, as in TOML.
//! Everything else (a lone `\r`, other strings, numbers or tables, dotted or quoted keys, an
//! unknown or repeated key, a value of the wrong type) is declined.

use super::{RawConfig, RawRateLimit, Unenrolled};

/// The file `text` holds, if it is in the plain subset; `None` for anything else (the caller
/// then parses it with the `toml` crate). Does not check the values: `validate` does.
///
/// One pass over the text, each step taking one line (with its end) off the front of `rest`:
/// most of a file is comments, so a line is not first cut out and then read again.
pub(super) fn read(text: &str) -> Option<RawConfig> {
    let mut raw = RawConfig::default();
    let mut rest = text;
    while !rest.is_empty() {
        let line = skip_ws(rest);
        rest = match line.as_bytes().first() {
            Some(b'[') => {
                let after = line.strip_prefix("[rate_limit]")?;
                set(&mut raw.rate_limit, RawRateLimit::default())?;
                after_value(after)?
            }
            // Blank, a comment, or the end of the text.
            None | Some(b'#' | b'\n' | b'\r') => line_end(line)?,
            Some(_) => key_value(&mut raw, line)?,
        };
    }
    Some(raw)
}

/// One `key = value` line, from its key on, into the table it belongs to: the `[rate_limit]`
/// table once its header has been read (it is the last table), else the top. Returns what
/// follows the line.
fn key_value<'a>(raw: &mut RawConfig, line: &'a str) -> Option<&'a str> {
    let end = line
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        .unwrap_or(line.len());
    let (key, after) = line.split_at(end);
    let value = skip_ws(skip_ws(after).strip_prefix('=')?);
    match &mut raw.rate_limit {
        None => match key {
            "secret_path" => string_to(&mut raw.secret_path, value),
            "unenrolled" => {
                let (s, rest) = basic_string(value)?;
                // The variants as serde names them (`rename_all = "lowercase"`).
                let u = match s {
                    "deny" => Unenrolled::Deny,
                    "allow" => Unenrolled::Allow,
                    _ => return None,
                };
                let rest = after_value(rest)?;
                set(&mut raw.unenrolled, u)?;
                Some(rest)
            }
            "exempt_groups" => {
                let (items, rest) = string_array(value)?;
                let rest = after_value(rest)?;
                set(&mut raw.exempt_groups, items)?;
                Some(rest)
            }
            "window" => integer_to(&mut raw.window, value),
            "prompt" => string_to(&mut raw.prompt, value),
            "issuer" => string_to(&mut raw.issuer, value),
            "audit_log" => string_to(&mut raw.audit_log, value),
            "unenrolled_allow_until" => {
                let (t, rest) = datetime(value)?;
                let rest = after_value(rest)?;
                set(&mut raw.unenrolled_allow_until, t.to_owned())?;
                Some(rest)
            }
            // `rate_limit` as a key, unknown keys.
            _ => None,
        },
        Some(r) => match key {
            "free_failures" => integer_to(&mut r.free_failures, value),
            "base_delay_secs" => integer_to(&mut r.base_delay_secs, value),
            "max_delay_secs" => integer_to(&mut r.max_delay_secs, value),
            "totp_lockout_after" => integer_to(&mut r.totp_lockout_after, value),
            _ => None,
        },
    }
}

/// Fills an empty field; `None` if the file has set it already (a repeated key or table).
/// Also what `RawConfig::decode` uses for its line form.
pub(super) fn set<T>(field: &mut Option<T>, value: T) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value);
    Some(())
}

/// A string value at the start of `value` into `field`; what follows its line.
fn string_to<'a>(field: &mut Option<String>, value: &'a str) -> Option<&'a str> {
    let (s, rest) = basic_string(value)?;
    let rest = after_value(rest)?;
    set(field, s.to_owned())?;
    Some(rest)
}

/// An integer value at the start of `value` into `field`; what follows its line.
fn integer_to<'a>(field: &mut Option<i64>, value: &'a str) -> Option<&'a str> {
    let (n, rest) = integer(value)?;
    let rest = after_value(rest)?;
    set(field, n)?;
    Some(rest)
}

/// `s` without its leading spaces and tabs (TOML's whitespace).
fn skip_ws(s: &str) -> &str {
    let n = s
        .bytes()
        .position(|b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    &s[n..]
}

/// What follows a value or a header: the end of the line, maybe after spaces or tabs and a
/// comment. TOML allows `"x"# comment`, without a space; declined, to stay on the plain side.
fn after_value(s: &str) -> Option<&str> {
    match s.as_bytes().first() {
        Some(b' ' | b'\t') => line_end(skip_ws(s)),
        Some(b'#') => None,
        _ => line_end(s),
    }
}

/// The end of a line at the start of `s`, maybe after a comment: what follows the line's
/// `\n` or `\r\n`, or `""` at the end of the text. `None` for anything else, a lone `\r`
/// included.
fn line_end(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let i = match b.first() {
        Some(b'#') => 1 + comment_len(&b[1..]),
        _ => 0,
    };
    match b.get(i..) {
        Some([]) => Some(""),
        Some([b'\n', ..]) => Some(&s[i + 1..]),
        Some([b'\r', b'\n', ..]) => Some(&s[i + 2..]),
        _ => None,
    }
}

/// How many bytes at the start of `b` may be in a comment: all but control characters other
/// than tab (TOML forbids them); so this is where the comment ends, normally at its `\n`.
///
/// Eight bytes at a time while none of them can be a control character (the shipped file is
/// 3 k of comments): with `w` the bytes as one word, `w - 0x20..20` borrows into the high bit
/// of a byte of `w` below 0x20 and `(w ^ 0x7f..7f) - 0x01..01` of one equal to 0x7f; masked
/// with `!w`, bytes of 0x80 and more never count. A flagged word may also be a tab, so the
/// exact test goes on byte by byte from that word on.
fn comment_len(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(&chunk) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(chunk);
        let del = w ^ (ONES * 0x7f);
        if (w.wrapping_sub(ONES * 0x20) | del.wrapping_sub(ONES)) & !w & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if (c < 0x20 && c != b'\t') || c == 0x7f {
            break;
        }
        i += 1;
    }
    i
}

/// A basic string at the start of `s` without escapes or control characters, and what
/// follows its closing quote.
fn basic_string(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('"')?;
    // Every byte of a multi-byte UTF-8 character is >= 0x80, so the ASCII byte found here is
    // on a character boundary.
    let end = body
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f)?;
    if body.as_bytes()[end] != b'"' {
        return None;
    }
    Some((&body[..end], &body[end + 1..]))
}

/// An array of strings on one line at the start of `s`, maybe empty, and what follows its
/// `]`.
fn string_array(s: &str) -> Option<(Vec<String>, &str)> {
    let mut rest = skip_ws(s.strip_prefix('[')?);
    let mut items = Vec::new();
    if let Some(r) = rest.strip_prefix(']') {
        return Some((items, r));
    }
    loop {
        // After `[` or a comma comes a string: so a trailing comma is declined.
        let (item, r) = basic_string(rest)?;
        items.push(item.to_owned());
        let r = skip_ws(r);
        if let Some(r) = r.strip_prefix(',') {
            rest = skip_ws(r);
        } else {
            return Some((items, r.strip_prefix(']')?));
        }
    }
}

/// A date-time `YYYY-MM-DDTHH:MM:SSZ` at the start of `s`, as the `toml` crate writes it back
/// (so `validate` sees the same text either way), and what follows it. Only days 01 to 28 and
/// times up to 23:59:59: every such date-time is valid, and anything else is declined.
fn datetime(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes().get(..20)?;
    let two = |i: usize, max: u8| {
        let (hi, lo) = (b[i], b[i + 1]);
        hi.is_ascii_digit() && lo.is_ascii_digit() && (hi - b'0') * 10 + (lo - b'0') <= max
    };
    let plain = b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && two(5, 12)
        && &b[5..7] != b"00"
        && b[7] == b'-'
        && two(8, 28)
        && &b[8..10] != b"00"
        && b[10] == b'T'
        && two(11, 23)
        && b[13] == b':'
        && two(14, 59)
        && b[16] == b':'
        && two(17, 59)
        && b[19] == b'Z';
    plain.then(|| s.split_at(20))
}

/// A plain decimal integer at the start of `s`, and what follows it: `0`, or up to 18 digits
/// (so within `i64`) without a leading zero, maybe after a `-`. Whatever follows the digits
/// must end the line ([`after_value`]), so `-0`, `+1`, `1_000`, `0x10`, `1e3` and `1.0` are
/// declined.
fn integer(s: &str) -> Option<(i64, &str)> {
    let sign = usize::from(s.starts_with('-'));
    let digits = s.as_bytes()[sign..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len() - sign);
    let (number, rest) = s.split_at(sign + digits);
    let plain = (1..=18).contains(&digits) && (s.as_bytes()[sign] != b'0' || number == "0");
    if !plain {
        return None;
    }
    Some((number.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::super::{with_toml, Config};
    use super::*;

    /// The shipped file: comments only.
    const SHIPPED: &str = include_str!("../../../packaging/twofold.toml");

    /// The fast reader accepts `text`, and reads it as the `toml` crate does: the same raw
    /// values, and so the same `Config` or the same message.
    fn accepted(text: &str) {
        let fast = read(text).unwrap_or_else(|| panic!("declined:\n{text}"));
        let by_toml = with_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(fast, by_toml, "read differently:\n{text}");
        assert_eq!(Config::parse(text), Config::parse_with_toml(text), "{text}");
        assert_eq!(
            Config::parse_fast_only(text),
            Some(Config::parse_with_toml(text))
        );
    }

    /// The fast reader declines `text`, and `Config::parse` answers what the `toml` path does.
    fn declined(text: &str) {
        assert!(read(text).is_none(), "accepted:\n{text:?}");
        assert_eq!(
            Config::parse(text),
            Config::parse_with_toml(text),
            "{text:?}"
        );
    }

    const BENCH: &str = "# defaults, written out\nwindow = 1\nunenrolled = \"deny\"\n";

    const FULL: &str = r#"# A system-mode host.
secret_path = "/var/lib/twofold/{user}.toml"
unenrolled = "allow"
exempt_groups = ["breakglass", "wheel"]
window = 2
prompt = "Code: "
issuer = "host1 ✓ ünïcödé"
audit_log = "/var/log/twofold/audit.log"

[rate_limit]
free_failures = 3
base_delay_secs = 10
max_delay_secs = 60
totp_lockout_after = 100
"#;

    #[test]
    fn plain_files_are_read_as_the_toml_crate_reads_them() {
        for text in [
            "",
            "\n\n",
            " \t \n",
            SHIPPED,
            BENCH,
            FULL,
            &FULL.replace('\n', "\r\n"),
            FULL.trim_end(),
            &SHIPPED.replace("#secret_path = \"{home}", "secret_path = \"{home}"),
            &SHIPPED.replace("#[rate_limit]", "[rate_limit]"),
            &SHIPPED.replace("#window = 1", "window = 1"),
            "window=0",
            "window =\t10 \t",
            "\t  window = 3 # three steps\n",
            "window = -1",
            "window = 999999999999999999",
            "window = -999999999999999999",
            "unenrolled = \"deny\" #\tanything: ✓ \"' \\ [x] = 1 # \u{a0}\n",
            "unenrolled_allow_until = 2026-12-28T23:59:59Z",
            "unenrolled_allow_until = 2001-01-01T00:00:00Z # past",
            "unenrolled_allow_until = 0000-01-01T00:00:00Z",
            "unenrolled_allow_until = 9999-10-19T09:09:09Z\r\nwindow = 2",
            "exempt_groups = []",
            "exempt_groups = [ ]",
            "exempt_groups = [\t\"a\" ,\"b\",\t\"c\" ] # groups",
            "exempt_groups = [\"\"]",
            "exempt_groups = [\"a b\", \"a/b\"]",
            "prompt = \"\"",
            "prompt = \"#not a comment\"",
            "prompt = \"'''\"",
            "issuer = \"a:b\"",
            "secret_path = \"relative/{user}\"",
            "[rate_limit]",
            "  [rate_limit]  # throttling\n",
            "[rate_limit]\nfree_failures = 0",
            "[rate_limit]\nbase_delay_secs = 100\nmax_delay_secs = 10",
            "[rate_limit]\ntotp_lockout_after = 4\nfree_failures = 5",
            "# only a comment, no newline",
            "#",
            "window = 1\n# comment at the end\n\n",
            "window = 1 \r\n\r\n",
        ] {
            accepted(text);
        }
    }

    #[test]
    fn valid_files_are_accepted_and_bad_values_get_the_same_message() {
        assert_eq!(
            Config::parse_fast_only(SHIPPED),
            Some(Ok(Config::default()))
        );
        let c = Config::parse_fast_only(FULL).unwrap().unwrap();
        assert!(c.secret_path.is_system_mode());
        assert_eq!(c.exempt_groups, ["breakglass", "wheel"]);
        assert_eq!(c.rate_limit.delay_after(5), 40);
        let e = Config::parse_fast_only("window = 11").unwrap().unwrap_err();
        assert_eq!(
            Err(e),
            Config::parse_with_toml("window = 11"),
            "the same message from either reader"
        );
    }

    #[test]
    fn anything_else_is_left_to_the_toml_crate() {
        for text in [
            // Date-times other than YYYY-MM-DDTHH:MM:SSZ with a day up to 28.
            "unenrolled_allow_until = 2026-12-31T00:00:00Z",
            "unenrolled_allow_until = 2026-12-29T00:00:00Z",
            "unenrolled_allow_until = 2026-02-30T00:00:00Z",
            "unenrolled_allow_until = 2026-13-01T00:00:00Z",
            "unenrolled_allow_until = 2026-00-01T00:00:00Z",
            "unenrolled_allow_until = 2026-01-00T00:00:00Z",
            "unenrolled_allow_until = 2026-01-01T24:00:00Z",
            "unenrolled_allow_until = 2026-01-01T00:60:00Z",
            "unenrolled_allow_until = 2026-01-01T00:00:60Z",
            "unenrolled_allow_until = 2026-01-01t00:00:00Z",
            "unenrolled_allow_until = 2026-01-01T00:00:00z",
            "unenrolled_allow_until = 2026-01-01 00:00:00Z",
            "unenrolled_allow_until = 2026-01-01T00:00:00.5Z",
            "unenrolled_allow_until = 2026-01-01T00:00:00+01:00",
            "unenrolled_allow_until = 2026-01-01T00:00:00",
            "unenrolled_allow_until = 2026-01-01T00:00:00Zx",
            "unenrolled_allow_until = 2026-01-01T00:00:00Z#c",
            "unenrolled_allow_until = 2026-01-01",
            "unenrolled_allow_until = 12026-01-01T00:00:00Z",
            "unenrolled_allow_until = 2026-01-01T00:00:00Z\nunenrolled_allow_until = 2026-01-01T00:00:00Z",
            "unenrolled_allow_until = \"2026-12-31T00:00:00Z\"",
            // Other strings.
            "prompt = 'Code: '",
            "prompt = '''Code: '''",
            "prompt = \"\"\"Code: \"\"\"",
            "prompt = \"\"\"\nCode: \"\"\"",
            "prompt = \"Co\\tde\"",
            "prompt = \"Co\\u0041de\"",
            "prompt = \"Co\\\"de\"",
            "prompt = \"Co\\de\"",
            "prompt = \"Co\tde\"",
            "prompt = \"Co\u{7f}de\"",
            "prompt = \"Co\u{0}de\"",
            "prompt = \"Code",
            "prompt = \"Code\"\"",
            "prompt = \"a\" \"b\"",
            "prompt =",
            "prompt",
            "= \"x\"",
            // Other tables and keys.
            "rate_limit = { free_failures = 3 }",
            "rate_limit.free_failures = 3",
            "rate_limit = 3",
            "[rate_limit]\n[rate_limit]",
            "[rate_limit]\nfree_failures = 3\n[rate_limit]",
            "[ rate_limit ]",
            "[rate_limit ]",
            "[\"rate_limit\"]",
            "[rate_limit.x]",
            "[other]",
            "[[rate_limit]]",
            "[[x]]",
            "[rate_limit]# no space",
            "[rate_limit] x",
            "[rate_limit]\nwindow = 1",
            "\"window\" = 1",
            "'window' = 1",
            "window.x = 1",
            "windw = 2",
            "Window = 2",
            "window = 1\nwindow = 1",
            "window = 1\nwindow = 2",
            "[rate_limit]\nfree_failures = 3\nfree_failures = 3",
            "free_failures = 3",
            "exempt_groups = [\"a\"]\nexempt_groups = []",
            // Other integers.
            "window = +1",
            "window = 01",
            "window = 00",
            "window = -0",
            "window = +0",
            "window = 1_0",
            "window = 0x1",
            "window = 0o1",
            "window = 0b1",
            "window = 1e1",
            "window = 1.0",
            "window = 1.5",
            "window = inf",
            "window = nan",
            "window = 1000000000000000000",
            "window = 9223372036854775807",
            "window = 9223372036854775808",
            "window = -9223372036854775808",
            "window = --1",
            "window = -",
            "window = 1-",
            "window = 1 2",
            // Other types, or the wrong type for the field.
            "window = true",
            "window = false",
            "window = \"2\"",
            "window = [1]",
            "window = {}",
            "window = 2026-12-31",
            "unenrolled = true",
            "unenrolled = \"Deny\"",
            "unenrolled = \"maybe\"",
            "unenrolled = [\"deny\"]",
            "unenrolled = deny",
            "prompt = 1",
            "exempt_groups = \"wheel\"",
            "exempt_groups = [1]",
            "exempt_groups = [[\"a\"]]",
            "exempt_groups = [\"a\", 1]",
            "exempt_groups = [\"a\",]",
            "exempt_groups = [\"a\", ]",
            "exempt_groups = [,]",
            "exempt_groups = ['a']",
            "exempt_groups = [\"a\" \"b\"]",
            "exempt_groups = [\"a\"",
            "exempt_groups = [\n\"a\"\n]",
            "exempt_groups = [\"a\", # comment\n\"b\"]",
            "[rate_limit]\nfree_failures = \"3\"",
            "[rate_limit]\nfree_failures = 3.0",
            // Line ends, comments, spacing.
            "window = 1\rprompt = \"x\"",
            "window = 1\r",
            "\r",
            "\r\r\n",
            "# comment\r",
            "# a\u{0}b",
            "# a\u{1b}b",
            "# a\u{7f}b",
            "# a\u{c}b",
            "window = 1 # a\u{8}b",
            "window = 1#comment",
            "prompt = \"x\"#comment",
            "unenrolled = \"deny\"#\n",
            "exempt_groups = []#comment",
            "window = 1 x",
            "window = 1 // comment",
            "\u{feff}window = 1",
            "window\u{a0}= 1",
            "window =\u{3000}1",
            "\u{b}window = 1",
        ] {
            declined(text);
        }
    }

    #[test]
    fn a_comment_ends_at_its_first_control_character_other_than_tab() {
        // The word-at-a-time scan against the plain definition, for every byte at every
        // position of a comment of every length up to a few words.
        let plain = |b: &[u8]| {
            b.iter()
                .position(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
                .unwrap_or(b.len())
        };
        // Without a tab (a tab sends the scan byte by byte from its word on), and with one.
        for (len, pattern) in (0..40).flat_map(|n| [(n, &b"# a}\xc3\xa9~ Z"[..]), (n, b"a\tb")]) {
            let base: Vec<u8> = (0..len).map(|i| pattern[i % pattern.len()]).collect();
            assert_eq!(comment_len(&base), plain(&base));
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut b = base.clone();
                    b[at] = byte;
                    assert_eq!(comment_len(&b), plain(&b), "{b:?}");
                    // And a second one further on.
                    b.push(b'\n');
                    assert_eq!(comment_len(&b), plain(&b), "{b:?}");
                }
            }
        }
    }

    #[test]
    fn the_near_misses_have_accepted_twins() {
        // The near misses above are worth something only if their plain twins are accepted.
        for text in [
            "prompt = \"Code: \"",
            "prompt = \"Co de\"",
            "[rate_limit]\nfree_failures = 3",
            "window = 1",
            "window = 10",
            "window = 1 # comment",
            "exempt_groups = [\"a\"]",
            "exempt_groups = [\"a\", \"b\"]",
            "window = 1\r\nprompt = \"x\"",
            "# a\tb",
        ] {
            accepted(text);
        }
    }
}
