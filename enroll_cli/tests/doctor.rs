//! `twofold doctor` as a whole command on this machine: exit status, JSON, what a
//! non-root user sees, and secret files judged by the store's own checks. The analysis
//! itself is tested from fixtures in core/tests/doctor.rs.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn findings(run: &Run) -> Vec<Value> {
    run.json()["findings"].as_array().unwrap().clone()
}

fn has(run: &Run, severity: &str, id: &str) -> bool {
    findings(run)
        .iter()
        .any(|f| f["severity"] == severity && f["id"] == id)
}

#[test]
fn service_or_from_without_user_is_a_usage_error() {
    let env = Env::new();
    for args in [
        vec!["doctor", "--service", "sshd"],
        vec!["doctor", "--from", "10.0.0.1"],
        vec!["doctor", "--user", "root", "--service", "ftp"],
    ] {
        let run = env.cmd(&args).run();
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(run.stdout.is_empty(), "{run:#?}");
    }
}

#[test]
fn an_invalid_configuration_is_an_error_with_exit_1() {
    let env = Env::with_config(|_| "unenrolled = \"maybe\"\n".into());
    let run = env.run(&["--json", "doctor"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(has(&run, "error", "config.invalid"), "{run:#?}");
    assert!(run.json()["errors"].as_u64().unwrap() >= 1, "{run:#?}");
}

#[test]
fn an_enrolled_root_gives_exit_0_and_says_so() {
    let env = Env::new();
    env.enroll("root");
    let run = env.run(&["--json", "doctor"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(has(&run, "ok", "user.enrolled"), "{run:#?}");
    assert_eq!(run.json()["errors"], 0);
    // The human form: one line per finding and a count.
    let text = env.run(&["doctor"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.lines().any(|l| l.starts_with(
            "ok      user:root: root: a code from their device or one of 10 recovery codes"
        )),
        "{}",
        text.stdout
    );
    let last = text.stdout.lines().last().unwrap();
    assert!(last.starts_with("0 errors, "), "{}", text.stdout);
}

/// The store's checks, as the module makes them: a secret file others can read is refused.
#[test]
fn a_world_readable_secret_file_is_an_error() {
    let env = Env::new();
    env.enroll("root");
    std::fs::set_permissions(
        env.secret_path("root"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let run = env.run(&["--json", "doctor"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let f = findings(&run);
    let refused = f
        .iter()
        .find(|f| f["id"] == "user.file-refused")
        .expect("refused");
    assert!(
        refused["what"].as_str().unwrap().contains("mode 0644"),
        "{refused}"
    );
}

#[test]
fn a_secret_directory_others_can_read_is_a_warning() {
    let env = Env::new();
    env.enroll("root");
    std::fs::set_permissions(
        env.path().join("secrets"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let run = env.run(&["--json", "doctor"]);
    assert!(has(&run, "warning", "secret-dir.open"), "{run:#?}");
}

#[test]
fn user_says_what_a_login_would_meet() {
    let env = Env::new();
    env.enroll("root");
    let run = env.run(&["--json", "doctor", "--user", "root", "--service", "sudo"]);
    let way: Vec<String> = serde_json::from_value(run.json()["way_in"].clone()).unwrap();
    assert_eq!(way.len(), 1, "{way:?}");
    assert!(way[0].starts_with("sudo: "), "{way:?}");
}

#[test]
fn a_user_sees_only_what_concerns_them() {
    let env = Env::new();
    env.enroll("root");
    // System mode: nobody cannot read secret files, and sees no one else's.
    let run = env.cmd(&["--json", "doctor"]).run_as_nobody().run();
    assert!(run.code == 0 || run.code == 1, "{run:#?}");
    for f in findings(&run) {
        let subject = f["subject"].as_str().unwrap();
        assert!(
            subject != "admins" && !subject.starts_with("user:root"),
            "{f}"
        );
    }
    let run = env.cmd(&["doctor", "--user", "root"]).run_as_nobody().run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.is_empty());
}

const LAST_WAY_IN: &str = "this removes the last way in of the last admin";

#[test]
fn resetting_the_last_enrolled_admin_warns() {
    let env = Env::new();
    env.enroll("root");
    let run = env.run(&["admin", "reset", "root"]).success_with_warnings();
    assert!(run.stderr.contains(LAST_WAY_IN), "{run:#?}");
    assert!(run.stderr.contains("(root)"), "{run:#?}");
    // Nothing is left to lose the second time.
    let run = env.run(&["admin", "reset", "root"]);
    assert!(!run.stderr.contains(LAST_WAY_IN), "{run:#?}");
}

#[test]
fn resetting_an_admin_who_still_passes_does_not_warn() {
    let env = Env::with_config(|dir| {
        format!("secret_path = \"{dir}/secrets/{{user}}.toml\"\nunenrolled = \"allow\"\n")
    });
    env.enroll("root");
    let run = env.run(&["admin", "reset", "root"]).success();
    assert!(!run.stderr.contains(LAST_WAY_IN), "{run:#?}");
}

#[test]
fn removing_the_last_device_of_the_last_admin_warns_only_without_recovery_codes() {
    let env = Env::new();
    env.enroll("root");
    let run = env.run(&["device", "remove", "default", "--yes"]).success();
    assert!(
        !run.stderr.contains(LAST_WAY_IN),
        "recovery codes still work: {run:#?}"
    );

    let env = Env::new();
    env.enroll("root");
    let mut file = env.secret_file("root").unwrap();
    file.recovery = None;
    env.put_secret_file("root", &file);
    let run = env
        .run(&["device", "remove", "default", "--yes"])
        .success_with_warnings();
    assert!(run.stderr.contains(LAST_WAY_IN), "{run:#?}");
}

/// Every file in the system-mode directory goes through the store's checks, not only
/// the admins'.
#[test]
fn a_refused_secret_file_of_a_user_who_is_not_an_admin_is_an_error() {
    let env = Env::new();
    env.enroll("root");
    env.enroll("nobody");
    let run = env.run(&["--json", "doctor"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        !findings(&run).iter().any(|f| f["subject"] == "user:nobody"),
        "{run:#?}"
    );
    std::fs::set_permissions(
        env.secret_path("nobody"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let run = env.run(&["--json", "doctor"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        findings(&run)
            .iter()
            .any(|f| f["subject"] == "user:nobody" && f["id"] == "user.file-refused"),
        "{run:#?}"
    );
}
