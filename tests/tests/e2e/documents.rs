//! The documents, followed as printed: README.md's snippets and pam_twofold(8)'s EXAMPLES
//! are read from the repository's files when the test runs (`twofold_e2e::snippet`) and
//! applied to a fresh Debian 12 container the way a reader would, then checked with real
//! logins. A snippet that changes changes what these tests do.

use twofold_e2e::{man_snippet, repo_file, snippet, Host, Output, SshAuth, SudoAuth, User};

const README: &str = "README.md";
const MAN_PAGE: &str = "packaging/man/pam_twofold.8";

/// Runs a snippet of commands as root with `sh -e`, as a reader pasting it into a root shell
/// that stops at the first error.
#[track_caller]
fn run_commands(host: &Host, commands: &str) -> Output {
    let out = host.run(&format!("set -e\n{commands}"));
    out.assert_success();
    out
}

/// Puts `lines` at the top of /etc/twofold/twofold.toml, where the README says to.
#[track_caller]
fn put_at_top_of_config(host: &Host, lines: &str) {
    let config = host.read_file("/etc/twofold/twofold.toml");
    host.write_file("/etc/twofold/twofold.toml", &format!("{lines}{config}"));
}

/// Sleeps until the next 30-second TOTP time step begins (the container's clock is the
/// host's), so that the code one step ahead is one no login has used yet.
fn wait_for_the_next_time_step() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    let into_step = now.as_millis() % 30_000;
    std::thread::sleep(std::time::Duration::from_millis(
        (30_000 - into_step) as u64 + 200,
    ));
}

/// The prompts sudo wrote to stderr, in order: the password's, then any code prompt.
#[track_caller]
fn assert_password_then_code(out: &Output) {
    let password = out.stderr.find("password for");
    let code = out.stderr.find("Verification code: ");
    assert!(
        matches!((password, code), (Some(p), Some(c)) if p < c),
        "expected the password prompt, then the code prompt:\n{out}"
    );
    assert_eq!(
        out.stderr.matches("Verification code: ").count(),
        1,
        "expected one code prompt:\n{out}"
    );
}

/// README "The first hour", top to bottom on a stock Debian 12 host with the package
/// installed (step 1): root and an admin enroll as people with an app, a break-glass
/// account is made, sudo then sshd are enabled with the printed commands. Ends with ssh and
/// sudo asking for a code, and nobody locked out: root's key login, su to root, the admin,
/// the break-glass member; then step 8's recovery code and undo.
#[test]
fn first_hour_ends_with_codes_asked_and_nobody_locked_out() {
    let mut host = Host::new()
        .user(User::new("admin").group("sudo"))
        .sudoer("admin")
        .user("rescue")
        .sshd(SshAuth::DebianDefault)
        .build();
    // Root logs in by key and has a password, as on most hosts.
    host.run(
        "cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys \
         && echo root:root-password | chpasswd",
    )
    .assert_success();
    host.ssh("root")
        .run()
        .assert_success()
        .assert_stdout("root");

    // 2. Enroll root and the admins, each in their own session, with an app.
    let enroll = snippet(README, "first-hour-enroll");
    for user in ["root", "admin"] {
        host.run_with_app(user, &enroll, user).assert_success();
        assert_eq!(host.enrollment(user).recovery_codes.len(), 10);
    }
    run_commands(&host, &snippet(README, "first-hour-break-glass"));
    put_at_top_of_config(&host, &snippet(README, "first-hour-exempt-groups"));
    host.twofold("status").assert_success();

    // 4. sudo, then 5. check it.
    run_commands(&host, &snippet(README, "first-hour-sudo"));
    // Enrolling used the admin's current code; each time step's code works once.
    let out = host
        .sudo("admin")
        .answer_with("admin-password")
        .answer_with(&host.totp_in_steps("admin", 1))
        .run();
    out.assert_success().assert_stdout("root");
    assert_password_then_code(&out);

    // 6. sshd, with sshd -t before the reload, then 7. check from a second terminal.
    run_commands(&host, &snippet(README, "first-hour-sshd"));
    // Root cannot log in over ssh now, even with key and code, as step 6 warns (sshd
    // refuses keyboard-interactive to root), until root's step is followed.
    host.ssh("root")
        .answer_with(&host.totp_in_steps("root", 1))
        .run()
        .assert_failure();
    // sshd hands PAM a fake answer instead of root's code, which the module refuses.
    host.decisions(2)
        .iter()
        .find(|d| d.user() == "root")
        .unwrap_or_else(|| panic!("no decision about root:\n{}", host.auth_log()))
        .assert_refused("root");
    run_commands(&host, &snippet(README, "first-hour-root-ssh"));
    // 7. The doctor finds nothing that locks anyone out or lets anyone in (exit 0).
    let doctor = run_commands(&host, &snippet(README, "first-hour-doctor"));
    assert!(
        doctor.stdout.lines().any(|l| l.starts_with("0 errors")),
        "{doctor}"
    );
    // sudo took the admin's code of the next time step; a code is good once.
    wait_for_the_next_time_step();
    host.ssh("admin")
        .answer_with(&host.totp_in_steps("admin", 1))
        .run()
        .assert_success()
        .assert_stdout("admin")
        .assert_prompts(&["Verification code: "]);
    host.ssh("admin")
        .answer_with(&host.wrong_code("admin"))
        .run()
        .assert_failure();
    host.ssh("root")
        .answer_with(&host.totp_in_steps("root", 1))
        .run()
        .assert_success()
        .assert_stdout("root")
        .assert_prompts(&["Verification code: "]);
    host.ssh("rescue")
        .run()
        .assert_success()
        .assert_stdout("rescue")
        .assert_no_prompt();
    host.run_as("admin", "echo root-password | su -c 'id -un' root")
        .assert_success()
        .assert_stdout("root");
    host.sudo("admin")
        .answer_with("admin-password")
        .answer_with(&host.wrong_code("admin"))
        .command("touch /root/ran")
        .run()
        .assert_failure();
    host.run("test ! -e /root/ran").assert_success();

    // 8. Locked out: a recovery code printed at enrollment works at the code prompt...
    let recovery = host.enrollment("admin").recovery_codes[0].clone();
    host.ssh("admin")
        .answer_with(&recovery)
        .run()
        .assert_success()
        .assert_stdout("admin");
    // ...and the root shell puts the files back: no code asked any more.
    run_commands(&host, &snippet(README, "undo"));
    host.ssh("admin").run().assert_success().assert_no_prompt();
    let out = host.sudo("admin").answer_with("admin-password").run();
    out.assert_success().assert_stdout("root");
    assert!(!out.stderr.contains("Verification code"), "{out}");
}

