//! sshd with `AuthenticationMethods publickey,keyboard-interactive`: the key, then a code.

use twofold_e2e::{Host, SshAuth};

fn alice_enrolled() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

#[test]
fn valid_totp_code_logs_in_after_the_public_key() {
    let host = alice_enrolled();
    let code = host.totp("alice");

    host.ssh("alice")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_prompts(&["Verification code: "]);

    let decision = host.decision(1);
    decision.assert("alice", "totp", "success");
    assert_eq!(decision.service(), "sshd", "{}", decision.line);
    assert_eq!(decision.field("rhost"), "127.0.0.1", "{}", decision.line);
}

#[test]
fn wrong_totp_code_is_denied() {
    let host = alice_enrolled();
    let wrong = host.wrong_code("alice");

    host.ssh("alice")
        .answer_with(&wrong)
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);

    host.decision(1).assert_denied("alice", "totp");
}

#[test]
fn replayed_totp_code_is_denied() {
    let host = alice_enrolled();
    let code = host.totp("alice");
    host.ssh("alice").answer_with(&code).run().assert_success();

    host.ssh("alice").answer_with(&code).run().assert_failure();

    host.decision(2)
        .assert_denied("alice", "totp")
        .assert_reason_contains("already used");
}

#[test]
fn next_steps_code_is_accepted_once_after_the_current_one() {
    let host = alice_enrolled();
    let now = host.totp("alice");
    host.ssh("alice").answer_with(&now).run().assert_success();

    let next = host.totp_in_steps("alice", 1);
    host.ssh("alice").answer_with(&next).run().assert_success();
    host.ssh("alice").answer_with(&next).run().assert_failure();
}

#[test]
fn code_from_outside_the_window_is_denied() {
    let host = alice_enrolled();
    let too_late = host.totp_in_steps("alice", 3);

    host.ssh("alice")
        .answer_with(&too_late)
        .run()
        .assert_failure();

    host.decision(1).assert_denied("alice", "totp");
}

#[test]
fn empty_answer_is_denied() {
    let host = alice_enrolled();

    host.ssh("alice").answer_with("").run().assert_failure();
}

#[test]
fn configured_prompt_is_shown() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .config("prompt = \"Code from your phone: \"\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let code = host.totp("alice");

    host.ssh("alice")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_prompts(&["Code from your phone: "]);
}
