//! A fleet on the directory backend (issue 18): three hosts with our .deb and two writable
//! slapd servers in multi-provider replication, `uri = ["ldaps://ldap1", "ldaps://ldap2"]`,
//! all on `--internal` Docker networks of the test's own. The hosts find the servers
//! through /etc/hosts (see `Directory::start_replicated`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twofold_e2e::{Directory, Host, Output, SshAuth, User};

/// A host of the fleet: alice's local account, a break-glass account `rescue` (exempt
/// group `breakglass`), sshd with the packaged examples, and the `[directory]` table of its
/// own host account over TLS to the servers `order` (indices), in that order.
fn fleet_host(dir: &Directory, name: &str, order: &[usize], enroll: bool) -> Host {
    let password = format!("{name}-secret");
    let config = format!(
        "exempt_groups = [\"breakglass\"]\n{}",
        dir.add_host_using(name, &password, false, order)
    );
    let mut builder = Host::new()
        .network(dir.network())
        .user("alice")
        .user(User::new("rescue").group("breakglass"))
        .sshd(SshAuth::PublickeyThenTotp)
        .config(&config)
        .file("/etc/twofold/ldap-ca.pem", dir.ca())
        .secret_file("/etc/twofold/ldap.secret", &format!("{password}\n"));
    for (server, address) in dir.hosts_entries() {
        builder = builder.hosts_entry(&server, &address);
    }
    if enroll {
        builder.enrolled("alice").build()
    } else {
        builder.build()
    }
}

/// Hosts A (root enrolls alice there), B and C, each with `uri = [ldap1, ldap2]`.
fn fleet(dir: &Directory) -> [Host; 3] {
    dir.add_user("alice", "alice-password");
    [
        fleet_host(dir, "host-a", &[0, 1], true),
        fleet_host(dir, "host-b", &[0, 1], false),
        fleet_host(dir, "host-c", &[0, 1], false),
    ]
}

/// Waits, if need be, for the next 30 s TOTP step, so that at least `secs` seconds of the
/// current one remain: the codes of the previous, current and next steps then all stay
/// valid that long (the containers share the host's clock).
fn with_time_left_in_step(secs: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64;
    let left = 30_000 - now % 30_000;
    if left < secs * 1000 {
        std::thread::sleep(Duration::from_millis(left + 200));
    }
}

/// A login, and how long it took end to end (ssh in the container, through `docker exec`).
fn timed(login: twofold_e2e::SshLogin<'_>) -> (Output, Duration) {
    let started = Instant::now();
    let out = login.run();
    (out, started.elapsed())
}

#[test]
fn enrolled_once_a_user_logs_in_on_three_hosts_and_a_code_used_on_one_is_refused_on_the_others() {
    let dir = Directory::start_replicated(3);
    let [a, b, c] = fleet(&dir);

    with_time_left_in_step(10);
    // The previous step's code on A, then the same code on B and on C: replays.
    let used = a.totp_in_steps("alice", -1);
    a.ssh("alice")
        .answer_with(&used)
        .run()
        .assert_success()
        .assert_stdout("alice");
    a.decision(1).assert("alice", "totp", "success");
    for host in [&b, &c] {
        host.ssh("alice").answer_with(&used).run().assert_failure();
        host.decision(1)
            .assert_denied("alice", "totp")
            .assert_reason_contains("replay");
    }
    // B and C log in with codes of their own (the current and the next step).
    for (host, steps) in [(&b, 0), (&c, 1)] {
        let code = a.totp_in_steps("alice", steps);
        host.ssh("alice")
            .answer_with(&code)
            .run()
            .assert_success()
            .assert_stdout("alice");
        host.decision(2).assert("alice", "totp", "success");
    }
}

