//! `twofold device list` and `twofold device remove`.

use crate::error::{Error, Result};
use crate::invocation::Invocation;
use crate::journal::{Event, Journal};
use crate::prompt;
use crate::stored;
use serde::Serialize;
use twofold_core::secret::Device;
use twofold_core::time::rfc3339;
use twofold_core::SecretFile;

#[derive(Serialize)]
pub struct DeviceInfo<'a> {
    pub name: &'a str,
    pub algorithm: &'a str,
    pub digits: u8,
    pub period: u64,
    pub created: String,
    /// Steps either side of now, when the device overrides the configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u8>,
}

impl<'a> DeviceInfo<'a> {
    pub fn of(d: &'a Device) -> DeviceInfo<'a> {
        DeviceInfo {
            name: &d.name,
            algorithm: d.algorithm.as_str(),
            digits: d.digits,
            period: d.period,
            created: rfc3339(d.created),
            window: d.window,
        }
    }
}

/// A table of devices for people, indented.
pub fn table(devices: &[Device]) -> String {
    let width = devices
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut t = format!("  {:width$}  ALGORITHM  DIGITS  PERIOD  CREATED\n", "NAME");
    for d in devices {
        let window = d
            .window
            .map(|w| format!("  (window ±{w})"))
            .unwrap_or_default();
        t.push_str(&format!(
            "  {:width$}  {:9}  {:6}  {:>5}s  {}{window}\n",
            d.name,
            d.algorithm.as_str(),
            d.digits,
            d.period,
            rfc3339(d.created)
        ));
    }
    t
}

#[derive(Serialize)]
struct ListJson<'a> {
    user: &'a str,
    devices: Vec<DeviceInfo<'a>>,
}

pub fn list(inv: &Invocation, user_flag: Option<&str>) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.self_service(&account, |u| format!("twofold device list --user {u}"))?;
    let file = stored::peek(&loc)?.ok_or_else(|| Error::NotEnrolled {
        user: account.name.clone(),
        by_admin: false,
    })?;
    if file.devices.is_empty() {
        inv.say(&format!(
            "{} has no devices; run `twofold enroll` to add one.\n",
            account.name
        ))?;
    } else {
        inv.say(&table(&file.devices))?;
    }
    inv.emit(&ListJson {
        user: &account.name,
        devices: file.devices.iter().map(DeviceInfo::of).collect(),
    })
}

#[derive(Serialize)]
struct RemoveJson<'a> {
    user: &'a str,
    removed: &'a str,
    devices_left: usize,
}

pub fn remove(inv: &Invocation, user_flag: Option<&str>, name: &str, yes: bool) -> Result<()> {
    let account = inv.acting_user(user_flag)?;
    let loc = inv.self_service(&account, |u| {
        format!("twofold device remove {name} --user {u}")
    })?;
    let find = |file: Option<SecretFile>| -> Result<SecretFile> {
        let file = file.ok_or_else(|| Error::NotEnrolled {
            user: account.name.clone(),
            by_admin: false,
        })?;
        if file.device(name).is_none() {
            let known = file.devices.iter().map(|d| d.name.clone()).collect();
            return Err(Error::NoSuchDevice {
                name: name.to_string(),
                known,
            });
        }
        Ok(file)
    };
    let file = find(stored::peek(&loc)?)?;
    let mut after = file.clone();
    after.devices.retain(|d| d.name != name);
    let after = twofold_core::doctor::Enrollment::of(&after, &inv.config, inv.now);
    crate::doctor::warn_last_way_in(inv, &account, after);
    if file.devices.len() == 1 && !yes {
        confirm_last(inv, name, &file)?;
    }
    let verified = crate::reverify::current_factor(inv, &account)?;
    let mut journal = Journal::open(inv)?;
    let left = stored::transact(&loc, false, |current| {
        let mut file = find(current?)?;
        file.devices.retain(|d| d.name != name);
        let left = file.devices.len();
        Ok((file, left))
    })?;
    journal.record(
        inv,
        Event {
            action: "device-remove",
            user: &account.name,
            details: crate::reverify::noted(vec![("device", name.to_string())], verified),
        },
    )?;
    let advice = if left == 0 {
        " No device is left: only recovery codes log in now. Run `twofold enroll` to set up an app again."
    } else {
        ""
    };
    inv.say(&format!("Device `{name}` removed; {left} left.{advice}\n"))?;
    inv.emit(&RemoveJson {
        user: &account.name,
        removed: name,
        devices_left: left,
    })
}

fn confirm_last(inv: &Invocation, name: &str, file: &SecretFile) -> Result<()> {
    if inv.json {
        return Err(Error::NeedsYes);
    }
    let codes = file.recovery_codes_left();
    inv.say(&format!(
        "`{name}` is the last device. Without it, logins need one of the {codes} recovery codes left.\n\
         Type yes to remove it: "
    ))?;
    match prompt::read_line()? {
        Some(answer) if answer.trim().eq_ignore_ascii_case("yes") => Ok(()),
        _ => Err(Error::NotConfirmed),
    }
}
