//! The built module loaded into real libpam (pamtester + pam_wrapper + nss_wrapper).

mod common;
use common::*;
use std::os::unix::fs::{symlink, PermissionsExt};

const ALICE: u32 = 4242;

fn host_with_alice() -> Host {
    let mut h = Host::new();
    h.user("alice", ALICE);
    h
}

#[test]
fn valid_code_is_accepted_and_logged() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let login = h.login("alice", e.code_at(now()).as_bytes());
    login
        .assert_success()
        .assert_log("user=\"alice\" ")
        .assert_log("method=totp result=success");
    assert!(login
        .logs
        .iter()
        .all(|l| !l.contains(&e.code_at(now())) && !l.contains(&e.base32())));
    // authpriv.info: <86>
    assert!(
        login.logs.iter().any(|l| l.starts_with("<86>")),
        "{:?}",
        login.logs
    );
}

#[test]
fn code_computed_by_oathtool_is_accepted() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    h.login("alice", oathtool_code(&e.base32()).as_bytes())
        .assert_success();
}

#[test]
fn wrong_code_is_rejected() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let right = e.code_at(now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    h.login("alice", wrong.as_bytes())
        .assert_denied()
        .assert_log("wrong code");
    assert_eq!(h.read_file("alice", ALICE).state.failures, 1);
}

#[test]
fn replayed_code_is_rejected() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let code = e.code_at(now());
    h.login("alice", code.as_bytes()).assert_success();
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("replay");
}

#[test]
fn recovery_code_is_accepted_once() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 3);
    let code = e.recovery[1].to_lowercase().replace('-', " ");
    h.login("alice", code.as_bytes())
        .assert_success()
        .assert_log("method=recovery result=success");
    h.login("alice", code.as_bytes())
        .assert_denied()
        .assert_log("already used");
    assert_eq!(h.read_file("alice", ALICE).recovery_codes_left(), 2);
}

#[test]
fn unenrolled_user_is_denied_under_deny_and_left_to_the_stack_under_allow() {
    let mut h = host_with_alice();
    h.login("alice", b"123456")
        .assert_denied()
        .assert_log("not enrolled");
    h.config("unenrolled = \"allow\"\n");
    // The stack's pam_permit decides, as in the packaged examples.
    h.login("alice", b"")
        .assert_success()
        .assert_log("method=unenrolled result=ignore");
}

#[test]
fn unenrolled_grace_date_in_the_future_allows_and_in_the_past_denies() {
    let mut h = host_with_alice();
    h.config("unenrolled_allow_until = 2099-01-01T00:00:00Z\n");
    h.login("alice", b"")
        .assert_success()
        .assert_log("result=ignore")
        .assert_log("grace period until 2099-01-01");
    h.config("unenrolled_allow_until = 2001-01-01T00:00:00Z\n");
    h.login("alice", b"123456")
        .assert_denied()
        .assert_log("not enrolled");
}

/// The stack NOTES.md gives to tell PAM_IGNORE from every other answer: it succeeds only if
/// the module answered PAM_IGNORE.
fn ignore_probe(h: &Host, args: &str) -> String {
    format!(
        "auth [ignore=1 default=die] {} {args}\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
        h.so.display()
    )
}

#[test]
fn unenrolled_user_allowed_by_policy_gets_ignore_so_sufficient_then_pam_deny_refuses() {
    // pam-u2f's nouserok answered success (CVE-2020-24612): a `sufficient` line then lets
    // the user in with no factor at all. Under allow and in the grace period alike.
    for policy in [
        "unenrolled = \"allow\"\n",
        "unenrolled_allow_until = 2099-01-01T00:00:00Z\n",
    ] {
        let mut h = host_with_alice();
        h.config(policy);
        let cfg = format!("config={}", h.config_path().display());
        let so = h.so.display().to_string();
        h.stack(&format!(
            "auth sufficient {so} {cfg}\nauth required pam_deny.so\n"
        ));
        let login = h.login("alice", b"");
        assert!(!login.succeeded(), "{policy}: {}", login.text());
        login.assert_log("method=unenrolled result=ignore");
        h.stack(&ignore_probe(&h, &cfg));
        h.login("alice", b"").assert_success();
    }
}