/// The deadline the first hour offers instead of enrolling everyone first: an unenrolled
/// user still gets in over ssh with the key, before the deadline.
#[test]
fn first_hour_deadline_lets_unenrolled_users_in_until_it_passes() {
    let host = Host::new()
        .user("bob")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.ssh("bob").run().assert_failure();

    put_at_top_of_config(&host, &snippet(README, "unenrolled-deadline"));

    host.ssh("bob").run().assert_success().assert_stdout("bob");
}

/// README "Rollout: enrollment at first login", its five lines one at a time on a stock
/// Debian 12 host, as root in the directory that holds the package: bob enrolls at his
/// first ssh login with a code of the key shown, the log shows it, and once the rollout is
/// over carol, who never logged in, is refused while bob is asked for his code.
#[test]
fn rollout_in_five_lines() {
    let host = Host::new()
        .user("bob")
        .user("carol")
        .sshd(SshAuth::DebianDefault)
        .build();
    let debs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debian");
    let deb = std::fs::read_dir(&debs)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the packages first (scripts/e2e-image.sh)",
                debs.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
        .expect("no .deb in target/debian: run scripts/e2e-image.sh");
    let name = deb.file_name().unwrap().to_str().unwrap();
    host.copy_in(&deb, &format!("/root/{name}"));
    let lines: Vec<String> = snippet(README, "rollout-enroll")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 5, "the rollout is five lines:\n{lines:#?}");
    let step = |n: usize| run_commands(&host, &format!("cd /root\n{}", lines[n]));

    step(0); // install (already installed in the image: the same package again)
    step(1); // unenrolled = "enroll" with a deadline
    step(2); // switch on for sshd: public key, then a code
    let out = host.ssh("bob").answer_enrollment_from_shown_key().run();
    out.assert_success().assert_stdout("bob");
    let key: String = out.prompts[0]
        .split_once("secret=")
        .map(|(_, k)| k.chars().take_while(char::is_ascii_alphanumeric).collect())
        .unwrap_or_else(|| panic!("no key shown:\n{out}"));

    let watched = step(3); // watch the log
    assert!(
        watched.stdout.contains(r#"user="bob""#) && watched.stdout.contains("result=success"),
        "{watched}"
    );

    step(4); // switch to deny
    host.ssh("carol")
        .answer_with("123456")
        .run()
        .assert_failure()
        .assert_prompts(&["Verification code: "]);
    host.ssh("bob")
        .answer_with(&host.totp_of_secret(&key, 1))
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
    let log = host.auth_log();
    assert!(
        log.contains(r#"user="carol" rhost="127.0.0.1" method=unenrolled result=deny"#),
        "{log}"
    );
}

/// README "Who runs what", system mode: root enrolls alice with `--user`; alice then adds a
/// device and regenerates her codes herself through the setuid twofold, confirming each
/// change with a current code; enrolling stays root's; her ssh login asks for a code.
#[test]
fn system_mode_root_enrolls_and_users_manage_their_own_devices() {
    let mut host = Host::new()
        .user("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    put_at_top_of_config(&host, &snippet(README, "system-mode"));

    host.run_with_app("root", &snippet(README, "system-mode-enroll"), "alice")
        .assert_success();
    host.run("test -f /var/lib/twofold/alice.toml")
        .assert_success();
    host.run_as("alice", "twofold enroll --no-confirm")
        .assert_failure()
        .assert_stderr_contains("administrator");

    let out = host.run_with_app(
        "alice",
        &format!("set -e\n{}", snippet(README, "system-mode-self-service")),
        "alice",
    );
    out.assert_success();
    assert!(
        out.stdout.contains("Device `tablet` added for alice"),
        "{out}"
    );
    assert!(out.stdout.contains("New recovery codes for alice"), "{out}");
    let list = host.twofold("--json --user alice device list");
    assert_eq!(
        list.json()["devices"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );

    // One of the new recovery codes (both devices' codes of this step and the next are
    // used).
    let code = host.enrollment("alice").recovery_codes[0].clone();
    host.ssh("alice")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
}

/// README's by-hand sshd section: the drop-in as printed, and the PAM lines put in place
/// of `@include common-auth` in Debian's stock /etc/pam.d/sshd.
#[test]
fn readme_sshd_by_hand_asks_key_then_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .user(User::new("rescue").group("breakglass"))
        .config("exempt_groups = [\"breakglass\"]\n")
        .sshd(SshAuth::DebianDefault)
        .build();

    host.write_file(
        "/etc/ssh/sshd_config.d/twofold.conf",
        &snippet(README, "sshd-dropin"),
    );
    let pam = host.read_file("/etc/pam.d/sshd");
    assert_eq!(pam.matches("\n@include common-auth\n").count(), 1, "{pam}");
    let lines = snippet(README, "pam-sshd-publickey");
    let pam = pam.replace(
        "\n@include common-auth\n",
        &format!("\n# @include common-auth\n{lines}"),
    );
    host.write_file("/etc/pam.d/sshd", &pam);
    run_commands(&host, "sshd -t && systemctl reload ssh");

    host.ssh("alice")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
    host.ssh("alice")
        .answer_with(&host.wrong_code("alice"))
        .run()
        .assert_failure();
    host.ssh("rescue").run().assert_success().assert_no_prompt();
}

/// pam_twofold(8) EXAMPLES, commands as printed, and the drop-in the page shows is the one
/// installed.
#[test]
fn man_page_examples_ask_key_then_code_and_password_then_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sshd(SshAuth::DebianDefault)
        .build();

    run_commands(&host, &man_snippet(MAN_PAGE, "sshd-publickey"));
    run_commands(&host, &man_snippet(MAN_PAGE, "sudo"));

    let installed = host.read_file("/etc/ssh/sshd_config.d/twofold.conf");
    let settings: Vec<&str> = (installed.lines())
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        settings.join("\n") + "\n",
        man_snippet(MAN_PAGE, "sshd-dropin"),
        "pam_twofold(8) shows other settings than the installed drop-in"
    );
    assert_eq!(
        man_snippet(MAN_PAGE, "sshd-dropin"),
        snippet(README, "sshd-dropin"),
        "README and pam_twofold(8) show different drop-ins"
    );
    host.ssh("alice")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success()
        .assert_prompts(&["Verification code: "]);
    let out = host
        .sudo("alice")
        .answer_with("alice-password")
        .answer_with(&host.totp_in_steps("alice", 1))
        .run();
    out.assert_success();
    assert_password_then_code(&out);
}

