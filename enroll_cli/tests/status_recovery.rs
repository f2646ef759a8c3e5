//! `twofold status` and `twofold recovery regenerate`.

mod common;

use common::*;
use twofold_core::codes::classify;
use twofold_core::verify::{decide, Origin};
use twofold_core::Config;

const ORIGIN: Origin = Origin {
    rhost: Some("192.0.2.1"),
    service: "sshd",
};

#[test]
fn regenerated_codes_replace_the_old_ones_at_once() {
    let env = Env::new();
    let first = env.enroll("nobody");
    let out = env
        .run(&["--json", "--user", "nobody", "recovery", "regenerate"])
        .success()
        .json();
    assert_eq!(
        out.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["recovery_codes"]
    );
    let new: Vec<&str> = out["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(new.len(), 10);
    let file = env.secret_file("nobody").unwrap();
    assert_eq!(file.recovery_codes_left(), 10);
    let old = first["recovery_codes"][0].as_str().unwrap();
    assert!(
        !decide(
            &file,
            &classify(old.as_bytes()),
            &Config::default(),
            now(),
            &ORIGIN
        )
        .accepted,
        "old code dead"
    );
    assert!(
        decide(
            &file,
            &classify(new[9].as_bytes()),
            &Config::default(),
            now(),
            &ORIGIN
        )
        .accepted,
        "new code works"
    );
    assert_eq!(
        file.devices[0].secret.base32(),
        first["secret"].as_str().unwrap(),
        "device kept"
    );

    let text = env
        .run(&["--user", "nobody", "recovery", "regenerate"])
        .success()
        .stdout;
    assert!(
        text.starts_with("New recovery codes for nobody; the old ones no longer work."),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.trim().len() == 19).count(), 10);
}

#[test]
fn regenerate_needs_an_enrollment() {
    let env = Env::new();
    let (error, hint) = env
        .run(&["--json", "--user", "nobody", "recovery", "regenerate"])
        .failure()
        .error_json();
    assert_eq!(
        (error.as_str(), hint.as_str()),
        ("nobody is not enrolled", "run `twofold enroll` first")
    );
}

#[test]
fn status_of_an_unenrolled_user_states_the_policy() {
    let env = Env::new();
    let text = env.run(&["--user", "nobody", "status"]).success().stdout;
    assert!(text.starts_with("nobody is not enrolled"), "{text}");
    assert!(
        text.contains("Policy for unenrolled users: deny (logins are refused)."),
        "{text}"
    );
    let json = env
        .run(&["--json", "--user", "nobody", "status"])
        .success()
        .json();
    assert_eq!(json["enrolled"], false);
    assert_eq!(json["unenrolled_policy"], "deny");
}

#[test]
fn status_shows_devices_codes_last_login_and_throttling() {
    let env = Env::new();
    env.enroll("nobody");
    let mut file = env.secret_file("nobody").unwrap();
    // As the module leaves it: a login by recovery code, then wrong codes and a throttle.
    file.recovery.as_mut().unwrap().hashes.truncate(3);
    file.state.last_login = Some(1_790_000_000);
    file.state.last_login_from = Some("192.0.2.7".into());
    file.state.last_login_method = Some("recovery".into());
    file.state.failures = 7;
    file.state.throttled_until = now() + 600;
    env.put_secret_file("nobody", &file);

    let text = env.run(&["--user", "nobody", "status"]).success().stdout;
    for want in [
        "User:            nobody\n",
        "Devices:         1\n",
        "Recovery codes:  3 left  (warning: only 3 left; run `twofold recovery regenerate`)\n",
        "Access pass:     none\n",
        "Last login:      2026-09-21T14:13:20Z from 192.0.2.7 (recovery)\n",
        "Throttled:       yes, codes from apps are refused until ",
        "after 7 failures\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    let json = env
        .run(&["--json", "--user", "nobody", "status"])
        .success()
        .json();
    assert_eq!(json["enrolled"], true);
    assert_eq!(json["recovery_codes_left"], 3);
    assert_eq!(json["recovery_codes_low"], true);
    assert_eq!(
        json["last_login"],
        serde_json::json!({"time": "2026-09-21T14:13:20Z", "from": "192.0.2.7", "method": "recovery"})
    );
    assert_eq!(json["failures"], 7);
    assert_eq!(json["throttled"], true);
    assert_eq!(json["devices"][0]["name"], "default");

    // Admins see the same, and how to lift the throttle.
    let admin = env.run(&["admin", "status", "nobody"]).success().stdout;
    assert!(
        admin.contains("`twofold admin unlock nobody` clears it"),
        "{admin}"
    );
}

#[test]
fn four_codes_left_is_no_warning() {
    let env = Env::new();
    env.enroll("nobody");
    let mut file = env.secret_file("nobody").unwrap();
    file.recovery.as_mut().unwrap().hashes.truncate(4);
    env.put_secret_file("nobody", &file);
    let text = env.run(&["--user", "nobody", "status"]).success().stdout;
    assert!(text.contains("Recovery codes:  4 left\n"), "{text}");
}

#[test]
fn status_shows_the_app_code_lock() {
    let env = Env::new();
    env.enroll("nobody");
    let mut file = env.secret_file("nobody").unwrap();
    file.state.failures = Config::default().rate_limit.totp_lockout_after;
    env.put_secret_file("nobody", &file);
    let text = env.run(&["admin", "status", "nobody"]).success().stdout;
    assert!(
        text.contains("Locked:          yes, codes from apps are refused after 100 failures"),
        "{text}"
    );
    assert_eq!(
        env.run(&["--json", "--user", "nobody", "status"])
            .success()
            .json()["locked"],
        true
    );
    env.run(&["admin", "unlock", "nobody"]).success();
    assert_eq!(
        env.run(&["--json", "--user", "nobody", "status"])
            .success()
            .json()["locked"],
        false
    );
}

/// Files written by hand (a literal string, a date-time with a space, a secret file edited
/// by hand) are read by the `toml` crate like any other.
#[test]
fn files_that_are_not_plain_are_read_through_the_toml_crate() {
    let env = Env::with_config(|dir| {
        format!(
            "secret_path = '{dir}/secrets/{{user}}.toml' # a literal string\n\
             unenrolled = \"allow\"\n\
             unenrolled_allow_until = 2099-01-01 00:00:00Z\n"
        )
    });
    env.enroll("nobody");
    let path = env.secret_path("nobody");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("# edited by hand\n{text}")).unwrap();
    let json = env
        .run(&["--json", "--user", "nobody", "status"])
        .success()
        .json();
    assert_eq!(json["enrolled"], true, "{json}");
    assert_eq!(json["devices"].as_array().map(Vec::len), Some(1), "{json}");
    // The literal string's path, so the configuration went through the toml crate.
    assert_eq!(json["secret_path"], path.display().to_string(), "{json}");
}

