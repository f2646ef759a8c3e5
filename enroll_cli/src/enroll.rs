//! `twofold enroll` and `twofold device add`: a new secret, shown to the person, confirmed
//! with a code from their app, and only then stored.

use crate::cli::{EnrollArgs, QrArgs, QrStyle};
use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::journal::{Event, Journal};
use crate::stored;
use crate::{prompt, qr};
use serde::Serialize;
use std::path::PathBuf;
use twofold_core::account::Account;
use twofold_core::codes::{self, Attempt};
use twofold_core::enrollment::{codes_block, new_device, new_recovery_codes};
use twofold_core::otpauth;
use twofold_core::secret::{valid_device_name, Device, MAX_DEVICES};
use twofold_core::store::{ErrorKind, StoreError};
use twofold_core::totp::{self, Match};
use twofold_core::SecretFile;
use zeroize::Zeroizing;

/// Tries at the confirmation code (twofold(1) promises them), at a terminal or from a pipe.
const TRIES: u32 = 3;

#[derive(Serialize)]
struct EnrollJson<'a> {
    user: &'a str,
    device: &'a str,
    secret: &'a str,
    uri: &'a str,
    recovery_codes: Vec<&'a str>,
}

#[derive(Serialize)]
struct DeviceJson<'a> {
    user: &'a str,
    device: &'a str,
    secret: &'a str,
    uri: &'a str,
}

pub fn enroll(inv: &Invocation, user_flag: Option<&str>, args: &EnrollArgs) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.enrollment(&account, |u| format!("twofold enroll --user {u}"))?;
    check_device_name(&args.device)?;
    // Checked now so nobody scans a code for nothing, and again under the lock.
    refuse_to_replace(&account, stored::peek_file(&loc)?, args.force)?;
    let mut journal = Journal::open(inv)?;

    let mut device = new_device(&args.device, inv.now)?;
    let uri = otpauth::uri(&inv.config.issuer, &account.name, &device);
    let mut images = present(inv, &account, &device, &uri, &args.qr)?;
    if !args.no_confirm {
        confirm(inv, &mut device)?;
    }

    let recovery = new_recovery_codes()?;
    let mut fresh = SecretFile::new();
    fresh.devices.push(device.clone());
    fresh
        .set_recovery_codes(&recovery, inv.now)
        .map_err(Error::Internal)?;
    let replaced = stored::transact(&loc, true, |current| {
        let replaced = matches!(&current, Ok(Some(f)) if !f.devices.is_empty()) || current.is_err();
        refuse_to_replace(&account, current, args.force)?;
        Ok((fresh, replaced))
    })?;
    images.keep();

    let mut details = vec![
        ("device", device.name.clone()),
        ("confirmed", confirmed_word(args.no_confirm)),
    ];
    if replaced {
        details.push(("replaced", "yes".into()));
    }
    journal.record(
        inv,
        Event {
            action: "enroll",
            user: &account.name,
            details,
        },
    )?;

    let printed: Vec<String> = recovery.iter().map(|c| codes::grouped(c)).collect();
    let printed = Zeroizing::new(printed);
    let mut text = Zeroizing::new(format!(
        "\nDevice `{}` is active for {}{}.\n\nRecovery codes for {}. Each works once, in place of a code from your app:\n\n",
        device.name,
        account.name,
        if args.no_confirm { " (not confirmed with a code: --no-confirm)" } else { "" },
        account.name
    ));
    text.push_str(&codes_block(&printed));
    inv.say(&text)?;
    inv.emit(&EnrollJson {
        user: &account.name,
        device: &device.name,
        secret: device.secret.base32(),
        uri: &uri,
        recovery_codes: printed.iter().map(String::as_str).collect(),
    })
}

