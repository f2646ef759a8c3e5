//! The one quoting rule of twofold's log lines (the module's auth log and the CLI's record of
//! changes): `key=value`, the value bare when it is plain, quoted and escaped otherwise, so a
//! hostile user name or host cannot forge a field or a line.

/// `value` as written after `key=`: bare when it is non-empty printable ASCII without `"` or
/// `\`; otherwise in quotes, with quotes, backslashes and control characters escaped (Rust's
/// `Debug` form of a string).
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_values_stay_bare_and_others_cannot_forge_a_field_or_line() {
        assert_eq!(quote("alice"), "alice");
        assert_eq!(quote("127.0.0.1"), "127.0.0.1");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("a result=success"), "\"a result=success\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("a\nresult=success"), "\"a\\nresult=success\"");
        // C1 control characters too, not other non-ASCII text.
        assert_eq!(quote("a\u{85}b"), "\"a\\u{85}b\"");
        assert_eq!(quote("jos\u{e9}"), "\"jos\u{e9}\"");
        assert_eq!(quote("\u{7f}\t"), "\"\\u{7f}\\t\"");
    }
}
