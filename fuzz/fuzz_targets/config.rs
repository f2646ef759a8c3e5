//! `Config::parse` on arbitrary text: never panics, what it accepts is within the documented
//! ranges, and it answers exactly what the `toml` crate alone answers: the fast reader it tries
//! first (`config/fast.rs`) may make a file be read more cheaply, never differently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::config::Config;

fuzz_target!(|data: &[u8]| {
    // Texts that are not plain go to the toml crate, in this process.
    twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let by_toml = Config::parse_with_toml(text);
    if let Some(fast) = Config::parse_fast_only(text) {
        assert_eq!(
            fast, by_toml,
            "the fast reader and the toml crate disagree on {text:?}"
        );
    }
    let parsed = Config::parse(text);
    assert_eq!(
        parsed, by_toml,
        "parse and the toml crate disagree on {text:?}"
    );
    let Ok(c) = parsed else {
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