#[test]
fn missing_home_is_refused_whatever_the_policy() {
    // An enrolled user whose home is not mounted yet must not pass as "not enrolled".
    for policy in ["unenrolled = \"allow\"\n", "unenrolled = \"deny\"\n"] {
        let mut h = host_with_alice();
        h.enroll("alice", ALICE, 0);
        h.config(policy);
        std::fs::remove_dir_all(h.home("alice")).unwrap();
        h.login("alice", b"123456")
            .assert_denied()
            .assert_log("home directory not available");
    }
}

#[test]
fn missing_configuration_file_fails_closed_unless_builtin_defaults_is_given() {
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    std::fs::remove_file(h.config_path()).unwrap();
    let login = h.login("alice", e.code_at(now()).as_bytes());
    login.assert_denied().assert_log("does not exist");
    // PAM_SERVICE_ERR, as for any other configuration error.
    assert!(
        login.text().contains("Error in service module"),
        "{}",
        login.text()
    );
    let so = h.so.display().to_string();
    h.stack(&format!("auth required {so} builtin_defaults\n"));
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_success()
        .assert_log("method=totp result=success");
}

/// A system-mode host: secrets in a root-only directory.
fn system_mode_host() -> (Host, String) {
    let mut h = host_with_alice();
    h.user("bob", ALICE + 1);
    let dir = h.root.join("secrets");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cfg = format!("secret_path = \"{}/{{user}}.toml\"\n", dir.display());
    h.config(&cfg);
    let cfg = format!("config={}", h.config_path().display());
    (h, cfg)
}

#[test]
fn screen_locker_run_as_the_user_in_system_mode_gets_ignore() {
    // xscreensaver, i3lock, swaylock, vlock run PAM as the user: the root-only directory
    // cannot be read, so the rest of their stack (the password) decides.
    let (mut h, cfg) = system_mode_host();
    h.run_as = Some(ALICE);
    h.stack(&ignore_probe(&h, &cfg));
    for locker in ["i3lock", "xscreensaver", "swaylock", "vlock"] {
        h.login_via(locker, None, "alice", b"")
            .assert_success()
            .assert_log("method=unprivileged result=ignore");
    }
}

#[test]
fn user_run_service_not_listed_in_screen_lockers_is_refused_in_system_mode() {
    // A VNC server with PAM "Plain" security or a second sshd a user starts runs PAM as that
    // user too: with the module in common-auth, PAM_IGNORE would let a remote caller in with
    // the password alone.
    let (mut h, cfg) = system_mode_host();
    h.run_as = Some(ALICE);
    h.stack(&ignore_probe(&h, &cfg));
    for (service, rhost) in [
        ("vnc", None),
        ("sshd", Some("192.0.2.7")),
        ("twofold", None),
    ] {
        let login = h.login_via(service, rhost, "alice", b"123456");
        login
            .assert_denied()
            .assert_log("method=unprivileged result=deny")
            .assert_log("not in screen_lockers");
        assert!(
            login.text().contains("Verification code"),
            "{service}: {}",
            login.text()
        );
    }
}

#[test]
fn screen_locker_service_with_a_remote_host_is_refused_in_system_mode() {
    let (mut h, cfg) = system_mode_host();
    h.run_as = Some(ALICE);
    h.stack(&ignore_probe(&h, &cfg));
    h.login_via("i3lock", Some("192.0.2.7"), "alice", b"123456")
        .assert_denied()
        .assert_log("method=unprivileged result=deny")
        .assert_log("remote host");
}

#[test]
fn a_service_added_to_screen_lockers_gets_the_screen_lockers_answer() {
    let (mut h, cfg) = system_mode_host();
    let dir = h.root.join("secrets");
    h.config(&format!(
        "secret_path = \"{}/{{user}}.toml\"\nscreen_lockers = [\"hyprlock\"]\n",
        dir.display()
    ));
    h.run_as = Some(ALICE);
    h.stack(&ignore_probe(&h, &cfg));
    h.login_via("hyprlock", None, "alice", b"")
        .assert_success()
        .assert_log("method=unprivileged result=ignore");
    // The list replaces the defaults.
    h.login_via("i3lock", None, "alice", b"123456")
        .assert_denied()
        .assert_log("not in screen_lockers");
}

