//! `twofold doctor` on a host set up from the packaged examples: it passes; then the host is
//! broken three ways, and each time the doctor says so (exit 1) and a real ssh login shows
//! the consequence it predicted.

use twofold_e2e::{Host, Output, SshAuth, SudoAuth, User};

/// alice (in group sudo) and root enrolled; sshd and sudo from the packaged examples.
fn packaged_host() -> Host {
    Host::new()
        .user(User::new("alice").group("sudo"))
        .enrolled("alice")
        .enrolled("root")
        .sshd(SshAuth::PublickeyThenTotp)
        .sudo(SudoAuth::PasswordThenTotp)
        .sudoer("alice")
        .build()
}

/// `twofold --json doctor`, with its exit status and the ids of its errors.
fn doctor(host: &Host) -> (Output, Vec<String>) {
    let out = host.twofold("--json doctor");
    let json = out.json();
    let errors = json["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings:\n{out}"))
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    (out, errors)
}

/// sshd reads its configuration when it starts: check it, then restart it with SIGHUP and
/// wait until it listens again.
fn reload_sshd(host: &Host) {
    host.run(
        "/usr/sbin/sshd -t && kill -HUP \"$(cat /run/sshd.pid)\" && sleep 0.5 && \
         for _ in $(seq 250); do \
           awk '$2 ~ /:0016$/ && $4 == \"0A\" { f = 1 } END { exit !f }' /proc/net/tcp && exit 0; \
           sleep 0.02; \
         done; exit 1",
    )
    .assert_success();
}

#[test]
fn a_host_set_up_from_the_packaged_examples_passes() {
    let host = packaged_host();
    let (out, errors) = doctor(&host);
    assert_eq!(out.status, 0, "{out}");
    assert!(errors.is_empty(), "{out}");
    let text = host.twofold("doctor --user alice");
    text.assert_success();
    assert!(
        text.stdout
            .contains("ssh: publickey, then a code from their device or one of 10 recovery codes"),
        "{text}"
    );
    assert!(
        text.stdout
            .contains("sudo: password, then a code from their device or one of 10 recovery codes"),
        "{text}"
    );

    let code = host.totp("alice");
    host.ssh("alice")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
}

#[test]
fn a_drop_in_turning_keyboard_interactive_off_is_found_and_the_code_is_not_asked() {
    let host = packaged_host();
    // Read before the example's twofold.conf: the first value of a keyword wins.
    host.run(
        "printf 'KbdInteractiveAuthentication no\\nAuthenticationMethods any\\n' \
         >/etc/ssh/sshd_config.d/00-aaa-local.conf",
    )
    .assert_success();
    reload_sshd(&host);

    let (out, errors) = doctor(&host);
    assert_eq!(out.status, 1, "{out}");
    assert!(errors.contains(&"sshd.kbdint-off".to_string()), "{out}");
    assert!(out.stdout.contains("00-aaa-local.conf line 1"), "{out}");
    assert!(errors.contains(&"sshd.code-skipped".to_string()), "{out}");

    // As predicted: the key alone logs in, no code is asked.
    host.ssh("alice")
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_no_prompt();
}

#[test]
fn sufficient_on_our_line_is_found_and_a_wrong_code_gets_in() {
    let host = packaged_host();
    host.run(
        "sed -i 's/^auth *required *pam_twofold.so/auth sufficient pam_twofold.so/' /etc/pam.d/sshd \
         && grep -q '^auth sufficient pam_twofold.so' /etc/pam.d/sshd",
    )
    .assert_success();

    let (out, errors) = doctor(&host);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        errors.contains(&"pam.wrong-code-passes".to_string()),
        "{out}"
    );

    // As predicted: a wrong code, refused by the module, still logs in.
    let wrong = host.wrong_code("alice");
    host.ssh("alice")
        .answer_with(&wrong)
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
    host.decision(1).assert_denied("alice", "totp");
}

#[test]
fn the_admins_enrollment_reset_is_found_and_the_admin_cannot_log_in() {
    let host = packaged_host();
    host.twofold("admin reset alice").assert_success();

    let (out, errors) = doctor(&host);
    assert_eq!(out.status, 1, "{out}");
    assert!(
        errors.contains(&"user.unenrolled-denied".to_string()),
        "{out}"
    );
    let way = host.twofold("doctor --user alice --service sshd");
    assert_eq!(way.status, 1, "{way}");
    assert!(
        way.stdout
            .contains("alice cannot log in over ssh: not enrolled and unenrolled = deny"),
        "{way}"
    );

    // As predicted: alice's key and any code are refused.
    host.ssh("alice")
        .answer_with("123456")
        .run()
        .assert_failure();
    host.decision(1)
        .assert_refused("alice")
        .assert_reason_contains("not enrolled");
}
