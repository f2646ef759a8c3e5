//! Conversions between Unix seconds and the text forms people read and write.

use crate::UnixTime;
use std::time::{Duration, UNIX_EPOCH};

/// `2026-11-25T10:00:00Z`. RFC 3339 ends at year 9999; a later time (a file may hold any
/// u64) is written as seconds, since humantime's `Display` fails on it and `to_string` panics.
pub fn rfc3339(t: UnixTime) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    match UNIX_EPOCH.checked_add(Duration::from_secs(t)) {
        Some(time) if write!(out, "{}", humantime::format_rfc3339_seconds(time)).is_ok() => out,
        _ => format!("{t} s after 1970"),
    }
}

/// Parses `2026-11-25T10:00:00Z` (or a date alone, `2026-11-25`, meaning its midnight UTC).
pub fn parse_rfc3339(s: &str) -> Result<UnixTime, String> {
    let owned;
    let text = if s.len() == 10 {
        owned = format!("{s}T00:00:00Z");
        owned.as_str()
    } else {
        s
    };
    let t = humantime::parse_rfc3339_weak(text).map_err(|e| {
        format!("`{s}` is not an RFC 3339 date ({e}); write it like 2026-12-31T00:00:00Z")
    })?;
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("`{s}` is before 1970"))
}

/// Parses a duration such as `15m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    humantime::parse_duration(s)
        .map(|d| d.as_secs())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write it like 15m, 2h or 1d"))
}

/// Parses an LDAP GeneralizedTime as slapd writes its timestamps, `20261205130615Z` (UTC,
/// whole seconds); `None` for any other form.
pub fn parse_generalized_time(s: &str) -> Option<UnixTime> {
    let digits = s.strip_suffix('Z')?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<u64>().ok();
    let (y, mo, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, sec) = (n(8..10)?, n(10..12)?, n(12..14)?);
    if y < 1970
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar, as in RFC 3339).
    let (y, mo) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slapd_timestamps_are_read_and_other_forms_refused() {
        for t in [0, 951_782_400, 1_764_000_000, 1_800_000_000, 4_102_444_799] {
            let text = rfc3339(t).replace(['-', ':', 'T'], "");
            assert_eq!(parse_generalized_time(&text), Some(t), "{text}");
        }
        for bad in [
            "",
            "20261205130615",
            "2026120513061Z",
            "20261305130615Z",
            "19691231235959Z",
            "2026-12-05T13:06:15Z",
            "20261205130615.5Z",
        ] {
            assert_eq!(parse_generalized_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_past_year_9999_are_written_without_panicking() {
        // A secret file may hold any u64 (throttled_until, a pass's expiry): the log line
        // that mentions it must not panic.
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), "253402300800 s after 1970");
        assert_eq!(rfc3339(u64::MAX), "18446744073709551615 s after 1970");
    }
}
