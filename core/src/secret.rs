//! The per-user secret file: versioned TOML, one implementation shared by module and CLI.
//!
//! ```toml
//! version = 1
//! [[device]]            # one or more authenticator apps
//! name = "phone"
//! secret = "JBSWY3DPEHPK3PXP..."   # base32
//! algorithm = "SHA1"
//! digits = 6
//! period = 30
//! created = 1764000000
//! last_step = 58800000  # last accepted time step: replay protection
//! [recovery]            # argon2id hashes only, one shared salt
//! [pass]                # temporary access pass (hash, expiry)
//! [state]               # throttling and last login
//! ```

use crate::kdf::{self, KdfParams, HASH_LEN};
use crate::UnixTime;
use data_encoding::{BASE32_NOPAD, BASE64};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

pub const VERSION: u32 = 1;
/// A secret file larger than this is refused; a real one is a few KiB.
pub const MAX_FILE_BYTES: usize = 64 * 1024;
pub const MAX_DEVICES: usize = 16;
pub const MAX_RECOVERY_CODES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    SHA1,
    SHA256,
    SHA512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::SHA1 => "SHA1",
            Algorithm::SHA256 => "SHA256",
            Algorithm::SHA512 => "SHA512",
        }
    }
}

/// A base32 TOTP key. Wiped on drop; never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn from_bytes(bytes: &[u8]) -> SecretKey {
        SecretKey(BASE32_NOPAD.encode(bytes))
    }
    /// Accepts base32 as people and other tools write it: any case, spaces, `=` padding.
    pub fn from_base32(text: &str) -> Result<SecretKey, String> {
        let clean: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '=' && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let key = SecretKey(clean.to_string());
        key.check()?;
        Ok(key)
    }
    pub fn base32(&self) -> &str {
        &self.0
    }
    /// Whether the key decodes to 10 to 64 bytes.
    pub fn check(&self) -> Result<(), String> {
        self.bytes().map(|_| ())
    }
    pub fn bytes(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        let b = BASE32_NOPAD
            .decode(self.0.as_bytes())
            .map_err(|_| NOT_BASE32.to_string())?;
        key_length(b.len())?;
        Ok(Zeroizing::new(b))
    }
}

const NOT_BASE32: &str = "secret is not valid base32";

