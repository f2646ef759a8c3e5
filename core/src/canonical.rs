//! The secret file's canonical text: a small writer, and a reader for exactly what it writes.
//!
//! The file stays TOML (`secret.rs`), and the `toml` crate stays the judge of what a file
//! means. But a TOML parse through serde was the largest part of a login's own work (33 k of
//! 325 k instructions, BENCHMARKS.md) and serializing another 12 k. So:
//!
//! - [`write`] produces the file: one `key = value` per line, integers in decimal, every
//!   string a basic string (`"…"`) with `"`, `\` and every control character escaped, tables
//!   in a fixed order. It is valid TOML, and `tests` check that the `toml` crate reads it back
//!   to the same [`SecretFile`], for strings with quotes, backslashes, control characters and
//!   non-ASCII text.
//! - [`read`] accepts only that shape, line by line, and answers `None` for anything else: a
//!   comment, a literal string, other spacing, an unknown or repeated key, a missing field, a
//!   number out of range. `SecretFile::parse` then parses the text with the `toml` crate as
//!   before, with its error messages. So `read` can make a file be read more cheaply, never
//!   differently: what it accepts, the `toml` crate reads the same way (checked by unit tests
//!   here and by the fuzz target `secret_file`, which compares the two on every input).
//!
//! Files written by earlier versions (by the `toml` crate, which picks literal strings for
//! text with quotes) take the `toml` path once; the first login writes them canonically.

use crate::kdf::KdfParams;
use crate::secret::{AccessPass, Algorithm, Device, RecoveryCodes, SecretFile, SecretKey, State};
use zeroize::Zeroizing;

/// The file's canonical text. The caller has checked the file. Contains secrets: wiped when
/// dropped.
pub fn write(file: &SecretFile) -> Zeroizing<String> {
    let mut w = Writer(Zeroizing::new(String::with_capacity(
        256 + 200 * file.devices.len() + 64 * file.recovery_codes_left(),
    )));
    w.int("version", u64::from(file.version));
    for d in &file.devices {
        w.header("[[device]]");
        w.str("name", &d.name);
        w.str("secret", d.secret.base32());
        w.str("algorithm", d.algorithm.as_str());
        w.int("digits", u64::from(d.digits));
        w.int("period", d.period);
        w.int("created", d.created);
        w.int("last_step", d.last_step);
        if let Some(win) = d.window {
            w.int("window", u64::from(win));
        }
    }
    for (header, kdf_header, codes) in [
        ("[recovery]", "[recovery.kdf]", &file.recovery),
        (
            "[legacy_scratch]",
            "[legacy_scratch.kdf]",
            &file.legacy_scratch,
        ),
    ] {
        let Some(r) = codes else { continue };
        w.header(header);
        w.str("salt", &r.salt);
        w.0.push_str("hashes = [");
        for (i, h) in r.hashes.iter().enumerate() {
            if i > 0 {
                w.0.push_str(", ");
            }
            w.quoted(h);
        }
        w.0.push_str("]\n");
        w.int("created", r.created);
        w.kdf(kdf_header, &r.kdf);
    }
    if let Some(p) = &file.pass {
        w.header("[pass]");
        w.str("salt", &p.salt);
        w.str("hash", &p.hash);
        w.int("issued", p.issued);
        w.int("expires", p.expires);
        w.str("issued_by", &p.issued_by);
        w.kdf("[pass.kdf]", &p.kdf);
    }
    let s = &file.state;
    w.header("[state]");
    w.int("failures", u64::from(s.failures));
    w.int("throttled_until", s.throttled_until);
    if let Some(t) = s.last_login {
        w.int("last_login", t);
    }
    if let Some(from) = &s.last_login_from {
        w.str("last_login_from", from);
    }
    if let Some(m) = &s.last_login_method {
        w.str("last_login_method", m);
    }
    w.0
}

struct Writer(Zeroizing<String>);

