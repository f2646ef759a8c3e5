//! Crash safety: processes are SIGKILLed in the middle of every kind of state update, and the
//! secret file must come through whole.
//!
//! Updates: logins through the real module (a right TOTP code records its step, a wrong one
//! counts a failure, a recovery code and a temporary access pass are used up) and the CLI's
//! edits (recovery regenerate, device add, device remove), done here by a child process that
//! drives the core's store the way the CLI does: open, lock, read, change, write.
//!
//! Kill points:
//! - every syscall the process makes on the secret directory and its files (read, lock,
//!   temp file, write, fsync, rename, fsync of the directory, unlock): `strace -P <those paths>
//!   -e inject=SYSCALL:error=EIO:signal=KILL:when=N` kills it on entry to the Nth such call,
//!   before the call takes effect (`-P` makes N count only those calls, so it is the same
//!   call in every run);
//! - without strace, for real timing: logins killed after delays swept across a whole login,
//!   and a child that repeats its edit and the inverse in a loop until killed at a random
//!   moment, so most of those kills land inside the write path.
//!
//! After each kill: the file parses, is the old or the new version (never a mix, never empty,
//! no device or code lost), a success that was reported is in the file (the code is used up),
//! and the next update works (the lock is free, a stale temp file is cleaned up).
//!
//! SIGKILL leaves the page cache alone: this proves atomicity against a dying process, not
//! against power loss (that is what the fsyncs are for; their order is checked by
//! `every_update_fsyncs_the_file_before_the_rename_and_the_directory_after`).

mod common;
use common::*;

use data_encoding::{BASE32_NOPAD, BASE64};
use std::io::{BufRead, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use twofold_core::codes::{classify, generate, grouped, PASS_LEN, RECOVERY_LEN};
use twofold_core::config::Config;
use twofold_core::kdf::{self, KdfParams, Purpose};
use twofold_core::secret::{AccessPass, Device, RecoveryCodes, SecretFile};
use twofold_core::store::{Location, Owner, SecretStore};
use twofold_core::verify::{decide, Origin};

const ALICE: u32 = 4242;
/// argon2 as cheap as the format allows: the module reads the parameters from the file, so
/// logins with recovery codes stay fast, and hashing is not what this test is about.
const CHEAP: KdfParams = KdfParams {
    m_kib: 8,
    t: 1,
    p: 1,
};
/// Set in the environment of a child that runs one CLI-like edit (see `child_store_operation`).
const CHILD_OP: &str = "TWOFOLD_CRASH_CHILD_OP";
/// The store's syscalls (those on the secret directory's files are the kill points).
const FILE_SYSCALLS: &str =
    "openat,unlinkat,mkdirat,read,write,pwrite64,ftruncate,fstat,newfstatat,statx,fsync,fdatasync,close,flock,rename,renameat,renameat2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TotpSuccess,
    TotpFailure,
    Recovery,
    Pass,
    Regenerate,
    DeviceAdd,
    DeviceRemove,
}

impl Op {
    const ALL: [Op; 7] = [
        Op::TotpSuccess,
        Op::TotpFailure,
        Op::Recovery,
        Op::Pass,
        Op::Regenerate,
        Op::DeviceAdd,
        Op::DeviceRemove,
    ];

    fn is_login(self) -> bool {
        matches!(
            self,
            Op::TotpSuccess | Op::TotpFailure | Op::Recovery | Op::Pass
        )
    }

    fn child_name(self) -> &'static str {
        match self {
            Op::Regenerate => "regenerate",
            Op::DeviceAdd => "device-add",
            Op::DeviceRemove => "device-remove",
            _ => unreachable!("logins run pamtester"),
        }
    }
}

fn hashed(purpose: Purpose, codes: &[String]) -> RecoveryCodes {
    let salt = kdf::new_salt().unwrap();
    let hashes = codes
        .iter()
        .map(|c| BASE64.encode(kdf::hash(CHEAP, purpose, &salt, c).unwrap().as_ref()))
        .collect();
    RecoveryCodes {
        kdf: CHEAP,
        salt: BASE64.encode(&salt),
        hashes,
        created: now(),
    }
}

