//! Every path that is not a verified code ends in a refusal, also when something is broken.

use twofold_e2e::{Host, SshAuth};

#[test]
fn unknown_config_key_refuses_even_a_valid_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.run("mkdir -p /etc/twofold && echo 'no_such_key = 1' >/etc/twofold/twofold.toml")
        .assert_success();
    let code = host.totp("alice");

    host.ssh("alice").answer_with(&code).run().assert_failure();
}

#[test]
fn group_writable_secret_file_refuses_even_a_valid_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.run("chmod g+w /home/alice/.config/twofold/secrets.toml")
        .assert_success();
    let code = host.totp("alice");

    host.ssh("alice").answer_with(&code).run().assert_failure();

    host.decision(1).assert_denied("alice", "none");
}

#[test]
fn symlinked_secret_file_refuses_even_a_valid_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.run_as(
        "alice",
        "cd ~/.config/twofold && mv secrets.toml real.toml && ln -s real.toml secrets.toml",
    )
    .assert_success();
    let code = host.totp("alice");

    host.ssh("alice").answer_with(&code).run().assert_failure();
}
