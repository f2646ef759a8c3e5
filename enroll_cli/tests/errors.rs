//! Errors: each says what happened and what to do, as text or as {"error", "hint"}.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_user_may_not_name_another_user() {
    let env = Env::new();
    for args in [
        vec!["--user", "daemon", "status"],
        vec!["--user", "root", "enroll"],
        vec!["--user", "no-such-user-x", "device", "list"],
    ] {
        let name = args[1];
        let run = env.cmd(&args).run_as_nobody().run().failure();
        let (error, hint) = run.error_text();
        assert_eq!(
            error,
            format!("only root may act for another user (--user {name})")
        );
        assert_eq!(
            hint,
            format!("leave out --user to act for yourself, or ask an administrator to run `sudo twofold --user {name} ...`")
        );
        let mut json_args = vec!["--json"];
        json_args.extend(&args);
        let run = env.cmd(&json_args).run_as_nobody().run().failure();
        assert!(run.stdout.is_empty());
        assert_eq!(
            run.error_json().0,
            format!("only root may act for another user (--user {name})")
        );
    }
    // Naming yourself is fine (here it meets system mode instead).
    let (error, _) = env
        .cmd(&["--user", "nobody", "status"])
        .run_as_nobody()
        .run()
        .failure()
        .error_text();
    assert!(error.contains("system mode"), "{error}");
}

#[test]
fn corrupt_secret_file_is_reported_with_a_way_out() {
    let env = Env::new();
    env.enroll("nobody");
    let path = env.secret_path("nobody");
    std::fs::write(&path, "version = 1\n[[device]]\nname = \"x\"\n").unwrap();
    let (error, hint) = env
        .run(&["--json", "--user", "nobody", "status"])
        .failure()
        .error_json();
    assert!(
        error.starts_with(&format!("{} file is not valid", path.display())),
        "{error}"
    );
    assert_eq!(
        hint,
        "restore it from a backup, or have an admin run `twofold admin reset` and re-enroll"
    );
    let (error, hint) = env
        .run(&["--user", "nobody", "enroll", "--no-confirm"])
        .failure()
        .error_text();
    assert!(error.contains("file is not valid"), "{error}");
    assert!(
        hint.ends_with("; or add --force to replace the file"),
        "{hint}"
    );
    env.run(&["--user", "nobody", "enroll", "--no-confirm", "--force"])
        .success();
    assert_eq!(env.secret_file("nobody").unwrap().devices.len(), 1);
}

#[test]
fn unsafe_or_unreadable_secret_files_are_refused() {
    let env = Env::new();
    env.enroll("nobody");
    let path = env.secret_path("nobody");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (error, hint) = env
        .run(&["--user", "nobody", "status"])
        .failure()
        .error_text();
    assert_eq!(
        error,
        format!(
            "{} is readable or writable by group or others (mode 0644)",
            path.display()
        )
    );
    assert_eq!(hint, format!("run `chmod 600 {}`", path.display()));

    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let (error, _) = env
        .run(&["--json", "--user", "nobody", "device", "list"])
        .failure()
        .error_json();
    assert_eq!(
        error,
        format!("{} is a directory, not a regular file", path.display())
    );
}

#[test]
fn bad_configuration_and_usage_errors() {
    let env = Env::with_config(|_| "windw = 2\n".into());
    let (error, hint) = env.run(&["--json", "status"]).failure().error_json();
    assert!(
        error.starts_with(&format!(
            "configuration {}: is not valid",
            env.config.display()
        )),
        "{error}"
    );
    assert!(hint.contains("--config PATH"), "{hint}");
    // The keys are in twofold.toml(5), not in twofold(1).
    assert!(
        hint.contains("`man 5 twofold.toml` lists the keys"),
        "{hint}"
    );

    let run = env.run(&["--json", "frobnicate"]);
    assert_eq!(run.code, 2);
    let (error, hint) = run.error_json();
    assert!(error.contains("frobnicate"), "{error}");
    assert_eq!(hint, "run `twofold --help`, or `twofold COMMAND --help`");
    let run = env.run(&["enroll", "--qr", "sixel"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("sixel") && run.stderr.contains("utf8"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_configuration_is_an_error_not_the_defaults() {
    // The defaults are home mode: on a system-mode host whose file was deleted, a CLI that
    // fell back to them would write secrets where the module must not look.
    let out = std::process::Command::new(BIN)
        .args([
            "--config",
            "/nonexistent/twofold.toml",
            "--json",
            "--user",
            "nobody",
            "status",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    let error = doc["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("configuration /nonexistent/twofold.toml: does not exist"),
        "{doc}"
    );
    assert!(
        error.contains("an empty file means the built-in defaults"),
        "{doc}"
    );
}

#[test]
fn completions_and_man_page() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run(&["completions", "bash"]).contains("complete -F _twofold"));
    assert!(run(&["completions", "zsh"]).starts_with("#compdef twofold"));
    let fish = run(&["completions", "fish"]);
    assert!(
        fish.contains("complete -c twofold") && fish.contains("issue-pass"),
        "{fish:.300}"
    );
    // Needs no configuration: works with a broken one. The page is the one the packages
    // install, byte for byte: one source.
    let man = run(&["--config", "/nonexistent/dir/x.toml", "man"]);
    assert_eq!(man, include_str!("../../packaging/man/twofold.1"));
}

/// `completions` and `man` print a file as it is: `--json` is refused, not ignored.
#[test]
fn json_is_refused_where_nothing_is_json() {
    for args in [&["--json", "man"][..], &["--json", "completions", "bash"]] {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert!(
            doc["error"]
                .as_str()
                .unwrap()
                .starts_with("--json does not apply"),
            "{doc}"
        );
    }
}
