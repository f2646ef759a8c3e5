//! `twofold import google-authenticator`.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use twofold_core::codes::classify;
use twofold_core::verify::{decide, Origin};
use twofold_core::Config;

const ORIGIN: Origin = Origin {
    rhost: None,
    service: "sshd",
};
const SECRET: &str = "JBSWY3DPEHPK3PXP";

/// nobody's uid and gid (nogroup).
const NOBODY: u32 = 65534;

/// A directory of nobody's, as a home directory would be.
fn nobody_dir(env: &Env) -> PathBuf {
    let dir = env.path().join("nobody");
    if !dir.exists() {
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// A google-authenticator file of nobody's, as google-authenticator writes it (mode 0400).
fn ga_file(env: &Env, text: &str) -> PathBuf {
    let path = nobody_dir(env).join(".google_authenticator");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, text).unwrap();
    std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    path
}

#[test]
fn google_authenticator_file_is_taken_over() {
    let env = Env::new();
    let used_step = now() / 30 - 5;
    let path = ga_file(
        &env,
        &format!("{SECRET}\n\" RATE_LIMIT 3 30 1441234567\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE {used_step}\n\" TOTP_AUTH\n12345678\n87654321\n"),
    );
    let out = env
        .run(&[
            "--json",
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            path.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(out["user"], "nobody");
    assert_eq!(out["device"], "google-authenticator");
    assert_eq!(out["file"], path.to_str().unwrap());
    assert_eq!(out["period"], 30);
    assert_eq!(out["window"], 1);
    assert_eq!(out["scratch_codes"], 2);
    assert!(
        out["notes"][0].as_str().unwrap().contains("RATE_LIMIT"),
        "{out}"
    );

    let file = env.secret_file("nobody").unwrap();
    let d = &file.devices[0];
    assert_eq!(
        (d.secret.base32(), d.window, d.last_step),
        (SECRET, Some(1), used_step)
    );
    let stored = std::fs::read_to_string(env.secret_path("nobody")).unwrap();
    assert!(!stored.contains("12345678"), "scratch codes are hashed");
    // The app keeps working, and so do the scratch codes (once).
    let code = oathtool(SECRET);
    assert!(
        decide(
            &file,
            &classify(code.as_bytes()),
            &Config::default(),
            now(),
            &ORIGIN
        )
        .accepted
    );
    let s = decide(
        &file,
        &classify(b"87654321"),
        &Config::default(),
        now(),
        &ORIGIN,
    );
    assert!(s.accepted, "{}", s.reason);
    assert!(
        !decide(
            &s.update.unwrap(),
            &classify(b"87654321"),
            &Config::default(),
            now(),
            &ORIGIN
        )
        .accepted
    );
    assert_eq!(
        env.audit_lines()[0]["action"],
        "import-google-authenticator"
    );

    // An enrollment is not replaced without --force.
    let run = env
        .run(&[
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            path.to_str().unwrap(),
        ])
        .failure();
    assert_eq!(
        run.error_text().0,
        "nobody is already enrolled (1 device); nothing was changed"
    );
    env.run(&[
        "--user",
        "nobody",
        "import",
        "google-authenticator",
        path.to_str().unwrap(),
        "--force",
        "--device",
        "old-phone",
    ])
    .success();
    assert_eq!(
        env.secret_file("nobody").unwrap().devices[0].name,
        "old-phone"
    );
}

#[test]
fn malformed_files_are_refused_with_the_line_and_nothing_is_written() {
    let env = Env::new();
    for (text, want) in [
        ("", "line 1: the file is empty"),
        (
            "not base32 at all!\n",
            "line 1: the first line is not a usable secret",
        ),
        (
            "JBSWY3DPEHPK3PXP\n\" WINDOW_SIZE many\n",
            "line 2: `WINDOW_SIZE` has a value that is not a number",
        ),
        (
            "JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n1234\n",
            "line 3: is neither an option",
        ),
        (
            "JBSWY3DPEHPK3PXP\n\" SOMETHING_NEW\n",
            "line 2: unknown option `SOMETHING_NEW`",
        ),
    ] {
        let path = ga_file(&env, text);
        let (error, hint) = env
            .run(&[
                "--json",
                "--user",
                "nobody",
                "import",
                "google-authenticator",
                path.to_str().unwrap(),
            ])
            .failure()
            .error_json();
        assert!(
            error.starts_with(&format!("{}, {want}", path.display())),
            "{error}"
        );
        assert!(hint.ends_with("nothing was imported"), "{hint}");
    }
    assert!(!env.path().join("secrets").exists());
    assert!(env.audit_lines().is_empty());
}

#[test]
fn hotp_files_are_refused() {
    let env = Env::new();
    let path = ga_file(&env, &format!("{SECRET}\n\" HOTP_COUNTER 4\n12345678\n"));
    let run = env
        .run(&[
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            path.to_str().unwrap(),
        ])
        .failure();
    let (error, hint) = run.error_text();
    assert_eq!(
        error,
        format!("{} is a counter-based (HOTP) enrollment, which twofold does not support; nothing was imported", path.display())
    );
    assert!(hint.starts_with("run `twofold enroll`"), "{hint}");
    assert!(!env.secret_path("nobody").exists());
}

fn import_as_root_for_nobody(env: &Env, path: &std::path::Path) -> (String, String) {
    env.run(&[
        "--json",
        "--user",
        "nobody",
        "import",
        "google-authenticator",
        path.to_str().unwrap(),
    ])
    .failure()
    .error_json()
}

#[test]
fn files_that_could_be_planted_are_refused() {
    let env = Env::new();
    let path = ga_file(&env, &format!("{SECRET}\n\" TOTP_AUTH\n"));
    let link = nobody_dir(&env).join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let (error, _) = import_as_root_for_nobody(&env, &link);
    assert_eq!(error, format!("{} is a symlink", link.display()));
    // Owned by another user, or by root: not the user's own file.
    for owner in [1, 0] {
        std::os::unix::fs::chown(&path, Some(owner), Some(owner)).unwrap();
        let (error, hint) = import_as_root_for_nobody(&env, &path);
        assert_eq!(
            error,
            format!(
                "{} is owned by uid {owner}, expected uid {NOBODY}",
                path.display()
            )
        );
        assert!(
            hint.starts_with(&format!("chown it to uid {NOBODY}")),
            "{hint}"
        );
    }
    std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    // A hard link of the user's file elsewhere is not the user's file either.
    let hard = nobody_dir(&env).join("hard");
    std::fs::hard_link(&path, &hard).unwrap();
    let (error, _) = import_as_root_for_nobody(&env, &hard);
    assert_eq!(error, format!("{} has 2 hard links", hard.display()));
    std::fs::remove_file(&hard).unwrap();
    // Readable by others: not a secret any more.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (error, _) = import_as_root_for_nobody(&env, &path);
    assert!(
        error.contains("readable or writable by group or others"),
        "{error}"
    );
    let (error, hint) = import_as_root_for_nobody(&env, std::path::Path::new("/nonexistent/ga"));
    assert_eq!(error, "/nonexistent/ga does not exist");
    assert!(
        hint.contains("twofold import google-authenticator FILE"),
        "{hint}"
    );
    assert!(!env.secret_path("nobody").exists());
}

/// The attack on root's import: the user swaps a directory on the path for a symlink to a
/// directory of root's, where root keeps its own google-authenticator file. Root must not
/// import its own secret into the user's enrollment.
#[test]
fn a_directory_swapped_for_a_symlink_to_roots_file_is_refused_and_nothing_is_written() {
    let env = Env::new();
    let roots = env.path().join("root-home");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o700)).unwrap();
    let roots_file = roots.join(".google_authenticator");
    std::fs::write(&roots_file, format!("{SECRET}\n\" TOTP_AUTH\n12345678\n")).unwrap();
    std::fs::set_permissions(&roots_file, std::fs::Permissions::from_mode(0o400)).unwrap();
    // In nobody's own directory, `old-phone` was a directory; now it points at root's.
    let swapped = nobody_dir(&env).join("old-phone");
    std::os::unix::fs::symlink(&roots, &swapped).unwrap();
    let path = swapped.join(".google_authenticator");

    let (error, hint) = import_as_root_for_nobody(&env, &path);
    assert_eq!(
        error,
        format!("{} is a symlink or not a directory", swapped.display())
    );
    assert!(hint.contains("never follows symlinks"), "{hint}");
    assert!(!env.secret_path("nobody").exists());
    assert!(
        !env.path().join("secrets").exists(),
        "not even the directory"
    );
    assert!(env.audit_lines().is_empty());
}

/// Scratch codes have 8 digits: they share the app codes' throttle and lock, so the import
/// says so and asks for recovery codes, which are never paused.
#[test]
fn import_asks_for_recovery_codes_and_says_scratch_codes_are_throttled() {
    let env = Env::new();
    let path = ga_file(&env, &format!("{SECRET}\n\" TOTP_AUTH\n12345678\n"));
    let text = env
        .run(&[
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            path.to_str().unwrap(),
        ])
        .success()
        .stdout;
    for want in [
        "1 scratch code kept (stored as hashes); each works once, but like codes from the app\n\
         they are paused after wrong codes and locked after 100",
        "nobody has no recovery codes yet: run `twofold --user nobody recovery regenerate` now.",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
}
