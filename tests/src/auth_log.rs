//! pam_twofold's lines in `/var/log/auth.log`, in the format INTERFACES.md fixes:
//! `service="sshd" user="alice" rhost="127.0.0.1" method=totp result=success reason="..."`.

use std::collections::BTreeMap;

/// One decision the module logged.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The whole line as rsyslog wrote it.
    pub line: String,
    fields: BTreeMap<String, String>,
}

impl Decision {
    /// Parses a line of auth.log if it is a decision of pam_twofold.
    pub(crate) fn parse(line: &str) -> Option<Decision> {
        let (_, message) = line.split_once(" pam_twofold[")?;
        let (_, message) = message.split_once("]: ")?;
        let fields = parse_fields(message);
        fields.contains_key("result").then(|| Decision {
            line: line.to_owned(),
            fields,
        })
    }

    /// A field of the line, `""` if it is missing.
    pub fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    pub fn service(&self) -> &str {
        self.field("service")
    }
    pub fn user(&self) -> &str {
        self.field("user")
    }
    pub fn method(&self) -> &str {
        self.field("method")
    }
    pub fn result(&self) -> &str {
        self.field("result")
    }
    pub fn reason(&self) -> &str {
        self.field("reason")
    }

    /// Asserts user, method and result of this decision.
    #[track_caller]
    pub fn assert(&self, user: &str, method: &str, result: &str) -> &Self {
        assert!(
            self.user() == user && self.method() == method && self.result() == result,
            "expected user={user} method={method} result={result} in\n  {}",
            self.line
        );
        self
    }

    /// Asserts a refusal: user and method match and the result is anything but success.
    #[track_caller]
    pub fn assert_denied(&self, user: &str, method: &str) -> &Self {
        assert!(
            self.user() == user && self.method() == method && self.result() != "success",
            "expected a refusal with user={user} method={method} in\n  {}",
            self.line
        );
        self
    }

    /// Asserts a refusal of `user`, whatever the method.
    #[track_caller]
    pub fn assert_refused(&self, user: &str) -> &Self {
        assert!(
            self.user() == user && self.result() != "success",
            "expected a refusal of {user} in\n  {}",
            self.line
        );
        self
    }

    #[track_caller]
    pub fn assert_reason_contains(&self, needle: &str) -> &Self {
        assert!(
            self.reason()
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "expected a reason containing {needle:?} in\n  {}",
            self.line
        );
        self
    }
}

/// `key=value` pairs separated by spaces; a value may be double-quoted, with `\"` and `\\`.
fn parse_fields(message: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut rest = message.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().to_owned();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        fields.insert(key, value);
        rest = remainder.trim_start();
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_decision_line() {
        let line = r#"2026-11-25T11:12:16.004632+00:00 twofold-e2e pam_twofold[41]: service="sshd" user="alice" rhost="127.0.0.1" method=totp result=success reason="code accepted (device \"phone\")""#;
        let d = Decision::parse(line).expect("a decision");
        d.assert("alice", "totp", "success");
        assert_eq!(d.service(), "sshd");
        assert_eq!(d.field("rhost"), "127.0.0.1");
        assert_eq!(d.reason(), r#"code accepted (device "phone")"#);
    }

    #[test]
    fn ignores_other_lines() {
        assert!(Decision::parse("x sshd[41]: Accepted publickey for alice").is_none());
        assert!(Decision::parse("x pam_twofold[41]: cannot read config").is_none());
    }
}
