//! Temporary access passes (`twofold admin issue-pass`) and `twofold admin reset`.

use twofold_e2e::{Host, SshAuth};

fn alice_enrolled(config: &str) -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .config(config)
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

fn issue_pass(host: &Host, user: &str) -> String {
    let out = host.twofold(&format!("--json admin issue-pass {user} --ttl 10m"));
    out.assert_success();
    let json = out.json();
    assert!(
        json["expires"].is_string(),
        "issue-pass JSON lacks expires:\n{out}"
    );
    json["pass"]
        .as_str()
        .expect("issue-pass JSON has a pass")
        .to_owned()
}

#[test]
fn temporary_access_pass_logs_in_once() {
    let host = alice_enrolled("");
    let pass = issue_pass(&host, "alice");

    host.ssh("alice")
        .answer_with(&pass)
        .run()
        .assert_success()
        .assert_stdout("alice");
    host.decision(1).assert("alice", "pass", "success");

    host.ssh("alice").answer_with(&pass).run().assert_failure();
    host.decision(2).assert_denied("alice", "pass");
}

#[test]
fn after_admin_reset_login_follows_the_unenrolled_deny_policy() {
    let host = alice_enrolled("unenrolled = \"deny\"\n");
    let code = host.totp("alice");

    host.twofold("admin reset alice").assert_success();

    host.ssh("alice").answer_with(&code).run().assert_failure();
    host.decision(1)
        .assert_refused("alice")
        .assert_reason_contains("not enrolled");
}

#[test]
fn after_admin_reset_login_follows_the_unenrolled_allow_policy() {
    let host = alice_enrolled("unenrolled = \"allow\"\n");

    host.twofold("admin reset alice").assert_success();

    host.ssh("alice")
        .run()
        .assert_success()
        .assert_stdout("alice");
    host.decision(1).assert("alice", "unenrolled", "ignore");
}

#[test]
fn pass_issued_before_a_reset_no_longer_works() {
    let host = alice_enrolled("unenrolled = \"deny\"\n");
    let pass = issue_pass(&host, "alice");

    host.twofold("admin reset alice").assert_success();

    host.ssh("alice").answer_with(&pass).run().assert_failure();
}
