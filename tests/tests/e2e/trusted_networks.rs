//! `exempt_networks`: sshd logins from a listed client address skip the code (PAM_IGNORE,
//! the packaged stack's pam_permit decides); from elsewhere they are asked; sudo never is
//! exempted. sshd listens on 127.0.0.1 and ::1 and the client connects from the address it
//! connects to: ::1 is the inside address, 127.0.0.1 the outside one.

use twofold_e2e::{Host, SshAuth, SudoAuth};

fn with_exempt_networks(networks: &str) -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .config(&format!("exempt_networks = {networks}\n"))
        .file("/etc/ssh/sshd_config.d/01-ipv6.conf", "ListenAddress ::1\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .sudo(SudoAuth::PasswordThenTotp)
        .build()
}

#[test]
fn login_from_an_exempt_network_is_not_asked_and_logged_with_the_address() {
    let host = with_exempt_networks("[\"::1/128\"]");

    host.ssh("alice")
        .to("::1")
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_no_prompt();

    let decision = host.decision(1);
    decision
        .assert("alice", "exempt", "ignore")
        .assert_reason_contains("client address ::1 in exempt network ::1/128");
    assert_eq!(decision.field("rhost"), "::1", "{}", decision.line);
}

#[test]
fn login_from_outside_the_exempt_networks_is_asked() {
    let host = with_exempt_networks("[\"::1/128\", \"10.0.0.0/8\"]");
    let code = host.totp("alice");

    host.ssh("alice")
        .to("127.0.0.1")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);

    let decision = host.decision(1);
    decision.assert("alice", "totp", "success");
    assert_eq!(decision.field("rhost"), "127.0.0.1", "{}", decision.line);
}

#[test]
fn sudo_is_never_exempted_by_address() {
    // Every address listed: sudo sets no PAM_RHOST, and only sshd's would be compared.
    let host = with_exempt_networks("[\"0.0.0.0/0\", \"::/0\"]");

    host.sudo("alice")
        .answer_with("alice-password")
        .command("touch /root/ran")
        .run()
        .assert_failure()
        .assert_stderr_contains("Verification code: ");
    host.run("test ! -e /root/ran").assert_success();

    let decision = host.decision(1);
    decision.assert_refused("alice");
    assert_eq!(decision.service(), "sudo", "{}", decision.line);
    assert_eq!(decision.field("rhost"), "-", "{}", decision.line);
}