pub fn device_add(
    inv: &Invocation,
    user_flag: Option<&str>,
    name: &str,
    no_confirm: bool,
    qr_args: &QrArgs,
) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.self_service(&account, |u| {
        format!("twofold device add {name} --user {u}")
    })?;
    check_device_name(name)?;
    let check_room = |file: Option<SecretFile>| -> Result<SecretFile> {
        let file = file.ok_or_else(|| Error::NotEnrolled {
            user: account.name.clone(),
            by_admin: false,
        })?;
        if file.device(name).is_some() {
            return Err(Error::DeviceExists {
                name: name.to_string(),
            });
        }
        if file.devices.len() >= MAX_DEVICES {
            return Err(Error::TooManyDevices { max: MAX_DEVICES });
        }
        Ok(file)
    };
    check_room(stored::peek(&loc)?)?;
    let verified = crate::reverify::current_factor(inv, &account)?;
    let mut journal = Journal::open(inv)?;

    let mut device = new_device(name, inv.now)?;
    let uri = otpauth::uri(&inv.config.issuer, &account.name, &device);
    let mut images = present(inv, &account, &device, &uri, qr_args)?;
    if !no_confirm {
        confirm(inv, &mut device)?;
    }
    let count = stored::transact(&loc, false, |current| {
        let mut file = check_room(current?)?;
        file.devices.push(device.clone());
        let count = file.devices.len();
        Ok((file, count))
    })?;
    images.keep();
    journal.record(
        inv,
        Event {
            action: "device-add",
            user: &account.name,
            details: crate::reverify::noted(
                vec![
                    ("device", device.name.clone()),
                    ("confirmed", confirmed_word(no_confirm)),
                ],
                verified,
            ),
        },
    )?;
    inv.say(&format!(
        "\nDevice `{}` added for {}; {count} devices now.\n",
        device.name, account.name
    ))?;
    inv.emit(&DeviceJson {
        user: &account.name,
        device: &device.name,
        secret: device.secret.base32(),
        uri: &uri,
    })
}

fn confirmed_word(no_confirm: bool) -> String {
    if no_confirm { "no" } else { "yes" }.into()
}

pub fn check_device_name(name: &str) -> Result<()> {
    if valid_device_name(name) {
        Ok(())
    } else {
        Err(Error::BadDeviceName {
            name: name.to_string(),
        })
    }
}

