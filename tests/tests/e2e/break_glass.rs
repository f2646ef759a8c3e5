//! Break-glass accounts: members of an `exempt_groups` group skip the code; the module
//! answers PAM_IGNORE and the packaged stack's pam_permit lets them through.

use twofold_e2e::{Host, SshAuth, User};

fn with_breakglass_group() -> Host {
    Host::new()
        .user(User::new("rescue").group("breakglass"))
        .user("alice")
        .config("unenrolled = \"deny\"\nexempt_groups = [\"breakglass\"]\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

#[test]
fn exempt_group_member_logs_in_without_a_code() {
    let host = with_breakglass_group();

    host.ssh("rescue")
        .run()
        .assert_success()
        .assert_stdout("rescue")
        .assert_no_prompt();
}

#[test]
fn exempt_login_is_recorded_in_the_auth_log() {
    let host = with_breakglass_group();
    host.ssh("rescue").run().assert_success();

    let decision = host.decision(1);
    decision
        .assert("rescue", "exempt", "ignore")
        .assert_reason_contains("breakglass");
    assert_eq!(decision.service(), "sshd", "{}", decision.line);
}

#[test]
fn users_outside_the_exempt_group_still_need_a_code() {
    let host = with_breakglass_group();

    host.ssh("alice")
        .answer_with("123456")
        .run()
        .assert_failure();

    host.decision(1)
        .assert_refused("alice")
        .assert_reason_contains("not enrolled");
}
