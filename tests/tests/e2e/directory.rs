//! The directory backend (issue 18): two hosts keep one user's state on the user's entry in
//! Debian's slapd, on an `--internal` Docker network of the test's own.

use twofold_e2e::{Directory, Host, SshAuth};

/// A host of the fleet: alice's local account, sshd with the packaged examples, and the
/// `[directory]` table of its own host account (TLS with the test CA, or `plain`).
pub(crate) fn fleet_host(dir: &Directory, name: &str, enroll: bool, plain: bool) -> Host {
    fleet_host_trusting(dir, name, enroll, plain, dir.ca())
}

fn fleet_host_trusting(dir: &Directory, name: &str, enroll: bool, plain: bool, ca: &str) -> Host {
    let password = format!("{name}-secret");
    let config = dir.add_host(name, &password, plain);
    let builder = Host::new()
        .network(dir.network())
        .user("alice")
        .sshd(SshAuth::PublickeyThenTotp)
        .config(&config)
        .file("/etc/twofold/ldap-ca.pem", ca)
        .secret_file("/etc/twofold/ldap.secret", &format!("{password}\n"));
    if enroll {
        builder.enrolled("alice").build()
    } else {
        builder.build()
    }
}

#[test]
fn enrolled_once_in_the_directory_a_user_logs_in_on_two_hosts_and_a_code_used_on_one_is_refused_on_the_other(
) {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    // Root on host A runs `twofold enroll --user alice` (the builder's enrollment): the
    // state goes to alice's entry, and host B never enrolls her.
    let a = fleet_host(&dir, "host-a", true, false);
    let b = fleet_host(&dir, "host-b", false, false);
    let stored = dir.search_as(
        "cn=host-b,ou=hosts,dc=example,dc=org",
        "host-b-secret",
        "alice",
        "twofoldState",
    );
    stored.assert_success();
    assert!(
        stored.stdout.contains("twofoldState::"),
        "the enrollment is not on alice's entry:\n{stored}"
    );

    let code = a.totp("alice");
    a.ssh("alice").answer_with(&code).run().assert_success();
    let first = a.decision(1);
    first.assert("alice", "totp", "success");
    assert!(
        !first.reason().contains("plain_ldap"),
        "TLS expected: {first:?}"
    );
    // The same code on host B, within its 90 s window: refused, as a replay.
    b.ssh("alice").answer_with(&code).run().assert_failure();
    b.decision(1)
        .assert_denied("alice", "totp")
        .assert_reason_contains("replay");
    // The next step's code works on B, and then not on A.
    let next = a.totp_in_steps("alice", 1);
    b.ssh("alice").answer_with(&next).run().assert_success();
    b.decision(2).assert("alice", "totp", "success");
    a.ssh("alice").answer_with(&next).run().assert_failure();
    a.decision(2)
        .assert_denied("alice", "totp")
        .assert_reason_contains("replay");

    // A server that accepts connections and never answers (frozen): the login is refused
    // once `timeout` (3 s) has run out, not left hanging (the module logs nothing until
    // it returns, and the harness's ssh gives up after 30 s).
    let later = a.totp_in_steps("alice", 2);
    dir.freeze();
    a.ssh("alice").answer_with(&later).run().assert_failure();
    dir.thaw();
    a.decision(3)
        .assert_refused("alice")
        .assert_reason_contains("directory unreachable")
        .assert_reason_contains("timeout");
    // No server at all: refused, with the reason in the auth log.
    dir.stop();
    a.ssh("alice").answer_with(&later).run().assert_failure();
    a.decision(4)
        .assert_refused("alice")
        .assert_reason_contains("directory unreachable");
}

#[test]
fn a_directory_whose_certificate_the_ca_file_does_not_vouch_for_is_unreachable() {
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true, false);
    let stranger = fleet_host_trusting(&dir, "host-b", false, false, &Directory::other_ca());
    let code = a.totp("alice");
    stranger
        .ssh("alice")
        .answer_with(&code)
        .run()
        .assert_failure();
    stranger
        .decision(1)
        .assert_refused("alice")
        .assert_reason_contains("directory unreachable")
        .assert_reason_contains("invalid peer certificate");
    // The code was not used: the host trusting the right CA takes it.
    a.ssh("alice").answer_with(&code).run().assert_success();
}

