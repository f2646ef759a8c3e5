//! The harness itself, without twofold in the way.

use twofold_e2e::{Host, SshAuth};

#[test]
fn publickey_login_works_without_a_second_factor() {
    let host = Host::new().user("alice").sshd(SshAuth::Publickey).build();

    host.ssh("alice")
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_no_prompt();
}

#[test]
fn containers_have_no_network_but_loopback() {
    let host = Host::new().build();

    let interfaces = host
        .run("ls /sys/class/net")
        .assert_success()
        .stdout
        .clone();
    assert_eq!(interfaces.split_whitespace().collect::<Vec<_>>(), ["lo"]);
}

#[test]
fn the_package_is_installed_with_dpkg() {
    let host = Host::new().build();

    host.run("dpkg-query -W -f '${Status}' twofold")
        .assert_success()
        .assert_stdout("install ok installed");
    host.run("test -f /lib/x86_64-linux-gnu/security/pam_twofold.so")
        .assert_success();
    host.run("test -f /usr/share/pam-configs/twofold")
        .assert_success();
    host.run("twofold --version").assert_success();
}

/// The askpass mechanics the scenarios rely on, with pam_unix alone asking for a password.
#[test]
fn keyboard_interactive_prompts_are_answered_and_recorded() {
    let host = Host::new()
        .user("alice")
        .sshd(SshAuth::PasswordThenTotp)
        .file(
            "/etc/pam.d/sshd",
            "auth required pam_unix.so\n@include common-account\n",
        )
        .build();

    host.ssh("alice")
        .answer_with("alice-password")
        .run()
        .assert_success()
        .assert_stdout("alice")
        .assert_prompts(&["Password: "]);
    // One wrong answer is one attempt (NumberOfPasswordPrompts=1), not three.
    let out = host.ssh("alice").answer_with("wrong").run();
    out.assert_failure().assert_prompts(&["Password: "]);
}
