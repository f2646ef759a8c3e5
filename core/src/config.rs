//! `/etc/twofold/twofold.toml`: parsed strictly, because a typo in a security setting must
//! never silently fall back to something weaker. A missing file is an error too: the defaults
//! read secrets from the users' homes, so a host in system mode whose file was deleted would
//! otherwise trust files its users wrote. Built-in defaults are only ever chosen explicitly
//! (an empty file, or the module argument `builtin_defaults`).

use serde::Deserialize;
use std::fmt;

pub const DEFAULT_PATH: &str = "/etc/twofold/twofold.toml";
/// The PAM services of the screen lockers that run PAM as the user they unlock, as each
/// calls `pam_start` (twofold.toml(5) lists which program each is). Lockers that
/// authenticate through a root process (GNOME Shell through gdm, light-locker through
/// lightdm, physlock) never need the rule.
pub const DEFAULT_SCREEN_LOCKERS: [&str; 8] = [
    "xscreensaver",
    "i3lock",
    "swaylock",
    "vlock",
    "kde",
    "cinnamon-screensaver",
    "mate-screensaver",
    "xfce4-screensaver",
];
/// A configuration file larger than this is refused: it is a few hundred bytes in practice.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// What happens to a user who has no secret file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unenrolled {
    Deny,
    Allow,
    /// Offered enrollment in the login conversation, after the first factor (until
    /// `enroll_until`, then as `Deny`); see `enrollment`.
    Enroll,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Consecutive wrong TOTP codes accepted without delay.
    pub free_failures: u32,
    /// Delay after the first failure past the free ones; doubles with each further failure.
    pub base_delay_secs: u64,
    /// Upper bound of the delay.
    pub max_delay_secs: u64,
    /// After this many consecutive failures app codes stop working until the user logs in
    /// with a recovery code or pass, or an admin runs `twofold admin unlock` (NIST SP 800-63B
    /// 5.2.2: at most 100). The owner is never locked out: recovery codes are not affected.
    pub totp_lockout_after: u32,
}

impl RateLimit {
    /// How long TOTP attempts pause after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> u64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(32);
        self.base_delay_secs
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_secs)
    }
}

/// Where a user's secret file lives, and so who must own it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPath {
    template: String,
}

