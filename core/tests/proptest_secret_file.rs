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
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        let _ = SecretFile::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_damaged_valid_files(
        file in valid_file(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..4), 1..8),
    ) {
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
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
        // The reader of the canonical shape accepts a damaged file only as the toml crate
        // reads it.
        if let Some(fast) = std::str::from_utf8(&bytes).ok().and_then(twofold_core::canonical::read) {
            let by_toml: SecretFile = toml::from_str(std::str::from_utf8(&bytes).unwrap())
                .map_err(|e| TestCaseError::fail(format!("canonical reader accepted what toml refuses: {e}")))?;
            prop_assert_eq!(fast, by_toml);
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
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        prop_assert!(file.check().is_ok());
        let text = file.to_toml().unwrap();
        // Written in the canonical shape, which the toml crate reads as the same file.
        prop_assert_eq!(twofold_core::canonical::read(&text), Some(file.clone()));
        prop_assert_eq!(toml::from_str::<SecretFile>(&text).unwrap(), file.clone());
        prop_assert_eq!(SecretFile::parse(text.as_bytes()).unwrap(), file);
    }

    #[test]
    fn times_past_the_signed_64_bit_range_round_trip_too(file in valid_file(), t in (MAX_TOML_INT + 1)..=u64::MAX) {
        // Texts that are not plain go to the toml crate, in this process.
        twofold_core::fallback::install(twofold_core::fallback::with_toml_crate);
        // TOML integers are signed; the toml crate still writes and reads a u64 faithfully.
        let mut file = file;
        file.state.last_login = Some(t);
        file.state.throttled_until = t;
        let text = file.to_toml().unwrap();
        prop_assert_eq!(SecretFile::parse(text.as_bytes()).unwrap(), file);
    }
}