#[test]
fn unprivileged_caller_for_another_user_in_system_mode_is_refused() {
    let (mut h, _) = system_mode_host();
    h.run_as = Some(ALICE);
    h.login_via("i3lock", None, "bob", b"123456")
        .assert_denied()
        .assert_log("method=unprivileged result=deny")
        .assert_log("not all of its uids are the user's");
}

#[test]
fn password_answered_at_the_code_prompt_is_refused_with_the_fix_in_the_log() {
    // sshd's password method answers every prompt with the password PAM_AUTHTOK holds
    // (pam_set_items.so sets it, as pam_unix would); pamtester types it at our prompt.
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    h.stack(&format!(
        "auth required /usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so\n{}",
        h.stack
    ));
    for password in ["hunter2 and more", "135790"] {
        h.env = vec![
            ("PAM_AUTHTOK".into(), password.into()),
            ("PAM_SERVICE".into(), "sshd".into()),
        ];
        let login = h.login("alice", password.as_bytes());
        login.assert_denied().assert_log(
            "reason=\"sshd answered the code prompt with the password: password ssh needs KbdInteractiveAuthentication yes and AuthenticationMethods keyboard-interactive; see pam_twofold(8)\"",
        );
        assert!(
            login.logs.iter().all(|l| !l.contains(password)),
            "{:?}",
            login.logs
        );
    }
    assert_eq!(h.read_file("alice", ALICE).state.failures, 0);
    // A code still works with a password in PAM_AUTHTOK.
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_success();
}

#[test]
fn exempt_group_member_is_ignored_and_logged_at_notice() {
    let mut h = host_with_alice();
    h.group("breakglass", 4300, &["alice"]);
    h.config("exempt_groups = [\"breakglass\"]\n");
    // Even unenrolled under deny: exemption comes first, and the stack's pam_permit decides.
    let login = h.login("alice", b"");
    login
        .assert_success()
        .assert_log("method=exempt result=ignore");
    // authpriv.notice: <85>
    assert!(
        login
            .logs
            .iter()
            .any(|l| l.starts_with("<85>") && l.contains("exempt")),
        "{:?}",
        login.logs
    );
}

#[test]
fn sshd_login_from_an_exempt_network_is_ignored_and_logged_with_the_address() {
    let mut h = host_with_alice();
    h.config("exempt_networks = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n");
    // Unenrolled under deny: only the exemption can let these through, without a prompt.
    for (rhost, logged) in [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::7", "2001:db8::7"),
        ("::ffff:192.0.2.7", "client address 192.0.2.7 "),
    ] {
        let login = h.login_via("sshd", Some(rhost), "alice", b"");
        login
            .assert_success()
            .assert_log("method=exempt result=ignore")
            .assert_log(&format!("rhost=\"{rhost}\""))
            .assert_log(logged);
        assert!(
            !login.text().contains("Verification code"),
            "{}",
            login.text()
        );
        // authpriv.notice: <85>
        assert!(
            login.logs.iter().any(|l| l.starts_with("<85>")),
            "{:?}",
            login.logs
        );
    }
}

#[test]
fn logins_outside_the_exempt_networks_or_not_through_sshd_are_asked() {
    let mut h = host_with_alice();
    h.config("exempt_networks = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n");
    for (service, rhost) in [
        ("sshd", Some("192.0.3.7")),
        ("sshd", Some("2001:db9::7")),
        ("sshd", Some("office.example.org")),
        ("sshd", None),
        // sudo sets no PAM_RHOST (only with `Defaults pam_rhost`, then the local host
        // name); and whatever a service other than sshd sets, it is not compared.
        ("sudo", Some("192.0.2.7")),
    ] {
        let login = h.login_via(service, rhost, "alice", b"123456");
        login.assert_denied().assert_log("not enrolled");
        assert!(
            login.text().contains("Verification code"),
            "{service} {rhost:?}: {}",
            login.text()
        );
    }
}

