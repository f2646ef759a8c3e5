//! Self-service in system mode (twofold(1), SELF-SERVICE): the installed /usr/bin/twofold is
//! setuid root, so alice manages the second factor root keeps for her, as herself, after
//! proving it with a current code; never bob's.

use std::thread;

use twofold_e2e::{Directory, Host, SshAuth};

const SYSTEM_MODE: &str = "secret_path = \"/var/lib/twofold/{user}.toml\"\n";

fn system_mode_host() -> Host {
    Host::new()
        .user("alice")
        .user("bob")
        .enrolled("alice")
        .enrolled("bob")
        .config(SYSTEM_MODE)
        .sshd(SshAuth::PublickeyThenTotp)
        .build()
}

/// `printf '%s\n' ANSWER | twofold ARGS`, as alice.
fn alice_types(host: &Host, answer: &str, args: &str) -> twofold_e2e::Output {
    host.run_as(
        "alice",
        &format!("printf '%s\\n' '{answer}' | twofold {args}"),
    )
}

/// alice adds the device "tablet" through the setuid twofold with a current code of her
/// app; its secret.
fn alice_adds_a_tablet(host: &Host) -> String {
    let added = alice_types(
        host,
        &host.totp("alice"),
        "--json device add tablet --no-confirm",
    );
    added.assert_success();
    added.json()["secret"]
        .as_str()
        .expect("a secret")
        .to_owned()
}

fn sha(host: &Host, user: &str) -> String {
    let out = host.run(&format!("sha256sum /var/lib/twofold/{user}.toml"));
    out.assert_success();
    out.stdout
}

#[test]
fn alice_adds_a_device_and_regenerates_her_codes_as_herself_after_a_right_code() {
    let host = system_mode_host();
    let bob = sha(&host, "bob");
    // Status needs no code.
    host.run_as("alice", "twofold status").assert_success();

    let tablet = alice_adds_a_tablet(&host);
    // The new device logs her in.
    host.ssh("alice")
        .answer_with(&host.totp_of_secret(&tablet, 0))
        .run()
        .assert_success();

    let old = host.enrollment("alice").recovery_codes.clone();
    let regenerated = alice_types(&host, &old[0], "--json recovery regenerate");
    regenerated.assert_success();
    let fresh = regenerated.json()["recovery_codes"][0]
        .as_str()
        .expect("new codes")
        .to_owned();
    host.ssh("alice")
        .answer_with(&old[1])
        .run()
        .assert_failure();
    host.ssh("alice").answer_with(&fresh).run().assert_success();

    let log = host.auth_log();
    for line in [
        r#"service="twofold" user="alice" rhost="-" method=totp result=success"#,
        r#"service="twofold" user="alice" rhost="-" method=recovery result=success"#,
        r#"action=device-add user="alice" by="alice" device="tablet" confirmed="no" verified="totp" by_uid="#,
        r#"action=recovery-regenerate user="alice" by="alice" codes="10" verified="recovery" by_uid="#,
    ] {
        assert!(log.contains(line), "{line}\n{log}");
    }
    assert!(!log.contains(&tablet) && !log.contains(&old[0]), "{log}");
    assert_eq!(sha(&host, "bob"), bob);
    host.run("stat -c '%U %a' /var/lib/twofold/alice.toml")
        .assert_stdout("root 600");
}

