//! Both packaged "password, then code" examples for sshd, and the rpm example for sudo,
//! installed as printed: a wrong password ends the login before the code is asked, so nobody
//! who lacks the password can count wrong codes against a user (issue 14, item 6).

use twofold_e2e::{Host, SshAuth, SudoAuth};

/// packaging/examples/rpm/pam.d-sshd-password, as the .rpm installs it (the .deb, which the
/// image holds, ships only the Debian examples).
const RPM_EXAMPLE: &str = include_str!("../../../packaging/examples/rpm/pam.d-sshd-password");

/// The Debian image has no Fedora stack files; the rpm example includes them (account,
/// password, session). These are what authselect's "local" profile (Fedora 40's default)
/// generates with no optional feature (authselect's profiles/local/password-auth and
/// postlogin), less `password requisite pam_pwquality.so`: not installed in the image, and
/// no login runs the password stack.
const FEDORA_PASSWORD_AUTH: &str = "\
auth        required                                     pam_env.so
auth        required                                     pam_faildelay.so delay=2000000
auth        sufficient                                   pam_unix.so nullok
auth        required                                     pam_deny.so

account     required                                     pam_unix.so

password    sufficient                                   pam_unix.so yescrypt shadow nullok use_authtok
password    required                                     pam_deny.so

session     optional                                     pam_keyinit.so revoke
session     required                                     pam_limits.so
-session    optional                                     pam_systemd.so
session     [success=1 default=ignore]                   pam_succeed_if.so service in crond quiet use_uid
session     required                                     pam_unix.so
";

/// packaging/examples/rpm/pam.d-sudo, as the .rpm installs it.
const RPM_SUDO_EXAMPLE: &str = include_str!("../../../packaging/examples/rpm/pam.d-sudo");

const FEDORA_POSTLOGIN: &str = "\
session     optional                   pam_umask.so silent
session     [success=1 default=ignore] pam_succeed_if.so service !~ gdm* service !~ su* quiet
session     [default=1]                pam_lastlog.so nowtmp showfailed
session     optional                   pam_lastlog.so silent noupdate showfailed
";

/// The packaged sshd_config drop-in with its keyboard-interactive line, and Debian's
/// pam.d-sshd-password as /etc/pam.d/sshd.
fn debian_host() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PasswordThenTotp)
        .build()
}

/// The same, with the rpm example as /etc/pam.d/sshd on top of Fedora's stack files.
fn fedora_like_host() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PasswordThenTotp)
        .file("/etc/pam.d/password-auth", FEDORA_PASSWORD_AUTH)
        .file("/etc/pam.d/postlogin", FEDORA_POSTLOGIN)
        .file("/etc/pam.d/sshd", RPM_EXAMPLE)
        .build()
}

#[track_caller]
fn wrong_password_ends_the_login_before_the_code(host: &Host) {
    let code = host.totp("alice");
    host.ssh("alice")
        .answer_with("not-the-password")
        .answer_with(&code)
        .run()
        .assert_failure()
        .assert_prompts(&["Password: "]);

    let status = host.twofold("--json admin status alice");
    status.assert_success();
    assert_eq!(status.json()["failures"], 0, "{status}");

    // The same code still logs in, and its decision is the first pam_twofold logged: the
    // wrong password never reached the module.
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
fn debian_password_example_asks_no_code_after_a_wrong_password() {
    wrong_password_ends_the_login_before_the_code(&debian_host());
}

#[test]
fn rpm_password_example_asks_no_code_after_a_wrong_password() {
    wrong_password_ends_the_login_before_the_code(&fedora_like_host());
}

#[test]
fn rpm_password_example_refuses_a_wrong_code_after_the_right_password() {
    let host = fedora_like_host();
    let wrong = host.wrong_code("alice");
    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&wrong)
        .run()
        .assert_failure()
        .assert_prompts(&["Password: ", "Verification code: "]);
    host.decision(1).assert_denied("alice", "totp");
}

/// The rpm sudo example on top of Fedora's system-auth (authselect's "local" profile
/// generates it with the same lines as password-auth): a wrong password ends sudo before the
/// code, nothing is counted, and the password then a code still runs the command.
#[test]
fn rpm_sudo_example_asks_no_code_after_a_wrong_password() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sudo(SudoAuth::PasswordThenTotp)
        .file("/etc/pam.d/system-auth", FEDORA_PASSWORD_AUTH)
        .file("/etc/pam.d/sudo", RPM_SUDO_EXAMPLE)
        .build();
    let code = host.totp("alice");
    let out = host
        .sudo("alice")
        .answer_with("not-the-password")
        .answer_with(&code)
        .command("touch /root/ran")
        .run();
    out.assert_failure();
    assert!(!out.stderr.contains("Verification code"), "{out}");
    host.run("test ! -e /root/ran").assert_success();
    let status = host.twofold("--json admin status alice");
    status.assert_success();
    assert_eq!(status.json()["failures"], 0, "{status}");

    host.sudo("alice")
        .answer_with("alice-password")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("root")
        .assert_stderr_contains("Verification code: ");
    host.decision(1).assert("alice", "totp", "success");
}