#[test]
fn an_invalid_exempt_network_fails_closed_naming_the_entry() {
    let mut h = host_with_alice();
    h.group("breakglass", 4300, &["alice"]);
    h.config(
        "exempt_groups = [\"breakglass\"]\nexempt_networks = [\"10.0.0.0/8\", \"10.0.0.1/33\"]\n",
    );
    h.login_via("sshd", Some("10.0.0.1"), "alice", b"")
        .assert_denied()
        .assert_log("`10.0.0.1/33`");
}

#[test]
fn exempt_answer_is_ignore_not_success() {
    let mut h = host_with_alice();
    h.group("breakglass", 4300, &["alice"]);
    h.config("exempt_groups = [\"breakglass\"]\n");
    // Alone in the stack, PAM_IGNORE leaves libpam with no decision: a failure.
    let so = h.so.display().to_string();
    let cfg = h.config_path().display().to_string();
    h.stack(&format!("auth required {so} config={cfg}\n"));
    let login = h.login("alice", b"");
    assert!(!login.succeeded(), "{}", login.text());
    login.assert_log("result=ignore");
}

#[test]
fn invalid_configuration_fails_closed() {
    let mut h = host_with_alice();
    h.enroll("alice", ALICE, 0);
    h.config("unenrolled = \"allow\"\nwindw = 3\n");
    h.login("alice", b"").assert_denied().assert_log("windw");
}

#[test]
fn unknown_module_argument_fails_closed() {
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let so = h.so.display().to_string();
    h.stack(&format!("auth required {so} nullok\n"));
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_denied()
        .assert_log("unknown module argument");
}

#[test]
fn obsolete_toml_library_argument_is_ignored_with_a_notice() {
    // The first release's PAM lines carry toml_library=PATH; an upgrade must not make every
    // login fail with PAM_SERVICE_ERR.
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let so = h.so.display().to_string();
    let cfg = h.config_path().display().to_string();
    h.stack(&format!(
        "auth required {so} toml_library=/usr/lib/x86_64-linux-gnu/twofold/libtwofold_toml.so config={cfg}\n"
    ));
    let login = h.login("alice", e.code_at(now()).as_bytes());
    login
        .assert_success()
        .assert_log("method=totp result=success")
        .assert_log("toml_library= is obsolete and ignored");
    // authpriv.notice: <85>
    assert!(
        login
            .logs
            .iter()
            .any(|l| l.starts_with("<85>") && l.contains("obsolete")),
        "{:?}",
        login.logs
    );
}

/// A panic inside the module, as built and linked, is caught at the C boundary: the login is denied with PAM_AUTH_ERR and logged,
/// and pamtester (standing in for sshd or sudo) exits normally instead of being killed.
#[test]
fn panic_in_the_module_is_caught_and_denies() {
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let normal = h.stack.clone();
    h.stack(&normal.replacen(" config=", " debug_panic config=", 1));
    let login = h.login("alice", e.code_at(now()).as_bytes());
    login
        .assert_denied()
        .assert_log("internal error (panic caught)");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        login.output.status.signal(),
        None,
        "the process died: {}",
        login.text()
    );
    assert!(
        login
            .text()
            .contains("debug_panic: a test asked the module to panic"),
        "{}",
        login.text()
    );
    // The module went on working in the next login (nothing left half-done by the panic).
    h.stack(&normal);
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_success();
}

fn refused_and_unchanged(h: &Host, e: &Enrolled, needle: &str) {
    let path = h.secret_path("alice");
    let before = std::fs::symlink_metadata(&path)
        .ok()
        .and_then(|m| m.is_file().then(|| std::fs::read(&path).unwrap()));
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_denied()
        .assert_log(needle);
    if let Some(before) = before {
        assert_unchanged(&path, &before);
    }
}

#[test]
fn group_writable_secret_file_is_refused_and_left_unchanged() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    std::fs::set_permissions(
        h.secret_path("alice"),
        std::fs::Permissions::from_mode(0o620),
    )
    .unwrap();
    refused_and_unchanged(&h, &e, "group or others");
}

#[test]
fn secret_file_owned_by_another_user_is_refused() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    std::os::unix::fs::chown(h.secret_path("alice"), Some(4243), None).unwrap();
    refused_and_unchanged(&h, &e, "owned by uid 4243");
}