/// Whether `codes` is exactly the hashes of `plain`.
fn codes_are(codes: &Option<RecoveryCodes>, plain: &[String]) -> bool {
    codes.as_ref().is_some_and(|r| {
        let salt = BASE64.decode(r.salt.as_bytes()).unwrap();
        let mut want: Vec<String> = plain
            .iter()
            .map(|c| {
                BASE64.encode(
                    kdf::hash(r.kdf, Purpose::Recovery, &salt, c)
                        .unwrap()
                        .as_ref(),
                )
            })
            .collect();
        let mut have = r.hashes.clone();
        want.sort();
        have.sort();
        want == have
    })
}

fn ids(devices: &[Device]) -> Vec<(String, String)> {
    devices
        .iter()
        .map(|d| (d.name.clone(), d.secret.base32().to_string()))
        .collect()
}

/// One user, her secret file before any update, and the credentials each update uses or adds.
struct World {
    host: Host,
    base: SecretFile,
    phone: Enrolled,
    recovery: Vec<String>,
    pass: String,
    new_codes: Vec<String>,
    tablet: Device,
}

impl World {
    fn new() -> World {
        let mut host = Host::new();
        host.user("alice", ALICE);
        let phone = host.enroll("alice", ALICE, 0);
        let mut base = host.read_file("alice", ALICE);
        let mut laptop_key = [0u8; 20];
        getrandom_fill(&mut laptop_key);
        base.devices.push(device("laptop", &laptop_key));
        let recovery: Vec<String> = (0..3)
            .map(|_| generate(RECOVERY_LEN).unwrap().to_string())
            .collect();
        base.recovery = Some(hashed(Purpose::Recovery, &recovery));
        let pass = generate(PASS_LEN).unwrap().to_string();
        let salt = kdf::new_salt().unwrap();
        base.pass = Some(AccessPass {
            kdf: CHEAP,
            salt: BASE64.encode(&salt),
            hash: BASE64.encode(
                kdf::hash(CHEAP, Purpose::Pass, &salt, &pass)
                    .unwrap()
                    .as_ref(),
            ),
            issued: now(),
            expires: now() + 3600,
            issued_by: "root".into(),
        });
        let new_codes = (0..3)
            .map(|_| generate(RECOVERY_LEN).unwrap().to_string())
            .collect();
        let mut tablet_key = [0u8; 20];
        getrandom_fill(&mut tablet_key);
        let world = World {
            host,
            base,
            phone,
            recovery,
            pass,
            new_codes,
            tablet: device("tablet", &tablet_key),
        };
        // For the child that undoes its edit in a loop; outside the secret directory.
        std::fs::write(
            base_copy_path(&world.path()),
            world.base.to_toml().unwrap().as_bytes(),
        )
        .unwrap();
        world.reset();
        world
    }

    fn path(&self) -> PathBuf {
        self.host.secret_path("alice")
    }

    /// Puts the old version back, through the store as every writer does: this also proves
    /// that the store still works after the kill (lock free, stale temp file removed).
    fn reset(&self) {
        self.host.write_file("alice", ALICE, &self.base);
        assert_eq!(self.read(), self.base);
    }

    /// The file as the module reads it: ownership, mode and format checked.
    fn read(&self) -> SecretFile {
        let loc = self.host.location("alice", ALICE);
        let store = SecretStore::open(&loc)
            .unwrap()
            .expect("secret directory exists");
        match store.read() {
            Ok(Some(f)) => f,
            Ok(None) => panic!("secret file is gone"),
            Err(e) => panic!(
                "secret file unreadable after a kill: {e}\n{:?}",
                std::fs::read(self.path())
            ),
        }
    }