impl SecretPath {
    /// A template without `{home}` names a root-owned system directory ("system mode").
    pub fn is_system_mode(&self) -> bool {
        !self.template.contains("{home}")
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// Expands the template. The user name is checked by the caller to hold no path characters.
    /// One pass over the template: what a placeholder is replaced with is never looked at
    /// again (a home directory or user name containing `{uid}` stays as it is).
    pub fn expand(&self, user: &str, uid: u32, home: &str) -> String {
        let home = home.trim_end_matches('/');
        let mut out = String::with_capacity(self.template.len() + home.len() + user.len());
        let mut rest = self.template.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            rest = if let Some(r) = tail.strip_prefix("{user}") {
                out.push_str(user);
                r
            } else if let Some(r) = tail.strip_prefix("{uid}") {
                out.push_str(&uid.to_string());
                r
            } else if let Some(r) = tail.strip_prefix("{home}") {
                out.push_str(home);
                r
            } else {
                out.push('{');
                &tail[1..]
            };
        }
        out.push_str(rest);
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub secret_path: SecretPath,
    pub unenrolled: Unenrolled,
    /// Unenrolled users pass until this time (a rollout grace period), whatever `unenrolled` says.
    pub unenrolled_allow_until: Option<crate::UnixTime>,
    /// With `unenrolled = "enroll"`: enrollment is offered until this time, then refused.
    pub enroll_until: Option<crate::UnixTime>,
    pub exempt_groups: Vec<String>,
    /// sshd logins from these client addresses skip the code (see `network`).
    pub exempt_networks: Vec<crate::network::Network>,
    /// PAM services of screen lockers: in system mode, only these may run the module as the
    /// user they authenticate (and get PAM_IGNORE); see `auth`.
    pub screen_lockers: Vec<String>,
    pub window: u8,
    pub prompt: String,
    pub issuer: String,
    pub rate_limit: RateLimit,
    /// Where the CLI appends a JSON line for every change root makes (admin actions).
    pub audit_log: String,
    /// `[directory]`: the state lives on the users' LDAP entries instead of secret files.
    pub directory: Option<Directory>,
    /// `sudo_after_login`: seconds after a login with a code during which sudo in the same
    /// login session does not ask again (see `session`). None: off.
    pub sudo_after_login: Option<u64>,
    /// The PAM services `sudo_after_login` applies to.
    pub sudo_services: Vec<String>,
}

/// The `[directory]` table: where the directory is and how the host binds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// `ldaps://` URIs, tried in order (`ldap://` only with `plain_ldap_for_tests`).
    pub uri: Vec<String>,
    /// Where the users' entries are (`uid=USER` below it).
    pub base: String,
    /// The host's own account in the directory.
    pub bind_dn: String,
    /// Its password: a root-owned file, mode 0600 or 0400, never through a symlink.
    pub bind_password_file: String,
    /// The CA that signed the servers' certificates (otherwise the system's).
    pub ca_file: Option<String>,
    /// Bound on each connection attempt and each operation.
    pub timeout: std::time::Duration,
    /// Allows `ldap://` without TLS: for test networks only; every login logs it.
    pub plain_ldap_for_tests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secret_path: SecretPath {
                template: "{home}/.config/twofold/secrets.toml".into(),
            },
            unenrolled: Unenrolled::Deny,
            unenrolled_allow_until: None,
            enroll_until: None,
            exempt_groups: Vec::new(),
            exempt_networks: Vec::new(),
            screen_lockers: DEFAULT_SCREEN_LOCKERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            window: 1,
            prompt: "Verification code: ".into(),
            issuer: "twofold".into(),
            audit_log: "/var/log/twofold/audit.log".into(),
            directory: None,
            sudo_after_login: None,
            sudo_services: vec!["sudo".into(), "sudo-i".into()],
            rate_limit: RateLimit {
                free_failures: 5,
                base_delay_secs: 30,
                max_delay_secs: 900,
                totp_lockout_after: 100,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The file as written, before any check: what serde fills from the `toml` crate's parse.
/// [`Config::validate`] judges it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    secret_path: Option<String>,
    unenrolled: Option<Unenrolled>,
    /// A TOML date-time, as the `toml` crate writes it back (`validate` reads it).
    #[serde(default, deserialize_with = "datetime_text")]
    unenrolled_allow_until: Option<String>,
    #[serde(default, deserialize_with = "datetime_text")]
    enroll_until: Option<String>,
    exempt_groups: Option<Vec<String>>,
    exempt_networks: Option<Vec<String>>,
    screen_lockers: Option<Vec<String>>,
    window: Option<i64>,
    prompt: Option<String>,
    issuer: Option<String>,
    audit_log: Option<String>,
    rate_limit: Option<RawRateLimit>,
    directory: Option<RawDirectory>,
    sudo_after_login: Option<String>,
    sudo_services: Option<Vec<String>>,
}

/// The `[directory]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    uri: Vec<String>,
    base: String,
    bind_dn: String,
    bind_password_file: String,
    ca_file: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    plain_ldap_for_tests: bool,
}

/// The `[rate_limit]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    free_failures: Option<i64>,
    base_delay_secs: Option<i64>,
    max_delay_secs: Option<i64>,
    totp_lockout_after: Option<i64>,
}