/// Item: the profile with Debian's stock /etc/pam.d/sshd, plus README's password drop-in:
/// password ssh asks the password, then one code.
#[test]
fn profile_with_readme_password_dropin_asks_password_then_code() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::DebianDefault)
        .build();

    run_commands(&host, &snippet(README, "profile-enable"));
    host.write_file(
        "/etc/ssh/sshd_config.d/twofold.conf",
        &snippet(README, "sshd-dropin-password"),
    );
    run_commands(&host, "sshd -t && systemctl reload ssh");

    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success()
        .assert_prompts(&["Password: ", "Verification code: "]);
    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&host.wrong_code("alice"))
        .run()
        .assert_failure();
}

/// The password example and the profile are alternatives; following one after the other,
/// in either order, still asks one code (ssh and sudo) and logs in.
fn both_alternatives(profile_first: bool) {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sudoer("alice")
        .sudo(SudoAuth::DebianDefault)
        .sshd(SshAuth::DebianDefault)
        .build();
    let profile = snippet(README, "profile-enable");
    let examples = "cp /usr/share/doc/twofold/examples/pam.d-sshd-password /etc/pam.d/sshd\n\
                    cp /usr/share/doc/twofold/examples/pam.d-sudo /etc/pam.d/sudo\n";
    assert!(
        repo_file("packaging/examples/debian/pam.d-sshd-password")
            .contains("cp /usr/share/doc/twofold/examples/pam.d-sshd-password /etc/pam.d/sshd"),
        "the example no longer says how it is installed"
    );
    if profile_first {
        run_commands(&host, &profile);
        run_commands(&host, examples);
    } else {
        run_commands(&host, examples);
        run_commands(&host, &profile);
    }
    host.write_file(
        "/etc/ssh/sshd_config.d/twofold.conf",
        &snippet(README, "sshd-dropin-password"),
    );
    run_commands(&host, "sshd -t && systemctl reload ssh");

    host.ssh("alice")
        .answer_with("alice-password")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success()
        .assert_prompts(&["Password: ", "Verification code: "]);
    let out = host
        .sudo("alice")
        .answer_with("alice-password")
        .answer_with(&host.totp_in_steps("alice", 1))
        .run();
    out.assert_success();
    assert_password_then_code(&out);
}

