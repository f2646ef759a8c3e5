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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_year_9999_are_written_without_panicking() {
        // A secret file may hold any u64 (throttled_until, a pass's expiry): the log line
        // that mentions it must not panic.
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), "253402300800 s after 1970");
        assert_eq!(rfc3339(u64::MAX), "18446744073709551615 s after 1970");
    }
}