impl Config {
    /// Reads the configuration. Any problem (missing, unreadable, too large, unknown key, bad
    /// value) is an error, so callers fail closed.
    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.to_string(),
            message,
        };
        // At most one byte past the limit is read: enough to know the file is too large.
        let read = || -> std::io::Result<(Vec<u8>, u64)> {
            use std::io::Read;
            let file = std::fs::File::open(path)?;
            let size = file.metadata()?.len();
            let mut bytes = Vec::new();
            file.take(MAX_CONFIG_BYTES as u64 + 1)
                .read_to_end(&mut bytes)?;
            Ok((bytes, size))
        };
        let (bytes, size) = match read() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(err(
                    "does not exist; without it twofold would not know where secrets are kept, so it refuses: reinstall the package or restore the file (twofold.toml(5)); an empty file means the built-in defaults".into(),
                ))
            }
            Err(e) => return Err(err(format!("cannot be read ({e}); check its permissions"))),
        };
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(err(format!(
                "is {} bytes, more than the {MAX_CONFIG_BYTES} allowed",
                size.max(bytes.len() as u64)
            )));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| err("is not UTF-8 text".into()))?;
        Config::parse(text).map_err(err)
    }

    /// Parses configuration text; the error says which key is wrong and what is allowed.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| format!("is not valid: {}", e.message()))?;
        Config::validate(raw)
    }

    /// The checks of every value of a file, and the defaults for what it leaves out.
    fn validate(raw: RawConfig) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(p) = raw.secret_path {
            c.secret_path = parse_secret_path(&p)?;
        }
        if let Some(u) = raw.unenrolled {
            c.unenrolled = u;
        }
        if let Some(d) = raw.unenrolled_allow_until {
            c.unenrolled_allow_until = Some(
                crate::time::parse_rfc3339(&d)
                    .map_err(|e| format!("unenrolled_allow_until: {e}"))?,
            );
        }
        if let Some(d) = raw.enroll_until {
            c.enroll_until =
                Some(crate::time::parse_rfc3339(&d).map_err(|e| format!("enroll_until: {e}"))?);
        }
        if let Some(g) = raw.exempt_groups {
            if let Some(bad) = g
                .iter()
                .find(|n| n.is_empty() || n.contains(['/', ':', ' ', '\0']))
            {
                return Err(format!("exempt_groups: `{bad}` is not a group name"));
            }
            c.exempt_groups = g;
        }
        if let Some(n) = raw.exempt_networks {
            c.exempt_networks = n
                .iter()
                .map(|e| crate::network::Network::parse(e))
                .collect::<Result<_, _>>()?;
        }
        if let Some(l) = raw.screen_lockers {
            if let Some(bad) = l.iter().find(|n| {
                n.is_empty()
                    || n.len() > 100
                    || n.contains(|c: char| c == '/' || c.is_whitespace() || c.is_control())
            }) {
                return Err(format!(
                    "screen_lockers: `{}` is not a PAM service name",
                    bad.escape_default()
                ));
            }
            c.screen_lockers = l;
        }
        if let Some(w) = raw.window {
            c.window = u8::try_from(w).ok().filter(|w| *w <= 10).ok_or_else(|| {
                format!("window = {w} is out of range; use 0 to 10 time steps (1 is the usual)")
            })?;
        }
        if let Some(p) = raw.prompt {
            if p.is_empty() || p.len() > 200 || p.contains('\0') {
                return Err("prompt must be 1 to 200 characters".into());
            }
            c.prompt = p;
        }
        if let Some(i) = raw.issuer {
            if i.is_empty() || i.len() > 100 || i.contains(':') {
                return Err("issuer must be 1 to 100 characters, without a colon".into());
            }
            c.issuer = i;
        }
        if let Some(a) = raw.audit_log {
            if !a.starts_with('/') || a.ends_with('/') || a.contains("/../") || a.contains('\0') {
                return Err(format!(
                    "audit_log = \"{a}\" must be an absolute path to a file"
                ));
            }
            c.audit_log = a;
        }
        if let Some(r) = raw.rate_limit {
            let range =
                |name: &str, v: Option<i64>, lo: i64, hi: i64, cur: u64| -> Result<u64, String> {
                    match v {
                        None => Ok(cur),
                        Some(v) if (lo..=hi).contains(&v) => Ok(v as u64),
                        Some(v) => Err(format!(
                            "rate_limit.{name} = {v} is out of range {lo} to {hi}"
                        )),
                    }
                };
            c.rate_limit.free_failures = range(
                "free_failures",
                r.free_failures,
                1,
                100,
                c.rate_limit.free_failures.into(),
            )? as u32;
            c.rate_limit.base_delay_secs = range(
                "base_delay_secs",
                r.base_delay_secs,
                1,
                86_400,
                c.rate_limit.base_delay_secs,
            )?;
            c.rate_limit.max_delay_secs = range(
                "max_delay_secs",
                r.max_delay_secs,
                1,
                86_400,
                c.rate_limit.max_delay_secs,
            )?;
            c.rate_limit.totp_lockout_after = range(
                "totp_lockout_after",
                r.totp_lockout_after,
                1,
                100,
                c.rate_limit.totp_lockout_after.into(),
            )? as u32;
            if c.rate_limit.totp_lockout_after < c.rate_limit.free_failures {
                return Err("rate_limit.totp_lockout_after must not be below free_failures".into());
            }
            if c.rate_limit.max_delay_secs < c.rate_limit.base_delay_secs {
                return Err("rate_limit.max_delay_secs must not be below base_delay_secs".into());
            }
        }
        if let Some(d) = raw.directory {
            c.directory = Some(parse_directory(d)?);
        }
        if let Some(w) = raw.sudo_after_login {
            c.sudo_after_login = Some(crate::session::parse_window(&w)?);
        }
        if let Some(s) = raw.sudo_services {
            c.sudo_services = crate::session::parse_services(s)?;
        }
        check_enrollment_at_login(&c)?;
        Ok(c)
    }

    /// Whether an unenrolled user is offered enrollment at `now` (before `enroll_until`).
    pub fn enrollment_offered(&self, now: crate::UnixTime) -> bool {
        self.unenrolled == Unenrolled::Enroll && self.enroll_until.is_none_or(|t| now < t)
    }

    /// Whether an unenrolled user may pass at `now`.
    pub fn unenrolled_may_pass(&self, now: crate::UnixTime) -> bool {
        self.unenrolled == Unenrolled::Allow || self.unenrolled_allow_until.is_some_and(|t| now < t)
    }
}