#[test]
fn profile_then_password_examples_ask_one_code() {
    both_alternatives(true);
}

#[test]
fn password_examples_then_profile_ask_one_code() {
    both_alternatives(false);
}

/// The line README and pam_twofold(8) show is the one the module writes, byte for byte
/// after the syslog prefix (the README's `pam_twofold[PID]: ` with the PID replaced).
#[test]
fn logged_line_is_the_documented_format() {
    let host = Host::new()
        .user("alice")
        .enrolled("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .build();
    host.ssh("alice")
        .answer_with(&host.totp("alice"))
        .run()
        .assert_success();

    let line = host.decision(1).line;
    let (_, logged) = line
        .split_once(" pam_twofold[")
        .expect("a pam_twofold line");
    let (_, message) = logged.split_once("]: ").expect("the syslog tag ends");

    let readme = snippet(README, "log-line");
    let (_, readme_message) = readme.trim_end().split_once("]: ").expect("README's tag");
    assert_eq!(
        readme_message, message,
        "README's log line is not what is logged"
    );
    assert_eq!(
        man_snippet(MAN_PAGE, "log-line").trim_end(),
        message,
        "pam_twofold(8)'s log line is not what is logged"
    );
}

/// The postinst's instructions on a first installation name files that the package
/// installed, and commands that work.
#[test]
fn postinst_instructions_name_installed_files() {
    let host = Host::new().build();
    let out = host.run("/var/lib/dpkg/info/twofold.postinst configure ''");
    out.assert_success();
    assert!(out.stdout.contains("twofold enroll"), "{out}");
    let paths: Vec<&str> = (out.stdout.split_whitespace())
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '/'))
        .filter(|w| w.starts_with("/usr/share/doc/twofold/"))
        .collect();
    assert!(paths.len() >= 3, "{out}");
    for path in paths {
        host.run(&format!("test -f {path}")).assert_success();
    }
    // The profile it names is registered; an upgrade ($2 set) prints nothing.
    host.run("pam-auth-update --enable twofold")
        .assert_success();
    let upgrade = host.run("/var/lib/dpkg/info/twofold.postinst configure 0.1.0");
    upgrade.assert_success();
    assert_eq!(upgrade.stdout, "", "{upgrade}");
}

/// Every installed example path the README names exists in the package.
#[test]
fn readme_names_the_installed_example_paths() {
    let host = Host::new().build();
    let readme = repo_file(README);
    let mut named: Vec<String> = Vec::new();
    for word in readme.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
        let word = word.trim_end_matches([',', ';', ':', '.']);
        if word.starts_with("/usr/share/doc/twofold/examples/") && word.len() > 32 {
            named.push(word.to_owned());
        }
    }
    let listed = [
        "sshd_config",
        "pam.d-sshd",
        "pam.d-sshd-password",
        "pam.d-sudo",
        "pam.d-sudo-i",
    ];
    for name in listed {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not list {name}"
        );
        named.push(format!("/usr/share/doc/twofold/examples/{name}"));
    }
    for path in &named {
        host.run(&format!("test -f {path}")).assert_success();
    }
    let installed = host.run("ls /usr/share/doc/twofold/examples").stdout;
    let mut installed: Vec<&str> = installed.split_whitespace().collect();
    installed.sort_unstable();
    let mut listed = listed.to_vec();
    listed.sort_unstable();
    assert_eq!(
        installed, listed,
        "README lists other examples than installed"
    );
}