    fn typed(&self, op: Op) -> String {
        let code = self.phone.code_at(now());
        match op {
            Op::TotpSuccess => code,
            Op::TotpFailure => format!(
                "{:06}",
                (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
            ),
            Op::Recovery => grouped(&self.recovery[1]),
            Op::Pass => grouped(&self.pass),
            _ => String::new(),
        }
    }

    /// The process that performs `op`, optionally under strace (`wrap`).
    fn command(&self, op: Op, wrap: &[String], repeat: bool) -> Command {
        if op.is_login() {
            // The harness's namespace: the module's build directory, our syslog socket, and a
            // private /tmp (pam_wrapper keeps a directory per process in /tmp/pam.X, X one of
            // 62 letters; a killed process leaves it behind, often without the pid that would
            // let pam_wrapper clean it up, and once the letters run out every pam_wrapper user
            // on the machine fails).
            let script = format!("{} && exec \"$@\"", self.host.namespace_setup());
            // The wrappers are preloaded into pamtester only, not into unshare, sh and mount,
            // which would otherwise make pam_wrapper directories in the real /tmp.
            let root = &self.host.root;
            let env = [
                "LD_PRELOAD=libpam_wrapper.so libnss_wrapper.so".to_string(),
                "PAM_WRAPPER=1".to_string(),
                format!("PAM_WRAPPER_SERVICE_DIR={}", root.join("pam.d").display()),
                format!("NSS_WRAPPER_PASSWD={}", root.join("passwd").display()),
                format!("NSS_WRAPPER_GROUP={}", root.join("group").display()),
            ];
            let mut cmd = Command::new("unshare");
            cmd.args(["-m", "sh", "-c", &script, "sh"])
                .args(wrap)
                .arg("env")
                .args(env)
                .args(["pamtester", "-v", "twofold", "alice", "authenticate"]);
            cmd
        } else {
            let exe = std::env::current_exe().unwrap();
            let mut cmd = if wrap.is_empty() {
                Command::new(&exe)
            } else {
                let mut c = Command::new(&wrap[0]);
                c.args(&wrap[1..]).arg(&exe);
                c
            };
            cmd.args([
                "--exact",
                "child_store_operation",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_OP, op.child_name())
            .env("TWOFOLD_CRASH_PATH", self.path())
            .env("TWOFOLD_CRASH_CODES", self.new_codes.join(","))
            .env("TWOFOLD_CRASH_TABLET", self.tablet.secret.base32())
            .env("TWOFOLD_CRASH_REPEAT", if repeat { "1" } else { "0" });
            cmd
        }
    }

    /// Starts `op`; returns the child and what it was given to type.
    fn spawn(&self, op: Op, wrap: &[String], repeat: bool) -> (Child, String) {
        let typed = self.typed(op);
        let mut child = self
            .command(op, wrap, repeat)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(format!("{typed}\n").as_bytes());
        (child, typed)
    }

    /// Which version of the file this is, for `op`: its old one, or the one `op` writes.
    fn version(&self, op: Op, f: &SecretFile) -> Version {
        if *f == self.base {
            return Version::Old;
        }
        let b = &self.base;
        let same = |devices: bool, recovery: bool, pass: bool| {
            (!devices || f.devices == b.devices)
                && (!recovery || f.recovery == b.recovery)
                && (!pass || f.pass == b.pass)
        };
        let login = |method: &str| {
            f.state.failures == 0 && f.state.last_login_method.as_deref() == Some(method)
        };
        let new = match op {
            Op::TotpSuccess => {
                let mut expected = b.devices.clone();
                expected[0].last_step = f.devices.first().map_or(0, |d| d.last_step);
                same(false, true, true)
                    && f.devices == expected
                    && f.devices[0].last_step > 0
                    && login("totp")
            }
            Op::TotpFailure => same(true, true, true) && f.state.failures == b.state.failures + 1,
            Op::Recovery => {
                let mut rest = self.recovery.clone();
                rest.remove(1);
                same(true, false, true)
                    && codes_are(&f.recovery, &rest)
                    && f.recovery.as_ref().map(|r| &r.salt) == b.recovery.as_ref().map(|r| &r.salt)
                    && login("recovery")
            }
            Op::Pass => same(true, true, false) && f.pass.is_none() && login("pass"),
            Op::Regenerate => {
                same(true, false, true)
                    && codes_are(&f.recovery, &self.new_codes)
                    && f.state == b.state
            }
            Op::DeviceAdd => {
                let mut expected = ids(&b.devices);
                expected.push(("tablet".into(), self.tablet.secret.base32().into()));
                same(false, true, true) && ids(&f.devices) == expected && f.state == b.state
            }
            Op::DeviceRemove => {
                same(false, true, true)
                    && ids(&f.devices) == ids(&b.devices[..1])
                    && f.state == b.state
            }
        };
        if new {
            Version::New
        } else {
            Version::Neither
        }
    }

    /// The checks after one run of `op` that ended in `status` (killed or not).
    fn check(&self, op: Op, run: &Run, how: &str) -> Outcome {
        let Run {
            status,
            stdout,
            typed,
        } = run;
        let f = self.read();
        let version = self.version(op, &f);
        let killed = status.signal() == Some(9) || status.code() == Some(128 + 9);
        let reported = if op.is_login() {
            status.success()
        } else {
            stdout.contains("done")
        };
        let logs = self.host.all_logs();
        let last_log = logs.last().map_or("", String::as_str);
        let ctx = format!("{op:?} {how}: killed={killed} reported={reported} status={status:?} (last log: {last_log}) output: {stdout:?}");
        assert_ne!(
            version,
            Version::Neither,
            "{ctx}: the file is neither the old nor the new version:\n{f:#?}"
        );
        if reported {
            assert_eq!(
                version,
                Version::New,
                "{ctx}: success was reported but the file is the old version"
            );
        }
        if !killed && op != Op::TotpFailure {
            assert!(reported, "{ctx}: not killed, yet no success");
        }
        // The code a login used is usable again exactly when its use was not recorded.
        if matches!(op, Op::TotpSuccess | Op::Recovery | Op::Pass) {
            let attempt = classify(typed.as_bytes());
            let origin = Origin {
                rhost: None,
                service: "check",
            };
            let usable = decide(&f, &attempt, &Config::default(), now(), &origin).accepted;
            assert_eq!(
                usable,
                version == Version::Old,
                "{ctx}: code usable={usable} with the {version:?} file"
            );
        }
        let dir = self.path().parent().unwrap().to_path_buf();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                ["secrets.toml", "secrets.toml.lock", ".secrets.toml.tmp"].contains(&name.as_str()),
                "{ctx}: unexpected file {name} in {}",
                dir.display()
            );
        }
        Outcome { killed, version }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Old,
    New,
    Neither,
}

struct Outcome {
    killed: bool,
    version: Version,
}

#[derive(Default)]
struct Tally {
    runs: usize,
    killed: usize,
    old: usize,
    new: usize,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        self.runs += 1;
        self.killed += usize::from(o.killed);
        self.old += usize::from(o.version == Version::Old);
        self.new += usize::from(o.version == Version::New);
    }
}

