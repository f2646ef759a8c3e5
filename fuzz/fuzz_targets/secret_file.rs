//! `SecretFile::parse` on arbitrary bytes: never panics, and whatever it accepts survives a
//! write and a read unchanged (what the module writes back after every login), or is refused
//! at the write for being too large to read back. And `canonical::read`, the cheap reader
//! `parse` tries first, never accepts anything the toml crate would read differently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::secret::SecretFile;

fuzz_target!(|data: &[u8]| {
    // Texts that are not plain go to the toml crate, in this process.
    twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
    // The reader of the canonical shape accepts only what the toml crate reads the same way.
    if let Some(fast) = std::str::from_utf8(data).ok().and_then(twofold_core::canonical::read) {
        let by_toml: SecretFile = toml::from_str(std::str::from_utf8(data).unwrap())
            .expect("the canonical reader accepted what the toml crate refuses");
        assert_eq!(fast, by_toml, "the canonical reader and the toml crate disagree");
    }
    let Ok(file) = SecretFile::parse(data) else {
        return;
    };
    match file.to_toml() {
        Ok(text) => {
            let again = SecretFile::parse(text.as_bytes()).expect("a serialized file parses");
            assert_eq!(again, file, "round trip changed the file");
        }
        // A file near the limit may grow when rewritten: refused rather than written.
        Err(e) => assert!(
            e.0.contains("larger than"),
            "a file that parsed does not serialize: {e}"
        ),
    }
});