/// Lets `RACERS` logins on each host answer `answer` at the same moment, once every one of
/// them has read alice's state and waits at the prompt. Returns the logins' outputs and
/// every host's decisions (which must be exactly the race's).
fn race(hosts: &[Host], answer: &str) -> (Vec<Output>, Vec<twofold_e2e::Decision>) {
    const RACERS: usize = 20;
    const GO: &str = "/tmp/go";
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let logins: Vec<_> = (0..RACERS)
            .flat_map(|_| hosts.iter())
            .map(|host| {
                let login = (host.ssh("alice").answer_with(answer))
                    .hold_answer_until(GO)
                    .time_limit(180);
                scope.spawn(move || login.run())
            })
            .collect();
        for host in hosts {
            host.run(&format!(
                "for _ in $(seq 2400); do [ $(ls /tmp/login.*/waiting 2>/dev/null | wc -l) -ge {RACERS} ] \
                 && exit 0; sleep 0.05; done; echo not all logins reached the prompt >&2; exit 1"
            ))
            .assert_success();
        }
        for host in hosts {
            host.run(&format!(": >{GO}")).assert_success();
        }
        logins
            .into_iter()
            .map(|login| login.join().expect("login thread"))
            .collect()
    });
    let decisions: Vec<_> = hosts.iter().flat_map(|h| h.decisions(RACERS)).collect();
    assert_eq!(
        decisions.len(),
        hosts.len() * RACERS,
        "one decision per login: {decisions:#?}"
    );
    (outputs, decisions)
}

/// Exactly one login of the race got in, and exactly one success was logged, by `method`.
#[track_caller]
fn assert_one_admitted(outputs: &[Output], decisions: &[twofold_e2e::Decision], method: &str) {
    let admitted = outputs.iter().filter(|out| out.success()).count();
    let mut reasons: Vec<String> = decisions.iter().map(|d| d.reason().to_string()).collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(
        admitted,
        1,
        "one answer let {admitted} of {} logins on three hosts in; reasons: {reasons:#?}",
        outputs.len()
    );
    let successes: Vec<_> = decisions
        .iter()
        .filter(|d| d.result() == "success")
        .collect();
    assert_eq!(successes.len(), 1, "{successes:#?}");
    successes[0].assert("alice", method, "success");
}

#[test]
fn one_totp_code_raced_by_twenty_logins_on_each_of_three_hosts_admits_exactly_one() {
    let dir = Directory::start_replicated(3);
    let hosts = fleet(&dir);
    with_time_left_in_step(5);
    // The next step's code: valid for a minute and a half from now, however long the
    // logins take to reach the prompt.
    let code = hosts[0].totp_in_steps("alice", 1);
    let (outputs, decisions) = race(&hosts, &code);
    assert_one_admitted(&outputs, &decisions, "totp");
}

#[test]
fn one_recovery_code_raced_by_twenty_logins_on_each_of_three_hosts_admits_exactly_one() {
    let dir = Directory::start_replicated(3);
    let hosts = fleet(&dir);
    let recovery = hosts[0].enrollment("alice").recovery_codes[0].clone();
    let (outputs, decisions) = race(&hosts, &recovery);
    assert_one_admitted(&outputs, &decisions, "recovery");
}

#[test]
fn one_access_pass_raced_by_twenty_logins_on_each_of_three_hosts_admits_exactly_one() {
    let dir = Directory::start_replicated(3);
    let hosts = fleet(&dir);
    let issued = hosts[0].twofold("--json admin issue-pass alice --ttl 10m");
    issued.assert_success();
    let pass = issued.json()["pass"]
        .as_str()
        .expect("issue-pass JSON has a pass")
        .to_owned();
    let (outputs, decisions) = race(&hosts, &pass);
    assert_one_admitted(&outputs, &decisions, "pass");
}

