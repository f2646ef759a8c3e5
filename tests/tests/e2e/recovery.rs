//! Single-use recovery codes, printed once by `twofold enroll`.

use twofold_e2e::{Host, SshAuth};

fn alice_enrolled() -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

#[test]
fn recovery_code_logs_in_once() {
    let host = alice_enrolled();
    let recovery = host.enrollment("alice").recovery_codes[0].clone();

    host.ssh("alice")
        .answer_with(&recovery)
        .run()
        .assert_success()
        .assert_stdout("alice");
    host.decision(1).assert("alice", "recovery", "success");

    host.ssh("alice")
        .answer_with(&recovery)
        .run()
        .assert_failure();
    host.decision(2).assert_denied("alice", "recovery");
}

#[test]
fn recovery_code_is_accepted_in_lower_case_without_dashes() {
    let host = alice_enrolled();
    let recovery = host.enrollment("alice").recovery_codes[1].clone();
    let typed = recovery.replace('-', "").to_lowercase();

    host.ssh("alice").answer_with(&typed).run().assert_success();
    host.decision(1).assert("alice", "recovery", "success");
}

#[test]
fn using_one_recovery_code_leaves_the_others_valid() {
    let host = alice_enrolled();
    let codes = host.enrollment("alice").recovery_codes.clone();
    assert!(
        codes.len() >= 2,
        "enroll printed fewer than two recovery codes: {codes:?}"
    );

    host.ssh("alice")
        .answer_with(&codes[0])
        .run()
        .assert_success();
    host.ssh("alice")
        .answer_with(&codes[1])
        .run()
        .assert_success();
}

#[test]
fn regenerated_recovery_codes_replace_the_old_ones() {
    let host = alice_enrolled();
    let old = host.enrollment("alice").recovery_codes[0].clone();

    let out = host.twofold("--json --user alice recovery regenerate");
    out.assert_success();
    let new = out.json()["recovery_codes"][0]
        .as_str()
        .expect("a recovery code")
        .to_owned();

    host.ssh("alice").answer_with(&old).run().assert_failure();
    host.ssh("alice").answer_with(&new).run().assert_success();
}
