//! `twofold admin migrate` (issue 18): a user's state moves between a host's secret files and
//! the directory unchanged, so a code used before the move is refused after it on any host,
//! and an entry that already holds a state is never overwritten. README's "Many hosts" steps
//! are followed as printed. And the CLI's other commands do on the directory what they do on
//! files.

use twofold_e2e::{snippet, Directory, Host, SshAuth};

const SECRETS: &str = "/home/alice/.config/twofold/secrets.toml";
const CONFIG: &str = "/etc/twofold/twofold.toml";

/// A host of the fleet with the `[directory]` table of its own host account (TLS, the test
/// CA); `enroll`: root enrolls alice there, so her entry takes the state.
fn fleet_host(dir: &Directory, name: &str, enroll: bool) -> Host {
    let password = format!("{name}-secret");
    let builder = Host::new()
        .network(dir.network())
        .user("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .config(&dir.add_host(name, &password, false))
        .file("/etc/twofold/ldap-ca.pem", dir.ca())
        .secret_file("/etc/twofold/ldap.secret", &format!("{password}\n"));
    if enroll {
        builder.enrolled("alice").build()
    } else {
        builder.build()
    }
}

/// A host that keeps secret files (the packaged twofold.toml), on the directory's network,
/// with alice enrolled there and the test CA at hand for a later move.
fn files_host(dir: &Directory) -> Host {
    Host::new()
        .network(dir.network())
        .user("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .file("/etc/twofold/ldap-ca.pem", dir.ca())
        .enrolled("alice")
        .build()
}

/// `twofold --json status --user alice`'s backend and server.
#[track_caller]
fn backend_of_status(host: &Host) -> (String, Option<String>) {
    let out = host.twofold("--json status --user alice");
    out.assert_success();
    let json = out.json();
    (
        json["backend"].as_str().unwrap_or_default().to_owned(),
        json["server"].as_str().map(str::to_owned),
    )
}

#[test]
fn readme_many_hosts_moves_a_host_into_the_directory_and_codes_used_before_stay_used_on_another_host(
) {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    // Host A keeps files: alice logs in there with a code and with a recovery code.
    let a = files_host(&dir);
    assert_eq!(backend_of_status(&a), ("files".to_owned(), None));
    let code = a.totp("alice");
    let recovery = a.enrollment("alice").recovery_codes.clone();
    a.ssh("alice").answer_with(&code).run().assert_success();
    a.ssh("alice")
        .answer_with(&recovery[0])
        .run()
        .assert_success();

    // README's steps on host A, whose host account is `web1`, the password typed on stdin.
    dir.add_host("web1", "web1-secret", false);
    let steps =
        snippet("README.md", "many-hosts-migrate").replace("ldap1.example.org", dir.server_name());
    a.write_file("/tmp/many-hosts.sh", &steps);
    let moved = a.run("printf 'web1-secret\\n' | sh -e /tmp/many-hosts.sh");
    moved.assert_success();
    assert!(
        moved.stdout.contains("alice: moved to the directory"),
        "{moved}"
    );
    assert!(moved.stdout.contains("1 moved, 0 failed"), "{moved}");
    a.run(&format!("test ! -e {SECRETS}")).assert_success();
    assert_eq!(
        a.run("stat -c '%U %a' /etc/twofold/ldap.secret")
            .stdout
            .trim(),
        "root 600"
    );
    let log = a.auth_log();
    assert!(
        log.contains(
            "action=admin-migrate user=\"alice\" by=\"root\" from=\"files\" to=\"directory\""
        ),
        "the move is not in the auth log:\n{log}"
    );
    let server = format!("ldaps://{}", dir.server_name());
    assert_eq!(
        backend_of_status(&a),
        ("directory".to_owned(), Some(server.clone()))
    );

    // Host B never had alice's file: what was used on A is used there too.
    let b = fleet_host(&dir, "host-b", false);
    b.ssh("alice").answer_with(&code).run().assert_failure();
    b.decision(1)
        .assert_denied("alice", "totp")
        .assert_reason_contains("replay");
    b.ssh("alice")
        .answer_with(&recovery[0])
        .run()
        .assert_failure();
    b.decision(2).assert_denied("alice", "recovery");
    // A recovery code not used before the move works once in the fleet.
    b.ssh("alice")
        .answer_with(&recovery[1])
        .run()
        .assert_success();
    b.decision(3).assert("alice", "recovery", "success");
    a.ssh("alice")
        .answer_with(&recovery[1])
        .run()
        .assert_failure();
    a.decision(3).assert_denied("alice", "recovery");

    assert_eq!(
        backend_of_status(&b),
        ("directory".to_owned(), Some(server.clone()))
    );
    let plain = b.twofold("admin status alice");
    plain.assert_success();
    assert!(
        plain
            .stdout
            .contains(&format!("Directory:       {server} (entry uid=alice)")),
        "{plain}"
    );
}

#[test]
fn migrate_refuses_bad_input_and_never_overwrites_an_entry_that_holds_a_state() {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    // Host B enrolls alice in the directory; host A has her enrolled in a file of its own.
    let b = fleet_host(&dir, "host-b", true);
    let a = files_host(&dir);
    let file = a.read_file(SECRETS);

    let no_directory = a.twofold("admin migrate --to-directory --user alice");
    no_directory
        .assert_failure()
        .assert_stderr_contains("no [directory] table; nothing was changed");
    let config = dir.add_host("host-a", "host-a-secret", false);
    a.run("umask 077 && printf 'host-a-secret\\n' >/etc/twofold/ldap.secret")
        .assert_success();
    a.write_file(CONFIG, &config);

    for (args, status, says) in [
        (
            "--to-directory --user alice --all",
            2,
            "either --user NAME or --all, not both",
        ),
        (
            "--to-directory --to-files --user alice",
            2,
            "cannot be used with",
        ),
        ("--to-directory", 2, "--user NAME, or --all"),
        ("--to-directory --user nosuchuser", 1, "no such user"),
    ] {
        let out = a.twofold(&format!("admin migrate {args}"));
        assert_eq!(out.status, status, "{out}");
        out.assert_stderr_contains(says);
    }

    let entry = dir.state_of("alice");
    assert!(!entry.is_empty(), "host B's enrollment is not on the entry");
    let refused = a.twofold("admin migrate --to-directory --user alice");
    refused
        .assert_failure()
        .assert_stderr_contains("alice was not moved to the directory")
        .assert_stderr_contains("never overwritten");
    let all = a.twofold("admin migrate --to-directory --all");
    all.assert_failure()
        .assert_stderr_contains("1 user could not be moved");
    assert!(all.stdout.contains("alice: FAILED"), "{all}");
    // Nothing changed on either side.
    assert_eq!(dir.state_of("alice"), entry);
    assert_eq!(a.read_file(SECRETS), file);
    assert!(
        !a.auth_log().contains("action=admin-migrate"),
        "a refused move was logged as made"
    );
    // The entry's state is the one A now logs in with.
    let code = b.totp("alice");
    a.ssh("alice").answer_with(&code).run().assert_success();
}

#[test]
fn migrate_to_files_and_back_keeps_the_state_and_the_entry() {
    let dir = Directory::start(1);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true);
    let code = a.totp("alice");
    a.ssh("alice").answer_with(&code).run().assert_success();
    let in_directory = a.twofold("--json status --user alice");
    in_directory.assert_success();
    let entry = dir.state_of("alice");

    // --all: every entry that holds a state (host accounts and stateless entries are not).
    let to_files = a.twofold("--json admin migrate --to-files --all");
    to_files.assert_success();
    assert_eq!(
        to_files.json(),
        serde_json::json!({
            "from": "directory", "to": "files",
            "users": [{"user": "alice", "result": "moved"}],
            "without_state": 0,
        }),
        "{to_files}"
    );
    assert_eq!(
        a.run(&format!("stat -c '%U %a' {SECRETS}")).stdout.trim(),
        "alice 600"
    );
    // The entry keeps its state for the other hosts; a second run replaces nothing.
    assert_eq!(dir.state_of("alice"), entry);
    let again = a.twofold("admin migrate --to-files --user alice");
    again.assert_success();
    assert!(
        again
            .stdout
            .contains("alice: this host's secret file already holds the directory's state"),
        "{again}"
    );
    assert!(
        a.auth_log().contains(
            "action=admin-migrate user=\"alice\" by=\"root\" from=\"directory\" to=\"files\""
        ),
        "{}",
        a.auth_log()
    );

    // Without [directory], the file answers, with the same state (the login recorded).
    let config = a.read_file(CONFIG);
    a.write_file(CONFIG, "");
    assert_eq!(backend_of_status(&a), ("files".to_owned(), None));
    let in_file = a.twofold("--json status --user alice");
    in_file.assert_success();
    for key in ["devices", "recovery_codes_left", "last_login", "failures"] {
        assert_eq!(in_file.json()[key], in_directory.json()[key], "{key}");
    }

    // And back: the entry holds this very state, so the move finishes by removing the file.
    a.write_file(CONFIG, &config);
    let back = a.twofold("admin migrate --to-directory --user alice");
    back.assert_success();
    assert!(back.stdout.contains("already held this state"), "{back}");
    a.run(&format!("test ! -e {SECRETS}")).assert_success();
    a.ssh("alice").answer_with(&code).run().assert_failure();
    a.decision(2)
        .assert_denied("alice", "totp")
        .assert_reason_contains("replay");
}

#[test]
fn device_recovery_and_admin_commands_change_the_state_in_the_directory_for_every_host() {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true);
    let b = fleet_host(&dir, "host-b", false);
    let old_codes = a.enrollment("alice").recovery_codes.clone();

    // A device added on A is listed on B; removed on B, gone on A.
    let added = a.twofold("--json --user alice device add tablet --no-confirm");
    added.assert_success();
    let listed = b.twofold("--json --user alice device list");
    listed.assert_success();
    let names: Vec<_> = listed.json()["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["default", "tablet"], "{listed}");
    b.twofold("--user alice device remove tablet --yes")
        .assert_success();
    let left = a.twofold("--json --user alice device list");
    assert_eq!(
        left.json()["devices"].as_array().map(Vec::len),
        Some(1),
        "{left}"
    );

    // New recovery codes on B: the old ones are refused on A, a new one works there once.
    let regenerated = b.twofold("--json --user alice recovery regenerate");
    regenerated.assert_success();
    let new_code = regenerated.json()["recovery_codes"][0]
        .as_str()
        .expect("a recovery code")
        .to_owned();
    a.ssh("alice")
        .answer_with(&old_codes[2])
        .run()
        .assert_failure();
    a.ssh("alice").answer_with(&new_code).run().assert_success();
    b.ssh("alice").answer_with(&new_code).run().assert_failure();

    // A pass issued on A logs in on B, once.
    let issued = a.twofold("--json admin issue-pass alice --ttl 10m");
    issued.assert_success();
    let pass = issued.json()["pass"].as_str().expect("a pass").to_owned();
    b.ssh("alice").answer_with(&pass).run().assert_success();
    a.ssh("alice").answer_with(&pass).run().assert_failure();

    // Unlock on B: A sees no failures.
    b.twofold("admin unlock alice").assert_success();
    let status = a.twofold("--json admin status alice");
    assert_eq!(status.json()["failures"], 0, "{status}");
    assert_eq!(status.json()["backend"], "directory", "{status}");

    // Reset on B: alice is unenrolled on A; her entry stays, without a state.
    b.twofold("admin reset alice").assert_success();
    assert_eq!(dir.state_of("alice"), "");
    let after = a.twofold("--json status --user alice");
    assert_eq!(after.json()["enrolled"], false, "{after}");
    assert_eq!(after.json()["backend"], "directory", "{after}");
    for action in [
        "device-add",
        "device-remove",
        "admin-issue-pass",
        "admin-reset",
    ] {
        let log = a.auth_log() + &b.auth_log();
        assert!(
            log.contains(&format!("action={action} user=\"alice\"")),
            "{action} is not in the auth logs:\n{log}"
        );
    }
}

/// A host whose `[directory]` table is in place before its files were moved (the README's
/// last line not run yet): alice's state is still in her secret file, and she is refused,
/// not taken for unenrolled, even where `unenrolled = "allow"` would let an unenrolled user
/// through on the public key alone.
#[test]
fn a_host_switched_to_the_directory_before_its_files_moved_refuses_their_owners_even_under_allow() {
    let dir = Directory::start(1);
    dir.add_user("alice", "alice-password");
    let a = files_host(&dir);
    let table = dir.add_host("web1", "web1-secret", false);
    a.write_file("/tmp/directory.toml", &table);
    a.run(&format!(
        "(umask 077 && printf 'web1-secret\\n' >/etc/twofold/ldap.secret) && \
         printf 'unenrolled = \"allow\"\\n' >>{CONFIG} && cat /tmp/directory.toml >>{CONFIG}"
    ))
    .assert_success();
    a.ssh("alice").run().assert_failure();
    a.decision(1)
        .assert_refused("alice")
        .assert_reason_contains("migrate --to-directory");
    // Moved: the state is on her entry, and her codes work again.
    a.twofold("admin migrate --to-directory --user alice")
        .assert_success();
    let code = a.totp("alice");
    a.ssh("alice").answer_with(&code).run().assert_success();
    a.decision(2).assert("alice", "totp", "success");
}