#[test]
fn with_the_first_server_down_logins_go_through_the_second_and_with_both_down_only_break_glass_gets_in(
) {
    let dir = Directory::start_replicated(2);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", &[0, 1], true);
    let b = fleet_host(&dir, "host-b", &[0, 1], false);
    let recovery = a.enrollment("alice").recovery_codes.clone();

    with_time_left_in_step(10);
    let now = a.totp("alice");
    let (out, both_up) = timed(a.ssh("alice").answer_with(&now));
    out.assert_success();
    dir.wait_in_sync();

    // ldap1 stopped (its address refuses connections): B logs in through ldap2, and the
    // step it used is then refused on A, which also goes to ldap2.
    dir.stop_server(0);
    let next = a.totp_in_steps("alice", 1);
    let (out, first_stopped) = timed(b.ssh("alice").answer_with(&next));
    out.assert_success().assert_stdout("alice");
    b.decision(1).assert("alice", "totp", "success");
    a.ssh("alice").answer_with(&next).run().assert_failure();
    a.decision(2)
        .assert_denied("alice", "totp")
        .assert_reason_contains("replay");

    // ldap1 back but frozen (accepts connections, never answers): each login waits
    // `timeout` (3 s) for it, then goes on through ldap2.
    dir.start_server(0);
    dir.wait_in_sync();
    dir.freeze_server(0);
    let (out, first_frozen) = timed(b.ssh("alice").answer_with(&recovery[0]));
    dir.thaw_server(0);
    out.assert_success().assert_stdout("alice");
    b.decision(2).assert("alice", "recovery", "success");

    // Both stopped: refused, with the reason in the auth log; the break-glass account,
    // which never asks the directory, still logs in without a prompt.
    dir.stop_server(0);
    dir.stop_server(1);
    let (out, both_stopped) = timed(a.ssh("alice").answer_with(&recovery[1]));
    out.assert_failure().assert_not_timed_out();
    a.decision(3)
        .assert_refused("alice")
        .assert_reason_contains("directory unreachable");
    a.ssh("rescue")
        .run()
        .assert_success()
        .assert_stdout("rescue")
        .assert_no_prompt();
    a.decision(4).assert("rescue", "exempt", "ignore");

    eprintln!(
        "login end to end: both servers up {both_up:?}; ldap1 stopped {first_stopped:?}; \
         ldap1 frozen {first_frozen:?} (timeout 3 s); both stopped (refused) {both_stopped:?}"
    );
}

#[test]
fn a_host_cut_from_the_network_refuses_at_once_and_logs_in_again_when_it_rejoins() {
    let dir = Directory::start_replicated(1);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", &[0, 1], true);

    with_time_left_in_step(10);
    let now = a.totp("alice");
    a.ssh("alice").answer_with(&now).run().assert_success();

    dir.cut(&a);
    let next = a.totp_in_steps("alice", 1);
    // Both servers' addresses are unreachable: refused well within the time limit (the
    // 3 s timeout per server), not left hanging.
    let (out, cut) = timed(a.ssh("alice").answer_with(&next).time_limit(20));
    out.assert_failure().assert_not_timed_out();
    let refusal = a.decision(2);
    refusal
        .assert_refused("alice")
        .assert_reason_contains("directory unreachable");
    // The rescue account gets in while cut off.
    a.ssh("rescue").run().assert_success().assert_no_prompt();

    // Back on the network: the code the cut-off login could not use works.
    dir.rejoin(&a);
    a.ssh("alice")
        .answer_with(&next)
        .run()
        .assert_success()
        .assert_stdout("alice");
    a.decision(4).assert("alice", "totp", "success");

    eprintln!(
        "login of a host cut from the network, refused after {cut:?}: {}",
        refusal.reason()
    );
}

/// SECURITY.md's recommended setup: one writable server and a read-only replica after it
/// in `uri`. While the provider is down the replica answers the read but refuses the
/// login's write, so the login is refused (nothing accepted that was not recorded), and
/// the code still works once the provider is back.
#[test]
fn with_a_read_only_replica_as_fallback_logins_are_refused_while_the_writable_server_is_down() {
    let dir = Directory::start_with_read_only_replica(1);
    dir.add_user("alice", "alice-password");
    let a = fleet_host(&dir, "host-a", &[0, 1], true);
    dir.wait_in_sync();

    with_time_left_in_step(10);
    let code = a.totp("alice");
    dir.stop_server(0);
    let (out, refused) = timed(a.ssh("alice").answer_with(&code));
    out.assert_failure().assert_not_timed_out();
    let refusal = a.decision(1);
    refusal
        .assert_refused("alice")
        .assert_reason_contains("state not saved")
        .assert_reason_contains("read-only replica");
    a.ssh("rescue").run().assert_success().assert_no_prompt();

    dir.start_server(0);
    a.ssh("alice")
        .answer_with(&code)
        .run()
        .assert_success()
        .assert_stdout("alice");
    a.decision(3).assert("alice", "totp", "success");
    eprintln!(
        "login with the provider down and the replica up, refused after {refused:?}: {}",
        refusal.reason()
    );
}

/// A host of a split fleet and the decisions it has logged so far.
struct Side<'a> {
    host: &'a Host,
    logged: usize,
}

