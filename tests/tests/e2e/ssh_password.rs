//! sshd with keyboard-interactive only: pam_unix's password, then pam_twofold's code, in one
//! PAM stack (the packaged example `pam.d-sshd-password`).

use twofold_e2e::{Host, SshAuth};

fn alice_with_password() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PasswordThenTotp)
        .build()
}

#[test]
fn password_then_totp_code_logs_in() {
    let host = alice_with_password();
    let code = host.totp("alice");

    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_prompts(&["Password: ", "Verification code: "]);

    host.decision(1).assert("alice", "totp", "success");
}

#[test]
fn right_password_with_wrong_code_is_denied() {
    let host = alice_with_password();
    let wrong = host.wrong_code("alice");

    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&wrong)
        .run()
        .assert_failure()
        .assert_prompts(&["Password: ", "Verification code: "]);

    host.decision(1).assert_denied("alice", "totp");
}

// A wrong password: password_examples.rs, for this example and the rpm one.
