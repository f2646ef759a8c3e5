//! Properties of the secret-file format: `SecretFile::parse` never panics, whatever the bytes,
//! and every valid file survives `to_toml` and `parse` unchanged.

mod proptest_strategies;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest_strategies::*;
use twofold_core::secret::SecretFile;

proptest! {
    // 256 cases (proptest's default); PROPTEST_CASES=N for a longer soak.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = SecretFile::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_damaged_valid_files(
        file in valid_file(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..4), 1..8),
    ) {
        let mut bytes = file.to_toml().unwrap().as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        if let Ok(parsed) = SecretFile::parse(&bytes) {
            // Whatever is accepted is a file the module could write back.
            prop_assert!(parsed.check().is_ok());
            let again = SecretFile::parse(parsed.to_toml().unwrap().as_bytes()).unwrap();
            prop_assert_eq!(again, parsed);
        }
    }

    #[test]
    fn every_valid_file_round_trips(file in valid_file()) {
        prop_assert!(file.check().is_ok());
        let text = file.to_toml().unwrap();
        prop_assert_eq!(SecretFile::parse(text.as_bytes()).unwrap(), file);
    }
}
