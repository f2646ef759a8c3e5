//! `sudo_after_login`: after an ssh login that entered a code, sudo in the same login
//! session (the kernel's audit session id, set by pam_loginuid in sshd's session stack)
//! asks for the password only, for a while; anywhere else, and after that, it asks for the
//! code too. The sudo commands run inside the ssh login, password on stdin: a code prompt
//! then reads the end of stdin and is refused.

use twofold_e2e::{Host, SshAuth, SudoAuth};

/// sudo inside the login: password from stdin, then the command's output and the session
/// id it ran in.
const SUDO_IN_SESSION: &str =
    "echo alice-password | sudo -S -k -- id -un; echo \"session $(cat /proc/self/sessionid)\"";

fn alice(window: &str) -> Host {
    Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .config(&format!("sudo_after_login = \"{window}\"\n"))
        .file("/etc/ssh/sshd_config.d/01-ipv6.conf", "ListenAddress ::1\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .sudo(SudoAuth::PasswordThenTotp)
        .build()
}

/// The audit session id a login's command printed (`session N`).
#[track_caller]
fn session_of(stdout: &str) -> u32 {
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("session "))
        .unwrap_or_else(|| panic!("no session id in {stdout:?}"));
    let id: u32 = id.trim().parse().expect("a number");
    assert_ne!(id, u32::MAX, "the login has no audit session id");
    id
}