impl Writer {
    fn header(&mut self, h: &str) {
        self.0.push('\n');
        self.0.push_str(h);
        self.0.push('\n');
    }
    fn int(&mut self, key: &str, v: u64) {
        self.0.push_str(key);
        self.0.push_str(" = ");
        crate::push_decimal(&mut self.0, v, 1);
        self.0.push('\n');
    }
    fn str(&mut self, key: &str, v: &str) {
        self.0.push_str(key);
        self.0.push_str(" = ");
        self.quoted(v);
        self.0.push('\n');
    }
    fn quoted(&mut self, v: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        self.0.push('"');
        // Names, secrets and hashes rarely hold anything to escape: then one append.
        if !v.bytes().any(escaped) {
            self.0.push_str(v);
            self.0.push('"');
            return;
        }
        for c in v.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\u{8}' => self.0.push_str("\\b"),
                '\t' => self.0.push_str("\\t"),
                '\n' => self.0.push_str("\\n"),
                '\u{c}' => self.0.push_str("\\f"),
                '\r' => self.0.push_str("\\r"),
                c if c < ' ' || c == '\u{7f}' => {
                    let b = c as u8;
                    self.0.push_str("\\u00");
                    self.0.push(char::from(HEX[usize::from(b >> 4)]));
                    self.0.push(char::from(HEX[usize::from(b & 15)]));
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }
    fn kdf(&mut self, header: &str, k: &KdfParams) {
        self.header(header);
        self.int("m_kib", u64::from(k.m_kib));
        self.int("t", u64::from(k.t));
        self.int("p", u64::from(k.p));
    }
}

/// A value on the right of ` = `, as the writer writes them.
enum Val {
    Int(u64),
    Str(Zeroizing<String>),
    Arr(Vec<String>),
}

/// The tables a canonical file can have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Root,
    Device,
    Recovery,
    RecoveryKdf,
    Scratch,
    ScratchKdf,
    Pass,
    PassKdf,
    State,
}

/// The key-value lines of one table, in file order.
type Lines = Vec<(&'static str, Val)>;

/// The file `text` holds, if it is in the canonical shape; `None` for anything else (the
/// caller then parses it with the `toml` crate). Does not run `SecretFile::check`.
pub fn read(text: &str) -> Option<SecretFile> {
    let mut root: Lines = Vec::with_capacity(1);
    let mut devices: Vec<Lines> = Vec::new();
    // Recovery, its kdf, scratch, its kdf, pass, its kdf, state: each at most once.
    let mut single: [Option<Lines>; 7] = Default::default();
    let mut current = Table::Root;
    let mut rest = text;
    while !rest.is_empty() {
        // Every line ends with a newline, the last one too.
        let end = rest.bytes().position(|b| b == b'\n')?;
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            current = match line {
                "[[device]]" => Table::Device,
                "[recovery]" => Table::Recovery,
                "[recovery.kdf]" => Table::RecoveryKdf,
                "[legacy_scratch]" => Table::Scratch,
                "[legacy_scratch.kdf]" => Table::ScratchKdf,
                "[pass]" => Table::Pass,
                "[pass.kdf]" => Table::PassKdf,
                "[state]" => Table::State,
                _ => return None,
            };
            if current == Table::Device {
                devices.push(Vec::with_capacity(8));
            } else {
                let slot = &mut single[slot(current)];
                if slot.is_some() {
                    return None;
                }
                *slot = Some(Vec::with_capacity(6));
            }
            continue;
        }
        let (key, val) = key_value(line)?;
        let lines = match current {
            Table::Root => &mut root,
            Table::Device => devices.last_mut()?,
            t => single[slot(t)].as_mut()?,
        };
        if lines.iter().any(|(k, _)| *k == key) {
            return None;
        }
        lines.push((key, val));
    }

    let [recovery, recovery_kdf, scratch, scratch_kdf, pass, pass_kdf, state] = single;
    let mut root = Fields(root);
    let version = u32::try_from(root.int("version")?).ok()?;
    root.done()?;
    let mut file = SecretFile::new();
    file.version = version;
    for d in devices {
        file.devices.push(device(Fields(d))?);
    }
    file.recovery = codes(recovery, recovery_kdf)?;
    file.legacy_scratch = codes(scratch, scratch_kdf)?;
    file.pass = match (pass, pass_kdf) {
        (None, None) => None,
        (Some(p), Some(k)) => {
            let mut f = Fields(p);
            let pass = AccessPass {
                kdf: kdf(k)?,
                salt: f.string("salt")?,
                hash: f.string("hash")?,
                issued: f.int("issued")?,
                expires: f.int("expires")?,
                issued_by: f.string("issued_by")?,
            };
            f.done()?;
            Some(pass)
        }
        _ => return None,
    };
    if let Some(s) = state {
        let mut f = Fields(s);
        file.state = State {
            failures: f
                .opt_int("failures")?
                .map_or(Some(0), |v| u32::try_from(v).ok())?,
            throttled_until: f.opt_int("throttled_until")?.unwrap_or(0),
            last_login: f.opt_int("last_login")?,
            last_login_from: f.opt_string("last_login_from")?,
            last_login_method: f.opt_string("last_login_method")?,
        };
        f.done()?;
    }
    Some(file)
}