#[test]
fn symlinked_secret_file_is_refused() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let path = h.secret_path("alice");
    let real = path.with_file_name("real.toml");
    std::fs::rename(&path, &real).unwrap();
    symlink(&real, &path).unwrap();
    refused_and_unchanged(&h, &e, "symlink");
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn directory_in_place_of_secret_file_is_refused() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let path = h.secret_path("alice");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::os::unix::fs::chown(&path, Some(ALICE), Some(ALICE)).unwrap();
    refused_and_unchanged(&h, &e, "a directory");
}

#[test]
fn empty_truncated_and_unknown_version_files_are_refused_and_left_unchanged() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let path = h.secret_path("alice");
    let good = std::fs::read_to_string(&path).unwrap();
    for (text, needle) in [
        (String::new(), "file is empty"),
        (good[..good.len() / 2].to_string(), "not valid"),
        (good.replace("version = 1", "version = 7"), "version 7"),
    ] {
        std::fs::write(&path, &text).unwrap();
        refused_and_unchanged(&h, &e, needle);
    }
}

#[test]
fn concurrent_logins_with_one_code_give_exactly_one_success() {
    let h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let code = e.code_at(now());
    let successes = h.concurrent_successes("alice", std::iter::repeat_n(code.as_bytes(), 32));
    assert_eq!(successes, 1);
    assert!(h.read_file("alice", ALICE).check().is_ok());
}

/// A secret file edited by hand (a comment, other spacing) and a configuration with literal
/// strings and a date-time are read by the `toml` crate as any other: the login works, and the
/// file is written back as twofold writes it.
#[test]
fn files_edited_by_hand_are_read() {
    let mut h = host_with_alice();
    let e = h.enroll("alice", ALICE, 0);
    let path = h.secret_path("alice");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("# edited by hand\n{text}")).unwrap();
    h.config("# a comment\nprompt = 'Code: '\nunenrolled_allow_until = 2001-01-01 00:00:00Z\n");
    h.login("alice", e.code_at(now()).as_bytes())
        .assert_success();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(!after.contains("edited by hand"), "{after}");
    assert!(
        twofold_core::SecretFile::parse(after.as_bytes()).is_ok(),
        "{after}"
    );
}

/// Enrollment at first login (`unenrolled = "enroll"`) through real libpam and pamtester's
/// conversation (misc_conv): the key is shown, a wrong answer activates nothing, a code of
/// the key shown (from oathtool) activates it with recovery codes, and the next login asks
/// for a code like any enrolled user's.
#[test]
fn enrollment_at_first_login_activates_only_with_a_code_of_the_key_shown() {
    use std::io::{BufRead, BufReader, Write};
    let mut h = host_with_alice();
    h.config("unenrolled = \"enroll\"\n");
    let file = h.secret_path("alice");

    h.login("alice", b"123456")
        .assert_denied()
        .assert_log("method=enroll result=offered")
        .assert_log("not a right code of the key shown");
    assert!(!file.exists(), "a wrong answer activated something");

    let mut child = h
        .pamtester_unbuffered("alice")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut shown = String::new();
    let mut key = None;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    while key.is_none() {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no key shown:\n{shown}"
        );
        shown.push_str(&line);
        if let Some(uri) = line.strip_prefix("URI: ") {
            let secret = uri.split("secret=").nth(1).expect("a secret in the URI");
            key = Some(secret.split('&').next().unwrap().trim().to_string());
        }
    }
    let key = key.unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", oathtool_code(&key)).unwrap();
    // The recovery codes are shown once, then a prompt so that ssh shows them: Enter.
    writeln!(stdin).unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "enrollment refused:\n{shown}{rest}");
    assert!(rest.contains("Recovery codes. Each works once"), "{rest}");
    let enrolled = h.read_file("alice", ALICE);
    assert_eq!(enrolled.devices.len(), 1);
    assert_eq!(enrolled.recovery_codes_left(), 10);
    assert!(
        h.all_logs()
            .iter()
            .all(|l| !l.contains(&key) && !l.contains("secret=")),
        "the key reached the log"
    );

    // Enrolled now: the next login asks for a code, and a non-code is refused, not offered.
    h.login("alice", b"123456")
        .assert_denied()
        .assert_log("method=totp");
}
