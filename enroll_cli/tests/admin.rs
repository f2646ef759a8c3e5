//! `twofold admin ...`: root only, audited.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use twofold_core::codes::classify;
use twofold_core::verify::{decide, Origin};
use twofold_core::Config;

const ORIGIN: Origin = Origin {
    rhost: None,
    service: "sudo",
};

#[test]
fn admin_commands_are_for_root_only() {
    let env = Env::new();
    env.enroll("daemon");
    for (args, command) in [
        (vec!["admin", "status", "daemon"], "admin status"),
        (vec!["admin", "reset", "daemon"], "admin reset"),
        (vec!["admin", "unlock", "daemon"], "admin unlock"),
        (
            vec!["admin", "issue-pass", "daemon", "--ttl", "15m"],
            "admin issue-pass",
        ),
    ] {
        let run = env.cmd(&args).run_as_nobody().run().failure();
        let (error, hint) = run.error_text();
        assert_eq!(error, format!("`twofold {command}` is for root only"));
        assert_eq!(
            hint,
            format!("run it as root: `sudo twofold {command} ...`")
        );
        let mut json_args = vec!["--json"];
        json_args.extend(&args);
        let (error, _) = env
            .cmd(&json_args)
            .run_as_nobody()
            .run()
            .failure()
            .error_json();
        assert_eq!(error, format!("`twofold {command}` is for root only"));
    }
    assert!(env.secret_file("daemon").is_some());
    assert_eq!(env.audit_lines().len(), 1, "only the enrollment");
}

#[test]
fn reset_removes_the_file_and_leaves_an_audit_record() {
    let env = Env::new();
    env.enroll("nobody");
    let out = env
        .run(&["--json", "admin", "reset", "nobody"])
        .success()
        .json();
    assert_eq!(out, serde_json::json!({"user": "nobody", "removed": true}));
    assert!(!env.secret_path("nobody").exists());
    let audit = env.audit_lines();
    let last = audit.last().unwrap();
    assert_eq!(last["action"], "admin-reset");
    assert_eq!(last["user"], "nobody");
    assert_eq!(last["by"], "root");
    assert_eq!(last["by_uid"], 0);
    assert_eq!(last["removed"], "yes");
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(mode_of(&env.audit_log), 0o600);
    assert_eq!(mode_of(env.audit_log.parent().unwrap()), 0o700);

    let text = env.run(&["admin", "reset", "nobody"]).success().stdout;
    assert!(text.starts_with("nobody had no secret file"), "{text}");
    let status = env
        .run(&["--json", "admin", "status", "nobody"])
        .success()
        .json();
    assert_eq!(status["enrolled"], false);
}

#[test]
fn reset_works_on_a_corrupt_file() {
    let env = Env::new();
    env.enroll("nobody");
    std::fs::write(env.secret_path("nobody"), "garbage").unwrap();
    env.run(&["admin", "reset", "nobody"]).success();
    assert!(!env.secret_path("nobody").exists());
}

