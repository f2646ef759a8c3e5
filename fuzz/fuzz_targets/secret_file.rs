//! `SecretFile::parse` on arbitrary bytes: never panics, and whatever it accepts survives a
//! write and a read unchanged (what the module writes back after every login).
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_core::secret::SecretFile;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = SecretFile::parse(data) else {
        return;
    };
    let text = file.to_toml().expect("a file that parsed serializes");
    let again = SecretFile::parse(text.as_bytes()).expect("a serialized file parses");
    assert_eq!(again, file, "round trip changed the file");
});