fn slot(t: Table) -> usize {
    match t {
        Table::Recovery => 0,
        Table::RecoveryKdf => 1,
        Table::Scratch => 2,
        Table::ScratchKdf => 3,
        Table::Pass => 4,
        Table::PassKdf => 5,
        _ => 6,
    }
}

fn device(mut f: Fields) -> Option<Device> {
    let algorithm = match f.string("algorithm")?.as_str() {
        "SHA1" => Algorithm::SHA1,
        "SHA256" => Algorithm::SHA256,
        "SHA512" => Algorithm::SHA512,
        _ => return None,
    };
    let d = Device {
        name: f.string("name")?,
        secret: SecretKey::from_canonical(f.take_str("secret")?),
        algorithm,
        digits: u8::try_from(f.int("digits")?).ok()?,
        period: f.int("period")?,
        created: f.int("created")?,
        last_step: f.opt_int("last_step")?.unwrap_or(0),
        window: match f.opt_int("window")? {
            None => None,
            Some(w) => Some(u8::try_from(w).ok()?),
        },
    };
    f.done()?;
    Some(d)
}

fn codes(table: Option<Lines>, kdf_table: Option<Lines>) -> Option<Option<RecoveryCodes>> {
    match (table, kdf_table) {
        (None, None) => Some(None),
        (Some(t), Some(k)) => {
            let mut f = Fields(t);
            let hashes = match f.take("hashes")? {
                Val::Arr(a) => a,
                _ => return None,
            };
            let r = RecoveryCodes {
                kdf: kdf(k)?,
                salt: f.string("salt")?,
                hashes,
                created: f.int("created")?,
            };
            f.done()?;
            Some(Some(r))
        }
        _ => None,
    }
}

fn kdf(lines: Lines) -> Option<KdfParams> {
    let mut f = Fields(lines);
    let k = KdfParams {
        m_kib: u32::try_from(f.int("m_kib")?).ok()?,
        t: u32::try_from(f.int("t")?).ok()?,
        p: u32::try_from(f.int("p")?).ok()?,
    };
    f.done()?;
    Some(k)
}

/// One table's lines, taken out by name; [`Fields::done`] fails if any is left (an unknown
/// key, which serde's `deny_unknown_fields` refuses).
struct Fields(Lines);

