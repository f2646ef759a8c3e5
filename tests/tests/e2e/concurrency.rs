//! Many logins at once: every one is decided, and no secret file is torn.

use std::thread;

use twofold_e2e::{Host, SshAuth};

#[test]
fn twenty_users_log_in_at_once_and_every_secret_file_still_parses() {
    let users: Vec<String> = (1..=20).map(|i| format!("user{i:02}")).collect();
    let mut builder = Host::new().sshd(SshAuth::PublickeyThenTotp);
    for user in &users {
        builder = builder.user(user.as_str()).enrolled(user);
    }
    let host = builder.build();
    let codes: Vec<String> = users.iter().map(|user| host.totp(user)).collect();

    let outputs: Vec<_> = thread::scope(|scope| {
        let logins: Vec<_> = users
            .iter()
            .zip(&codes)
            .map(|(user, code)| {
                let host = &host;
                scope.spawn(move || host.ssh(user).answer_with(code).run())
            })
            .collect();
        logins
            .into_iter()
            .map(|login| login.join().expect("login thread"))
            .collect()
    });

    for (user, out) in users.iter().zip(&outputs) {
        out.assert_success().assert_stdout(user);
    }
    for user in &users {
        host.twofold(&format!("--user {user} status"))
            .assert_success();
    }
    let decisions = host.decisions(20);
    assert_eq!(
        decisions.iter().filter(|d| d.result() == "success").count(),
        20
    );
}

#[test]
fn one_code_used_by_concurrent_logins_admits_exactly_one() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    let code = host.totp("alice");

    let outputs: Vec<_> = thread::scope(|scope| {
        let logins: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| host.ssh("alice").answer_with(&code).run()))
            .collect();
        logins
            .into_iter()
            .map(|login| login.join().expect("login thread"))
            .collect()
    });

    let admitted = outputs.iter().filter(|out| out.success()).count();
    assert_eq!(
        admitted, 1,
        "one code let {admitted} of 8 concurrent logins in"
    );
    host.twofold("--user alice status").assert_success();
}
