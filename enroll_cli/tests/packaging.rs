//! The files the packages install, as far as the CLI reads them.

use twofold_core::Config;

const SHIPPED_CONFIG: &str = include_str!("../../packaging/twofold.toml");

/// The shipped twofold.toml shows every key once, commented out, with its built-in default:
/// uncommenting all of them changes nothing (a key shown twice would not even parse).
#[test]
fn shipped_configuration_shows_each_key_once_with_its_default() {
    let uncommented: String = SHIPPED_CONFIG
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let shown = uncommented
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .count();
    assert!(shown >= 10, "{uncommented}");
    assert_eq!(Config::parse(&uncommented), Ok(Config::default()));
}
