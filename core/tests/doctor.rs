//! `twofold doctor`'s analysis from fixture hosts: each directory under
//! tests/fixtures/doctor/ is a host (PAM files, `sshd -T` output, sshd_config files,
//! twofold.toml, sudoers, host.toml for accounts, enrollments and host state), optionally
//! on top of another one (`base`). `expect` lists the findings it must produce: every
//! `error` line is exactly the set of errors; `warning` lines must be among the warnings.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use twofold_core::doctor::{
    self, Clock, DirInfo, Enrollment, Finding, Inputs, Severity, Sshd, Sudoers,
};
use twofold_core::Config;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HostFile {
    #[serde(default)]
    accounts: Vec<AccountRow>,
    #[serde(default)]
    groups: Vec<GroupRow>,
    #[serde(default)]
    users: BTreeMap<String, UserRow>,
    module_present: Option<bool>,
    secret_dir_mode: Option<u32>,
    free_bytes: Option<u64>,
    clock: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRow {
    name: String,
    uid: u32,
    gid: u32,
    #[serde(default = "yes")]
    login_shell: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRow {
    name: String,
    gid: u32,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRow {
    state: String,
    #[serde(default)]
    devices: usize,
    #[serde(default)]
    recovery: usize,
    #[serde(default)]
    pass: bool,
    #[serde(default)]
    throttled: bool,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    problem: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/doctor")
}

/// Files of a case with its bases', the case's own last (a later file replaces an earlier).
fn files(case: &str) -> BTreeMap<String, String> {
    let root = dir().join(case);
    let mut out = match std::fs::read_to_string(root.join("base")) {
        Ok(base) => files(base.trim()),
        Err(_) => BTreeMap::new(),
    };
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                if text.trim() == "DELETED" {
                    out.remove(&rel);
                } else {
                    out.insert(rel, text);
                }
            }
        }
    }
    walk(&root, &root, &mut out);
    out
}

fn inputs(case: &str) -> Inputs {
    let f = files(case);
    let mut pam = doctor::PamFiles::default();
    let mut ssh_files = BTreeMap::new();
    for (path, text) in &f {
        if let Some(name) = path.strip_prefix("pam.d/") {
            pam.etc.insert(name.into(), text.clone());
        } else if let Some(name) = path.strip_prefix("usr-lib-pam.d/") {
            pam.vendor.insert(name.into(), text.clone());
        } else if let Some(rest) = path.strip_prefix("ssh/") {
            ssh_files.insert(format!("/etc/ssh/{rest}"), text.clone());
        }
    }
    let sshd = f.get("sshd_T").map(|effective| Sshd {
        effective: effective.clone(),
        per_user: f
            .iter()
            .filter_map(|(p, t)| Some((p.strip_prefix("sshd_T.")?.to_string(), t.clone())))
            .collect(),
        files: ssh_files,
        refused: f.get("sshd_T_error").cloned(),
    });
    let host: HostFile = f
        .get("host.toml")
        .map(|t| toml::from_str(t).unwrap())
        .unwrap_or_default();
    let users = host
        .users
        .into_iter()
        .map(|(name, u)| {
            let state = match u.state.as_str() {
                "none" => Enrollment::NotEnrolled,
                "broken" => Enrollment::Broken {
                    problem: u.problem,
                    fix: "chmod 0600 the file".into(),
                },
                "enrolled" => Enrollment::Enrolled {
                    devices: u.devices,
                    recovery_left: u.recovery,
                    pass_valid: u.pass,
                    throttled: u.throttled,
                    locked: u.locked,
                },
                other => panic!("state {other}"),
            };
            (name, state)
        })
        .collect();
    Inputs {
        config: Config::parse(f.get("twofold.toml").map_or("", String::as_str)),
        pam,
        module_present: Some(host.module_present.unwrap_or(true)),
        sshd,
        sudoers: f.get("sudoers").map(|t| Sudoers {
            texts: vec![("/etc/sudoers".into(), t.clone())],
        }),
        accounts: host
            .accounts
            .into_iter()
            .map(|a| doctor::Account {
                name: a.name,
                uid: a.uid,
                gid: a.gid,
                login_shell: a.login_shell,
            })
            .collect(),
        groups: host
            .groups
            .into_iter()
            .map(|g| doctor::Group {
                name: g.name,
                gid: g.gid,
                members: g.members,
            })
            .collect(),
        users,
        secret_dir: host.secret_dir_mode.map(|mode| DirInfo {
            path: "/var/lib/twofold".into(),
            uid: 0,
            mode,
        }),
        free_bytes: Some(host.free_bytes.unwrap_or(1 << 30)),
        clock: match host.clock.as_deref() {
            None | Some("synchronized") => Clock::Synchronized {
                by: "systemd-timesyncd".into(),
            },
            Some("unsynchronized") => Clock::NotSynchronized {
                by: "systemd-timesyncd".into(),
            },
            _ => Clock::Unknown,
        },
        now: 1_800_000_000,
    }
}

