//! Conversions between Unix seconds and the text forms people read and write.

use crate::UnixTime;
use std::time::{Duration, UNIX_EPOCH};

/// `2026-11-25T10:00:00Z`.
pub fn rfc3339(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
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
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("`{s}` is not an RFC 3339 date ({e}); write it like 2026-12-31T00:00:00Z"))?;
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