/// How one run of an operation ended.
struct Run {
    status: ExitStatus,
    stdout: String,
    typed: String,
}

fn output((mut child, typed): (Child, String)) -> Run {
    let mut stdout = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut stdout);
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    stdout.push_str(&stderr);
    Run {
        status: child.wait().unwrap(),
        stdout,
        typed,
    }
}

/// strace, watching only the secret directory and the files in it (`-P`: a call on a
/// descriptor counts when the descriptor is one of them, an `*at` call when its directory
/// is). Injection counters count only those calls, so the Nth call is the same one in every
/// run, whatever the loader, pam_wrapper and libpam did before.
fn strace(w: &World, out: &Path, expr: &[String]) -> Vec<String> {
    let dir = w.path().parent().unwrap().to_path_buf();
    let mut args: Vec<String> = ["strace", "-f", "-qq", "-e", "signal=none", "-o"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    for p in [
        dir.clone(),
        w.path(),
        dir.join("secrets.toml.lock"),
        dir.join(".secrets.toml.tmp"),
    ] {
        args.push("-P".into());
        args.push(p.display().to_string());
    }
    for e in expr {
        args.push("-e".into());
        args.push(e.clone());
    }
    args
}

/// The store's syscalls in one clean run of `op`, as (name, N): the Nth call of that name
/// (on the secret directory's files) in the thread that made it.
fn kill_points(w: &World, op: Op) -> Vec<(String, usize)> {
    let strace_ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        strace_ok,
        "strace is needed for the kill-at-every-syscall tests: apt-get install strace"
    );
    let trace = w.host.root.join(format!("trace-{op:?}"));
    let wrap = strace(w, &trace, &[format!("trace={FILE_SYSCALLS}")]);
    w.reset();
    w.check(op, &output(w.spawn(op, &wrap, false)), "traced run");
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
    let mut points = Vec::new();
    for line in text.lines() {
        let Some((tid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        let name = call.split('(').next().unwrap_or_default();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // "<... resumed>" and the like
        }
        let n = seen.entry((tid.to_string(), name.to_string())).or_default();
        *n += 1;
        points.push((name.to_string(), *n));
    }
    assert!(
        points.len() > 10,
        "{op:?}: no store activity found in the trace:\n{text}"
    );
    points
}

/// Kills `op` at each of its store syscalls in turn, on entry, before the call takes effect.
fn sweep_syscalls(w: &World, op: Op) -> Tally {
    let mut tally = Tally::default();
    for (name, n) in kill_points(w, op) {
        let wrap = strace(
            w,
            Path::new("/dev/null"),
            &[
                format!("trace={name}"),
                format!("inject={name}:error=EIO:signal=KILL:when={n}"),
            ],
        );
        w.reset();
        let run = output(w.spawn(op, &wrap, false));
        let o = w.check(op, &run, &format!("killed at {name} #{n}"));
        assert!(o.killed, "{op:?}: the run was not killed at {name} #{n}");
        tally.add(&o);
    }
    tally
}

/// A small deterministic generator for kill delays (no extra dependency, reproducible).
struct Delays(u64);

impl Delays {
    fn next(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_nanos(self.0 % (max.as_nanos() as u64).max(1))
    }
}

fn kill_after((mut child, typed): (Child, String), delay: Duration) -> Run {
    std::thread::sleep(delay);
    // SIGKILL; our own child, not yet reaped, so the pid cannot have been reused.
    let _ = child.kill();
    output((child, typed))
}

/// Logins killed after delays swept across a whole login (start-up included), each with a
/// random jitter of one step, without strace: real timing.
fn swept_login_kills(w: &World, op: Op, count: u32, seed: u64) -> Tally {
    // The fastest of three clean runs: the first one also warms the caches.
    let mut full = Duration::MAX;
    for _ in 0..3 {
        w.reset();
        let start = Instant::now();
        let run = output(w.spawn(op, &[], false));
        full = full.min(start.elapsed());
        w.check(op, &run, "timed run");
    }
    let step = full * 5 / 4 / count;
    let mut jitter = Delays(seed);
    let mut tally = Tally::default();
    for i in 0..count {
        w.reset();
        let delay = step * i + jitter.next(step);
        let run = kill_after(w.spawn(op, &[], false), delay);
        tally.add(&w.check(op, &run, &format!("killed after {delay:?}")));
    }
    tally
}

/// A child repeats a CLI edit and its inverse until killed at a random moment: the file must
/// be one of the two versions.
fn random_edit_kills(w: &World, op: Op, count: usize, seed: u64) -> Tally {
    let mut delays = Delays(seed);
    let mut tally = Tally::default();
    for _ in 0..count {
        w.reset();
        let (mut child, _) = w.spawn(op, &[], true);
        // Wait for the first completed edit, so the kill lands in the loop, not in start-up.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("done") {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the child ended without an edit"
            );
        }
        std::thread::sleep(delays.next(Duration::from_millis(30)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let f = w.read();
        // The loop alternates the edit and its inverse, so either version may be on disk.
        let version = w.version(op, &f);
        assert_ne!(
            version,
            Version::Neither,
            "{op:?} killed in a loop: neither version:\n{f:#?}"
        );
        tally.add(&Outcome {
            killed: status.signal() == Some(9),
            version,
        });
    }
    tally
}

fn report(what: &str, t: &Tally) {
    eprintln!(
        "{what:<48} runs {:>4}  killed {:>4}  old {:>4}  new {:>4}",
        t.runs, t.killed, t.old, t.new
    );
}

/// Sweeps each of `ops` (a kill at each file syscall), checks every sweep saw both the old
/// and the new version, and returns the kills in all.
fn sweep_each(w: &World, ops: &[Op]) -> usize {
    let mut total = 0;
    for &op in ops {
        let t = sweep_syscalls(w, op);
        report(&format!("{op:?}, kill at each syscall"), &t);
        assert!(
            t.old > 0 && t.new > 0,
            "{op:?}: the sweep should see both versions"
        );
        total += t.killed;
    }
    total
}

#[test]
fn logins_killed_at_every_file_syscall_leave_the_old_or_the_new_file() {
    let w = World::new();
    let total = sweep_each(
        &w,
        &[Op::TotpSuccess, Op::TotpFailure, Op::Recovery, Op::Pass],
    );
    assert!(total >= 80, "only {total} kills");
    w.host
        .login("alice", w.phone.code_at(now()).as_bytes())
        .assert_success();
}

#[test]
fn cli_edits_killed_at_every_file_syscall_leave_the_old_or_the_new_file() {
    let w = World::new();
    let total = sweep_each(&w, &[Op::Regenerate, Op::DeviceAdd, Op::DeviceRemove]);
    assert!(total >= 30, "only {total} kills");
}

/// Every update, logins and CLI edits alike, fsyncs the temp file before the rename (so the
/// file is whole whatever happens) and the directory after it (so the new version, a used
/// code included, survives a power loss): the order of the store's calls in a clean traced
/// run. SIGKILL cannot test the power loss itself; this holds the code to doing what would
/// survive it.
#[test]
fn every_update_fsyncs_the_file_before_the_rename_and_the_directory_after() {
    let w = World::new();
    for op in Op::ALL {
        let calls: Vec<String> = kill_points(&w, op).into_iter().map(|(n, _)| n).collect();
        let rename = calls
            .iter()
            .rposition(|n| n.starts_with("rename"))
            .unwrap_or_else(|| panic!("{op:?}: no rename in {calls:?}"));
        let last_write = calls[..rename]
            .iter()
            .rposition(|n| n == "write")
            .unwrap_or_else(|| panic!("{op:?}: no write before the rename: {calls:?}"));
        assert!(
            calls[last_write + 1..rename].iter().any(|n| n == "fsync"),
            "{op:?}: no fsync between the last write and the rename: {calls:?}"
        );
        assert!(
            calls[rename + 1..].iter().any(|n| n == "fsync"),
            "{op:?}: no fsync of the directory after the rename: {calls:?}"
        );
    }
}

#[test]
fn logins_and_edits_killed_at_random_moments_leave_the_old_or_the_new_file() {
    let w = World::new();
    let mut total = 0;
    for (i, op) in Op::ALL.into_iter().enumerate() {
        let t = if op.is_login() {
            swept_login_kills(&w, op, 40, 0x9E37_79B9_7F4A_7C15 ^ i as u64)
        } else {
            random_edit_kills(&w, op, 30, 0xD1B5_4A32_D192_ED03 ^ i as u64)
        };
        report(&format!("{op:?}, kill after a swept/random delay"), &t);
        total += t.killed;
    }
    assert!(total >= 100, "only {total} kills");
    w.host
        .login("alice", w.phone.code_at(now()).as_bytes())
        .assert_success();
}

/// Not a test of its own: the child process of the tests above, standing in for the CLI's
/// edits with the same store calls and none of its prompts (and no dependency on the CLI
/// crate's binary, which this package's tests cannot locate). Ignored, so a test run does not
/// run it alone; run alone anyway, it fails.
#[test]
#[ignore = "the child process of the crash-safety tests, which run it with --ignored"]
fn child_store_operation() {
    let op = std::env::var(CHILD_OP)
        .expect("run only by the crash-safety tests, which set TWOFOLD_CRASH_CHILD_OP");
    let env = |k: &str| std::env::var(k).unwrap();
    let path = env("TWOFOLD_CRASH_PATH");
    let codes: Vec<String> = env("TWOFOLD_CRASH_CODES")
        .split(',')
        .map(str::to_string)
        .collect();
    let tablet = device(
        "tablet",
        &BASE32_NOPAD
            .decode(env("TWOFOLD_CRASH_TABLET").as_bytes())
            .unwrap(),
    );
    let repeat = env("TWOFOLD_CRASH_REPEAT") == "1";
    let loc = Location::from_path(
        &path,
        Owner::User {
            uid: ALICE,
            gid: ALICE,
        },
    )
    .unwrap();
    let mut stdout = std::io::stdout();
    for round in 0u64.. {
        let store = SecretStore::open(&loc).unwrap().unwrap();
        let lock = store.lock().unwrap();
        let mut file = store.read().unwrap().unwrap();
        let forward = round % 2 == 0;
        match op.as_str() {
            // Forward: the edit; backward (only when repeating): its inverse.
            "regenerate" if forward => file.recovery = Some(hashed(Purpose::Recovery, &codes)),
            "regenerate" => file.recovery = saved_base().recovery,
            "device-add" if forward => file.devices.push(tablet.clone()),
            "device-add" => file.devices.retain(|d| d.name != "tablet"),
            "device-remove" if forward => file.devices.retain(|d| d.name != "laptop"),
            "device-remove" => file.devices.push(restore_laptop()),
            other => panic!("unknown operation {other}"),
        }
        store.write(&lock, &file).unwrap();
        drop(lock);
        writeln!(stdout, "done {round}").unwrap();
        stdout.flush().unwrap();
        if !repeat {
            break;
        }
    }
    std::process::exit(0);
}

fn restore_laptop() -> Device {
    saved_base()
        .devices
        .into_iter()
        .find(|d| d.name == "laptop")
        .unwrap()
}

/// The child reads the old version from where the parent left a copy, to undo its edit.
fn saved_base() -> SecretFile {
    let path = PathBuf::from(std::env::var("TWOFOLD_CRASH_PATH").unwrap());
    let copy = base_copy_path(&path);
    SecretFile::parse(&std::fs::read(copy).unwrap()).unwrap()
}

fn base_copy_path(secret: &Path) -> PathBuf {
    secret
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("base-copy.toml")
}