fn show(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} [{}] {} | {} | {}\n",
                f.severity.as_str(),
                f.id,
                f.subject,
                f.what,
                f.why,
                f.fix
            )
        })
        .collect()
}

/// Runs a case and checks its `expect` file; returns the findings for further checks.
fn check(case: &str) -> Vec<Finding> {
    let findings = doctor::examine(&inputs(case));
    // `DOCTOR_SHOW=1 cargo test --test doctor -- --nocapture` prints each case's findings.
    if std::env::var_os("DOCTOR_SHOW").is_some() {
        println!("== {case}\n{}", show(&findings));
    }
    let expect = std::fs::read_to_string(dir().join(case).join("expect")).unwrap();
    let mut want_errors = Vec::new();
    for line in expect.lines().filter(|l| !l.trim().is_empty()) {
        let (sev, id) = line.split_once(' ').unwrap();
        let id = id.trim();
        match sev {
            "error" => want_errors.push(id.to_string()),
            "warning" | "ok" => assert!(
                findings
                    .iter()
                    .any(|f| f.severity.as_str() == sev && f.id == id),
                "{case}: no {sev} {id} in\n{}",
                show(&findings)
            ),
            _ => panic!("{case}: bad expect line {line}"),
        }
    }
    let mut errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.id.to_string())
        .collect();
    errors.dedup();
    want_errors.sort();
    want_errors.dedup();
    let mut got = errors.clone();
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        want_errors,
        "{case}: errors differ; findings:\n{}",
        show(&findings)
    );
    findings
}