impl Side<'_> {
    /// Logs alice in with `answer`: accepted with `method` when `accepted`, else denied,
    /// and the reason logged contains `because`.
    #[track_caller]
    fn login(&mut self, answer: &str, method: &str, accepted: bool, because: &str) {
        let out = self.host.ssh("alice").answer_with(answer).run();
        self.logged += 1;
        let decision = self.host.decision(self.logged);
        if accepted {
            out.assert_success().assert_stdout("alice");
            decision.assert("alice", method, "success");
        } else {
            out.assert_failure();
            decision.assert_denied("alice", method);
        }
        decision.assert_reason_contains(because);
    }
}

/// Two writable servers cut from each other while hosts reach both (SECURITY.md, "Two
/// directory servers"): each side takes writes, so an item can be accepted once on each
/// side during the split (inherent). When they meet again, replication keeps the state
/// written last, whole, but the used items' entries of both sides: every item used on
/// either side is refused on every host, whichever side wrote last.
#[test]
fn two_writable_servers_split_from_each_other_never_make_an_item_used_on_either_side_usable_again()
{
    let dir = Directory::start_replicated(2);
    dir.add_user("alice", "alice-password");
    // Each host prefers its own side's server.
    let a = fleet_host(&dir, "host-a", &[0, 1], true);
    let b = fleet_host(&dir, "host-b", &[1, 0], false);
    let recovery = a.enrollment("alice").recovery_codes.clone();
    let issued = a.twofold("--json admin issue-pass alice --ttl 10m");
    issued.assert_success();
    let pass = issued.json()["pass"]
        .as_str()
        .expect("issue-pass JSON has a pass")
        .to_owned();
    dir.wait_in_sync();
    let (mut on_a, mut on_b) = (
        Side {
            host: &a,
            logged: 0,
        },
        Side {
            host: &b,
            logged: 0,
        },
    );

    dir.split();
    // One recovery code, accepted on each side: the split allows that much.
    on_a.login(&recovery[0], "recovery", true, "accepted");
    on_b.login(&recovery[0], "recovery", true, "accepted");
    // ldap1's side: a second recovery code, the pass and the next step's code; ldap2's
    // side: a third recovery code and the current step's code, written last, so ldap2's
    // state wins the entry (the state that never saw ldap1's uses).
    with_time_left_in_step(25);
    let next = a.totp_in_steps("alice", 1);
    let current = a.totp("alice");
    on_a.login(&recovery[1], "recovery", true, "accepted");
    on_a.login(&pass, "pass", true, "accepted");
    on_a.login(&next, "totp", true, "accepted");
    on_b.login(&recovery[2], "recovery", true, "accepted");
    on_b.login(&current, "totp", true, "accepted");
    let last_write = dir.state_on(1, "alice");
    assert_ne!(
        dir.state_on(0, "alice"),
        last_write,
        "the servers were split"
    );

    let healing = Instant::now();
    dir.heal();
    dir.wait_in_sync();
    eprintln!("servers in sync {:?} after the heal", healing.elapsed());
    assert_eq!(dir.state_on(0, "alice"), last_write, "ldap2's entry, whole");
    assert_eq!(dir.state_on(1, "alice"), last_write);
    // The used items' entries of both sides, on both: three recovery codes (the first
    // used on each side, one entry), the pass and two steps.
    let items = dir.used_items_on(0, "alice");
    assert_eq!(items.len(), 6, "{items:#?}");
    assert_eq!(dir.used_items_on(1, "alice"), items);
    // The CLI reads what logins read (so do `admin migrate` and `status`): ldap2's state
    // without the used items, three recovery codes gone, no pass.
    let status = a.twofold("--json admin status alice");
    status.assert_success();
    assert_eq!(status.json()["recovery_codes_left"], 7, "{status}");
    assert!(status.json()["pass"].is_null(), "{status}");
    // Every item used on either side, refused on both hosts (each through its own server):
    // ldap2's state never saw ldap1's uses, their entries refuse them.
    for side in [&mut on_a, &mut on_b] {
        for code in &recovery[..3] {
            side.login(code, "recovery", false, "already used");
        }
        side.login(&pass, "pass", false, "no temporary access pass");
        for code in [&next, &current] {
            side.login(code, "totp", false, "replay");
        }
    }
    // What neither side used still works, on either.
    on_a.login(&recovery[3], "recovery", true, "accepted");
    on_b.login(&recovery[4], "recovery", true, "accepted");
}