/// In home mode the user writes their own secret file, and root reads it with `admin
/// status`: what the file says must not reach root's terminal as escape sequences.
#[test]
fn values_from_the_file_are_shown_with_control_characters_escaped() {
    let env = Env::new();
    env.enroll("nobody");
    let hostile = "\u{1b}]2;x\u{7}";
    let mut file = env.secret_file("nobody").unwrap();
    file.state.last_login = Some(1_790_000_000);
    file.state.last_login_from = Some(hostile.into());
    file.state.last_login_method = Some(hostile.into());
    file.set_pass("0123456789ABCDEFGHJK", now(), now() + 600, hostile)
        .unwrap();
    env.put_secret_file("nobody", &file);
    for args in [
        &["admin", "status", "nobody"][..],
        &["--user", "nobody", "status"],
    ] {
        let text = env.run(args).success().stdout;
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?}: {text:?}"
        );
        assert!(
            text.contains("from \\u{1b}]2;x\\u{7} (\\u{1b}]2;x\\u{7})\n"),
            "{args:?}: {text}"
        );
        assert!(
            text.contains("(issued by \\u{1b}]2;x\\u{7})"),
            "{args:?}: {text}"
        );
    }
    // JSON escapes them itself, and keeps the value.
    let json = env
        .run(&["--json", "--user", "nobody", "status"])
        .success()
        .json();
    assert_eq!(json["last_login"]["from"], hostile);
}

/// Imported scratch codes share the app codes' throttle (8 digits are too few to try without
/// a limit), so status says so, and that recovery codes are missing.
#[test]
fn status_after_an_import_asks_for_recovery_codes() {
    let env = Env::new();
    env.enroll("nobody");
    // What an import leaves: a device, scratch codes, no recovery codes.
    let mut file = env.secret_file("nobody").unwrap();
    file.recovery = None;
    file.set_legacy_scratch_codes(&[zeroize::Zeroizing::new("12345678".into())], 0)
        .unwrap();
    env.put_secret_file("nobody", &file);
    let text = env.run(&["admin", "status", "nobody"]).success().stdout;
    for want in [
        "Recovery codes:  0 left  (warning: none left; the user should run `twofold recovery regenerate`, or root `twofold --user nobody recovery regenerate`)\n",
        "Scratch codes:   1 left (imported from google-authenticator; paused and locked with app codes, unlike recovery codes)\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
}

#[test]
fn status_of_an_unenrolled_user_says_enrollment_at_login_and_its_deadline() {
    let env = Env::with_config(|dir| {
        format!("secret_path = \"{dir}/secrets/{{user}}.toml\"\nunenrolled = \"enroll\"\nenroll_until = 2099-01-01T00:00:00Z\n")
    });
    let text = env.run(&["--user", "nobody", "status"]).success().stdout;
    assert!(
        text.contains("Policy for unenrolled users: enroll until 2099-01-01T00:00:00Z (the next login offers enrollment"),
        "{text}"
    );
}

#[test]
fn an_admin_reset_under_enrollment_at_login_says_the_next_login_offers_it() {
    let env = Env::with_config(|dir| {
        format!("secret_path = \"{dir}/secrets/{{user}}.toml\"\nunenrolled = \"enroll\"\n")
    });
    env.enroll("nobody");
    let text = env.run(&["admin", "reset", "nobody"]).success().stdout;
    assert!(
        text.contains("is now unenrolled: their next login offers enrollment"),
        "{text}"
    );
}