fn what(findings: &[Finding], id: &str) -> String {
    findings
        .iter()
        .filter(|f| f.id == id)
        .map(|f| format!("{} {}", f.what, f.fix))
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! case {
    ($name:ident, $dir:expr) => {
        #[test]
        fn $name() {
            check($dir);
        }
    };
}

// Clean configurations: no error.
case!(debian_packaged_examples_have_no_error, "debian-examples");
case!(
    a_code_on_sudo_but_not_on_sudo_i_is_an_error,
    "pam-sudo-i-stock"
);
case!(
    debian_password_example_has_no_error,
    "debian-password-example"
);
case!(
    debian_profile_with_keyboard_interactive_has_no_error,
    "debian-profile"
);
case!(fedora_packaged_examples_have_no_error, "fedora-examples");

// Misconfigurations, each with the finding it must produce.
case!(
    publickey_only_authentication_methods_skip_the_code,
    "sshd-publickey-only"
);
case!(stock_debian_sshd_never_asks_the_code, "sshd-stock");
case!(use_pam_off_never_asks_the_code, "sshd-no-pam");
case!(
    keyboard_interactive_alone_with_a_code_only_stack_is_a_code_alone,
    "sshd-code-alone"
);
case!(sshd_refusing_its_configuration_is_an_error, "sshd-refused");
case!(
    sufficient_on_our_line_lets_a_wrong_code_in,
    "pam-sufficient"
);
case!(optional_on_our_line_lets_a_wrong_code_in, "pam-optional");
case!(
    fedora_include_of_system_auth_skips_the_code,
    "pam-fedora-include"
);
case!(
    ignore_with_nothing_after_it_locks_exempt_users_out,
    "pam-ignore-nothing-after"
);
case!(
    substack_password_auth_asks_the_code_after_a_wrong_password,
    "pam-fedora-substack-password"
);
case!(profile_and_example_together_ask_two_codes, "pam-twice");
case!(
    done_on_our_line_before_the_password_is_a_code_alone,
    "pam-code-alone"
);
case!(
    silent_dash_line_skips_the_code_when_the_module_is_missing,
    "pam-dash-missing"
);
case!(
    sufficient_permit_before_our_line_never_reaches_it,
    "pam-unreached"
);
case!(deny_after_our_line_locks_everyone_out, "pam-never-succeeds");
case!(missing_include_breaks_the_stack, "pam-include-missing");
case!(module_file_missing_is_an_error, "module-missing");
case!(invalid_configuration_is_an_error, "config-invalid");
case!(
    only_admin_unenrolled_under_deny_is_locked_out,
    "people-only-admin-unenrolled"
);
case!(no_recovery_codes_left_is_a_warning, "people-no-codes");
case!(
    world_readable_secret_file_is_refused,
    "people-world-readable"
);
case!(readable_system_directory_is_a_warning, "host-dir-open");
case!(unsynchronised_clock_is_a_warning, "host-clock");
case!(low_disk_space_is_a_warning, "host-disk");
case!(nopasswd_sudo_rule_is_a_warning, "people-nopasswd");
case!(
    locked_admin_without_recovery_codes_is_an_error,
    "people-locked"
);
case!(
    single_admin_without_break_glass_is_a_warning,
    "people-single-admin"
);
case!(
    unenrolled_users_passing_is_a_warning,
    "people-unenrolled-allow"
);
case!(no_stack_using_the_module_is_a_warning, "pam-unused");
case!(
    unenrolled_users_offered_enrollment_is_a_warning,
    "people-unenrolled-enroll"
);
#[test]
fn code_alone_with_enrollment_at_login_is_an_error_that_says_why() {
    let f = check("enroll-code-alone");
    let why: Vec<&str> = f
        .iter()
        .filter(|f| f.id == "pam.code-alone")
        .map(|f| f.why.as_str())
        .collect();
    assert!(!why.is_empty());
    assert!(
        why.iter()
            .all(|w| w.contains("offered that user's enrollment")),
        "{why:?}"
    );
}

#[test]
fn way_in_of_an_unenrolled_user_under_enroll_is_enrollment_at_login() {
    let i = inputs("people-unenrolled-enroll");
    let lines = doctor::way_in(&i, "alice", None);
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.contains("enrollment at login"), "{lines:?}");
    }
}

#[test]
fn enrollment_at_login_after_a_failed_password_is_an_error() {
    // Without enrollment at login the same stack is a warning (throttling only).
    let f = check("enroll-after-failure");
    let after: Vec<&Finding> = f.iter().filter(|f| f.id == "pam.after-failure").collect();
    assert!(!after.is_empty());
    for a in after {
        assert!(
            a.why.contains("offered that user's enrollment"),
            "{}",
            a.why
        );
    }
}
case!(
    unenrolled_admins_are_warnings_while_no_stack_uses_the_module,
    "pam-unused-unenrolled"
);