#[test]
fn a_wrong_code_adds_no_device_and_keeps_the_recovery_codes() {
    let host = system_mode_host();
    let wrong = host.wrong_code("alice");
    alice_types(&host, &wrong, "device add tablet --no-confirm")
        .assert_failure()
        .assert_stderr_contains("your second factor was not accepted; nothing was changed");
    alice_types(&host, &wrong, "recovery regenerate")
        .assert_failure()
        .assert_stderr_contains("nothing was changed");
    let list = host.twofold("--json --user alice device list");
    list.assert_success();
    assert_eq!(list.json()["devices"].as_array().map(Vec::len), Some(1));
    // Her old recovery codes still work: none was replaced.
    let code = host.enrollment("alice").recovery_codes[0].clone();
    host.ssh("alice").answer_with(&code).run().assert_success();
    assert!(host
        .auth_log()
        .contains(r#"service="twofold" user="alice" rhost="-" method=totp result=deny"#));
}

#[test]
fn alice_cannot_touch_bob_by_any_argument_or_variable() {
    let host = system_mode_host();
    let bob = sha(&host, "bob");
    host.write_file(
        "/tmp/evil.toml",
        "secret_path = \"/tmp/alice-owns/{user}.toml\"\n",
    );
    let code = host.enrollment("alice").recovery_codes[0].clone();
    for (args, says) in [
        (
            "--user bob device list",
            "only root may act for another user",
        ),
        (
            "--user bob recovery regenerate",
            "only root may act for another user",
        ),
        (
            "--user bob device add x --no-confirm",
            "only root may act for another user",
        ),
        (
            "--config /tmp/evil.toml --user bob status",
            "--config is for root only",
        ),
        (
            "--config /tmp/evil.toml recovery regenerate",
            "--config is for root only",
        ),
        ("admin reset bob", "is for root only"),
        ("admin issue-pass bob --ttl 1h", "is for root only"),
        (
            "--user bob enroll --force --no-confirm",
            "only root may act for another user",
        ),
    ] {
        alice_types(&host, &code, args)
            .assert_failure()
            .assert_stderr_contains(says);
    }
    // The environment is not read: the run acts on alice's state through
    // /etc/twofold/twofold.toml.
    let status = host.run_as(
        "alice",
        "TWOFOLD_CONFIG=/tmp/evil.toml HOME=/home/bob USER=bob twofold --json status",
    );
    status.assert_success();
    assert_eq!(status.json()["user"], "alice", "{status}");
    assert_eq!(
        status.json()["secret_path"],
        "/var/lib/twofold/alice.toml",
        "{status}"
    );
    assert_eq!(sha(&host, "bob"), bob);
    // None of alice's recovery codes was spent on a refused command.
    let alice = host.twofold("--json --user alice status");
    assert_eq!(alice.json()["recovery_codes_left"], 10, "{alice}");
}

/// Her device add and her own ssh logins with recovery codes at the same time: every login
/// gets in, the device is added, and every recovery code used stays used.
#[test]
fn a_device_added_during_logins_loses_no_used_recovery_code() {
    let host = system_mode_host();
    let codes = host.enrollment("alice").recovery_codes.clone();
    let phone = host.totp("alice");
    let (added, logins) = thread::scope(|scope| {
        let add =
            scope.spawn(|| alice_types(&host, &phone, "--json device add tablet --no-confirm"));
        let logins: Vec<_> = codes[..4]
            .iter()
            .map(|code| {
                let host = &host;
                scope.spawn(move || host.ssh("alice").answer_with(code).run())
            })
            .collect();
        (
            add.join().expect("device add"),
            logins
                .into_iter()
                .map(|l| l.join().expect("login"))
                .collect::<Vec<_>>(),
        )
    });
    added.assert_success();
    for login in &logins {
        login.assert_success();
    }
    let status = host.twofold("--json --user alice status");
    assert_eq!(status.json()["recovery_codes_left"], 6, "{status}");
    assert_eq!(status.json()["devices"].as_array().map(Vec::len), Some(2));
    host.ssh("alice")
        .answer_with(&codes[0])
        .run()
        .assert_failure();
}

/// With the directory backend the host's directory password is root's: the setuid twofold
/// reaches alice's entry for her, and the device she adds on one host logs her in on
/// another.
#[test]
fn with_the_directory_alice_adds_a_device_that_every_host_accepts() {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    let a = super::directory::fleet_host(&dir, "host-a", true, false);
    let b = super::directory::fleet_host(&dir, "host-b", false, false);
    let wrong = a.wrong_code("alice");
    alice_types(&a, &wrong, "device add tablet --no-confirm")
        .assert_failure()
        .assert_stderr_contains("nothing was changed");
    let tablet = alice_adds_a_tablet(&a);
    b.ssh("alice")
        .answer_with(&b.totp_of_secret(&tablet, 0))
        .run()
        .assert_success();
    let list = b.run_as("alice", "twofold --json device list");
    list.assert_success();
    assert_eq!(
        list.json()["devices"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
}