/// A decoded key's length, as `check` and `bytes` both require it.
fn key_length(len: usize) -> Result<(), String> {
    if (10..=64).contains(&len) {
        Ok(())
    } else {
        Err(format!("secret is {len} bytes; 10 to 64 are allowed"))
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub name: String,
    pub secret: SecretKey,
    pub algorithm: Algorithm,
    pub digits: u8,
    pub period: u64,
    pub created: UnixTime,
    /// The last time step accepted for this device; codes for it or earlier are replays.
    #[serde(default)]
    pub last_step: u64,
    /// Accepted steps either side of now for this device, overriding the configuration
    /// (imported from google-authenticator's WINDOW_SIZE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodes {
    pub kdf: KdfParams,
    pub salt: String,
    pub hashes: Vec<String>,
    pub created: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPass {
    pub kdf: KdfParams,
    pub salt: String,
    pub hash: String,
    pub issued: UnixTime,
    pub expires: UnixTime,
    pub issued_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Consecutive wrong TOTP codes since the last success.
    #[serde(default)]
    pub failures: u32,
    /// TOTP attempts are refused until then (recovery codes and passes are not).
    #[serde(default)]
    pub throttled_until: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFile {
    pub version: u32,
    #[serde(default, rename = "device")]
    pub devices: Vec<Device>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryCodes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<AccessPass>,
    /// 8-digit scratch codes imported from google-authenticator, hashed. Only 27 bits each,
    /// so attempts at them count against the TOTP throttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_scratch: Option<RecoveryCodes>,
    #[serde(default)]
    pub state: State,
}

/// Why a secret file was refused. The text says what is wrong; callers add how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Device {
    /// A device with the parameters every authenticator app assumes (SHA1, 6 digits, 30 s).
    pub fn new(name: &str, secret: SecretKey, created: UnixTime) -> Device {
        Device {
            name: name.to_string(),
            secret,
            algorithm: Algorithm::SHA1,
            digits: 6,
            period: 30,
            created,
            last_step: 0,
            window: None,
        }
    }
}

pub fn valid_device_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// What the `toml` crate found wrong, without any value from the file (this reaches the auth
/// log, and a hand-edited file can hold a secret anywhere): the line, the field's name and the
/// kind of error. serde's messages quote the value found ("invalid type: string \"...\",
/// expected ..."); only the kind and what was expected are kept. The crate's other messages
/// describe the grammar, never the input.
fn describe(text: &str, err: &toml::de::Error) -> String {
    // Without the input, the error shows its message and the keys leading to the field.
    let mut bare = err.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let (message, field) = match shown.trim_end().rsplit_once("\nin `") {
        Some((m, keys)) => (m.to_string(), Some(keys.trim_end_matches('`').to_string())),
        None => (shown.trim_end().to_string(), None),
    };
    let mut kind = message;
    // The two kinds that quote a key: a secret pasted as a key must not reach the log.
    if let Some(rest) = kind.strip_prefix("unknown field ") {
        kind = match rest.split_once(", expected ") {
            Some((_, expected)) => format!("an unknown field, expected {expected}"),
            None => "an unknown field".into(),
        };
    } else if kind.starts_with("duplicate key") {
        kind = "a duplicate key".into();
    }
    for prefix in [
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ] {
        if kind.starts_with(prefix) {
            kind = match kind.rsplit_once(", expected ") {
                Some((_, expected)) => format!("{prefix}, expected {expected}"),
                None => prefix.to_string(),
            };
        }
    }
    let mut out = String::new();
    if let Some(span) = err.span() {
        let line = text.as_bytes()[..span.start.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        out.push_str(&format!("line {line}: "));
    }
    if let Some(field) = field {
        out.push_str(&format!("field `{}`: ", field.escape_default()));
    }
    out.push_str(&kind);
    out
}

impl SecretFile {
    pub fn new() -> SecretFile {
        SecretFile {
            version: VERSION,
            devices: Vec::new(),
            recovery: None,
            pass: None,
            legacy_scratch: None,
            state: State::default(),
        }
    }

    /// Parses and checks a file's bytes. Any problem is an error: the caller fails closed.
    pub fn parse(bytes: &[u8]) -> Result<SecretFile, FormatError> {
        let e = |m: String| FormatError(m);
        if bytes.is_empty() {
            return Err(e("file is empty".into()));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(e(format!("file is larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| e("file is not UTF-8 text".into()))?;
        // One parse in the usual case. A file that does not parse, or has another version, is
        // looked at again for its version alone, so a newer format gets a message about the
        // version rather than about a field.
        let parsed = toml::from_str::<SecretFile>(text);
        if !matches!(&parsed, Ok(file) if file.version == VERSION) {
            #[derive(Deserialize)]
            struct VersionOnly {
                version: Option<toml::Value>,
            }
            if let Ok(v) = toml::from_str::<VersionOnly>(text) {
                match v.version {
                    None => return Err(e("file has no `version` field".into())),
                    Some(toml::Value::Integer(n)) if n == i64::from(VERSION) => {}
                    Some(toml::Value::Integer(n)) => {
                        return Err(e(format!(
                            "file has version {n}, this twofold reads version {VERSION}; upgrade twofold or re-enroll"
                        )))
                    }
                    Some(_) => return Err(e("`version` is not a number".into())),
                }
            }
        }
        let file =
            parsed.map_err(|err| e(format!("file is not valid: {}", describe(text, &err))))?;
        file.check()?;
        Ok(file)
    }

    /// The invariants every file obeys, checked on read and before every write.
    pub fn check(&self) -> Result<(), FormatError> {
        let e = |m: String| Err(FormatError(m));
        if self.version != VERSION {
            return e(format!(
                "file has version {}, expected {VERSION}",
                self.version
            ));
        }
        if self.devices.len() > MAX_DEVICES {
            return e(format!(
                "file has {} devices, at most {MAX_DEVICES} are allowed",
                self.devices.len()
            ));
        }
        for (i, d) in self.devices.iter().enumerate() {
            // Devices are named by their place in the file: these messages reach the auth
            // log, and a hand-edited file can hold anything in a name.
            let n = i + 1;
            if !valid_device_name(&d.name) {
                return e(format!(
                    "device {n}: name is not allowed (1-32 of A-Z a-z 0-9 . _ -)"
                ));
            }
            if self.devices[..i].iter().any(|o| o.name == d.name) {
                return e(format!("device {n}: name appears twice"));
            }
            if let Err(m) = d.secret.check() {
                return e(format!("device {n}: {m}"));
            }
            if !(6..=8).contains(&d.digits) {
                return e(format!(
                    "device {n}: digits = {} (6 to 8 allowed)",
                    d.digits
                ));
            }
            if !(10..=300).contains(&d.period) {
                return e(format!(
                    "device {n}: period = {} (10 to 300 seconds allowed)",
                    d.period
                ));
            }
            if d.window.is_some_and(|w| w > 10) {
                return e(format!("device {n}: window out of range (0 to 10 allowed)"));
            }
        }
        for (name, codes) in [
            ("recovery", &self.recovery),
            ("legacy_scratch", &self.legacy_scratch),
        ] {
            let Some(r) = codes else { continue };
            r.kdf.check().map_err(FormatError)?;
            decode_salt(&r.salt).map_err(|m| FormatError(format!("{name}: {m}")))?;
            if r.hashes.len() > MAX_RECOVERY_CODES {
                return e(format!(
                    "{name}: {} codes, at most {MAX_RECOVERY_CODES} allowed",
                    r.hashes.len()
                ));
            }
            for h in &r.hashes {
                decode_hash(h).map_err(|m| FormatError(format!("{name}: {m}")))?;
            }
        }
        if let Some(p) = &self.pass {
            p.kdf.check().map_err(FormatError)?;
            decode_salt(&p.salt).map_err(|m| FormatError(format!("pass: {m}")))?;
            decode_hash(&p.hash).map_err(|m| FormatError(format!("pass: {m}")))?;
        }
        Ok(())
    }

    /// The file's text. Contains secrets: wiped when dropped.
    pub fn to_toml(&self) -> Result<Zeroizing<String>, FormatError> {
        self.check()?;
        // A number TOML cannot hold (above i64::MAX) is an error here, never written.
        let text = Zeroizing::new(
            toml::to_string(self)
                .map_err(|err| FormatError(format!("file cannot be written: {err}")))?,
        );
        // What `parse` would refuse is never written: the old file stays readable.
        if text.len() > MAX_FILE_BYTES {
            return Err(FormatError(format!(
                "file would be larger than {MAX_FILE_BYTES} bytes ({})",
                text.len()
            )));
        }
        Ok(text)
    }

    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }

    pub fn recovery_codes_left(&self) -> usize {
        self.recovery.as_ref().map_or(0, |r| r.hashes.len())
    }

    /// Replaces the recovery codes with hashes of `codes` (canonical form), under a new salt.
    pub fn set_recovery_codes(
        &mut self,
        codes: &[Zeroizing<String>],
        now: UnixTime,
    ) -> Result<(), String> {
        self.recovery = Some(RecoveryCodes::hash_all(kdf::Purpose::Recovery, codes, now)?);
        Ok(())
    }

    /// Stores google-authenticator scratch codes (8 digits each) as hashes.
    pub fn set_legacy_scratch_codes(
        &mut self,
        codes: &[Zeroizing<String>],
        now: UnixTime,
    ) -> Result<(), String> {
        if let Some(bad) = codes
            .iter()
            .find(|c| c.len() != 8 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "scratch code of {} characters is not 8 digits",
                bad.len()
            ));
        }
        self.legacy_scratch = if codes.is_empty() {
            None
        } else {
            Some(RecoveryCodes::hash_all(kdf::Purpose::Scratch, codes, now)?)
        };
        Ok(())
    }

    /// Sets the temporary access pass (one a user: a new one replaces the old).
    pub fn set_pass(
        &mut self,
        pass: &str,
        now: UnixTime,
        expires: UnixTime,
        issued_by: &str,
    ) -> Result<(), String> {
        let params = KdfParams::default();
        let salt = kdf::new_salt()?;
        let h = kdf::hash(params, kdf::Purpose::Pass, &salt, pass)?;
        self.pass = Some(AccessPass {
            kdf: params,
            salt: BASE64.encode(&salt),
            hash: BASE64.encode(h.as_ref()),
            issued: now,
            expires,
            issued_by: issued_by.to_string(),
        });
        Ok(())
    }
}

impl RecoveryCodes {
    fn hash_all(
        purpose: kdf::Purpose,
        codes: &[Zeroizing<String>],
        now: UnixTime,
    ) -> Result<RecoveryCodes, String> {
        let params = KdfParams::default();
        let salt = kdf::new_salt()?;
        let mut hashes = Vec::with_capacity(codes.len());
        for c in codes {
            let h = kdf::hash(params, purpose, &salt, c)?;
            hashes.push(BASE64.encode(h.as_ref()));
        }
        Ok(RecoveryCodes {
            kdf: params,
            salt: BASE64.encode(&salt),
            hashes,
            created: now,
        })
    }

    /// Index of the code matching `code`: one argon2id evaluation however many remain
    /// (none when `pre` already holds the hash under this set's salt).
    pub fn find(
        &self,
        purpose: kdf::Purpose,
        code: &str,
        pre: Option<&kdf::Precomputed>,
    ) -> Result<Option<usize>, String> {
        match_hashes(self.kdf, purpose, &self.salt, &self.hashes, code, pre)
    }
}

impl AccessPass {
    /// Whether `code` is this pass: one argon2id evaluation, or none with a matching `pre`.
    pub fn matches(&self, code: &str, pre: Option<&kdf::Precomputed>) -> Result<bool, String> {
        let one = std::slice::from_ref(&self.hash);
        Ok(match_hashes(self.kdf, kdf::Purpose::Pass, &self.salt, one, code, pre)?.is_some())
    }
}

/// Index of the stored hash (base64) equal to `code`'s hash under `salt`.
fn match_hashes(
    params: KdfParams,
    purpose: kdf::Purpose,
    salt: &str,
    hashes: &[String],
    code: &str,
    pre: Option<&kdf::Precomputed>,
) -> Result<Option<usize>, String> {
    let stored = hashes
        .iter()
        .map(|h| decode_hash(h))
        .collect::<Result<Vec<_>, _>>()?;
    let h = kdf::hash_or_reuse(params, purpose, salt, code, pre)?;
    Ok(kdf::find(&h, &stored))
}

impl Default for SecretFile {
    fn default() -> Self {
        SecretFile::new()
    }
}

pub(crate) fn decode_salt(s: &str) -> Result<Vec<u8>, String> {
    let b = BASE64
        .decode(s.as_bytes())
        .map_err(|_| "salt is not base64".to_string())?;
    if !(8..=64).contains(&b.len()) {
        return Err(format!("salt is {} bytes (8 to 64 allowed)", b.len()));
    }
    Ok(b)
}

pub(crate) fn decode_hash(s: &str) -> Result<[u8; HASH_LEN], String> {
    let b = BASE64
        .decode(s.as_bytes())
        .map_err(|_| "hash is not base64".to_string())?;
    b.try_into()
        .map_err(|_| format!("hash is not {HASH_LEN} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> SecretFile {
        let mut f = SecretFile::new();
        f.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            1,
        ));
        f
    }

    #[test]
    fn round_trip_keeps_everything() {
        let mut f = sample();
        f.set_recovery_codes(&[crate::codes::generate(16).unwrap()], 5)
            .unwrap();
        f.state.last_login = Some(7);
        f.state.last_login_from = Some("192.0.2.1".into());
        let text = f.to_toml().unwrap();
        assert_eq!(SecretFile::parse(text.as_bytes()).unwrap(), f);
    }

    #[test]
    fn parse_errors_name_the_field_and_the_kind_never_the_value() {
        const MARK: &str = "MARKER7Q";
        let good = sample().to_toml().unwrap().to_string();
        let cases: Vec<(String, &str)> = vec![
            // A string where a number belongs (a secret pasted into the wrong field).
            (
                good.replace("digits = 6", &format!("digits = \"{MARK}\"")),
                "invalid type",
            ),
            (
                good.replace("algorithm = \"SHA1\"", &format!("algorithm = \"{MARK}\"")),
                "unknown variant",
            ),
            (
                good.replace("name = \"phone\"", &format!("name = \"{MARK} x\"")),
                "name is not allowed",
            ),
            (
                good.replace("name = \"phone\"", &format!("name = [\"{MARK}\"]")),
                "invalid type",
            ),
            (
                good.replace("version = 1", &format!("version = \"{MARK}\"")),
                "version",
            ),
            (
                good.replace("[state]\n", &format!("[state]\nlast_login = \"{MARK}\"\n")),
                "field `state.last_login`: invalid type",
            ),
            (
                good.replace("digits = 6", &format!("digits = 6, {MARK}")),
                "not valid",
            ),
            // A secret pasted as a key (a line without `name =`, or two lines of it).
            (
                good.replace("[state]\n", &format!("[state]\n{MARK} = 1\n")),
                "an unknown field",
            ),
            (
                good.replace("digits = 6", &format!("digits = 6\n{MARK} = 1")),
                "an unknown field",
            ),
            (format!("{MARK} = 1\n{good}"), "an unknown field"),
            (format!("{good}\n[{MARK}]\n"), "an unknown field"),
            (
                good.replace("[state]\n", &format!("[state]\n{MARK} = 1\n{MARK} = 2\n")),
                "a duplicate key",
            ),
            (
                good.replace("digits = 6", &format!("digits = 6\n{MARK} = 1\n{MARK} = 1")),
                "a duplicate key",
            ),
        ];
        for (text, want) in cases {
            assert!(text.contains(MARK), "case not built: {want}");
            let err = SecretFile::parse(text.as_bytes()).unwrap_err().0;
            assert!(err.contains(want), "{want}: {err}");
            assert!(!err.contains(MARK), "the value is in the message: {err}");
        }
        let err = SecretFile::parse(
            good.replace("digits = 6", &format!("digits = \"{MARK}\""))
                .as_bytes(),
        )
        .unwrap_err()
        .0;
        assert!(err.contains("digits"), "the field is named: {err}");
    }

    #[test]
    fn broken_files_are_refused_with_a_reason() {
        let good = sample().to_toml().unwrap().to_string();
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (good[..good.len() / 2].to_string(), "not valid"),
            (good.replace("version = 1", "version = 2"), "version 2"),
            (good.replace("version = 1\n", ""), "no `version`"),
            (good.replace("digits = 6", "digits = 9"), "digits"),
            (good.replace("period = 30", "period = 0"), "period"),
            (format!("{good}\nextra = 1\n"), "not valid"),
            (
                good.replace("version = 1", "version = 1\nversion = 1"),
                "not valid",
            ),
            (format!("{}{good}", "x = [".repeat(5000)), "not valid"),
            ("a".repeat(MAX_FILE_BYTES + 1), "larger"),
        ];
        for (text, want) in cases {
            let err = SecretFile::parse(text.as_bytes()).unwrap_err();
            assert!(err.0.contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn a_file_that_would_not_read_back_is_not_written() {
        // Raw newlines in a multi-line string are written back as `\n`: a file just under the
        // limit can grow past it, and the next read would refuse it (the user locked out).
        let mut text = String::from("version = 1\n[state]\nlast_login_from = \"\"\"\n");
        text.push_str(&"\t\n".repeat(30_000));
        text.push_str("\"\"\"\n");
        let file = SecretFile::parse(text.as_bytes()).unwrap();
        let err = file.to_toml().unwrap_err();
        assert!(err.0.contains("larger than"), "{err}");
    }
}