#[test]
fn a_match_block_skipping_the_code_for_one_admin_is_an_error_for_them() {
    let f = check("sshd-match-user");
    let skipped: Vec<&Finding> = f.iter().filter(|f| f.id == "sshd.code-skipped").collect();
    assert_eq!(skipped.len(), 1, "{}", show(&f));
    assert_eq!(skipped[0].subject, "user:alice");
    assert!(
        f.iter()
            .any(|x| x.id == "sshd.user" && x.what == "ssh for bob: publickey, then a code"),
        "{}",
        show(&f)
    );
    assert!(
        f.iter()
            .any(|x| x.id == "sshd.user" && x.what.starts_with("root cannot log in over ssh")),
        "{}",
        show(&f)
    );
}

#[test]
fn keyboard_interactive_off_in_a_drop_in_names_the_drop_in() {
    let f = check("sshd-kbdint-dropin");
    let w = what(&f, "sshd.kbdint-off");
    assert!(
        w.contains("/etc/ssh/sshd_config.d/00-cloud.conf line 1"),
        "{w}"
    );
}

#[test]
fn fedora_include_names_the_sufficient_line_and_says_substack() {
    let f = check("pam-fedora-include");
    let w = what(&f, "pam.code-skipped");
    assert!(
        w.contains("sufficient pam_unix.so") && w.contains("system-auth"),
        "{w}"
    );
    assert!(w.contains("substack"), "{w}");
}

#[test]
fn way_in_says_what_a_login_meets() {
    let i = inputs("debian-examples");
    assert_eq!(
        doctor::way_in(&i, "alice", None),
        [
            "ssh: publickey, then a code from one of 2 devices or one of 7 recovery codes",
            "sudo: password, then a code from one of 2 devices or one of 7 recovery codes",
        ]
    );
    // PermitRootLogin prohibit-password refuses keyboard-interactive for root.
    assert_eq!(
        doctor::way_in(&i, "root", Some("sshd")),
        ["root cannot log in over ssh: no method sshd accepts can succeed"]
    );
    let i = inputs("people-only-admin-unenrolled");
    assert_eq!(
        doctor::way_in(&i, "alice", None),
        [
            "alice cannot log in over ssh: not enrolled and unenrolled = deny",
            "alice cannot use sudo: not enrolled and unenrolled = deny",
        ]
    );
    let i = inputs("debian-password-example");
    assert_eq!(
        doctor::way_in(&i, "alice", Some("sshd")),
        ["ssh: password, then a code from one of 2 devices or one of 7 recovery codes"]
    );
}

#[test]
fn a_reset_of_the_last_admin_is_seen_as_a_lockout() {
    let mut i = inputs("people-single-admin");
    let config = i.config.clone().unwrap();
    assert_eq!(doctor::people::admins_who_get_in(&i, &config), ["alice"]);
    i.users.insert("alice".into(), Enrollment::NotEnrolled);
    assert!(doctor::people::admins_who_get_in(&i, &config).is_empty());
}

/// twofold(1)'s DOCTOR section documents every finding the analysis can give.
#[test]
fn every_finding_is_documented_in_the_man_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let man = std::fs::read_to_string(root.join("../packaging/man/twofold.1")).unwrap();
    let doctor = &man[man.find(".SH DOCTOR").expect("a DOCTOR section")..];
    let mut ids = Vec::new();
    for file in ["mod.rs", "pam.rs", "sshd.rs", "people.rs"] {
        let text = std::fs::read_to_string(root.join("src/doctor").join(file)).unwrap();
        // Finding ids are the string literals of the form "area.name".
        for literal in text.split('"').skip(1).step_by(2) {
            let is_id = literal.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '-' || c == '.')
                    && literal.matches('.').count() == 1
            });
            if is_id {
                ids.push(literal.to_string());
            }
        }
    }
    assert!(ids.len() > 30, "{ids:?}");
    for id in ids.iter().filter(|id| {
        !id.ends_with(".ok")
            && !matches!(
                id.as_str(),
                "config.valid"
                    | "clock.synchronized"
                    | "user.enrolled"
                    | "user.exempt"
                    | "sshd.user"
            )
    }) {
        assert!(
            doctor.contains(id.as_str()),
            "twofold(1) DOCTOR does not document {id}"
        );
    }
}