/// An enrollment with devices is protected; a file with none (say, after a temporary access
/// pass) is not. A broken file may be replaced with `--force`.
pub fn refuse_to_replace(
    account: &Account,
    current: Result<Option<SecretFile>, StoreError>,
    force: bool,
) -> Result<()> {
    match current {
        Ok(Some(file)) if !file.devices.is_empty() && !force => Err(Error::AlreadyEnrolled {
            user: account.name.clone(),
            devices: file.devices.len(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Io => Err(Error::Store(e)),
        Err(_) if force => Ok(()),
        Err(e) => Err(Error::StoreForceable(e)),
    }
}

/// QR image files asked for; removed again unless the enrollment is stored.
struct Images {
    paths: Vec<PathBuf>,
    kept: bool,
}

impl Images {
    fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        if !self.kept {
            for p in &self.paths {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Shows the new secret: image files, then the QR code, the key and the URI.
fn present(
    inv: &Invocation,
    account: &Account,
    device: &Device,
    uri: &str,
    args: &QrArgs,
) -> Result<Images> {
    let mut images = Images {
        paths: Vec::new(),
        kept: false,
    };
    if let Some(path) = &args.qr_png {
        qr::write_new_file(path, &qr::png(uri)?)?;
        images.paths.push(path.clone());
    }
    if let Some(path) = &args.qr_svg {
        qr::write_new_file(path, qr::svg(uri)?.as_bytes())?;
        images.paths.push(path.clone());
    }
    if !inv.has_person() {
        return Ok(images);
    }
    let mut text = Zeroizing::new(format!(
        "Set up your authenticator app for {} (device `{}`).\n\n",
        account.name, device.name
    ));
    if args.style != QrStyle::None {
        text.push_str("Scan this QR code with the app:\n\n");
        text.push_str(&qr::terminal(uri, args.style)?);
        text.push_str("\nOr add the key by hand (time-based, SHA1, 6 digits, 30 seconds):\n");
    } else {
        text.push_str("Add this key to the app (time-based, SHA1, 6 digits, 30 seconds):\n");
    }
    text.push_str(&format!(
        "    {}\n",
        *otpauth::key_for_typing(device.secret.base32())
    ));
    text.push_str(&format!("URI: {uri}\n"));
    for p in &images.paths {
        text.push_str(&format!("QR code image: {}\n", p.display()));
    }
    text.push('\n');
    inv.tell(&text)?;
    Ok(images)
}

/// Asks for a code from the app; the device is kept only if it matches. The matched step
/// becomes the device's last step, so the same code cannot log in afterwards.
fn confirm(inv: &Invocation, device: &mut Device) -> Result<()> {
    confirm_with(inv, device, prompt::stdin_is_terminal(), prompt::read_line)
}

/// [`confirm`] with the answers from `read_line`. Up to [`TRIES`] answers, from a terminal or
/// a pipe alike; each is checked against the clock when it is read, not when the command
/// started (scanning the QR code and typing can take minutes).
fn confirm_with(
    inv: &Invocation,
    device: &mut Device,
    terminal: bool,
    mut read_line: impl FnMut() -> Result<Option<Zeroizing<String>>>,
) -> Result<()> {
    let window = device.window.unwrap_or(inv.config.window);
    let mut problem = None;
    for attempt in 1..=TRIES {
        inv.tell("Enter the code shown by your app: ")?;
        let line = read_line()?;
        if !terminal {
            // Nothing was echoed: end the prompt's line.
            inv.tell("\n")?;
        }
        let Some(line) = line else {
            // The end of the input after a wrong answer: that answer is the problem.
            return Err(problem.unwrap_or(Error::NoCodeEntered));
        };
        let found = match codes::classify(line.as_bytes()) {
            Attempt::Totp(code) => match totp::check(device, &code, inv.clock()?, window) {
                Ok(Match::Fresh(step)) => {
                    device.last_step = step;
                    return Ok(());
                }
                Ok(Match::Replayed | Match::None) => Error::WrongCode { tries: attempt },
                Err(e) => return Err(Error::Internal(e)),
            },
            Attempt::Malformed(why) => Error::NotACode {
                why,
                digits: device.digits,
            },
            _ => Error::NotACode {
                why: "a recovery code or pass, not a code from the app",
                digits: device.digits,
            },
        };
        if attempt == TRIES {
            return Err(found);
        }
        let left = TRIES - attempt;
        let msg = match found {
            Error::NotACode { why, .. } => {
                format!("That is not a {}-digit code ({why}).", device.digits)
            }
            _ => "That code does not match.".to_string(),
        };
        inv.tell(&format!(
            "{msg} {left} {} left.\n",
            if left == 1 { "try" } else { "tries" }
        ))?;
        problem = Some(found);
    }
    Err(Error::WrongCode { tries: TRIES })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use twofold_core::secret::SecretKey;

    const START: u64 = 1_800_000_000;

    /// A run whose clock the test moves, and a device enrolled at its start.
    fn run_and_device() -> (Invocation, Rc<Cell<u64>>, Device) {
        let time = Rc::new(Cell::new(START));
        let clock = Rc::clone(&time);
        let inv = Invocation::for_tests(Box::new(move || Ok(clock.get())));
        let device = Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            START,
        );
        (inv, time, device)
    }

    fn code_at(device: &Device, t: u64) -> Zeroizing<String> {
        totp::code_at(device, t).unwrap()
    }

    #[test]
    fn confirmation_code_is_checked_against_the_time_it_is_typed() {
        let (inv, time, mut device) = run_and_device();
        // The person scans the QR code and types the code two minutes after the start: the
        // code of that moment, four steps away from the start's.
        let typed_at = START + 120;
        let typed = code_at(&device, typed_at);
        let answer = || {
            time.set(typed_at);
            Ok(Some(typed.clone()))
        };
        confirm_with(&inv, &mut device, false, answer).unwrap();
        assert_eq!(device.last_step, typed_at / 30);
    }

    #[test]
    fn a_code_of_the_start_is_refused_minutes_later() {
        let (inv, time, mut device) = run_and_device();
        let stale = code_at(&device, START);
        let answer = || {
            time.set(START + 120);
            Ok(Some(stale.clone()))
        };
        let err = confirm_with(&inv, &mut device, false, answer).unwrap_err();
        assert!(matches!(err, Error::WrongCode { tries: TRIES }), "{err}");
        assert_eq!(device.last_step, 0);
    }

    #[test]
    fn answers_from_a_pipe_get_the_three_tries_of_a_terminal() {
        let (inv, _, mut device) = run_and_device();
        // A wrong code and a non-code cost a try each; the third answer is right.
        let mut answers: VecDeque<_> = [
            code_at(&device, START + 600),
            Zeroizing::new("12ab".to_string()),
            code_at(&device, START),
        ]
        .into();
        confirm_with(&inv, &mut device, false, || Ok(answers.pop_front())).unwrap();
        assert_eq!(device.last_step, START / 30);
    }

    #[test]
    fn the_end_of_the_input_after_a_wrong_code_reports_the_wrong_code() {
        let (inv, _, mut device) = run_and_device();
        let mut answers = vec![code_at(&device, START + 600)];
        let err = confirm_with(&inv, &mut device, false, || Ok(answers.pop())).unwrap_err();
        assert!(matches!(err, Error::WrongCode { tries: 1 }), "{err}");
    }
}
