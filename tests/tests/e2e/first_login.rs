//! Enrollment at first login (`unenrolled = "enroll"`): over real ssh, an unenrolled user
//! who passed their key is shown a new key, activates it with a code from it, and is asked
//! for a code from then on.

use twofold_e2e::{Host, Output, SshAuth};

fn bob_with(config: &str) -> Host {
    Host::new()
        .user("bob")
        .config(config)
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

/// The key shown in the enrollment prompt, from its `otpauth://` URI.
#[track_caller]
fn shown_key(out: &Output) -> String {
    let prompt = &out.prompts[0];
    let (_, after) = prompt
        .split_once("secret=")
        .unwrap_or_else(|| panic!("no key shown:\n{out}"));
    after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

#[track_caller]
fn enrolled(host: &Host, user: &str) -> bool {
    let status = host.twofold(&format!("--user {user} status --json"));
    status.assert_success();
    status.json()["enrolled"] == true
}

#[test]
fn an_unenrolled_user_enrolls_at_first_login_with_a_code_of_the_key_shown() {
    let host = bob_with("unenrolled = \"enroll\"\n");

    let out = host.ssh("bob").answer_enrollment_from_shown_key().run();
    out.assert_success().assert_stdout("bob");
    // The key, the URI and the QR code (ASCII: OpenSSH escapes anything else) in what the
    // ssh client shows, then the recovery codes with a prompt so that ssh shows them.
    assert_eq!(out.prompts.len(), 2, "{out}");
    let key = shown_key(&out);
    let grouped: Vec<String> = key
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let enrolling = &out.prompts[0];
    assert!(enrolling.contains(&grouped.join(" ")), "{out}");
    assert!(
        enrolling.contains("otpauth://totp/twofold:bob?secret="),
        "{out}"
    );
    assert!(enrolling.contains("##########"), "no QR code:\n{out}");
    assert!(enrolling.is_ascii(), "{out}");
    assert!(enrolling.ends_with("Enter the code shown by your app to activate it: "));
    assert!(out.prompts[1].contains("Recovery codes"), "{out}");
    assert!(
        out.prompts[1].ends_with("Press Enter to continue: "),
        "{out}"
    );

    // Each step in the auth log, never the key.
    let log = host.decisions(2);
    log[0].assert("bob", "enroll", "offered");
    log[1]
        .assert("bob", "enroll", "success")
        .assert_reason_contains("enrolled at login");
    assert!(!host.auth_log().contains(&key), "the key is in the log");
    assert!(enrolled(&host, "bob"));

    // The next login asks for a code of that key (the code of the enrollment is used up).
    host.ssh("bob")
        .answer_with(&host.totp_of_secret(&key, 1))
        .run()
        .assert_success()
        .assert_stdout("bob")
        .assert_prompts(&["Verification code: "]);
    host.decision(3).assert("bob", "totp", "success");
}

#[test]
fn a_wrong_confirmation_code_activates_nothing() {
    let host = bob_with("unenrolled = \"enroll\"\n");

    let out = host.ssh("bob").answer_enrollment_wrongly().run();
    out.assert_failure();
    assert_eq!(out.prompts.len(), 1, "{out}");
    let log = host.decisions(2);
    log[0].assert("bob", "enroll", "offered");
    log[1]
        .assert_denied("bob", "enroll")
        .assert_reason_contains("nothing activated");
    assert!(!enrolled(&host, "bob"), "a wrong code activated the key");

    // The key shown then is worth nothing: still not enrolled, so offered a new one.
    let again = host.ssh("bob").answer_enrollment_from_shown_key().run();
    again.assert_success();
    assert_ne!(
        shown_key(&again),
        shown_key(&out),
        "the same key offered twice"
    );
}

#[test]
fn after_enroll_until_the_unenrolled_user_is_refused_without_an_offer() {
    let host = bob_with("unenrolled = \"enroll\"\nenroll_until = 2020-01-01T00:00:00Z\n");

    // Asked for a code like anyone refused: the prompt does not tell who is enrolled.
    host.ssh("bob")
        .answer_with("123456")
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);
    host.decision(1)
        .assert_denied("bob", "unenrolled")
        .assert_reason_contains("enroll_until");
    assert!(!enrolled(&host, "bob"));
}

#[test]
fn an_enrolled_user_is_never_offered_enrollment() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .config("unenrolled = \"enroll\"\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();

    host.ssh("alice")
        .answer_with(&host.wrong_code("alice"))
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);
    host.ssh("alice")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
    let log = host.decisions(2);
    log[0].assert_denied("alice", "totp");
    log[1].assert("alice", "totp", "success");
    assert!(!host.auth_log().contains("result=offered"));
}

#[test]
fn the_doctor_refuses_a_stack_that_reaches_the_module_after_a_wrong_password() {
    // The packaged sudo example ends the stack at a wrong password: no error.
    let host = Host::new()
        .user("bob")
        .config("unenrolled = \"enroll\"\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.run("cp /usr/share/doc/twofold/examples/pam.d-sudo /etc/pam.d/sudo")
        .assert_success();
    let errors = |host: &Host| -> Vec<String> {
        let out = host.twofold("--json doctor");
        out.json()["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings:\n{out}"))
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| format!("{} {}", f["id"], f["why"]))
            .collect()
    };
    let before = errors(&host);
    assert!(
        !before.iter().any(|e| e.contains("pam.after-failure")),
        "{before:?}"
    );

    // A password module that lets the stack go on after a failure (`required`): whoever
    // knows bob's name would be offered his enrollment. The doctor says so, as an error.
    host.write_file(
        "/etc/pam.d/sudo",
        "auth required pam_unix.so\nauth required pam_twofold.so\n@include common-account\n@include common-session-noninteractive\n",
    );
    let after = errors(&host);
    assert!(
        after.iter().any(
            |e| e.contains("pam.after-failure") && e.contains("offered that user's enrollment")
        ),
        "{after:?}"
    );
    // And root, not enrolled on this host, is listed as offered enrollment at login.
    let listed = host.twofold("--json doctor").json();
    let offered = listed["findings"].as_array().unwrap().iter().any(|f| {
        f["id"] == "user.unenrolled-enrolls"
            && f["severity"] == "warning"
            && f["subject"] == "user:root"
    });
    assert!(offered, "{listed:#}");
}
