//! `twofold import google-authenticator`.

mod common;

use common::*;
use std::path::PathBuf;
use twofold_core::codes::classify;
use twofold_core::verify::{decide, Origin};
use twofold_core::Config;

const ORIGIN: Origin = Origin {
    rhost: None,
    service: "sshd",
};
const SECRET: &str = "JBSWY3DPEHPK3PXP";

fn ga_file(env: &Env, text: &str) -> PathBuf {
    let path = env.path().join("google_authenticator");
    std::fs::write(&path, text).unwrap();
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

#[test]
fn files_that_could_be_planted_are_refused() {
    let env = Env::new();
    let path = ga_file(&env, &format!("{SECRET}\n\" TOTP_AUTH\n"));
    let link = env.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let (error, _) = env
        .run(&[
            "--json",
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            link.to_str().unwrap(),
        ])
        .failure()
        .error_json();
    assert_eq!(error, format!("{} is a symlink", link.display()));
    // Owned by a third user: not the user's own file, nor root's copy.
    std::os::unix::fs::chown(&path, Some(1), Some(1)).unwrap();
    let (error, _) = env
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
    assert_eq!(
        error,
        format!(
            "{} is owned by uid 1, neither root nor nobody",
            path.display()
        )
    );
    let (error, hint) = env
        .run(&[
            "--json",
            "--user",
            "nobody",
            "import",
            "google-authenticator",
            "/nonexistent/ga",
        ])
        .failure()
        .error_json();
    assert_eq!(error, "/nonexistent/ga does not exist");
    assert!(
        hint.contains("twofold import google-authenticator FILE"),
        "{hint}"
    );
    assert!(!env.secret_path("nobody").exists());
}
