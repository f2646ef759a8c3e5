//! A second authenticator: `twofold device add` and `device remove`.

use twofold_e2e::{Host, SshAuth};

#[test]
fn second_device_logs_in_until_it_is_removed() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let out = host.twofold("--json --user alice device add tablet --no-confirm");
    out.assert_success();
    let tablet = out.json()["secret"]
        .as_str()
        .expect("device add JSON has a secret")
        .to_owned();
    assert_ne!(
        tablet,
        host.enrollment("alice").secret,
        "the tablet got the phone's secret"
    );

    let code = host.totp_of_secret(&tablet, 0);
    host.ssh("alice").answer_with(&code).run().assert_success();
    host.decision(1).assert("alice", "totp", "success");

    host.twofold("--user alice device remove tablet --yes")
        .assert_success();

    let code = host.totp_of_secret(&tablet, 1);
    host.ssh("alice").answer_with(&code).run().assert_failure();
    host.decision(2).assert_denied("alice", "totp");

    // The first device is untouched.
    let phone = host.totp_in_steps("alice", 1);
    host.ssh("alice").answer_with(&phone).run().assert_success();
}

#[test]
fn device_list_shows_both_devices() {
    let host = Host::new().user("alice").enrolled("alice").build();
    host.twofold("--user alice device add tablet --no-confirm")
        .assert_success();

    let list = host.twofold("--user alice device list");
    list.assert_success();
    let phone = host.enrollment("alice").device.clone();
    assert!(
        list.stdout.contains(&phone) && list.stdout.contains("tablet"),
        "{list}"
    );
}