#[test]
fn sudo_in_the_ssh_session_that_entered_a_code_is_not_asked_again() {
    let host = alice("15m");
    let code = host.totp("alice");

    let out = host
        .ssh("alice")
        .answer_with(&code)
        .command(SUDO_IN_SESSION)
        .run();
    out.assert_success()
        .assert_prompts(&["Verification code: "]);
    assert!(out.stdout.starts_with("root\n"), "{out}");
    assert!(!out.stderr.contains("Verification code"), "{out}");
    let session = session_of(&out.stdout);

    let decisions = host.decisions(2);
    decisions[0].assert("alice", "totp", "success");
    decisions[1]
        .assert("alice", "session", "success")
        .assert_reason_contains("entered at ssh login in this session")
        .assert_reason_contains(&format!("audit session {session}"));
    assert_eq!(decisions[1].service(), "sudo", "{}", decisions[1].line);
    // The session's end removes its record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while host
        .run(&format!("test -e /run/twofold/session-{session}"))
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "record left after logout"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn sudo_after_the_window_is_asked_for_the_code() {
    let host = alice("2s");
    let code = host.totp("alice");

    let out = host
        .ssh("alice")
        .answer_with(&code)
        .command(&format!("sleep 3; {SUDO_IN_SESSION}"))
        .run();
    assert!(!out.stdout.starts_with("root"), "{out}");
    out.assert_stderr_contains("Verification code: ");

    let decisions = host.decisions(2);
    decisions[0].assert("alice", "totp", "success");
    decisions[1]
        .assert_refused("alice")
        .assert_reason_contains("more than sudo_after_login (2 s)");
}

#[test]
fn sudo_in_another_session_is_asked_for_the_code() {
    // exempt_networks lets the second login in without a code, so it can run while the
    // first (with a code) is still open.
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .config("sudo_after_login = \"15m\"\nexempt_networks = [\"::1/128\"]\n")
        .file("/etc/ssh/sshd_config.d/01-ipv6.conf", "ListenAddress ::1\n")
        .sshd(SshAuth::PublickeyThenTotp)
        .sudo(SudoAuth::PasswordThenTotp)
        .build();
    let code = host.totp("alice");

    let (first, second, plain) = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            host.ssh("alice")
                .answer_with(&code)
                .command(&format!(
                    "echo \"session $(cat /proc/self/sessionid)\"; touch /tmp/first-open; \
                     until [ -e /tmp/others-done ]; do sleep 0.1; done; {SUDO_IN_SESSION}"
                ))
                .run()
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !host.run("test -e /tmp/first-open").success() {
            assert!(
                std::time::Instant::now() < deadline,
                "first login never opened"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Another ssh session of alice's, and a process outside any login session.
        let second = host.ssh("alice").to("::1").command(SUDO_IN_SESSION).run();
        let plain = host
            .sudo("alice")
            .answer_with("alice-password")
            .command("touch /root/ran")
            .run();
        host.run("touch /tmp/others-done").assert_success();
        (first.join().expect("first login"), second, plain)
    });

    assert!(!second.stdout.starts_with("root"), "{second}");
    second.assert_stderr_contains("Verification code: ");
    assert_ne!(session_of(&second.stdout), session_of(&first.stdout));
    plain
        .assert_failure()
        .assert_stderr_contains("Verification code: ");
    host.run("test ! -e /root/ran").assert_success();
    // The first session, meanwhile, still counts.
    first.assert_success();
    assert!(first.stdout.contains("\nroot\n"), "{first}");

    let decisions = host.decisions(5);
    let sudo: Vec<_> = decisions.iter().filter(|d| d.service() == "sudo").collect();
    assert_eq!(sudo.len(), 3, "{decisions:#?}");
    sudo[0]
        .assert_refused("alice")
        .assert_reason_contains("no code entered at a login in this session");
    sudo[1]
        .assert_refused("alice")
        .assert_reason_contains("no audit session id");
    sudo[2].assert("alice", "session", "success");
}

#[test]
fn a_user_cannot_change_their_audit_session_id() {
    let host = alice("15m");
    let code = host.totp("alice");

    // In a login session: the id is fixed; neither file can be written.
    let out = host
        .ssh("alice")
        .answer_with(&code)
        .command(
            "before=$(cat /proc/self/sessionid); \
             (echo 1 >/proc/self/sessionid) 2>/dev/null && echo wrote sessionid; \
             (echo 1000 >/proc/self/loginuid) 2>/dev/null && echo wrote loginuid; \
             (echo 4294967295 >/proc/self/loginuid) 2>/dev/null && echo unset loginuid; \
             echo \"$before $(cat /proc/self/sessionid)\"",
        )
        .run();
    out.assert_success();
    let line = out.stdout.trim();
    let (before, after) = line.split_once(' ').expect("two ids");
    assert_eq!(before, after, "{out}");
    assert!(!out.stdout.contains("wrote"), "{out}");
    assert!(!out.stdout.contains("unset"), "{out}");
    // Outside a login session a process may set its own loginuid once (the kernel allows
    // it while unset), but it then gets a new session id from the kernel's counter, never
    // one that is in use: it cannot join the login's session.
    let session: u32 = before.parse().expect("a number");
    let fresh = host.run_as(
        "alice",
        "echo 1000 >/proc/self/loginuid 2>/dev/null; cat /proc/self/sessionid",
    );
    assert_ne!(fresh.stdout.trim(), session.to_string(), "{fresh}");
}

#[test]
fn the_pam_auth_update_profile_gives_debians_stock_sshd_the_session_hook() {
    // Debian's own /etc/pam.d/sshd and sudo, the profile enabled, README's password
    // drop-in: common-session gains the hook, after the stock stack's pam_loginuid.
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .config("sudo_after_login = \"15m\"\n")
        .sshd(SshAuth::DebianDefault)
        .sudo(SudoAuth::DebianDefault)
        .build();
    host.run("pam-auth-update --enable twofold")
        .assert_success();
    host.run("grep -E '^session.*pam_twofold\\.so' /etc/pam.d/common-session")
        .assert_success();
    // Not in sudo's session stack (interactive sessions only).
    host.run("! grep -q pam_twofold /etc/pam.d/common-session-noninteractive")
        .assert_success();
    host.write_file(
        "/etc/ssh/sshd_config.d/twofold.conf",
        &twofold_e2e::snippet("README.md", "sshd-dropin-password"),
    );
    host.run("sshd -t && systemctl reload ssh").assert_success();

    let out = host
        .ssh("alice")
        .answer_with("alice-password")
        .answer_with(&host.totp("alice"))
        .command(SUDO_IN_SESSION)
        .run();
    out.assert_success()
        .assert_prompts(&["Password: ", "Verification code: "]);
    assert!(out.stdout.starts_with("root\n"), "{out}");
    assert!(!out.stderr.contains("Verification code"), "{out}");

    let decisions = host.decisions(2);
    decisions[0].assert("alice", "totp", "success");
    decisions[1].assert("alice", "session", "success");
}
