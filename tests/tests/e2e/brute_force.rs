//! Throttling of wrong codes with the documented defaults (`free_failures = 5`, then a delay
//! of 30 s and more): guessing stops, the owner's recovery code still works.

use twofold_e2e::{Host, SshAuth};

#[test]
fn burst_of_wrong_codes_is_throttled_but_a_recovery_code_still_logs_in() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let wrong = host.wrong_code("alice");
    for _ in 0..5 {
        host.ssh("alice").answer_with(&wrong).run().assert_failure();
    }
    for decision in host.decisions(5) {
        decision.assert_denied("alice", "totp");
    }

    let code = host.totp("alice");
    host.ssh("alice").answer_with(&code).run().assert_failure();
    host.decision(6)
        .assert_denied("alice", "totp")
        .assert_reason_contains("throttl");

    let recovery = host.enrollment("alice").recovery_codes[0].clone();
    host.ssh("alice")
        .answer_with(&recovery)
        .run()
        .assert_success();
    host.decision(7).assert("alice", "recovery", "success");
}

#[test]
fn admin_unlock_ends_the_throttling() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let wrong = host.wrong_code("alice");
    for _ in 0..5 {
        host.ssh("alice").answer_with(&wrong).run().assert_failure();
    }

    host.twofold("admin unlock alice").assert_success();

    let code = host.totp("alice");
    host.ssh("alice").answer_with(&code).run().assert_success();
}

#[test]
fn fewer_wrong_codes_than_free_failures_do_not_throttle() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let wrong = host.wrong_code("alice");
    for _ in 0..4 {
        host.ssh("alice").answer_with(&wrong).run().assert_failure();
    }

    let code = host.totp("alice");
    host.ssh("alice").answer_with(&code).run().assert_success();
}
