//! `twofold import google-authenticator`: takes over a `~/.google_authenticator` file, so
//! users keep their app entry and scratch codes when moving from pam_google_authenticator.
//!
//! The format: the base32 secret on the first line, then option lines starting with `"`,
//! then 8-digit scratch codes, one a line.

use crate::enroll::{check_device_name, refuse_to_replace};
use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::journal::{Event, Journal};
use crate::stored;
use serde::Serialize;
use std::path::{Path, PathBuf};
use twofold_core::account::Account;
use twofold_core::secret::{Device, SecretKey, MAX_RECOVERY_CODES};
use twofold_core::store::{Location, Owner, SecretStore, StoreError};
use twofold_core::SecretFile;
use zeroize::Zeroizing;

/// The most steps either side of now twofold accepts (as `window` in twofold.toml).
const MAX_WINDOW: u8 = 10;

/// What the file says, translated to twofold's terms.
#[derive(Debug)]
pub struct GoogleAuthenticator {
    pub secret: SecretKey,
    pub period: u64,
    pub window: Option<u8>,
    /// The last step used, from DISALLOW_REUSE: codes up to it are not accepted again.
    pub last_step: u64,
    pub scratch: Vec<Zeroizing<String>>,
    /// What was translated or left out, for the person.
    pub notes: Vec<String>,
}

/// Why a file was refused; the line is 1-based, 0 for the whole file.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Line(usize, String),
    Hotp,
}

pub fn parse(text: &str) -> Result<GoogleAuthenticator, ParseError> {
    let bad = |line: usize, m: &str| ParseError::Line(line, m.to_string());
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let Some((_, first)) = lines.next() else {
        return Err(bad(
            1,
            "the file is empty; it should start with the base32 secret",
        ));
    };
    if first.trim().is_empty() || first.starts_with('"') {
        return Err(bad(1, "the first line should be the base32 secret"));
    }
    let secret = SecretKey::from_base32(first.trim())
        .map_err(|e| ParseError::Line(1, format!("the first line is not a usable secret ({e})")))?;
    let mut ga = GoogleAuthenticator {
        secret,
        period: 30,
        window: None,
        last_step: 0,
        scratch: Vec::new(),
        notes: Vec::new(),
    };
    let mut totp_marked = false;
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(option) = line.strip_prefix('"') {
            let mut words = option.split_whitespace();
            let name = words.next().unwrap_or("");
            let numbers: Vec<u64> = words
                .map(|w| {
                    w.parse::<u64>().map_err(|_| {
                        bad(
                            n,
                            &format!("{} has a value that is not a number", shown(name)),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            let one = |what: &str| -> Result<u64, ParseError> {
                match numbers.as_slice() {
                    [v] => Ok(*v),
                    _ => Err(bad(n, &format!("{name} needs one number ({what})"))),
                }
            };
            match name {
                "TOTP_AUTH" => totp_marked = true,
                "HOTP_COUNTER" => return Err(ParseError::Hotp),
                "STEP_SIZE" => {
                    let step = one("seconds a code lasts")?;
                    if !(10..=300).contains(&step) {
                        return Err(bad(
                            n,
                            &format!("STEP_SIZE {step} is not supported (10 to 300 seconds)"),
                        ));
                    }
                    ga.period = step;
                }
                "WINDOW_SIZE" => {
                    let size = one("codes accepted around now")?;
                    if !(1..=100).contains(&size) {
                        return Err(bad(
                            n,
                            &format!("WINDOW_SIZE {size} is out of range (1 to 100)"),
                        ));
                    }
                    // google-authenticator accepts (size-1)/2 steps before now and size/2 after.
                    let side = u8::try_from(size / 2).unwrap_or(u8::MAX);
                    if side > MAX_WINDOW {
                        ga.notes.push(format!(
                            "WINDOW_SIZE {size} (±{side} steps) narrowed to twofold's maximum, ±{MAX_WINDOW}"
                        ));
                    }
                    ga.window = Some(side.min(MAX_WINDOW));
                }
                "DISALLOW_REUSE" => {
                    // Followed by the steps already used; twofold never accepts a step twice.
                    ga.last_step = numbers.iter().copied().max().unwrap_or(0);
                }
                "RATE_LIMIT" => {
                    if numbers.len() < 2 {
                        return Err(bad(n, "RATE_LIMIT needs two numbers (attempts, seconds)"));
                    }
                    ga.notes.push(format!(
                        "RATE_LIMIT {} {} left out: twofold's [rate_limit] in twofold.toml applies",
                        numbers[0], numbers[1]
                    ));
                }
                "TIME_SKEW" | "RESETTING_TIME_SKEW" => {
                    ga.notes.push(format!(
                        "{name} left out: twofold does not learn clock skew; `window` applies"
                    ));
                }
                _ => return Err(bad(n, &format!("unknown option {}", shown(name)))),
            }
            continue;
        }
        let code = line.trim();
        if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                n,
                "is neither an option (\" NAME) nor an 8-digit scratch code",
            ));
        }
        if ga.scratch.len() >= MAX_RECOVERY_CODES {
            return Err(bad(
                n,
                &format!("more than {MAX_RECOVERY_CODES} scratch codes"),
            ));
        }
        ga.scratch.push(Zeroizing::new(code.to_string()));
    }
    if !totp_marked {
        ga.notes.push(
            "no TOTP_AUTH line: read as time-based (TOTP), google-authenticator's default".into(),
        );
    }
    Ok(ga)
}

/// An option name, shown only if it looks like one: a planted file must not leak through
/// error messages.
fn shown(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        format!("`{name}`")
    } else {
        "(unreadable option)".into()
    }
}

