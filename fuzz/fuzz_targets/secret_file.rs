//! `SecretFile::parse` on arbitrary bytes: never panics, and whatever it accepts survives a
//! write and a read unchanged (what the module writes back after every login), or is refused
//! at the write for being too large to read back (or for a number TOML cannot hold).
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::secret::SecretFile;

fuzz_target!(|data: &[u8]| {
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