/// slapd with alice and host-a's account (plain ldap://), and a state host-a gave alice as
/// a first enrollment does (the class and the value); host-a's and alice's DNs.
fn alice_with_a_state_from_host_a() -> (Directory, &'static str, &'static str) {
    let dir = Directory::start(0);
    dir.add_user("alice", "alice-password");
    dir.add_host("host-a", "host-a-secret", true);
    let host_dn = "cn=host-a,ou=hosts,dc=example,dc=org";
    let alice_dn = "uid=alice,ou=people,dc=example,dc=org";
    dir.modify_as(
        host_dn,
        "host-a-secret",
        "alice",
        "add: objectClass\nobjectClass: twofoldUser\n-\nadd: twofoldState\ntwofoldState: state-of-alice\n",
    )
    .assert_success();
    (dir, host_dn, alice_dn)
}

#[test]
fn a_user_with_their_own_password_can_neither_read_nor_write_their_twofold_state() {
    let (dir, host_dn, alice_dn) = alice_with_a_state_from_host_a();
    // The host reads it; the same search as alice returns her entry without it.
    let as_host = dir.search_as(host_dn, "host-a-secret", "alice", "twofoldState");
    as_host.assert_success();
    assert!(
        as_host.stdout.contains("twofoldState: state-of-alice"),
        "{as_host}"
    );
    let as_alice = dir.search_as(alice_dn, "alice-password", "alice", "twofoldState");
    as_alice.assert_success();
    assert!(as_alice.stdout.contains(alice_dn), "{as_alice}");
    assert!(!as_alice.stdout.contains("twofoldState"), "{as_alice}");
    // Neither replace, delete nor add: insufficient access (50), and the value stays.
    for change in [
        "replace: twofoldState\ntwofoldState: mine\n",
        "delete: twofoldState\n",
        "delete: objectClass\nobjectClass: twofoldUser\n",
    ] {
        let out = dir.modify_as(alice_dn, "alice-password", "alice", change);
        out.assert_failure()
            .assert_stderr_contains("Insufficient access (50)");
    }
    let after = dir.search_as(
        host_dn,
        "host-a-secret",
        "alice",
        "twofoldState objectClass",
    );
    assert!(
        after.stdout.contains("twofoldState: state-of-alice"),
        "{after}"
    );
    assert!(after.stdout.contains("objectClass: twofoldUser"), "{after}");
}

/// A used item's entry below a user's is the hosts' alone: a host adds, reads and deletes
/// it; the user, with their own password, can neither see it, nor delete it (which would
/// make a used code usable again), nor add one; nor may a host add any other kind of entry
/// there.
#[test]
fn a_used_items_entry_is_written_and_read_by_hosts_only() {
    let (dir, host_dn, alice_dn) = alice_with_a_state_from_host_a();
    let item = |name: &str| {
        format!(
            "dn: twofoldUsed={name},{alice_dn}\nobjectClass: twofoldUsedItem\n\
             twofoldUsed: {name}\ntwofoldOwner: alice\n"
        )
    };
    let used = format!("r-{}", "0".repeat(32));
    let used_dn = format!("twofoldUsed={used},{alice_dn}");
    dir.add_as(host_dn, "host-a-secret", &item(&used))
        .assert_success();
    // The same item again: entryAlreadyExists, which a login takes for "used elsewhere".
    dir.add_as(host_dn, "host-a-secret", &item(&used))
        .assert_failure()
        .assert_stderr_contains("Already exists (68)");
    assert_eq!(
        dir.below_as(host_dn, "host-a-secret", "alice"),
        std::slice::from_ref(&used_dn)
    );
    assert!(dir.below_as(alice_dn, "alice-password", "alice").is_empty());
    dir.delete_as(alice_dn, "alice-password", &used_dn)
        .assert_failure()
        .assert_stderr_contains("Insufficient access (50)");
    dir.add_as(
        alice_dn,
        "alice-password",
        &item(&format!("p-{}", "1".repeat(32))),
    )
    .assert_failure()
    .assert_stderr_contains("Insufficient access (50)");
    dir.add_as(
        host_dn,
        "host-a-secret",
        &format!("dn: cn=other,{alice_dn}\nobjectClass: applicationProcess\ncn: other\n"),
    )
    .assert_failure()
    .assert_stderr_contains("Insufficient access (50)");
    assert_eq!(
        dir.used_items_on(0, "alice"),
        std::slice::from_ref(&used_dn)
    );
    dir.delete_as(host_dn, "host-a-secret", &used_dn)
        .assert_success();
    assert!(dir.used_items_on(0, "alice").is_empty());
}