#[test]
fn an_admin_action_that_cannot_be_audited_is_not_done() {
    let env = Env::new();
    env.enroll("nobody");
    std::fs::set_permissions(&env.audit_log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = env.run(&["admin", "reset", "nobody"]).failure();
    let (error, hint) = run.error_text();
    assert!(
        error.starts_with(&format!(
            "audit log {}: must be a regular file owned by root with mode 0600",
            env.audit_log.display()
        )),
        "{error}"
    );
    assert!(error.ends_with("nothing was changed"), "{error}");
    assert!(
        hint.contains("only done when they can be audited"),
        "{hint}"
    );
    assert!(env.secret_path("nobody").exists());
}

#[test]
fn unlock_clears_failures_and_throttling() {
    let env = Env::new();
    env.enroll("nobody");
    let mut file = env.secret_file("nobody").unwrap();
    file.state.failures = 9;
    file.state.throttled_until = now() + 900;
    env.put_secret_file("nobody", &file);
    let out = env
        .run(&["--json", "admin", "unlock", "nobody"])
        .success()
        .json();
    assert_eq!(
        out,
        serde_json::json!({"user": "nobody", "failures_cleared": 9, "was_throttled": true})
    );
    let file = env.secret_file("nobody").unwrap();
    assert_eq!((file.state.failures, file.state.throttled_until), (0, 0));
    assert_eq!(env.audit_lines().last().unwrap()["action"], "admin-unlock");

    // One failure is "1 failed attempt", in good English.
    let mut file = env.secret_file("nobody").unwrap();
    file.state.failures = 1;
    env.put_secret_file("nobody", &file);
    let text = env.run(&["admin", "unlock", "nobody"]).success().stdout;
    assert_eq!(
        text,
        "Unlocked nobody: 1 failed attempt cleared (was not throttled).\n"
    );

    let (error, hint) = env
        .run(&["--json", "admin", "unlock", "daemon"])
        .failure()
        .error_json();
    assert_eq!(error, "daemon is not enrolled");
    assert_eq!(
        hint,
        "nothing to do; to enroll the user run `twofold enroll --user daemon`"
    );
}

#[test]
fn issued_pass_logs_in_once_and_creates_a_file_when_needed() {
    let env = Env::new();
    let before = now();
    let out = env
        .run(&["--json", "admin", "issue-pass", "nobody", "--ttl", "15m"])
        .success()
        .json();
    let mut keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["expires", "pass"]);
    let pass = out["pass"].as_str().unwrap();
    assert_eq!(pass.len(), 24, "five groups of four: {pass}");
    let expires = twofold_core::time::parse_rfc3339(out["expires"].as_str().unwrap()).unwrap();
    assert!((before + 900..=now() + 900).contains(&expires));

    let file = env.secret_file("nobody").unwrap();
    assert!(
        file.devices.is_empty() && file.recovery.is_none(),
        "a file holding just the pass"
    );
    assert_eq!(file.pass.as_ref().unwrap().issued_by, "root");
    let d = decide(
        &file,
        &classify(pass.as_bytes()),
        &Config::default(),
        now(),
        &ORIGIN,
    );
    assert!(d.accepted, "{}", d.reason);
    assert!(
        !decide(
            &d.update.unwrap(),
            &classify(pass.as_bytes()),
            &Config::default(),
            now(),
            &ORIGIN
        )
        .accepted
    );
    let audit = env.audit_lines();
    assert_eq!(audit[0]["action"], "admin-issue-pass");
    assert_eq!(audit[0]["expires"], out["expires"]);
    assert!(
        !std::fs::read_to_string(&env.audit_log)
            .unwrap()
            .contains(pass),
        "the pass is not logged"
    );

    // For an enrolled user the pass is added, the rest kept.
    env.enroll("daemon");
    let text = env
        .run(&["admin", "issue-pass", "daemon", "--ttl", "2h"])
        .success()
        .stdout;
    assert!(
        text.contains("(2 hours)")
            && text.contains(
                "root then sets up their new app with `twofold enroll --user daemon --force`"
            ),
        "{text}"
    );
    let file = env.secret_file("daemon").unwrap();
    assert!(file.pass.is_some() && file.devices.len() == 1 && file.recovery_codes_left() == 10);
}

#[test]
fn bad_ttl_writes_nothing() {
    let env = Env::new();
    for (ttl, problem) in [
        ("8d", "--ttl `8d` is longer than 7d; no pass was issued"),
        ("30s", "--ttl `30s` is shorter than 1m; no pass was issued"),
        ("soon", "--ttl `soon` is not a duration"),
    ] {
        let (error, hint) = env
            .run(&["--json", "admin", "issue-pass", "nobody", "--ttl", ttl])
            .failure()
            .error_json();
        assert!(error.starts_with(problem), "{error}");
        assert_eq!(hint, "give a duration from 1m to 7d, such as 15m, 2h or 1d");
    }
    assert!(
        !env.path().join("secrets").exists(),
        "no directory, no file"
    );
    assert!(env.audit_lines().is_empty());
}

