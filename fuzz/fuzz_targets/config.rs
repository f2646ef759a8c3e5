//! `Config::parse` on arbitrary text: never panics, and what it accepts is within the
//! documented ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Config::parse(text) else {
        return;
    };
    assert!(c.window <= 10);
    let r = &c.rate_limit;
    assert!(
        r.free_failures >= 1 && r.base_delay_secs >= 1 && r.base_delay_secs <= r.max_delay_secs
    );
    for failures in [
        0,
        1,
        r.free_failures,
        r.free_failures.saturating_add(40),
        u32::MAX,
    ] {
        assert!(r.delay_after(failures) <= r.max_delay_secs);
    }
    let _ = c.secret_path.expand("alice", 1000, "/home/alice");
    if let Some(t) = c.unenrolled_allow_until {
        let _ = twofold_core::time::rfc3339(t);
        let _ = c.unenrolled_may_pass(t);
    }
    assert!(!c.prompt.is_empty() && !c.issuer.is_empty());
});