#[test]
fn one_code_raced_by_logins_on_two_hosts_admits_exactly_one_in_the_fleet() {
    const RACERS: usize = 10;
    const GO: &str = "/tmp/go";
    let dir = Directory::start(2);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true, true);
    let b = fleet_host(&dir, "host-b", false, true);
    let code = a.totp("alice");

    let outputs: Vec<_> = std::thread::scope(|scope| {
        let logins: Vec<_> = (0..RACERS)
            .flat_map(|_| [&a, &b])
            .map(|host| {
                let login = host.ssh("alice").answer_with(&code).hold_answer_until(GO);
                scope.spawn(move || login.run())
            })
            .collect();
        // Every login has read alice's state and waits at the prompt: then all answer.
        for host in [&a, &b] {
            host.run(&format!(
                "for _ in $(seq 600); do [ $(ls /tmp/login.*/waiting 2>/dev/null | wc -l) -ge {RACERS} ] \
                 && exit 0; sleep 0.05; done; echo not all logins reached the prompt >&2; exit 1"
            ))
            .assert_success();
        }
        for host in [&a, &b] {
            host.run(&format!(": >{GO}")).assert_success();
        }
        logins
            .into_iter()
            .map(|login| login.join().expect("login thread"))
            .collect()
    });

    let admitted = outputs.iter().filter(|out| out.success()).count();
    assert_eq!(
        admitted,
        1,
        "one code let {admitted} of {} logins on two hosts in",
        2 * RACERS
    );
    // Every login was decided by the module: one success in the fleet, the rest refused.
    let decisions: Vec<_> = [&a, &b]
        .iter()
        .flat_map(|host| host.decisions(RACERS))
        .collect();
    assert_eq!(decisions.len(), 2 * RACERS);
    let successes = decisions.iter().filter(|d| d.result() == "success").count();
    assert_eq!(successes, 1, "{successes} successes logged");
    // Over plain LDAP, every decision says so.
    assert!(
        decisions
            .iter()
            .all(|d| d.reason().contains("plain_ldap_for_tests = true")),
        "{decisions:?}"
    );
}

/// `twofold doctor` as root on a directory host reads alice's state from her entry (she
/// has no file on this host), and when the directory cannot be reached says that this is
/// what refuses her logins.
#[test]
fn the_doctor_reads_the_state_from_the_directory_and_says_when_it_is_unreachable() {
    let dir = Directory::start(1);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true, false);
    let text = a.twofold("doctor --user alice");
    assert!(
        text.stdout
            .contains("ssh: publickey, then a code from their device or one of 10 recovery codes"),
        "{text}"
    );

    dir.stop();
    let out = a.twofold("--json doctor --user alice");
    assert_eq!(out.status, 1, "{out}");
    let json = out.json();
    let refused = json["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings:\n{out}"))
        .iter()
        .find(|f| f["id"] == "user.file-refused" && f["subject"] == "user:alice")
        .unwrap_or_else(|| panic!("alice's unreachable state is not a finding:\n{out}"));
    assert_eq!(refused["severity"], "error", "{out}");
    assert!(
        refused["what"].as_str().unwrap().contains("unreachable"),
        "{out}"
    );
}

/// A login that commits deletes used items' entries that can no longer matter: here a
/// step's entry and the entry of a code no state holds, both made in 2020 (the
/// administrator sets their `createTimestamp`), while the entry of the step it used stays.
#[test]
fn a_login_deletes_the_used_items_entries_too_old_to_matter() {
    let dir = Directory::start(1);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", true, false);
    let old = |name: String| {
        format!(
            "dn: twofoldUsed={name},uid=alice,ou=people,dc=example,dc=org\n\
             objectClass: twofoldUsedItem\ntwofoldUsed: {name}\ntwofoldOwner: alice\n\
             createTimestamp: 20200101000000Z\n\n"
        )
    };
    let step = old(format!("t-{}-1", "0".repeat(32)));
    let code = old(format!("r-{}", "0".repeat(32)));
    dir.add_relaxed(&format!("{step}{code}"));
    assert_eq!(dir.used_items_on(0, "alice").len(), 2);

    a.ssh("alice")
        .answer_with(&a.totp("alice"))
        .run()
        .assert_success();
    let items = dir.used_items_on(0, "alice");
    assert_eq!(items.len(), 1, "{items:#?}");
    assert!(items[0].starts_with("twofoldUsed=t-"), "{items:#?}");
    assert!(!items[0].starts_with(&format!("twofoldUsed=t-{}", "0".repeat(32))));
}
