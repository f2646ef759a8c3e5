//! Users without a secret file: `unenrolled = "deny" | "allow"` and the rollout grace date
//! `unenrolled_allow_until`.

use twofold_e2e::{Host, SshAuth};

fn bob_unenrolled(config: &str) -> Host {
    Host::new()
        .user("bob")
        .config(config)
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

#[test]
fn unenrolled_user_is_denied_by_default() {
    let host = Host::new()
        .user("bob")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();

    // Asked for a code all the same: the prompt does not tell who is enrolled.
    host.ssh("bob")
        .answer_with("123456")
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);

    host.decision(1)
        .assert_refused("bob")
        .assert_reason_contains("not enrolled");
}

#[test]
fn unenrolled_user_is_denied_under_deny() {
    let host = bob_unenrolled("unenrolled = \"deny\"\n");

    // Asked for a code all the same: the prompt does not tell who is enrolled.
    host.ssh("bob")
        .answer_with("123456")
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);

    host.decision(1)
        .assert_refused("bob")
        .assert_reason_contains("not enrolled");
}

#[test]
fn unenrolled_user_logs_in_under_allow() {
    let host = bob_unenrolled("unenrolled = \"allow\"\n");

    host.ssh("bob")
        .run()
        .assert_success()
        .assert_stdout("bob")
        .assert_no_prompt();

    // PAM_IGNORE: the example stack's pam_permit lets bob in, never pam_twofold itself.
    host.decision(1).assert("bob", "unenrolled", "ignore");
}

#[test]
fn unenrolled_user_is_denied_once_the_grace_date_has_passed() {
    let host =
        bob_unenrolled("unenrolled = \"deny\"\nunenrolled_allow_until = 2020-01-01T00:00:00Z\n");

    // Asked for a code all the same: the prompt does not tell who is enrolled.
    host.ssh("bob")
        .answer_with("123456")
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);

    host.decision(1)
        .assert_refused("bob")
        .assert_reason_contains("not enrolled");
}

#[test]
fn unenrolled_user_logs_in_before_the_grace_date() {
    let host =
        bob_unenrolled("unenrolled = \"deny\"\nunenrolled_allow_until = 2099-12-31T00:00:00Z\n");

    host.ssh("bob")
        .run()
        .assert_success()
        .assert_stdout("bob")
        .assert_no_prompt();

    // PAM_IGNORE: the example stack's pam_permit lets bob in, never pam_twofold itself.
    host.decision(1).assert("bob", "unenrolled", "ignore");
}

#[test]
fn enrolled_user_still_needs_a_code_under_allow() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .config("unenrolled = \"allow\"\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let wrong = host.wrong_code("alice");

    host.ssh("alice").answer_with(&wrong).run().assert_failure();
}