/// `unenrolled = "enroll"` and what it cannot be combined with.
fn check_enrollment_at_login(c: &Config) -> Result<(), String> {
    if c.unenrolled != Unenrolled::Enroll {
        return match c.enroll_until {
            Some(_) => Err("enroll_until is set but unenrolled is not \"enroll\": add unenrolled = \"enroll\", or remove enroll_until".into()),
            None => Ok(()),
        };
    }
    if c.unenrolled_allow_until.is_some() {
        return Err("unenrolled = \"enroll\" and unenrolled_allow_until contradict each other (let unenrolled users enroll, or let them through): keep one; enroll_until sets the end of enrollment at login".into());
    }
    if c.directory.is_some() {
        return Err("unenrolled = \"enroll\" is not available with [directory]: enroll users with `twofold enroll --user NAME` as root on a host".into());
    }
    Ok(())
}

fn datetime_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<toml::value::Datetime>::deserialize(d).map(|v| v.map(|d| d.to_string()))
}

fn parse_directory(d: RawDirectory) -> Result<Directory, String> {
    if d.uri.is_empty() || d.uri.len() > 8 {
        return Err("directory.uri must list 1 to 8 servers".into());
    }
    for u in &d.uri {
        let (plain, rest) = match (u.strip_prefix("ldaps://"), u.strip_prefix("ldap://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            _ => return Err(format!("directory.uri \"{u}\" must start with ldaps://")),
        };
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
        {
            return Err(format!(
                "directory.uri \"{u}\" must be a server and an optional port, nothing else"
            ));
        }
        if plain && !d.plain_ldap_for_tests {
            return Err(format!(
                "directory.uri \"{u}\" is plain LDAP, without TLS: the host's password and every user's secrets would cross the network in clear; use ldaps:// (plain_ldap_for_tests = true allows it on a test network)"
            ));
        }
    }
    for (name, dn) in [("base", &d.base), ("bind_dn", &d.bind_dn)] {
        if !dn.contains('=') || dn.len() > 1024 || dn.contains(['\0', '\n', '\r']) {
            return Err(format!(
                "directory.{name} = \"{dn}\" is not a distinguished name (like dc=example,dc=org)"
            ));
        }
    }
    let file = |name: &str, p: &str| -> Result<(), String> {
        if !p.starts_with('/') || p.ends_with('/') || p.contains("/../") || p.contains('\0') {
            return Err(format!(
                "directory.{name} = \"{p}\" must be an absolute path to a file"
            ));
        }
        Ok(())
    };
    file("bind_password_file", &d.bind_password_file)?;
    if let Some(ca) = &d.ca_file {
        file("ca_file", ca)?;
    }
    let timeout = match &d.timeout {
        None => std::time::Duration::from_secs(3),
        Some(t) => humantime::parse_duration(t)
            .ok()
            .filter(|t| {
                (std::time::Duration::from_millis(100)..=std::time::Duration::from_secs(60))
                    .contains(t)
            })
            .ok_or_else(|| {
                format!(
                    "directory.timeout = \"{t}\" must be a duration from 100ms to 60s, like \"3s\""
                )
            })?,
    };
    Ok(Directory {
        uri: d.uri,
        base: d.base,
        bind_dn: d.bind_dn,
        bind_password_file: d.bind_password_file,
        ca_file: d.ca_file,
        timeout,
        plain_ldap_for_tests: d.plain_ldap_for_tests,
    })
}

