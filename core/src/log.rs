//! The one quoting rule of twofold's log lines (the module's auth log and the CLI's record of
//! changes): `key="value"`, quoted and escaped, so a hostile user name or host cannot forge
//! a field or a line. Fields with a fixed set of words (`method`, `result`) are written bare.

/// `value` as written after `key=`: in quotes, with quotes, backslashes and control
/// characters escaped (Rust's `Debug` form of a string). Always quoted, as the first release
/// wrote it, so filters that match `user="alice"` keep working.
pub fn quote(value: &str) -> String {
    format!("{value:?}")
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn values_are_quoted_so_none_can_forge_a_field_or_line() {
        assert_eq!(quote("alice"), "\"alice\"");
        assert_eq!(quote("127.0.0.1"), "\"127.0.0.1\"");
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
