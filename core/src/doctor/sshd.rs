//! sshd from its effective configuration (`sshd -T`, `sshd -T -C user=…`): which method
//! lists a login can satisfy, and where a keyword got its value (`sshd_config` and its
//! `Include`d drop-ins, first value wins).

use std::collections::BTreeMap;

/// `sshd -T` output: lower-case keywords and their values (repeated keywords kept in order).
#[derive(Debug, Clone, Default)]
pub struct Effective {
    values: BTreeMap<String, Vec<String>>,
}

impl Effective {
    pub fn parse(text: &str) -> Effective {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in text.lines() {
            let mut parts = line.trim().splitn(2, ' ');
            if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                values
                    .entry(k.to_ascii_lowercase())
                    .or_default()
                    .push(v.trim().to_string());
            }
        }
        Effective { values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn yes(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| v.eq_ignore_ascii_case("yes"))
    }

    pub fn use_pam(&self) -> bool {
        self.yes("usepam").unwrap_or(false)
    }

    /// OpenSSH 8.7 renamed ChallengeResponseAuthentication; either name counts.
    pub fn kbd_interactive(&self) -> bool {
        self.yes("kbdinteractiveauthentication")
            .or_else(|| self.yes("challengeresponseauthentication"))
            .unwrap_or(true)
    }

    pub fn enabled(&self, method: &str) -> bool {
        match method.split(':').next().unwrap_or(method) {
            "publickey" => self.yes("pubkeyauthentication").unwrap_or(true),
            "password" => self.yes("passwordauthentication").unwrap_or(true),
            "keyboard-interactive" => self.kbd_interactive(),
            "hostbased" => self.yes("hostbasedauthentication").unwrap_or(false),
            "gssapi-with-mic" => self.yes("gssapiauthentication").unwrap_or(false),
            _ => false,
        }
    }

    /// The method lists sshd accepts (`any`: each enabled method alone), keeping only those
    /// whose methods are all enabled; `root` applies `PermitRootLogin`.
    pub fn method_lists(&self, root: bool) -> Vec<Vec<String>> {
        let all = [
            "publickey",
            "password",
            "keyboard-interactive",
            "hostbased",
            "gssapi-with-mic",
        ];
        let spec = self.get("authenticationmethods").unwrap_or("any");
        let lists: Vec<Vec<String>> = if spec == "any" {
            all.iter().map(|m| vec![m.to_string()]).collect()
        } else {
            spec.split_whitespace()
                .map(|l| {
                    l.split(',')
                        .map(|m| m.split(':').next().unwrap_or(m).to_string())
                        .collect()
                })
                .collect()
        };
        let root_rule = self.get("permitrootlogin").unwrap_or("prohibit-password");
        lists
            .into_iter()
            .filter(|l| l.iter().all(|m| self.enabled(m)))
            .filter(|l| {
                !root
                    || match root_rule {
                        "yes" => true,
                        "no" => false,
                        // Neither password nor keyboard-interactive for root.
                        _ => !l
                            .iter()
                            .any(|m| m == "password" || m == "keyboard-interactive"),
                    }
            })
            .collect()
    }
}

/// Where a keyword was first set, reading the main file and its `Include`s as sshd does
/// (outside `Match` blocks). `files` maps full paths to texts; the main file is
/// `/etc/ssh/sshd_config`.
pub fn first_setting(
    files: &BTreeMap<String, String>,
    keyword: &str,
) -> Option<(String, usize, String)> {
    let mut seen = Vec::new();
    scan(files, "/etc/ssh/sshd_config", keyword, &mut seen)
}

fn scan(
    files: &BTreeMap<String, String>,
    path: &str,
    keyword: &str,
    seen: &mut Vec<String>,
) -> Option<(String, usize, String)> {
    if seen.iter().any(|p| p == path) {
        return None;
    }
    seen.push(path.to_string());
    let text = files.get(path)?;
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.splitn(2, |c: char| c.is_whitespace() || c == '=');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let value = value
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .trim();
        if key.eq_ignore_ascii_case("match") {
            return None;
        }
        if key.eq_ignore_ascii_case("include") {
            for pattern in value.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                for name in files.keys().filter(|p| glob(&pattern, p)) {
                    if let Some(found) = scan(files, name, keyword, seen) {
                        return Some(found);
                    }
                }
            }
            continue;
        }
        if key.eq_ignore_ascii_case(keyword) {
            return Some((path.to_string(), n + 1, value.to_string()));
        }
    }
    None
}

/// A `*` in the last component only, as sshd_config's Include lines use it.
fn glob(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((head, tail)) => {
            path.len() >= head.len() + tail.len()
                && path.starts_with(head)
                && path.ends_with(tail)
                && !path[head.len()..path.len() - tail.len()].contains('/')
        }
    }
}