impl Fields {
    /// The value of `key`, taken out; `None` if the table has no such line.
    fn take(&mut self, key: &str) -> Option<Val> {
        let i = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.swap_remove(i).1)
    }
    fn int(&mut self, key: &str) -> Option<u64> {
        match self.take(key)? {
            Val::Int(n) => Some(n),
            _ => None,
        }
    }
    fn opt_int(&mut self, key: &str) -> Option<Option<u64>> {
        match self.take(key) {
            None => Some(None),
            Some(Val::Int(n)) => Some(Some(n)),
            Some(_) => None,
        }
    }
    fn take_str(&mut self, key: &str) -> Option<Zeroizing<String>> {
        match self.take(key)? {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    fn string(&mut self, key: &str) -> Option<String> {
        self.take_str(key).map(|mut s| std::mem::take(&mut *s))
    }
    fn opt_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.take(key) {
            None => Some(None),
            Some(Val::Str(mut s)) => Some(Some(std::mem::take(&mut *s))),
            Some(_) => None,
        }
    }
    fn done(self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

/// The keys a canonical file uses; any other key is not canonical.
fn known_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "version" => "version",
        "name" => "name",
        "secret" => "secret",
        "algorithm" => "algorithm",
        "digits" => "digits",
        "period" => "period",
        "created" => "created",
        "last_step" => "last_step",
        "window" => "window",
        "salt" => "salt",
        "hashes" => "hashes",
        "m_kib" => "m_kib",
        "t" => "t",
        "p" => "p",
        "hash" => "hash",
        "issued" => "issued",
        "expires" => "expires",
        "issued_by" => "issued_by",
        "failures" => "failures",
        "throttled_until" => "throttled_until",
        "last_login" => "last_login",
        "last_login_from" => "last_login_from",
        "last_login_method" => "last_login_method",
        _ => return None,
    })
}

/// `key = value` exactly as the writer writes it.
fn key_value(line: &str) -> Option<(&'static str, Val)> {
    // Keys are bare words, so the first `=` ends the key.
    let eq = line.bytes().position(|b| b == b'=')?;
    if eq < 2 || line.as_bytes()[eq - 1] != b' ' || line.as_bytes().get(eq + 1) != Some(&b' ') {
        return None;
    }
    let key = known_key(&line[..eq - 1])?;
    let value = &line[eq + 2..];
    let val = match value.as_bytes().first()? {
        b'"' => {
            let (s, rest) = basic_string(value)?;
            if !rest.is_empty() {
                return None;
            }
            Val::Str(s)
        }
        b'[' => {
            let mut items = Vec::new();
            let mut rest = &value[1..];
            if let Some(r) = rest.strip_prefix(']') {
                rest = r;
            } else {
                loop {
                    let (mut s, r) = basic_string(rest)?;
                    items.push(std::mem::take(&mut *s));
                    if let Some(r) = r.strip_prefix(", ") {
                        rest = r;
                    } else {
                        rest = r.strip_prefix(']')?;
                        break;
                    }
                }
            }
            if !rest.is_empty() {
                return None;
            }
            Val::Arr(items)
        }
        b'0' if value.len() == 1 => Val::Int(0),
        b'1'..=b'9' => {
            // TOML integers are signed 64-bit, but the toml crate writes and reads a u64
            // beyond that faithfully (tests/proptest_secret_file.rs), and so does this.
            if value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Val::Int(value.parse().ok()?)
        }
        _ => return None,
    };
    Some((key, val))
}

/// The bytes the writer never writes raw in a basic string: the quote, the backslash and the
/// control characters (all ASCII; every byte of a multi-byte character is >= 0x80).
fn escaped(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f
}

