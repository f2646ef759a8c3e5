//! The packaged pam-auth-update profile: `pam-auth-update --enable twofold` adds the code to
//! every service that includes common-auth, here Debian's stock /etc/pam.d/sudo.

use twofold_e2e::{Host, SshAuth, SudoAuth};

fn alice_sudoer_with_profile_enabled() -> Host {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sudo(SudoAuth::DebianDefault)
        .build();
    host.run("pam-auth-update --enable twofold")
        .assert_success();
    host.run("grep -E '^auth.*pam_twofold\\.so' /etc/pam.d/common-auth")
        .assert_success();
    host
}

#[test]
fn pam_auth_update_profile_asks_sudo_for_a_code_after_the_password() {
    let host = alice_sudoer_with_profile_enabled();
    let code = host.totp("alice");

    host.sudo("alice")
        .answer_with("alice-password")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("root")
        .assert_stderr_contains("Verification code: ");

    host.decision(1).assert("alice", "totp", "success");
}

#[test]
fn pam_auth_update_profile_refuses_sudo_with_a_wrong_code() {
    let host = alice_sudoer_with_profile_enabled();
    let wrong = host.wrong_code("alice");

    host.sudo("alice")
        .answer_with("alice-password")
        .answer_with(&wrong)
        .command("touch /root/ran")
        .run()
        .assert_failure();

    host.run("test ! -e /root/ran").assert_success();
}

#[test]
fn sudo_needs_no_code_before_the_profile_is_enabled() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sudo(SudoAuth::DebianDefault)
        .build();

    host.sudo("alice")
        .answer_with("alice-password")
        .run()
        .assert_success()
        .assert_stdout("root");
}

#[test]
fn pam_auth_update_remove_takes_the_code_away_again() {
    let host = alice_sudoer_with_profile_enabled();

    host.run("pam-auth-update --disable twofold")
        .assert_success();

    host.run("grep -q pam_twofold /etc/pam.d/common-auth")
        .assert_failure();
    host.sudo("alice")
        .answer_with("alice-password")
        .run()
        .assert_success();
}

#[test]
fn password_ssh_with_the_profile_is_refused_and_the_log_and_postinst_name_the_fix() {
    // Debian's stock sshd (KbdInteractiveAuthentication no) answers every PAM prompt with the
    // password, so the code prompt gets the password: refused, with the fix in the log.
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::StockPassword)
        .build();
    let postinst = "/var/lib/dpkg/info/twofold.postinst configure";
    let quiet = host.run(postinst);
    quiet.assert_success();
    assert!(!quiet.stderr.contains("WARNING"), "{quiet}");
    host.run("pam-auth-update --enable twofold")
        .assert_success();
    // An upgrade (postinst) with the profile enabled says what password ssh needs.
    host.run(postinst)
        .assert_success()
        .assert_stderr_contains("Password ssh needs KbdInteractiveAuthentication yes");

    host.ssh("alice")
        .answer_with("alice-password")
        .run()
        .assert_failure();

    host.decision(1)
        .assert("alice", "none", "deny")
        .assert_reason_contains("sshd answered the code prompt with the password: password ssh needs KbdInteractiveAuthentication yes and AuthenticationMethods keyboard-interactive; see pam_twofold(8)");
    host.run("! grep -q alice-password /var/log/auth.log")
        .assert_success();
}