#[test]
fn unknown_user_and_conflicting_user_flag() {
    let env = Env::new();
    let (error, hint) = env
        .run(&["--json", "admin", "status", "no-such-user-twofold"])
        .failure()
        .error_json();
    assert_eq!(
        error,
        "user `no-such-user-twofold`: no such user in the password database"
    );
    assert!(
        hint.contains("getent passwd no-such-user-twofold"),
        "{hint}"
    );
    let run = env.run(&["--user", "daemon", "admin", "status", "nobody"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn migrate_refuses_bad_input_and_a_missing_directory_and_changes_nothing() {
    let env = Env::new();
    env.enroll("nobody");
    let file = std::fs::read(env.secret_path("nobody")).unwrap();
    let status = env
        .run(&["--json", "admin", "status", "nobody"])
        .success()
        .json();
    assert_eq!(status["backend"], "files");
    assert!(status["server"].is_null(), "{status}");

    let (error, hint) = env
        .run(&["admin", "migrate", "--to-directory", "--user", "nobody"])
        .failure()
        .error_text();
    assert_eq!(
        error,
        "`twofold admin migrate` needs a directory, and twofold.toml has no [directory] table; nothing was changed"
    );
    assert!(hint.contains("add the [directory] table"), "{hint}");
    for args in [
        &["--to-directory", "--user", "nobody", "--all"][..],
        &["--to-directory", "--to-files", "--all"],
        &["--to-files"],
        &["--all"],
    ] {
        let mut argv = vec!["admin", "migrate"];
        argv.extend(args);
        let run = env.run(&argv);
        assert_eq!(run.code, 2, "{run:#?}");
    }
    let run = env
        .cmd(&["admin", "migrate", "--to-directory", "--all"])
        .run_as_nobody()
        .run()
        .failure();
    assert_eq!(
        run.error_text().0,
        "`twofold admin migrate` is for root only"
    );
    assert_eq!(std::fs::read(env.secret_path("nobody")).unwrap(), file);
    assert_eq!(env.audit_lines().len(), 1, "only the enrollment");
}

#[test]
fn migrate_to_an_unreachable_directory_keeps_the_file_and_an_unknown_user_is_an_error() {
    let env = Env::with_config(|dir| {
        format!(
            "secret_path = \"{dir}/secrets/{{user}}.toml\"\n\
             [directory]\nuri = [\"ldaps://127.0.0.1:1\"]\nbase = \"ou=people,dc=example,dc=org\"\n\
             bind_dn = \"cn=web1,ou=hosts,dc=example,dc=org\"\n\
             bind_password_file = \"{dir}/ldap.secret\"\ntimeout = \"1s\"\n"
        )
    });
    let secret = env.path().join("ldap.secret");
    std::fs::write(&secret, "pw\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut file = twofold_core::SecretFile::new();
    file.devices.push(device_with("JBSWY3DPEHPK3PXP"));
    let secrets = env.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.put_secret_file("nobody", &file);
    let before = std::fs::read(env.secret_path("nobody")).unwrap();

    let (error, _) = env
        .run(&["admin", "migrate", "--to-directory", "--user", "nosuchuser"])
        .failure()
        .error_text();
    assert!(error.contains("no such user"), "{error}");
    let (error, hint) = env
        .run(&["admin", "migrate", "--to-directory", "--user", "nobody"])
        .failure()
        .error_text();
    assert!(error.contains("unreachable"), "{error}");
    assert!(hint.contains("directory servers"), "{hint}");
    assert_eq!(std::fs::read(env.secret_path("nobody")).unwrap(), before);
    assert!(env.audit_lines().is_empty());
}

#[test]
/// A binary without the setuid bit (built from source, copied by hand): the self-service
/// path is not there, so the user is sent to root, and told why.
fn with_a_directory_and_no_setuid_bit_a_user_is_told_to_ask_root_for_their_status() {
    let env = Env::with_config(|dir| {
        format!(
            "[directory]\nuri = [\"ldaps://127.0.0.1:1\"]\nbase = \"ou=people,dc=example,dc=org\"\n\
             bind_dn = \"cn=web1,ou=hosts,dc=example,dc=org\"\n\
             bind_password_file = \"{dir}/ldap.secret\"\n"
        )
    });
    let (error, hint) = env
        .cmd(&["status"])
        .run_as_nobody()
        .run()
        .failure()
        .error_text();
    assert_eq!(
        error,
        "the second factor is kept in the directory, which only root reaches (the host's directory password is root's), so nobody cannot manage it directly"
    );
    assert_eq!(
        hint,
        "this twofold is not setuid root, which the packages install it as (mode 4755, twofold(1) SELF-SERVICE): ask an administrator to run `twofold admin status nobody`, or to install it so"
    );
}