fn parse_secret_path(p: &str) -> Result<SecretPath, String> {
    let bad = |why: &str| Err(format!("secret_path = \"{p}\": {why}"));
    if !(p.starts_with('/') || p.starts_with("{home}/")) {
        return bad("must be an absolute path or start with {home}/");
    }
    if !(p.contains("{user}") || p.contains("{uid}") || p.contains("{home}")) {
        return bad("must contain {user}, {uid} or {home}, or every user would share one file");
    }
    if p.contains("/../") || p.contains("/./") || p.ends_with('/') || p.contains('\0') {
        return bad("must be a plain path to a file, without `..` or `.`");
    }
    let mut rest = p;
    while let Some(i) = rest.find('{') {
        let after = &rest[i..];
        let known = ["{user}", "{uid}", "{home}"]
            .iter()
            .find(|k| after.starts_with(**k));
        match known {
            Some(k) => rest = &after[k.len()..],
            None => return bad("only {user}, {uid} and {home} may be used"),
        }
    }
    Ok(SecretPath {
        template: p.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_never_the_defaults() {
        // The defaults read secrets from the homes: a system-mode host whose file was deleted
        // must not start trusting files its users planted there.
        let err = Config::load("/nonexistent-twofold/twofold.toml").unwrap_err();
        assert!(err.message.contains("does not exist"), "{err}");
        let empty = std::env::temp_dir().join(format!("twofold-empty-{}.toml", std::process::id()));
        std::fs::write(&empty, "").unwrap();
        assert_eq!(
            Config::load(empty.to_str().unwrap()).unwrap(),
            Config::default()
        );
        std::fs::remove_file(empty).unwrap();
    }

    #[test]
    fn secret_path_placeholders_are_expanded_once() {
        let p = parse_secret_path("/var/lib/twofold/{uid}/{user}.toml").unwrap();
        assert_eq!(
            p.expand("alice", 1000, "/home/alice/"),
            "/var/lib/twofold/1000/alice.toml"
        );
        assert_eq!(p.expand("{uid}", 0, "/"), "/var/lib/twofold/0/{uid}.toml");
        assert_eq!(
            p.expand("a", u32::MAX, "/"),
            "/var/lib/twofold/4294967295/a.toml"
        );
        let p = Config::default().secret_path;
        assert_eq!(
            p.expand("bob", 7, "/home/{user}///"),
            "/home/{user}/.config/twofold/secrets.toml"
        );
    }

    #[test]
    fn empty_text_gives_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_an_error() {
        let e = Config::parse("windw = 2").unwrap_err();
        assert!(e.contains("windw"), "{e}");
    }

    #[test]
    fn full_config_parses() {
        let c = Config::parse(
            r#"
            secret_path = "/var/lib/twofold/{user}.toml"
            unenrolled = "allow"
            unenrolled_allow_until = 2026-12-31T00:00:00Z
            exempt_groups = ["breakglass"]
            exempt_networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
            window = 2
            prompt = "Code: "
            issuer = "host1"
            [rate_limit]
            free_failures = 3
            base_delay_secs = 10
            max_delay_secs = 60
            "#,
        )
        .unwrap();
        assert!(c.secret_path.is_system_mode());
        assert_eq!(c.window, 2);
        let nets: Vec<String> = c.exempt_networks.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
        assert_eq!(c.unenrolled_allow_until, Some(1_798_675_200));
        assert_eq!(c.rate_limit.delay_after(3), 10);
        assert_eq!(c.rate_limit.delay_after(5), 40);
        assert_eq!(c.rate_limit.delay_after(50), 60);
    }

    #[test]
    fn out_of_range_values_are_errors() {
        for bad in [
            "window = 11",
            "window = -1",
            "unenrolled = \"maybe\"",
            "secret_path = \"relative/{user}\"",
            "secret_path = \"/var/lib/twofold/all.toml\"",
            "secret_path = \"/var/lib/{user}/../x\"",
            "secret_path = \"/var/lib/{usr}.toml\"",
            "[rate_limit]\nfree_failures = 0",
            "[rate_limit]\nbase_delay_secs = 100\nmax_delay_secs = 10",
            "prompt = \"\"",
            "window = 1\nwindow = 2",
            "exempt_networks = [\"10.0.0.0/8\", \"10.0.0.1/8\"]",
            "exempt_networks = \"10.0.0.0/8\"",
            "screen_lockers = [\"\"]",
            "screen_lockers = [\"../sshd\"]",
            "screen_lockers = [\"my locker\"]",
            "screen_lockers = \"i3lock\"",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    const DIRECTORY: &str = r#"
        [directory]
        uri = ["ldaps://ldap1.example.org", "ldaps://ldap2.example.org:636/"]
        base = "ou=people,dc=example,dc=org"
        bind_dn = "cn=host-web1,ou=hosts,dc=example,dc=org"
        bind_password_file = "/etc/twofold/ldap.secret"
        "#;

    #[test]
    fn no_directory_table_keeps_the_files() {
        assert_eq!(Config::parse("window = 1").unwrap().directory, None);
    }

    #[test]
    fn a_directory_table_parses_with_tls_and_a_three_second_timeout_by_default() {
        let d = Config::parse(DIRECTORY).unwrap().directory.unwrap();
        assert_eq!(
            d.uri,
            [
                "ldaps://ldap1.example.org",
                "ldaps://ldap2.example.org:636/"
            ]
        );
        assert_eq!(d.base, "ou=people,dc=example,dc=org");
        assert_eq!(d.bind_dn, "cn=host-web1,ou=hosts,dc=example,dc=org");
        assert_eq!(d.bind_password_file, "/etc/twofold/ldap.secret");
        assert_eq!(d.ca_file, None);
        assert_eq!(d.timeout, std::time::Duration::from_secs(3));
        assert!(!d.plain_ldap_for_tests);
        let d = Config::parse(&format!(
            "{DIRECTORY}ca_file = \"/etc/twofold/ldap-ca.pem\"\ntimeout = \"500ms\""
        ))
        .unwrap()
        .directory
        .unwrap();
        assert_eq!(d.ca_file.as_deref(), Some("/etc/twofold/ldap-ca.pem"));
        assert_eq!(d.timeout, std::time::Duration::from_millis(500));
    }

    #[test]
    fn plain_ldap_needs_the_explicit_opt_out() {
        let plain = DIRECTORY.replace("ldaps://ldap1", "ldap://ldap1");
        let e = Config::parse(&plain).unwrap_err();
        assert!(e.contains("plain_ldap_for_tests"), "{e}");
        let d = Config::parse(&format!("{plain}plain_ldap_for_tests = true"))
            .unwrap()
            .directory
            .unwrap();
        assert!(d.plain_ldap_for_tests);
    }

    #[test]
    fn bad_directory_tables_are_errors() {
        for (from, to) in [
            (
                r#"["ldaps://ldap1.example.org", "ldaps://ldap2.example.org:636/"]"#,
                "[]",
            ),
            ("ldaps://ldap1.example.org", "https://ldap1.example.org"),
            ("ldaps://ldap1.example.org", "ldaps://"),
            ("ldaps://ldap1.example.org", "ldaps://ldap1/ou=x?uid"),
            ("ldaps://ldap1.example.org", "ldaps://a b"),
            ("ou=people,dc=example,dc=org", ""),
            ("cn=host-web1,ou=hosts,dc=example,dc=org", "host-web1"),
            ("/etc/twofold/ldap.secret", "ldap.secret"),
            ("/etc/twofold/ldap.secret", "/etc/twofold/"),
            ("bind_dn", "bind_dnn"),
        ] {
            let bad = DIRECTORY.replace(from, to);
            assert_ne!(bad, DIRECTORY, "{from} not in the table");
            assert!(Config::parse(&bad).is_err(), "{bad} was accepted");
        }
        for extra in [
            "timeout = \"50ms\"",
            "timeout = \"2m\"",
            "timeout = \"soon\"",
            "timeout = 3",
            "ca_file = \"ca.pem\"",
            "starttls = true",
        ] {
            let bad = format!("{DIRECTORY}{extra}");
            assert!(Config::parse(&bad).is_err(), "{bad} was accepted");
        }
        let missing = DIRECTORY.replace("base = \"ou=people,dc=example,dc=org\"", "");
        assert!(Config::parse(&missing).is_err(), "no base accepted");
    }

    #[test]
    fn screen_lockers_default_to_the_lockers_services_and_may_be_replaced() {
        let d = Config::default().screen_lockers;
        for locker in ["xscreensaver", "i3lock", "swaylock", "vlock", "kde"] {
            assert!(d.iter().any(|s| s == locker), "{locker}");
        }
        for network in ["sshd", "login", "sudo", "su", "other", "common-auth"] {
            assert!(!d.iter().any(|s| s == network), "{network}");
        }
        let c = Config::parse("screen_lockers = [\"hyprlock\"]").unwrap();
        assert_eq!(c.screen_lockers, ["hyprlock"]);
        assert!(Config::parse("screen_lockers = []")
            .unwrap()
            .screen_lockers
            .is_empty());
    }

    #[test]
    fn grace_date_allows_unenrolled_until_it_passes() {
        let c = Config::parse("unenrolled_allow_until = 2026-12-31T00:00:00Z").unwrap();
        assert!(c.unenrolled_may_pass(1_798_675_199));
        assert!(!c.unenrolled_may_pass(1_798_675_200));
    }

    #[test]
    fn enrollment_at_login_is_offered_until_enroll_until_then_not() {
        let c = Config::parse("unenrolled = \"enroll\"").unwrap();
        assert_eq!((c.unenrolled, c.enroll_until), (Unenrolled::Enroll, None));
        assert!(c.enrollment_offered(u64::MAX));
        assert!(!c.unenrolled_may_pass(0));
        let c =
            Config::parse("unenrolled = \"enroll\"\nenroll_until = 2026-12-31T00:00:00Z").unwrap();
        assert_eq!(c.enroll_until, Some(1_798_675_200));
        assert!(c.enrollment_offered(1_798_675_199));
        assert!(!c.enrollment_offered(1_798_675_200));
        assert!(!c.unenrolled_may_pass(1_798_675_200));
        for other in ["allow", "deny"] {
            let c = Config::parse(&format!("unenrolled = \"{other}\"")).unwrap();
            assert!(!c.enrollment_offered(0), "{other}");
        }
    }

    #[test]
    fn enrollment_at_login_refuses_what_it_cannot_be_combined_with() {
        for (bad, why) in [
            (
                "unenrolled = \"enroll\"\nunenrolled_allow_until = 2026-12-31T00:00:00Z",
                "contradict",
            ),
            (
                "enroll_until = 2026-12-31T00:00:00Z",
                "unenrolled is not \"enroll\"",
            ),
            (
                "unenrolled = \"deny\"\nenroll_until = 2026-12-31T00:00:00Z",
                "unenrolled is not \"enroll\"",
            ),
            (
                "unenrolled = \"enroll\"\nenroll_until = \"soon\"",
                "invalid type",
            ),
        ] {
            let e = Config::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = Config::parse(&format!("unenrolled = \"enroll\"\n{DIRECTORY}")).unwrap_err();
        assert!(e.contains("not available with [directory]"), "{e}");
    }

    #[test]
    fn default_rate_limit_caps_at_fifteen_minutes() {
        let r = Config::default().rate_limit;
        assert_eq!(r.delay_after(4), 0);
        assert_eq!(r.delay_after(5), 30);
        assert_eq!(r.delay_after(10), 900);
        assert_eq!(r.delay_after(u32::MAX), 900);
    }
}