/// Reads the file as `account` would, through the store's walk (`twofold_core::store`):
/// with the user's file identity (fsuid/fsgid) when root runs it, every component opened
/// without following symlinks and checked on its descriptor, the directories owned by root
/// or the user and writable by nobody else, the file the user's own (mode 0600 or
/// stricter, one link, a regular file, opened `O_NONBLOCK`). Threat: root importing for a
/// user who controls a directory on the path and swaps it (or the file) for a symlink, or
/// a hard link, to a file of root's, which would then become that user's secret.
fn read_file(path: &Path, account: &Account) -> Result<Zeroizing<String>> {
    let shown = path.display().to_string();
    let refuse = |problem: String, fix: &str| Error::ImportFile {
        file: shown.clone(),
        problem,
        fix: fix.into(),
    };
    let absolute = std::path::absolute(path).map_err(|e| {
        refuse(
            format!("cannot be found from the current directory ({e})"),
            "give an absolute path",
        )
    })?;
    let owner = Owner::User {
        uid: account.uid,
        gid: account.gid,
    };
    let from_store = |e: StoreError| Error::ImportFile {
        file: e.path,
        problem: e.problem,
        fix: e.fix,
    };
    let loc = absolute
        .to_str()
        .ok_or_else(|| refuse("is not a UTF-8 path".into(), "rename it"))
        .and_then(|p| Location::from_path(p, owner).map_err(from_store))?;
    let bytes = match SecretStore::open(&loc).map_err(from_store)? {
        Some(dir) => dir.read_bytes().map_err(from_store)?,
        None => None,
    };
    let Some(bytes) = bytes else {
        return Err(refuse(
            "does not exist".into(),
            "give the path of the google-authenticator file: `twofold import google-authenticator FILE`",
        ));
    };
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| refuse("is not text".into(), "give the google-authenticator file"))?
        .to_string();
    Ok(Zeroizing::new(text))
}

#[derive(Serialize)]
struct ImportJson<'a> {
    user: &'a str,
    device: &'a str,
    file: &'a str,
    period: u64,
    window: Option<u8>,
    scratch_codes: usize,
    notes: &'a [String],
}