/// A basic string at the start of `s` (which starts with `"`), unescaped, and what follows
/// it. Only the escapes the writer writes; raw characters other than control characters.
fn basic_string(s: &str) -> Option<(Zeroizing<String>, &str)> {
    let body = s.strip_prefix('"')?;
    let bytes = body.as_bytes();
    let mut out = Zeroizing::new(String::new());
    let mut i = 0;
    loop {
        // A run of plain characters: every byte of a multi-byte UTF-8 character is >= 0x80,
        // so cutting at the ASCII bytes below keeps the slices on character boundaries.
        let run = i;
        while let Some(&b) = bytes.get(i) {
            if escaped(b) {
                break;
            }
            i += 1;
        }
        out.push_str(&body[run..i]);
        match *bytes.get(i)? {
            b'"' => return Some((out, &body[i + 1..])),
            b'\\' => {
                let e = match *bytes.get(i + 1)? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'b' => '\u{8}',
                    b't' => '\t',
                    b'n' => '\n',
                    b'f' => '\u{c}',
                    b'r' => '\r',
                    // `\u00XX`, upper-case hex, for the other control characters only: the
                    // only way the writer uses it.
                    b'u' => {
                        let hex = bytes.get(i + 2..i + 6)?;
                        let d = |b: u8| match b {
                            b'0'..=b'9' => Some(b - b'0'),
                            b'A'..=b'F' => Some(b - b'A' + 10),
                            _ => None,
                        };
                        if hex[0] != b'0' || hex[1] != b'0' {
                            return None;
                        }
                        let v = d(hex[2])? * 16 + d(hex[3])?;
                        if !(v < 0x20 || v == 0x7f) {
                            return None;
                        }
                        i += 4;
                        char::from(v)
                    }
                    _ => return None,
                };
                out.push(e);
                i += 2;
            }
            // A raw control character (tab included: the writer escapes it).
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nasty() -> Vec<String> {
        vec![
            String::new(),
            "10.0.0.1".into(),
            "quote \" and 'apostrophe' and \\ backslash".into(),
            "'''\"\"\"".into(),
            "tab\tnewline\ncr\rbell\u{7}nul\u{0}del\u{7f}esc\u{1b}ff\u{c}bs\u{8}".into(),
            "ünïcödé ✓ 𝄞 \u{a0}\u{2028}\u{feff}".into(),
            "[state]\nfailures = 0".into(),
            "\\u0041 not an escape".into(),
        ]
    }

    fn full() -> SecretFile {
        let mut f = SecretFile::new();
        f.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(&[7u8; 20]),
            1_764_000_000,
        ));
        let mut d = Device::new("tab_let-2.x", SecretKey::from_bytes(&[9u8; 64]), 0);
        d.algorithm = Algorithm::SHA512;
        d.digits = 8;
        d.period = 300;
        d.last_step = u64::MAX;
        d.window = Some(0);
        f.devices.push(d);
        let codes = RecoveryCodes {
            kdf: KdfParams::default(),
            salt: "l31xam0NSQoAVC78kz4Ucg==".into(),
            hashes: vec!["rg4nA6MLlckAtOBlDOdy3E5KG5Lpkf4P6vQNYjZuRz4=".into(); 3],
            created: 5,
        };
        f.recovery = Some(codes.clone());
        f.legacy_scratch = Some(RecoveryCodes {
            hashes: Vec::new(),
            ..codes
        });
        f.pass = Some(AccessPass {
            kdf: KdfParams {
                m_kib: u32::MAX,
                t: 0,
                p: 7,
            },
            salt: "SXyMI0caNA+XUik/Uz3IDw==".into(),
            hash: "Li4nHLjHLeaWTRErrcOBmoliZ0X5Zv6zm5dcYNaImWo=".into(),
            issued: 1,
            expires: 2,
            issued_by: "root \"admin\"".into(),
        });
        f.state = State {
            failures: u32::MAX,
            throttled_until: 10,
            last_login: Some(0),
            last_login_from: Some("192.0.2.1".into()),
            last_login_method: Some("totp".into()),
        };
        f
    }

    /// What the writer writes, the `toml` crate reads as the same file, and so does `read`.
    fn agree(file: &SecretFile) {
        let text = write(file);
        let by_toml: SecretFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{}", *text));
        assert_eq!(
            &by_toml, file,
            "toml reads the canonical text differently:\n{}",
            *text
        );
        let by_read = read(&text).unwrap_or_else(|| panic!("not canonical:\n{}", *text));
        assert_eq!(&by_read, file);
    }

    #[test]
    fn the_toml_crate_reads_what_is_written_the_same_way() {
        agree(&SecretFile::new());
        agree(&full());
        for s in nasty() {
            let mut f = full();
            f.state.last_login_from = Some(s.clone());
            f.state.last_login_method = Some(s.clone());
            f.pass.as_mut().unwrap().issued_by = s.clone();
            f.recovery.as_mut().unwrap().hashes.push(s.clone());
            f.devices[0].name = s.clone();
            agree(&f);
        }
        // Every character below 0x80, and some above, in one string.
        let mut f = SecretFile::new();
        f.state.last_login_from = Some((0u32..0x100).filter_map(char::from_u32).collect());
        agree(&f);
    }

    #[test]
    fn files_written_by_the_toml_crate_still_read_the_same() {
        // Earlier versions wrote with the toml crate; `read` may decline them, never misread.
        for s in nasty() {
            let mut f = full();
            f.pass.as_mut().unwrap().kdf = KdfParams::default();
            f.state.last_login_from = Some(s);
            let text = toml::to_string(&f).unwrap();
            if let Some(g) = read(&text) {
                assert_eq!(g, f, "{text}");
            }
            assert_eq!(SecretFile::parse(text.as_bytes()).unwrap().state, f.state);
        }
    }

    #[test]
    fn anything_else_is_left_to_the_toml_crate() {
        let good = write(&full()).to_string();
        assert!(read(&good).is_some());
        let variants: Vec<String> = vec![
            good.replace("version = 1\n", "version = 1 # comment\n"),
            good.replace("version = 1\n", "# comment\nversion = 1\n"),
            good.replace("version = 1", "version=1"),
            good.replace("version = 1", "version = +1"),
            good.replace("version = 1", "version = 01"),
            good.replace("created = 5", "created = 5_0"),
            good.replace("version = 1", "version = 1.0"),
            good.replace("name = \"phone\"", "name = 'phone'"),
            good.replace("name = \"phone\"", "\"name\" = \"phone\""),
            good.replace("name = \"phone\"", "name = \"\"\"phone\"\"\""),
            good.replace("digits = 6", "digits = 6\ndigits = 6"),
            good.replace("digits = 6", "digits = 256"),
            good.replace("digits = 6", "digits = \"6\""),
            good.replace("digits = 6\n", ""),
            good.replace("[state]", "[state]\nextra = 1"),
            good.replace("[state]", "[state]\nfailures = 4294967296"),
            good.replace("[state]", "[state]\n[state]"),
            good.replace("[pass.kdf]", "[pass.kdf ]"),
            good.replace("[pass.kdf]\nm_kib", "[pass.kdf]\nsalt = \"x\"\nm_kib"),
            good.replace("\n[pass.kdf]\nm_kib = 4294967295\nt = 0\np = 7\n", "\n"),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1\\u0041\""),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1\\u00e9\""),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1\\e\""),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1\t\""),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1\" "),
            good.replace("\"192.0.2.1\"", "\"192.0.2.1"),
            good.replace("hashes = [\"", "hashes = [ \""),
            good.replace("\", \"", "\",\""),
            good.replace("\n", "\r\n"),
            good.trim_end().to_string(),
            format!("{good}version = 1\n"),
        ];
        for v in variants {
            assert_ne!(v, good);
            assert!(read(&v).is_none(), "accepted:\n{v}");
        }
    }

    #[test]
    fn integers_past_the_signed_range_read_as_the_toml_crate_reads_them() {
        let mut f = SecretFile::new();
        for t in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            f.state.throttled_until = t;
            agree(&f);
        }
        let text = write(&f).replace("18446744073709551615", "18446744073709551616");
        assert!(read(&text).is_none());
    }
}
