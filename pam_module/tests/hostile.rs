//! Hostile input, table-driven, through real libpam: every case is refused (or accepted where
//! tolerance is documented), leaves the secret file byte-for-byte unchanged, and leaves a log
//! line that says why.

mod common;
use common::*;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::PathBuf;

const ALICE: u32 = 4242;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    Denied,
    Accepted,
}

struct Case {
    name: &'static str,
    /// Prepares the host; returns (user to log in as, what is typed).
    setup: fn(&mut Host, &Enrolled) -> (String, Vec<u8>),
    expect: Expect,
    /// A word the module's log line must contain.
    log: &'static str,
}

fn alice(input: &[u8]) -> (String, Vec<u8>) {
    ("alice".into(), input.to_vec())
}

fn right_code(e: &Enrolled) -> Vec<u8> {
    e.code_at(now()).into_bytes()
}

fn secret(h: &Host) -> PathBuf {
    h.secret_path("alice")
}

fn edit_file(h: &Host, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(secret(h)).unwrap();
    std::fs::write(secret(h), f(text)).unwrap();
}

/// A root-owned decoy standing in for /etc/shadow (a real one must never be at risk in a test).
fn decoy(h: &Host) -> PathBuf {
    let p = h.root.join("shadow");
    std::fs::write(&p, "root:$y$j9T$decoy:19000:0:99999:7:::\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    p
}

fn cases() -> Vec<Case> {
    vec![
        // What the person types.
        Case {
            name: "empty input",
            setup: |_, _| alice(b""),
            expect: Expect::Denied,
            log: "empty input",
        },
        Case {
            name: "only spaces",
            setup: |_, _| alice(b"    "),
            expect: Expect::Denied,
            log: "empty input",
        },
        Case {
            name: "1 MiB of input",
            setup: |_, _| alice(&vec![b'7'; 1 << 20]),
            expect: Expect::Denied,
            log: "input refused",
        },
        Case {
            name: "NUL byte inside digits",
            setup: |_, _| alice(b"123\x00456"),
            expect: Expect::Denied,
            log: "input refused",
        },
        Case {
            name: "non-UTF-8 bytes",
            setup: |_, _| alice(b"\xff\xfe123456"),
            expect: Expect::Denied,
            log: "not UTF-8",
        },
        Case {
            name: "Arabic-Indic digits",
            setup: |_, _| alice("١٢٣٤٥٦".as_bytes()),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "fullwidth digits",
            setup: |_, _| alice("１２３４５６".as_bytes()),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "plus sign before digits",
            setup: |_, _| alice(b"+123456"),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "dot after digits",
            setup: |_, _| alice(b"123456."),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "carriage return after digits",
            setup: |_, _| alice(b"123456\r"),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "too few digits",
            setup: |_, _| alice(b"12345"),
            expect: Expect::Denied,
            log: "too few digits",
        },
        Case {
            name: "too many digits",
            setup: |_, _| alice(b"123456789"),
            expect: Expect::Denied,
            log: "too many digits",
        },
        Case {
            name: "format string",
            setup: |_, _| alice(b"%s%s%n%x"),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "SQL-like text",
            setup: |_, _| alice(b"' OR 1=1 --"),
            expect: Expect::Denied,
            log: "not in any code",
        },
        Case {
            name: "word of letters",
            setup: |_, _| alice(b"password"),
            expect: Expect::Denied,
            log: "length of no code",
        },
        Case {
            name: "recovery code with a wrong check character",
            setup: |_, e| {
                let mut c = e.recovery[0].clone().into_bytes();
                let last = c.len() - 1;
                c[last] = if c[last] == b'A' { b'B' } else { b'A' };
                alice(&c)
            },
            expect: Expect::Denied,
            log: "check character",
        },
        Case {
            name: "recovery code one character short",
            setup: |_, e| alice(&e.recovery[0].as_bytes()[..18]),
            expect: Expect::Denied,
            log: "length of no code",
        },
        Case {
            name: "well-formed recovery code that was never issued",
            setup: |_, _| {
                alice(
                    twofold_core::codes::grouped(&twofold_core::codes::generate(16).unwrap())
                        .as_bytes(),
                )
            },
            expect: Expect::Denied,
            log: "does not match",
        },
        Case {
            name: "well-formed pass when none was issued",
            setup: |_, _| {
                alice(
                    twofold_core::codes::grouped(&twofold_core::codes::generate(20).unwrap())
                        .as_bytes(),
                )
            },
            expect: Expect::Denied,
            log: "no temporary access pass",
        },
        Case {
            name: "right code with spaces around it is tolerated",
            setup: |_, e| alice(format!("  {}  ", e.code_at(now())).as_bytes()),
            expect: Expect::Accepted,
            log: "code accepted",
        },
        // The secret file and its directories.
        Case {
            name: "symlink to a shadow file in place of the secret file",
            setup: |h, e| {
                let d = decoy(h);
                std::fs::remove_file(secret(h)).unwrap();
                symlink(d, secret(h)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "is a symlink",
        },
        Case {
            name: "symlinked parent directory",
            setup: |h, e| {
                let dir = secret(h).parent().unwrap().to_path_buf();
                let elsewhere = h.home("alice").join("elsewhere");
                std::fs::rename(&dir, &elsewhere).unwrap();
                symlink(&elsewhere, &dir).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "symlink or not a directory",
        },
        Case {
            name: "FIFO in place of the secret file",
            setup: |h, e| {
                std::fs::remove_file(secret(h)).unwrap();
                let ok = std::process::Command::new("mkfifo")
                    .arg(secret(h))
                    .status()
                    .unwrap()
                    .success();
                assert!(ok);
                chown(secret(h), Some(ALICE), Some(ALICE)).unwrap();
                std::fs::set_permissions(secret(h), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "a FIFO",
        },
        Case {
            name: "directory in place of the secret file",
            setup: |h, e| {
                std::fs::remove_file(secret(h)).unwrap();
                std::fs::create_dir(secret(h)).unwrap();
                chown(secret(h), Some(ALICE), Some(ALICE)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "a directory",
        },
        Case {
            name: "hard link to a root-owned file",
            setup: |h, e| {
                let d = decoy(h);
                std::fs::remove_file(secret(h)).unwrap();
                std::fs::hard_link(d, secret(h)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "owned by uid 0",
        },
        Case {
            name: "file owned by another user",
            setup: |h, e| {
                chown(secret(h), Some(4243), Some(4243)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "owned by uid 4243",
        },
        Case {
            name: "group-writable file",
            setup: |h, e| {
                std::fs::set_permissions(secret(h), std::fs::Permissions::from_mode(0o620))
                    .unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "group or others",
        },
        Case {
            name: "world-writable file",
            setup: |h, e| {
                std::fs::set_permissions(secret(h), std::fs::Permissions::from_mode(0o602))
                    .unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "group or others",
        },
        Case {
            name: "group-readable file",
            setup: |h, e| {
                std::fs::set_permissions(secret(h), std::fs::Permissions::from_mode(0o640))
                    .unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "group or others",
        },
        Case {
            name: "group-writable secret directory",
            setup: |h, e| {
                let dir = secret(h).parent().unwrap().to_path_buf();
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o770)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "writable by group or others",
        },
        Case {
            name: "enormous file",
            setup: |h, e| {
                edit_file(h, |t| format!("{t}\n# {}\n", "x".repeat(2 << 20)));
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "larger than",
        },
        Case {
            name: "deeply nested TOML",
            setup: |h, e| {
                edit_file(h, |t| {
                    format!("{t}\nx = {}{}\n", "[".repeat(20_000), "]".repeat(20_000))
                });
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "not valid",
        },
        Case {
            name: "duplicate TOML key",
            setup: |h, e| {
                edit_file(h, |t| {
                    t.replacen("version = 1", "version = 1\nversion = 1", 1)
                });
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "not valid",
        },
        Case {
            name: "unknown key in the file",
            setup: |h, e| {
                edit_file(h, |t| {
                    t.replacen("version = 1", "version = 1\nbackdoor = true", 1)
                });
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "not valid",
        },
        Case {
            name: "unknown file version",
            setup: |h, e| {
                edit_file(h, |t| t.replacen("version = 1", "version = 99", 1));
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "version 99",
        },
        Case {
            name: "missing version",
            setup: |h, e| {
                edit_file(h, |t| t.replacen("version = 1\n", "", 1));
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "no `version`",
        },
        Case {
            name: "empty file",
            setup: |h, e| {
                edit_file(h, |_| String::new());
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "file is empty",
        },
        Case {
            name: "truncated file",
            setup: |h, e| {
                edit_file(h, |t| t[..t.len() * 2 / 3].to_string());
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "not valid",
        },
        Case {
            name: "out-of-range digits",
            setup: |h, e| {
                edit_file(h, |t| t.replacen("digits = 6", "digits = 10", 1));
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "digits = 10",
        },
        Case {
            name: "out-of-range period",
            setup: |h, e| {
                edit_file(h, |t| t.replacen("period = 30", "period = 0", 1));
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "period = 0",
        },
        Case {
            name: "out-of-range device window",
            setup: |h, e| {
                edit_file(h, |t| {
                    t.replacen("period = 30", "period = 30\nwindow = 200", 1)
                });
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "window out of range",
        },
        Case {
            name: "secret that is not base32",
            setup: |h, e| {
                edit_file(h, |t| {
                    let start = t.find("secret = \"").unwrap() + 10;
                    format!("{}0189{}", &t[..start], &t[start + 4..])
                });
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "base32",
        },
        Case {
            name: "argon2 memory cost of gigabytes",
            setup: |h, e| {
                edit_file(h, |t| t.replacen("m_kib = 19456", "m_kib = 10000000", 1));
                alice(e.recovery[0].as_bytes())
            },
            expect: Expect::Denied,
            log: "out of range",
        },
        // Who logs in, and the configuration.
        Case {
            name: "user name with ../",
            setup: |_, e| ("../alice".into(), right_code(e)),
            expect: Expect::Denied,
            log: "user name refused",
        },
        Case {
            name: "user name with a slash",
            setup: |_, e| ("alice/../../root".into(), right_code(e)),
            expect: Expect::Denied,
            log: "user name refused",
        },
        Case {
            name: "user that does not exist",
            setup: |_, e| ("mallory".into(), right_code(e)),
            expect: Expect::Denied,
            log: "no such user",
        },
        Case {
            name: "unreadable home directory",
            setup: |h, e| {
                chown(h.home("alice"), Some(0), Some(0)).unwrap();
                std::fs::set_permissions(h.home("alice"), std::fs::Permissions::from_mode(0o700))
                    .unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "Permission denied",
        },
        Case {
            name: "home directory owned by another user",
            setup: |h, e| {
                chown(h.home("alice"), Some(4243), Some(4243)).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "owned by uid 4243",
        },
        Case {
            name: "lock file replaced by a symlink",
            setup: |h, e| {
                let lock = secret(h).with_file_name("secrets.toml.lock");
                let _ = std::fs::remove_file(&lock);
                symlink(decoy(h), &lock).unwrap();
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "lock",
        },
        Case {
            name: "missing configuration file",
            setup: |h, e| {
                let _ = std::fs::remove_file(h.config_path());
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "does not exist",
        },
        Case {
            name: "invalid configuration file",
            setup: |h, e| {
                h.config("window = \"wide\"\n");
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "configuration",
        },
        Case {
            name: "configuration with an unknown key",
            setup: |h, e| {
                h.config("unenrolled = \"allow\"\nbypass = true\n");
                alice(&right_code(e))
            },
            expect: Expect::Denied,
            log: "bypass",
        },
    ]
}

#[test]
fn hostile_inputs_and_files_are_refused_unchanged_and_explained() {
    let mut failures = Vec::new();
    let table = cases();
    assert!(table.len() >= 40, "only {} cases", table.len());
    for case in &table {
        let mut h = Host::new();
        h.user("alice", ALICE).user("bob", 4243);
        h.config("");
        let e = h.enroll("alice", ALICE, 2);
        let (user, input) = (case.setup)(&mut h, &e);
        // Snapshot of every file in alice's home and the decoy after setup.
        let snapshot = snapshot(&h);
        let login = h.login(&user, &input);
        let ok = match case.expect {
            Expect::Denied => {
                !login.succeeded()
                    && login
                        .logs
                        .iter()
                        .any(|l| l.contains("pam_twofold[") && l.contains("result=deny"))
            }
            Expect::Accepted => login.succeeded(),
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {}",
                case.name,
                case.expect,
                login.text().trim()
            ));
            continue;
        }
        if !login.logs.iter().any(|l| l.contains(case.log)) {
            failures.push(format!(
                "{}: no log line containing {:?}: {:?}",
                case.name, case.log, login.logs
            ));
        }
        if login
            .logs
            .iter()
            .any(|l| l.contains(&e.base32()) || e.recovery.iter().any(|r| l.contains(r.as_str())))
        {
            failures.push(format!("{}: a secret reached the log", case.name));
        }
        if case.expect == Expect::Denied && snapshot != self::snapshot(&h) {
            failures.push(format!("{}: files changed", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
    eprintln!("{} hostile cases passed", table.len());
}

/// Path, type, owner, mode and content of every file below alice's home and the decoy, apart
/// from the lock file (created on first use, by design).
fn snapshot(h: &Host) -> Vec<(PathBuf, String, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![h.home("alice"), h.root.join("shadow")];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let desc = format!("{:?} {} {:o}", m.file_type(), m.uid(), m.mode());
        let content = if m.is_file() && m.len() < (4 << 20) {
            std::fs::read(&p).unwrap_or_default()
        } else {
            Vec::new()
        };
        if m.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
        if !p.to_string_lossy().ends_with(".lock") {
            out.push((p, desc, content));
        }
    }
    out.sort();
    out
}