pub fn google_authenticator(
    inv: &Invocation,
    user_flag: Option<&str>,
    file: Option<&Path>,
    device_name: &str,
    force: bool,
) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let path: PathBuf = match file {
        Some(f) => f.to_path_buf(),
        None => Path::new(&account.home).join(".google_authenticator"),
    };
    let shown = path.display().to_string();
    let loc = inv.enrollment(&account, |u| {
        format!("twofold import google-authenticator {shown} --user {u}")
    })?;
    check_device_name(device_name)?;
    let text = read_file(&path, &account)?;
    let ga = parse(&text).map_err(|e| match e {
        ParseError::Hotp => Error::Hotp {
            file: shown.clone(),
        },
        ParseError::Line(line, problem) => Error::Import {
            file: shown.clone(),
            line,
            problem,
        },
    })?;
    refuse_to_replace(&account, stored::peek_file(&loc)?, force)?;
    let mut journal = Journal::open(inv)?;

    let mut fresh = SecretFile::new();
    fresh.devices.push(Device {
        period: ga.period,
        last_step: ga.last_step,
        window: ga.window,
        ..Device::new(device_name, ga.secret.clone(), inv.now)
    });
    fresh
        .set_legacy_scratch_codes(&ga.scratch, inv.now)
        .map_err(Error::Internal)?;
    stored::transact(&loc, true, |current| {
        refuse_to_replace(&account, current, force)?;
        Ok((fresh, ()))
    })?;
    journal.record(
        inv,
        Event {
            action: "import-google-authenticator",
            user: &account.name,
            details: vec![
                ("device", device_name.to_string()),
                ("file", shown.clone()),
                ("scratch_codes", ga.scratch.len().to_string()),
            ],
        },
    )?;

    let window = match ga.window {
        Some(w) => format!("±{w} steps"),
        None => format!("±{} steps (twofold.toml)", inv.config.window),
    };
    let mut t = format!(
        "Imported {shown} for {} as device `{device_name}`: the same secret, so the app keeps working.\n\
         Codes last {} seconds; accepted {window}.\n",
        account.name, ga.period,
    );
    if !ga.scratch.is_empty() {
        t.push_str(&format!(
            "{} scratch code{} kept (stored as hashes); each works once, but like codes from the app\n\
             they are paused after wrong codes and locked after {} (8 digits are too few to be\n\
             tried without a limit).\n",
            ga.scratch.len(),
            if ga.scratch.len() == 1 { "" } else { "s" },
            inv.config.rate_limit.totp_lockout_after
        ));
    }
    for note in &ga.notes {
        t.push_str(&format!("Note: {note}.\n"));
    }
    let regenerate = if account.uid == inv.invoker.uid {
        "twofold recovery regenerate".to_string()
    } else {
        format!("twofold --user {} recovery regenerate", account.name)
    };
    t.push_str(&format!(
        "{} has no recovery codes yet: run `{regenerate}` now. Recovery codes are never paused or\n\
         locked, so they still let {} in when codes from the app are refused.\n",
        account.name, account.name
    ));
    inv.say(&t)?;
    inv.emit(&ImportJson {
        user: &account.name,
        device: device_name,
        file: &shown,
        period: ga.period,
        window: ga.window,
        scratch_codes: ga.scratch.len(),
        notes: &ga.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "JBSWY3DPEHPK3PXP\n\" RATE_LIMIT 3 30 1441234567\n\" WINDOW_SIZE 17\n\
\" DISALLOW_REUSE 57000000 57000002\n\" TOTP_AUTH\n12345678\n87654321\n";

    #[test]
    fn typical_file_is_translated() {
        let ga = parse(FILE).unwrap();
        assert_eq!(ga.secret.base32(), "JBSWY3DPEHPK3PXP");
        assert_eq!(
            (ga.period, ga.window, ga.last_step),
            (30, Some(8), 57000002)
        );
        assert_eq!(ga.scratch.len(), 2);
        assert!(
            ga.notes.iter().any(|n| n.contains("RATE_LIMIT")),
            "{:?}",
            ga.notes
        );
    }

    #[test]
    fn window_size_three_is_one_step_either_side() {
        let ga = parse("JBSWY3DPEHPK3PXP\n\" WINDOW_SIZE 3\n\" TOTP_AUTH\n").unwrap();
        assert_eq!(ga.window, Some(1));
        assert!(ga.scratch.is_empty());
    }

    #[test]
    fn hotp_is_refused() {
        assert_eq!(
            parse("JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER 1\n").unwrap_err(),
            ParseError::Hotp
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases = [
            ("", 1),
            ("\" TOTP_AUTH\n", 1),
            ("not base32!\n", 1),
            ("JBSWY3DPEHPK3PXP\n\" WINDOW_SIZE\n", 2),
            ("JBSWY3DPEHPK3PXP\n\" WINDOW_SIZE x\n", 2),
            ("JBSWY3DPEHPK3PXP\n\" STEP_SIZE 5\n", 2),
            ("JBSWY3DPEHPK3PXP\n\" NO_SUCH_OPTION\n", 2),
            ("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n1234567\n", 3),
            ("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n12345678\nroot:x:0:0\n", 4),
        ];
        for (text, line) in cases {
            match parse(text) {
                Err(ParseError::Line(l, _)) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn odd_option_names_are_not_echoed() {
        let Err(ParseError::Line(_, m)) = parse("JBSWY3DPEHPK3PXP\n\"$6$secret-hash\n") else {
            panic!()
        };
        assert!(!m.contains("secret-hash"), "{m}");
    }
}
