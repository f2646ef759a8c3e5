//! sudo with the packaged example `/etc/pam.d/sudo`: the password, then a code, read by
//! `sudo -S` from stdin.

use twofold_e2e::{Host, SudoAuth};

fn alice_sudoer() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sudo(SudoAuth::PasswordThenTotp)
        .build()
}

#[test]
fn sudo_runs_the_command_after_password_and_right_code() {
    let host = alice_sudoer();
    let code = host.totp("alice");

    host.sudo("alice")
        .answer_with("alice-password")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("root")
        .assert_stderr_contains("Verification code: ");

    let decision = host.decision(1);
    decision.assert("alice", "totp", "success");
    assert_eq!(decision.service(), "sudo", "{}", decision.line);
}

#[test]
fn sudo_does_not_run_the_command_after_a_wrong_code() {
    let host = alice_sudoer();
    let wrong = host.wrong_code("alice");

    let out = host
        .sudo("alice")
        .answer_with("alice-password")
        .answer_with(&wrong)
        .command("touch /root/ran")
        .run();
    out.assert_failure()
        .assert_stderr_contains("Verification code: ");

    host.run("test ! -e /root/ran").assert_success();
    host.decision(1).assert_denied("alice", "totp");
}

#[test]
fn sudo_does_not_run_the_command_without_a_code() {
    let host = alice_sudoer();

    host.sudo("alice")
        .answer_with("alice-password")
        .command("touch /root/ran")
        .run()
        .assert_failure();

    host.run("test ! -e /root/ran").assert_success();
}

/// `sudo -i` authenticates through its own PAM service, `sudo-i` (Debian's stock file
/// includes common-auth): with the packaged pam.d-sudo-i it asks for the code too, and the
/// password alone is refused.
#[test]
fn sudo_i_asks_for_the_code_as_sudo_does() {
    let host = alice_sudoer();
    let code = host.totp("alice");
    host.run_as(
        "alice",
        &format!("printf 'alice-password\\n{code}\\n' | sudo -k -S -i id -un"),
    )
    .assert_success()
    .assert_stdout("root")
    .assert_stderr_contains("Verification code: ");
    let decision = host.decision(1);
    decision.assert("alice", "totp", "success");
    assert_eq!(decision.service(), "sudo-i", "{}", decision.line);

    host.run_as("alice", "printf 'alice-password\\n' | sudo -k -S -i true")
        .assert_failure();
}
