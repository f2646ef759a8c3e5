//! What the fuzz targets and the seed generator share: the layout of a `decide` case.
//!
//! A case is text-like so that seeds are readable and libFuzzer's mutations stay meaningful:
//!
//! ```text
//! <now, decimal Unix seconds>\n<what the person typed>\n<the secret file, as on disk>
//! ```

/// The last second humans write dates for (9999-12-31T23:59:59Z). The clock is the module's,
/// not an attacker's, so cases beyond it are skipped rather than reported.
pub const MAX_NOW: u64 = 253_402_300_799;

pub struct Case<'a> {
    pub now: u64,
    pub typed: &'a [u8],
    pub file: &'a [u8],
}

impl<'a> Case<'a> {
    pub fn split(data: &'a [u8]) -> Option<Case<'a>> {
        let mut parts = data.splitn(3, |b| *b == b'\n');
        let now = parts.next()?;
        let typed = parts.next()?;
        let file = parts.next()?;
        let now = std::str::from_utf8(now).ok()?.parse::<u64>().ok()?;
        (now <= MAX_NOW).then_some(Case { now, typed, file })
    }
}

pub fn join(now: u64, typed: &[u8], file: &[u8]) -> Vec<u8> {
    let mut out = format!("{now}\n").into_bytes();
    out.extend_from_slice(typed);
    out.push(b'\n');
    out.extend_from_slice(file);
    out
}
