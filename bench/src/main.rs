//! twofold-bench: pam_twofold measured side by side with google-authenticator-libpam and
//! pam_oath, through real libpam. Run it through `bench/run.sh`; BENCHMARKS.md explains the
//! method and records the figures.
//!
//! Every login is one `pamtester SERVICE USER authenticate` process under pam_wrapper (a
//! private pam.d) and nss_wrapper (private users), the typed code on its standard input. The
//! driver runs in a private mount namespace where `/dev/log` is a socket it drains, so every
//! module pays for its syslog lines as on a real system. A `pam_permit.so` login measured in
//! the same run is subtracted: what remains is the module's own cost (loading it, its work,
//! its syscalls). Instructions come from `valgrind --tool=callgrind` (whole process).
//!
//! Each login that must succeed uses a user that has never logged in: every module has
//! replay protection on, and one fresh user per login gives all three the same state
//! (a first login, with a code no one has used) without touching the clock.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twofold_core::codes::{generate, grouped, RECOVERY_LEN};
use twofold_core::secret::{Algorithm, Device, RecoveryCodes, SecretFile, SecretKey};
use twofold_core::store::{Location, Owner, SecretStore};
use zeroize::Zeroizing;

const USAGE: &str = "usage: twofold-bench --module PATH [--out DIR] [--logins N] [--callgrind N]
    [--recovery-logins N] [--flood-secs S] [--flood-totp N] [--flood-recovery N]
    [--scale-users N] [--scale-logins N] [--only totp,recovery,flood,scale]";

struct Opts {
    module: PathBuf,
    out: PathBuf,
    logins: usize,
    callgrind: usize,
    recovery_logins: usize,
    flood_secs: u64,
    flood_totp: usize,
    flood_recovery: usize,
    scale_users: usize,
    scale_logins: usize,
    only: Option<HashSet<String>>,
}

impl Opts {
    fn parse() -> Opts {
        let mut o = Opts {
            module: PathBuf::new(),
            out: PathBuf::from("bench/out"),
            logins: 60,
            callgrind: 3,
            recovery_logins: 20,
            flood_secs: 10,
            flood_totp: 8,
            flood_recovery: 8,
            scale_users: 10_000,
            scale_logins: 40,
            only: None,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let val = || args.get(i + 1).cloned().unwrap_or_else(|| die(USAGE));
            let num = || val().parse::<usize>().unwrap_or_else(|_| die(USAGE));
            match args[i].as_str() {
                "--module" => o.module = PathBuf::from(val()),
                "--out" => o.out = PathBuf::from(val()),
                "--logins" => o.logins = num().max(1),
                "--callgrind" => o.callgrind = num(),
                "--recovery-logins" => o.recovery_logins = num().max(1),
                "--flood-secs" => o.flood_secs = num().max(1) as u64,
                "--flood-totp" => o.flood_totp = num(),
                "--flood-recovery" => o.flood_recovery = num(),
                "--scale-users" => o.scale_users = num().max(10),
                "--scale-logins" => o.scale_logins = num().max(1),
                "--only" => o.only = Some(val().split(',').map(str::to_string).collect()),
                _ => die(USAGE),
            }
            i += 2;
        }
        if o.module.as_os_str().is_empty() {
            die(USAGE);
        }
        o.module = std::fs::canonicalize(&o.module)
            .unwrap_or_else(|e| die(&format!("{}: {e}", o.module.display())));
        o
    }

    fn wants(&self, part: &str) -> bool {
        self.only.as_ref().is_none_or(|s| s.contains(part))
    }
}

fn die(msg: &str) -> ! {
    eprintln!("twofold-bench: {msg}");
    std::process::exit(2)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("/dev/urandom");
    b
}

fn device(secret: &[u8]) -> Device {
    Device {
        name: "phone".into(),
        secret: SecretKey::from_bytes(secret),
        algorithm: Algorithm::SHA1,
        digits: 6,
        period: 30,
        created: 0,
        last_step: 0,
        window: None,
    }
}

/// The RFC 6238 code of `secret` now (SHA-1, 6 digits, 30 s): the same for all three modules.
fn code_now(secret: &[u8]) -> String {
    twofold_core::totp::code_at(&device(secret), now())
        .expect("code")
        .to_string()
}

/// A six-digit code that is none of the codes within ±2 steps of now.
fn wrong_code(secret: &[u8]) -> String {
    let d = device(secret);
    let t = now();
    let valid: Vec<String> = (0..5)
        .map(|k| {
            twofold_core::totp::code_at(&d, t + k * 30 - 60)
                .expect("code")
                .to_string()
        })
        .collect();
    loop {
        let b = random_bytes(4);
        let c = format!(
            "{:06}",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) % 1_000_000
        );
        if !valid.contains(&c) {
            return c;
        }
    }
}

#[derive(Clone)]
struct User {
    name: String,
    uid: u32,
    home: PathBuf,
    passwd: PathBuf,
    group: PathBuf,
    secret: Vec<u8>,
}

/// One login process: its result, wall time, CPU time and peak RSS.
#[derive(Clone, Copy, Debug)]
struct Run {
    ok: bool,
    wall_ms: f64,
    cpu_ms: f64,
    /// Minor page faults of the process.
    minflt: i64,
}

struct Bench {
    opts: Opts,
    root: PathBuf,
    base_passwd: String,
    base_group: String,
    next_uid: AtomicU32,
    syslog_lines: Arc<AtomicU64>,
    pids: Arc<Mutex<HashMap<i32, &'static str>>>,
    report: Mutex<String>,
    /// Unexpected results (a login that should have failed or succeeded did not).
    anomalies: Mutex<Vec<String>>,
    last_stderr: Mutex<String>,
}

/// Per-login figures of one configuration in one scenario.
#[derive(Default, Clone)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    faults: Vec<f64>,
    ir: Vec<u64>,
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let idx = ((s.len() - 1) as f64 * p).round() as usize;
    s[idx]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn median_u64(v: &[u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    s[s.len() / 2]
}

fn fmt_ir(n: i64) -> String {
    let a = n.unsigned_abs();
    let s = if a >= 10_000_000 {
        format!("{:.1} M", a as f64 / 1e6)
    } else if a >= 1_000_000 {
        format!("{:.2} M", a as f64 / 1e6)
    } else {
        format!("{:.1} k", a as f64 / 1e3)
    };
    if n < 0 {
        format!("-{s}")
    } else {
        s
    }
}

impl Bench {
    fn new(opts: Opts) -> Bench {
        let root = std::env::var_os("TWOFOLD_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(format!("/var/tmp/twofold-bench.{}", std::process::id()))
            });
        let _ = std::fs::remove_dir_all(&root);
        for d in [
            "",
            "pam.d",
            "home",
            "nss",
            "dev-upper",
            "dev-work",
            "callgrind",
        ] {
            std::fs::create_dir_all(root.join(d)).expect("bench directory");
        }
        for d in ["", "home"] {
            std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        // Users look like the ones of this machine: its own passwd and group, plus one.
        let base_passwd = std::fs::read_to_string("/etc/passwd")
            .unwrap_or_else(|_| "root:x:0:0:root:/root:/bin/sh\n".into());
        let base_group =
            std::fs::read_to_string("/etc/group").unwrap_or_else(|_| "root:x:0:\n".into());
        Bench {
            opts,
            root,
            base_passwd,
            base_group,
            next_uid: AtomicU32::new(20_000),
            syslog_lines: Arc::new(AtomicU64::new(0)),
            pids: Arc::new(Mutex::new(HashMap::new())),
            report: Mutex::new(String::new()),
            anomalies: Mutex::new(Vec::new()),
            last_stderr: Mutex::new(String::new()),
        }
    }

    fn say(&self, text: &str) {
        print!("{text}");
        let _ = std::io::stdout().flush();
        self.report.lock().expect("report").push_str(text);
    }

    /// A private mount namespace in which `/dev` is an overlay holding our `/dev/log`.
    fn private_syslog(&self) {
        use nix::mount::{mount, MsFlags};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .unwrap_or_else(|e| die(&format!("unshare: {e} (run as root)")));
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap_or_else(|e| die(&format!("making / private: {e}")));
        let data = format!(
            "lowerdir=/dev,upperdir={},workdir={}",
            self.root.join("dev-upper").display(),
            self.root.join("dev-work").display()
        );
        mount(
            Some("overlay"),
            "/dev",
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .unwrap_or_else(|e| die(&format!("overlay on /dev: {e}")));
        // pam_wrapper keeps its copy of libpam in /tmp/pam.X (one letter: a few dozen names)
        // and removes other processes' copies it thinks stale: a /tmp of our own keeps other
        // pam_wrapper users on this machine (test suites) and this benchmark out of each
        // other's way.
        mount(
            Some("tmpfs"),
            "/tmp",
            Some("tmpfs"),
            MsFlags::empty(),
            Some("mode=1777,size=256m"),
        )
        .unwrap_or_else(|e| die(&format!("tmpfs on /tmp: {e}")));
        let _ = std::fs::remove_file("/dev/log");
        let sock = UnixDatagram::bind("/dev/log")
            .unwrap_or_else(|e| die(&format!("binding /dev/log: {e}")));
        std::fs::set_permissions("/dev/log", std::fs::Permissions::from_mode(0o666))
            .expect("chmod /dev/log");
        let lines = Arc::clone(&self.syslog_lines);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            while sock.recv(&mut buf).is_ok() {
                lines.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    fn write_service(&self, name: &str, text: &str) {
        std::fs::write(self.root.join("pam.d").join(name), text).expect("pam.d file");
    }

    fn services(&self) {
        let so = self.opts.module.display();
        let r = self.root.display();
        self.write_service("other", "auth required pam_deny.so\n");
        self.write_service("permit", "auth required pam_permit.so\n");
        self.write_service(
            "twofold",
            &format!("auth required {so} config={r}/twofold.toml\n"),
        );
        std::fs::write(
            self.root.join("twofold.toml"),
            "# defaults, written out\nwindow = 1\nunenrolled = \"deny\"\n",
        )
        .expect("config");
        self.write_service("ga", "auth required pam_google_authenticator.so\n");
        self.write_service(
            "oath",
            "auth required pam_oath.so usersfile=${HOME}/.pam_oath window=1 digits=6\n",
        );
    }

    fn user(&self, prefix: &str) -> User {
        let uid = self.next_uid.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}{uid}");
        let home = self.root.join("home").join(&name);
        std::fs::create_dir_all(&home).expect("home");
        chown(&home, Some(uid), Some(uid)).expect("chown home");
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755))
            .expect("chmod home");
        let passwd = self.root.join("nss").join(format!("{name}.passwd"));
        let group = self.root.join("nss").join(format!("{name}.group"));
        std::fs::write(
            &passwd,
            format!(
                "{}{name}:x:{uid}:{uid}::{}:/bin/sh\n",
                self.base_passwd,
                home.display()
            ),
        )
        .expect("passwd");
        std::fs::write(&group, format!("{}{name}:x:{uid}:\n", self.base_group)).expect("group");
        User {
            name,
            uid,
            home,
            passwd,
            group,
            secret: random_bytes(20),
        }
    }

    /// Self-enrollment layout (the default `{home}/.config/twofold/secrets.toml`), written by
    /// the core's own store code, as the CLI does.
    fn enroll_twofold(&self, u: &User, recovery: Option<&RecoveryCodes>) -> SecretFile {
        let mut file = SecretFile::new();
        file.devices.push(device(&u.secret));
        file.recovery = recovery.cloned();
        self.write_twofold(u, &file);
        file
    }

    fn write_twofold(&self, u: &User, file: &SecretFile) {
        let path = u.home.join(".config/twofold/secrets.toml");
        let loc = Location::from_path(
            path.to_str().expect("utf-8"),
            Owner::User {
                uid: u.uid,
                gid: u.uid,
            },
        )
        .expect("location");
        let store = SecretStore::open_or_create(&loc).expect("store");
        let lock = store.lock().expect("lock");
        store.write(&lock, file).expect("write");
    }

    /// What `google-authenticator -t -d -f -r 3 -R 30 -w 3` writes: TOTP, DISALLOW_REUSE,
    /// rate limit 3 per 30 s, window of 3 codes (±1 step, as twofold's default).
    fn enroll_ga(&self, u: &User) {
        let path = u.home.join(".google_authenticator");
        let secret = data_encoding::BASE32_NOPAD.encode(&u.secret);
        let text = format!(
            "{secret}\n\" RATE_LIMIT 3 30\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n28374651\n19283746\n56473829\n91827364\n64738291\n"
        );
        std::fs::write(&path, text).expect("ga file");
        chown(&path, Some(u.uid), Some(u.uid)).expect("chown");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).expect("chmod");
    }

    /// pam_oath's usersfile for this user in its home (`usersfile=${HOME}/.pam_oath`).
    fn enroll_oath(&self, u: &User) {
        let path = u.home.join(".pam_oath");
        let hex: String = u.secret.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, format!("HOTP/T30/6\t{}\t-\t{hex}\n", u.name)).expect("oath file");
        chown(&path, Some(u.uid), Some(u.uid)).expect("chown");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    fn enroll(&self, module: Module, u: &User) {
        match module {
            Module::Twofold => {
                self.enroll_twofold(u, None);
            }
            Module::Ga => self.enroll_ga(u),
            Module::Oath => self.enroll_oath(u),
        }
    }

    fn command(&self, program: &str, u: &User) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LD_PRELOAD", "libpam_wrapper.so libnss_wrapper.so")
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", self.root.join("pam.d"))
            .env("NSS_WRAPPER_PASSWD", &u.passwd)
            .env("NSS_WRAPPER_GROUP", &u.group);
        // No current_dir and no pre_exec: std then spawns with posix_spawn (vfork), so the
        // driver's own size never slows a spawn down.
        cmd
    }

    /// Spawns `cmd`, types `input`, and waits with wait4 for its resource usage.
    fn run(&self, cmd: Command, input: &str) -> Run {
        self.run_tagged(cmd, input, "")
    }

    /// `run`, with the process registered under `tag` while it lives (for the RSS sampler).
    fn run_tagged(&self, mut cmd: Command, input: &str, tag: &'static str) -> Run {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| die(&format!("spawning {cmd:?}: {e}")));
        let pid = child.id() as i32;
        self.pids.lock().expect("pids").insert(pid, tag);
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(format!("{input}\n").as_bytes());
        }
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: pid is our child, not yet reaped (std never waits for it: we do);
            // status and ru are valid for writes.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            if r == pid {
                break;
            }
            if r == -1 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                die(&format!("wait4: {}", std::io::Error::last_os_error()));
            }
        }
        let wall = t0.elapsed();
        self.pids.lock().expect("pids").remove(&pid);
        // What the process said on stderr (small: prompts and pam_wrapper's notes), kept for
        // explaining an unexpected result.
        let mut said = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut said);
        }
        *self.last_stderr.lock().expect("stderr") = said;
        drop(child);
        let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
        Run {
            ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            wall_ms: wall.as_secs_f64() * 1e3,
            // ru_maxrss is not used: after a vfork it includes the driver's own size.
            cpu_ms: tv(ru.ru_utime) + tv(ru.ru_stime),
            minflt: ru.ru_minflt,
        }
    }

    fn login(&self, service: &str, u: &User, input: &str) -> Run {
        self.login_tagged(service, u, input, "")
    }

    fn login_tagged(&self, service: &str, u: &User, input: &str, tag: &'static str) -> Run {
        // TWOFOLD_BENCH_STRACE=DIR: every login under `strace -f -T` (for finding out why).
        let mut cmd = match std::env::var_os("TWOFOLD_BENCH_STRACE") {
            Some(dir) => {
                let mut c = self.command("strace", u);
                c.args(["-f", "-T", "-r", "-o"])
                    .arg(Path::new(&dir).join(format!("{service}.{}.txt", u.name)))
                    .arg("pamtester");
                c
            }
            None => self.command("pamtester", u),
        };
        cmd.args([service, &u.name, "authenticate"]);
        self.run_tagged(cmd, input, tag)
    }

    /// Instructions of one whole login process, counted by callgrind.
    fn callgrind(&self, service: &str, u: &User, input: &str, tag: &str) -> (bool, u64) {
        let out = self
            .root
            .join("callgrind")
            .join(format!("{tag}.{}.out", u.name));
        let mut cmd = self.command("valgrind", u);
        cmd.arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .args(["pamtester", service, &u.name, "authenticate"]);
        let run = self.run(cmd, input);
        let text = std::fs::read_to_string(&out)
            .unwrap_or_else(|e| die(&format!("{}: {e}", out.display())));
        let ir = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("summary:")
                    .or_else(|| l.strip_prefix("totals:"))
            })
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| die(&format!("no instruction total in {}", out.display())));
        // Keep the first profile of each kind for `callgrind_annotate`; drop the rest.
        let keep = self.opts.out.join("callgrind").join(format!("{tag}.out"));
        if !keep.exists() {
            let _ = std::fs::copy(&out, &keep);
        }
        let _ = std::fs::remove_file(&out);
        (run.ok, ir)
    }

    /// Whether `run` ended as it should. If not, the run is recorded as an anomaly (reported
    /// at the end) and its figures must not be used; a wrong success is fatal.
    fn expect(&self, what: &str, run: Run, want_ok: bool) -> bool {
        if run.ok == want_ok {
            return true;
        }
        if run.ok {
            die(&format!("{what}: a login that must fail succeeded"));
        }
        let said: String = self
            .last_stderr
            .lock()
            .expect("stderr")
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("pamtester"))
            .collect::<Vec<_>>()
            .join(" / ");
        let note = format!("{what}: expected success, got failure ({said})");
        eprintln!("twofold-bench: {note}");
        self.anomalies.lock().expect("anomalies").push(note);
        false
    }
}

fn ok_word(ok: bool) -> &'static str {
    if ok {
        "success"
    } else {
        "failure"
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Module {
    Twofold,
    Ga,
    Oath,
}

impl Module {
    fn service(self) -> &'static str {
        match self {
            Module::Twofold => "twofold",
            Module::Ga => "ga",
            Module::Oath => "oath",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Module::Twofold => "pam_twofold",
            Module::Ga => "google-authenticator",
            Module::Oath => "pam_oath",
        }
    }
}

const PEERS: [Module; 3] = [Module::Twofold, Module::Ga, Module::Oath];

/// Scenarios 1 and 2: a right code and a wrong code, each on a user's first login.
fn totp(b: &Bench) {
    b.say("\n## 1-2. TOTP through libpam: right code (replay protection on) and wrong code\n\n");
    let n = b.opts.logins;
    let k = b.opts.callgrind;
    // Fresh users for every login that follows: a right code is each user's first login, a
    // wrong code each user's first failure (nobody is throttled yet).
    let mut users: Vec<(Module, bool, Vec<User>)> = Vec::new();
    for m in PEERS {
        for right in [true, false] {
            let us: Vec<User> = (0..n + k)
                .map(|_| {
                    let u = b.user(&format!(
                        "{}{}",
                        &m.service()[..2],
                        if right { "r" } else { "w" }
                    ));
                    b.enroll(m, &u);
                    u
                })
                .collect();
            users.push((m, right, us));
        }
    }
    let permit_user = b.user("pp");
    let mut base = Series::default();
    let mut series: Vec<Series> = vec![Series::default(); users.len()];
    // A user already throttled (5 failures): twofold's cheapest path, what a flood hits.
    let mut throttled = Series::default();
    let tu = b.user("tft");
    {
        let mut file = SecretFile::new();
        file.devices.push(device(&tu.secret));
        file.state.failures = 5;
        file.state.throttled_until = now() + 3600;
        b.write_twofold(&tu, &file);
    }
    // As on a real host, where users enrolled long before they log in: every module's files
    // are on disk before the first login. twofold's store fsyncs at enrollment, the peers'
    // files are written here with plain writes; without this, their old files' blocks would
    // still be unallocated (ext4 delayed allocation) when a login replaces them, and the
    // replace would cost them less than it does on a real host (strace: rename 0.07 ms
    // against twofold's 0.2 ms, for this reason only).
    nix::unistd::sync();
    // Interleaved: a baseline, then every configuration, n times over.
    for i in 0..n {
        let r = b.login("permit", &permit_user, "x");
        if b.expect("pam_permit", r, true) {
            base.wall.push(r.wall_ms);
            base.cpu.push(r.cpu_ms);
            base.faults.push(r.minflt as f64);
        }
        let r = b.login("twofold", &tu, &wrong_code(&tu.secret));
        if b.expect("twofold throttled", r, false) {
            throttled.wall.push(r.wall_ms);
            throttled.cpu.push(r.cpu_ms);
            throttled.faults.push(r.minflt as f64);
        }
        for (j, (m, right, us)) in users.iter().enumerate() {
            let u = &us[i];
            let input = if *right {
                code_now(&u.secret)
            } else {
                wrong_code(&u.secret)
            };
            let r = b.login(m.service(), u, &input);
            if b.expect(
                &format!(
                    "{} {} code",
                    m.label(),
                    if *right { "right" } else { "wrong" }
                ),
                r,
                *right,
            ) {
                series[j].wall.push(r.wall_ms);
                series[j].cpu.push(r.cpu_ms);
                series[j].faults.push(r.minflt as f64);
            }
        }
    }
    for i in 0..k {
        let (ok, ir) = b.callgrind("permit", &permit_user, "x", "permit");
        assert!(ok, "pam_permit under callgrind failed");
        base.ir.push(ir);
        for (j, (m, right, us)) in users.iter().enumerate() {
            let u = &us[n + i];
            let input = if *right {
                code_now(&u.secret)
            } else {
                wrong_code(&u.secret)
            };
            let tag = format!("{}-{}", m.service(), if *right { "right" } else { "wrong" });
            let (ok, ir) = b.callgrind(m.service(), u, &input, &tag);
            if ok == *right {
                series[j].ir.push(ir);
            } else {
                let note = format!("{tag} under callgrind: expected {}", ok_word(*right));
                eprintln!("twofold-bench: {note}");
                b.anomalies.lock().expect("anomalies").push(note);
            }
        }
    }
    for _ in 0..k {
        let (ok, ir) = b.callgrind("twofold", &tu, &wrong_code(&tu.secret), "twofold-throttled");
        assert!(!ok);
        throttled.ir.push(ir);
    }

    let bw = median(&base.wall);
    let bc = median(&base.cpu);
    let bf = median(&base.faults);
    let bi = median_u64(&base.ir) as i64;
    let _ = bi;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Baseline pam_permit: median {bw:.2} ms wall, {bc:.2} ms CPU, {bf:.0} page faults, {} instructions per login process ({n} logins, {k} under callgrind).\n",
        if k == 0 { "not measured".to_string() } else { fmt_ir(median_u64(&base.ir) as i64) }
    );
    let _ = writeln!(
        t,
        "| case | module | wall median (ms) | module's own wall (ms) | ratio to google-authenticator | own CPU (ms) | own page faults | own instructions | ratio to google-authenticator | ratio to pam_oath |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for right in [true, false] {
        // Median wall, own wall, own instructions, own CPU, own page faults of one series.
        let own_of = |s: &Series| {
            (
                median(&s.wall),
                median(&s.wall) - bw,
                median_u64(&s.ir) as i64 - bi,
                median(&s.cpu) - bc,
                median(&s.faults) - bf,
            )
        };
        let own = |m: Module| {
            let (j, _) = users
                .iter()
                .enumerate()
                .find(|(_, (mm, rr, _))| *mm == m && *rr == right)
                .expect("series");
            own_of(&series[j])
        };
        let (_, ga_w, ga_i, _, _) = own(Module::Ga);
        let (_, _, oa_i, _, _) = own(Module::Oath);
        let row = |t: &mut String,
                   case: &str,
                   label: &str,
                   (w, ow, oi, oc, of): (f64, f64, i64, f64, f64)| {
            // With --callgrind 0 nothing was counted: say so rather than print 0 and NaN.
            let (ir, ir_ga, ir_oath) = if k == 0 {
                ("not measured".to_string(), String::new(), String::new())
            } else {
                (
                    fmt_ir(oi),
                    format!("{:.3}", oi as f64 / ga_i as f64),
                    format!("{:.3}", oi as f64 / oa_i as f64),
                )
            };
            let _ = writeln!(
                t,
                "| {case} | {label} | {w:.2} | {ow:.2} | {:.2} | {oc:.2} | {of:.0} | {ir} | {ir_ga} | {ir_oath} |",
                ow / ga_w,
            );
        };
        for m in PEERS {
            row(
                &mut t,
                if right { "right code" } else { "wrong code" },
                m.label(),
                own(m),
            );
        }
    }
    let tw = median(&throttled.wall);
    let ti = median_u64(&throttled.ir) as i64 - bi;
    let _ = writeln!(
        t,
        "| wrong code, user already throttled | pam_twofold | {tw:.2} | {:.2} | | {:.2} | {:.0} | {} | | |",
        tw - bw,
        median(&throttled.cpu) - bc,
        median(&throttled.faults) - bf,
        if k == 0 { "not measured".to_string() } else { fmt_ir(ti) }
    );
    let _ = writeln!(
        t,
        "\nSpread of the module's wall time (p10..p90 of raw logins, ms): {}\n",
        users
            .iter()
            .zip(&series)
            .map(|((m, right, _), s)| format!(
                "{} {}: {:.2}..{:.2}",
                m.service(),
                if *right { "right" } else { "wrong" },
                percentile(&s.wall, 0.1),
                percentile(&s.wall, 0.9)
            ))
            .chain(std::iter::once(format!(
                "permit: {:.2}..{:.2}",
                percentile(&base.wall, 0.1),
                percentile(&base.wall, 0.9)
            )))
            .collect::<Vec<_>>()
            .join("; ")
    );
    b.say(&t);
}

/// Recovery codes: the same user state with 10 and with 100 codes left.
fn recovery(b: &Bench) {
    b.say("\n## 3. Recovery codes: one argon2id evaluation per attempt, however many codes are left\n\n");
    let t0 = Instant::now();
    let codes: Vec<Zeroizing<String>> = (0..100)
        .map(|_| generate(RECOVERY_LEN).expect("random"))
        .collect();
    let mut f = SecretFile::new();
    f.set_recovery_codes(&codes, now()).expect("hash codes");
    let block100 = f.recovery.clone().expect("recovery");
    let mut block10 = block100.clone();
    block10.hashes.truncate(10);
    eprintln!(
        "twofold-bench: hashed 100 recovery codes in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let n = b.opts.recovery_logins;
    let k = b.opts.callgrind.min(1);
    let mut rows = Vec::new();
    let permit_user = b.user("pp");
    let mut base = Vec::new();
    let users10: Vec<User> = (0..n + k).map(|_| b.user("rc10")).collect();
    let users100: Vec<User> = (0..n + k).map(|_| b.user("rc100")).collect();
    for u in &users10 {
        b.enroll_twofold(u, Some(&block10));
    }
    for u in &users100 {
        b.enroll_twofold(u, Some(&block100));
    }
    let mut s10 = Series::default();
    let mut s100 = Series::default();
    let mut w10 = Series::default();
    let mut w100 = Series::default();
    let mut totp_cmp = Series::default();
    let sampler_stop = AtomicBool::new(false);
    let rss = std::thread::scope(|s| {
        let sampler = s.spawn(|| sample_rss(b, &sampler_stop));
        for i in 0..n {
            base.push(b.login("permit", &permit_user, "x").wall_ms);
            let code = grouped(&codes[i % 10]);
            let r = b.login_tagged("twofold", &users10[i], &code, "recovery");
            if b.expect("recovery code (10 left)", r, true) {
                s10.wall.push(r.wall_ms);
                s10.cpu.push(r.cpu_ms);
            }
            let r = b.login_tagged("twofold", &users100[i], &code, "recovery");
            if b.expect("recovery code (100 left)", r, true) {
                s100.wall.push(r.wall_ms);
                s100.cpu.push(r.cpu_ms);
            }
            let wrong = grouped(&generate(RECOVERY_LEN).expect("random"));
            let r = b.login_tagged("twofold", &users10[i], &wrong, "recovery");
            b.expect("wrong recovery code (9 left)", r, false);
            w10.wall.push(r.wall_ms);
            w10.cpu.push(r.cpu_ms);
            let r = b.login_tagged("twofold", &users100[i], &wrong, "recovery");
            b.expect("wrong recovery code (99 left)", r, false);
            w100.wall.push(r.wall_ms);
            w100.cpu.push(r.cpu_ms);
            // The same users with a TOTP code, for the memory comparison.
            let r = b.login_tagged(
                "twofold",
                &users10[i],
                &code_now(&users10[i].secret),
                "totp",
            );
            b.expect("TOTP code of a recovery user", r, true);
            totp_cmp.wall.push(r.wall_ms);
        }
        sampler_stop.store(true, Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    let mut base_ir = 0;
    for i in 0..k {
        base_ir = b.callgrind("permit", &permit_user, "x", "permit").1;
        let code = grouped(&codes[i]);
        let (ok, ir) = b.callgrind("twofold", &users10[n + i], &code, "twofold-recovery10");
        assert!(ok);
        s10.ir.push(ir);
        let (ok, ir) = b.callgrind("twofold", &users100[n + i], &code, "twofold-recovery100");
        assert!(ok);
        s100.ir.push(ir);
    }
    let bw = median(&base);
    rows.push(("right code, 10 codes left", &s10));
    rows.push(("right code, 100 codes left", &s100));
    rows.push(("wrong code, 9 codes left", &w10));
    rows.push(("wrong code, 99 codes left", &w100));
    let mut t = String::new();
    let _ = writeln!(t, "| attempt | wall median (ms) | module's own (ms) | max (ms) | CPU median (ms) | own instructions |");
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|");
    for (name, s) in &rows {
        let ir = if s.ir.is_empty() {
            "".to_string()
        } else {
            fmt_ir(median_u64(&s.ir) as i64 - base_ir as i64)
        };
        let _ = writeln!(
            t,
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {ir} |",
            median(&s.wall),
            median(&s.wall) - bw,
            max(&s.wall),
            median(&s.cpu)
        );
    }
    let ratio_w = (median(&s100.wall) - bw) / (median(&s10.wall) - bw);
    let ratio_c = median(&s100.cpu) / median(&s10.cpu);
    let _ = write!(
        t,
        "\nRatio 100 codes / 10 codes, right code: module's own wall time **{ratio_w:.3}**, CPU time **{ratio_c:.3}**"
    );
    if !s10.ir.is_empty() {
        let ratio_i = (median_u64(&s100.ir) as f64 - base_ir as f64)
            / (median_u64(&s10.ir) as f64 - base_ir as f64);
        let _ = write!(t, "; instructions: **{ratio_i:.4}**");
    }
    let _ = writeln!(
        t,
        " (target ≤ 1.1). Baseline pam_permit {bw:.2} ms; {n} logins each.\n"
    );
    let peak = |tag: &str| rss.peak_by_tag.get(tag).copied().unwrap_or(0) as f64 / 1024.0;
    let _ = writeln!(
        t,
        "Peak RSS of one login process (VmHWM, sampled every 2 ms): recovery-code attempt {:.1} MiB, TOTP login {:.1} MiB \
         (argon2id with m = 19 MiB accounts for the difference).\n",
        peak("recovery"),
        peak("totp")
    );
    b.say(&t);
}

/// Total CPU jiffies (busy, all) from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let all: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (all - idle, all)
}

/// VmRSS and VmHWM (peak) of a process, in KiB, from /proc/PID/status.
fn rss_kib(pid: i32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Memory of the login processes, sampled every 2 ms while `stop` is false.
#[derive(Default)]
struct RssStats {
    /// Peak of the summed VmRSS of all live login processes.
    peak_total_kib: u64,
    /// Most login processes alive at once.
    peak_procs: usize,
    /// Largest VmHWM seen, per tag.
    peak_by_tag: HashMap<&'static str, u64>,
}

fn sample_rss(b: &Bench, stop: &AtomicBool) -> RssStats {
    let mut st = RssStats::default();
    loop {
        let done = stop.load(Ordering::Relaxed);
        let pids: Vec<(i32, &'static str)> = b
            .pids
            .lock()
            .expect("pids")
            .iter()
            .map(|(p, t)| (*p, *t))
            .collect();
        let mut total = 0;
        for (pid, tag) in &pids {
            let (rss, hwm) = rss_kib(*pid);
            total += rss;
            let e = st.peak_by_tag.entry(tag).or_insert(0);
            *e = (*e).max(hwm);
        }
        st.peak_total_kib = st.peak_total_kib.max(total);
        st.peak_procs = st.peak_procs.max(pids.len());
        if done {
            return st;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Scenario 4: wrong attempts from many processes at once against one user, for a bounded
/// time, while other users log in and the attacked user's owner uses a recovery code.
fn flood(b: &Bench) {
    let secs = b.opts.flood_secs;
    let (nt, nr) = (b.opts.flood_totp, b.opts.flood_recovery);
    b.say(&format!(
        "\n## 4. Flood: {nt} processes guessing TOTP codes and {nr} guessing recovery codes against one user, {secs} s\n\n"
    ));
    let codes: Vec<Zeroizing<String>> = (0..10)
        .map(|_| generate(RECOVERY_LEN).expect("random"))
        .collect();
    let mut f = SecretFile::new();
    f.set_recovery_codes(&codes, now()).expect("hash");
    let block = f.recovery.clone().expect("recovery");
    let victim = b.user("victim");
    b.enroll_twofold(&victim, Some(&block));
    let pool: Vec<User> = (0..(secs as usize * 30).max(50))
        .map(|_| {
            let u = b.user("legit");
            b.enroll_twofold(&u, None);
            u
        })
        .collect();
    let stop = AtomicBool::new(false);
    let sampler_stop = AtomicBool::new(false);
    let attacks_t: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let attacks_r: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let legit: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let owner: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    let (busy0, all0) = cpu_jiffies();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let rss = std::thread::scope(|s| {
        let sampler = s.spawn(|| sample_rss(b, &sampler_stop));
        let mut workers = Vec::new();
        for i in 0..nt + nr {
            let (stop, attacks_t, attacks_r, victim) = (&stop, &attacks_t, &attacks_r, &victim);
            workers.push(s.spawn(move || {
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let totp = i < nt;
                    let (input, tag) = if totp {
                        (wrong_code(&victim.secret), "totp")
                    } else {
                        (
                            grouped(&generate(RECOVERY_LEN).expect("random")),
                            "recovery",
                        )
                    };
                    let r = b.login_tagged("twofold", victim, &input, tag);
                    if r.ok {
                        die("an attacker's guess succeeded");
                    }
                    if totp { attacks_t } else { attacks_r }
                        .lock()
                        .expect("runs")
                        .push(r);
                }
            }));
        }
        {
            let (stop, legit, pool) = (&stop, &legit, &pool);
            workers.push(s.spawn(move || {
                for u in pool {
                    if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                        return;
                    }
                    let r = b.login_tagged("twofold", u, &code_now(&u.secret), "legit");
                    // A failed login counts too: its time is what the user saw.
                    b.expect("legitimate user during the flood", r, true);
                    legit.lock().expect("runs").push(r);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }));
        }
        {
            let (stop, owner, victim, codes) = (&stop, &owner, &victim, &codes);
            workers.push(s.spawn(move || {
                let mut k = 0;
                std::thread::sleep(Duration::from_millis(1000));
                while !stop.load(Ordering::Relaxed)
                    && Instant::now() + Duration::from_millis(500) < deadline
                    && k < codes.len()
                {
                    let r = b.login_tagged("twofold", victim, &grouped(&codes[k]), "owner");
                    b.expect(
                        "the attacked user's own recovery code during the flood",
                        r,
                        true,
                    );
                    owner.lock().expect("runs").push(r);
                    k += 1;
                    std::thread::sleep(Duration::from_millis(1500));
                }
            }));
        }
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker");
        }
        sampler_stop.store(true, Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (busy1, all1) = cpu_jiffies();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let machine_busy = (busy1 - busy0) as f64 / (all1 - all0).max(1) as f64 * cpus;
    let at = attacks_t.into_inner().expect("runs");
    let ar = attacks_r.into_inner().expect("runs");
    let lg = legit.into_inner().expect("runs");
    let ow = owner.into_inner().expect("runs");
    let all: Vec<&Run> = at.iter().chain(&ar).chain(&lg).chain(&ow).collect();
    let cpu_total: f64 = all.iter().map(|r| r.cpu_ms).sum::<f64>() / 1e3;
    let walls = |v: &[Run]| v.iter().map(|r| r.wall_ms).collect::<Vec<_>>();
    let hwm = |tag: &str| rss.peak_by_tag.get(tag).copied().unwrap_or(0) as f64 / 1024.0;
    let mut t = String::new();
    let _ = writeln!(t, "| who | attempts | per second | median (ms) | worst (ms) | CPU per attempt (ms) | peak RSS of one process (MiB) |");
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|");
    for (who, v, tag) in [
        ("attacker, wrong TOTP codes", &at, "totp"),
        ("attacker, wrong recovery codes", &ar, "recovery"),
        ("legitimate users (TOTP, other accounts)", &lg, "legit"),
        ("attacked user's owner (recovery code)", &ow, "owner"),
    ] {
        let w = walls(v);
        let cpu: Vec<f64> = v.iter().map(|r| r.cpu_ms).collect();
        let _ = writeln!(
            t,
            "| {who} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            v.len(),
            v.len() as f64 / elapsed,
            median(&w),
            max(&w),
            median(&cpu),
            hwm(tag)
        );
    }
    let _ = writeln!(
        t,
        "\nPeak RSS of all login processes at once (summed VmRSS, sampled every 2 ms): **{:.1} MiB**, with at most {} processes alive. \
         Login processes used {cpu_total:.1} CPU-s in {elapsed:.1} s ({:.2} cores); the machine as a whole was busy {:.2} of {cpus} cores.\n\n\
         Legitimate users: median **{:.1} ms**, worst **{:.1} ms** (target: worst < 1000 ms). The attacked user's owner: \
         {} of {} recovery-code logins succeeded, worst {:.1} ms.\n",
        rss.peak_total_kib as f64 / 1024.0,
        rss.peak_procs,
        cpu_total / elapsed,
        machine_busy,
        median(&walls(&lg)),
        max(&walls(&lg)),
        ow.iter().filter(|r| r.ok).count(),
        ow.len(),
        max(&walls(&ow)),
    );
    b.say(&t);
}

/// Scenario 5: system mode with 10 and with N enrolled users. The same ten users of each
/// directory log in over and over; after each login its file is put back as enrolled, so
/// the next login of that user is a first login again (its code is fresh).
fn scale(b: &Bench) {
    let big = b.opts.scale_users;
    let n = b.opts.scale_logins;
    b.say(&format!("\n## 5. Scale: system mode (root-owned files in one directory), 10 vs {big} enrolled users\n\n"));
    let t0 = Instant::now();
    let so = b.opts.module.display();
    let mut big_passwd = b.base_passwd.clone();
    // Per set: its label, its first 20 users with their file and its original text, and
    // pam_oath's shared usersfile with its original text.
    struct Set {
        label: &'static str,
        users: Vec<(User, PathBuf, String)>,
        oath_file: PathBuf,
        oath_text: String,
    }
    let mut sets: Vec<Set> = Vec::new();
    for (label, count) in [("10", 10usize), ("big", big)] {
        let dir = b.root.join(format!("sys-{label}"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let oath_file = b.root.join(format!("oath-{label}.users"));
        let mut oath_text = String::new();
        let mut users = Vec::new();
        for i in 0..count {
            // System mode needs no home directory: users are cheap to make.
            let uid = b.next_uid.fetch_add(1, Ordering::SeqCst);
            let name = format!("s{label}u{uid}");
            let secret = random_bytes(20);
            let mut file = SecretFile::new();
            file.devices.push(device(&secret));
            let text = file.to_toml().expect("toml");
            // As enrollment leaves them: the file and its lock file, root's, mode 0600.
            let path = dir.join(format!("{name}.toml"));
            write_mode(&path, text.as_bytes(), 0o600);
            write_mode(&dir.join(format!("{name}.toml.lock")), b"", 0o600);
            let hex: String = secret.iter().map(|x| format!("{x:02x}")).collect();
            let _ = writeln!(oath_text, "HOTP/T30/6\t{name}\t-\t{hex}");
            let line = format!("{name}:x:{uid}:{uid}::/nonexistent:/bin/sh\n");
            if label == "big" {
                big_passwd.push_str(&line);
            }
            if i < 20 {
                let passwd = b.root.join("nss").join(format!("{name}.passwd"));
                let group = b.root.join("nss").join(format!("{name}.group"));
                std::fs::write(&passwd, format!("{}{line}", b.base_passwd)).expect("passwd");
                std::fs::write(&group, format!("{}{name}:x:{uid}:\n", b.base_group))
                    .expect("group");
                let u = User {
                    name,
                    uid,
                    home: PathBuf::from("/nonexistent"),
                    passwd,
                    group,
                    secret,
                };
                users.push((u, path, text.to_string()));
            }
        }
        write_mode(&oath_file, oath_text.as_bytes(), 0o600);
        std::fs::write(
            b.root.join(format!("sys-{label}.toml")),
            format!("secret_path = \"{}/{{user}}.toml\"\n", dir.display()),
        )
        .expect("config");
        b.write_service(
            &format!("tf-sys-{label}"),
            &format!(
                "auth required {so} config={}/sys-{label}.toml\n",
                b.root.display()
            ),
        );
        b.write_service(
            &format!("oath-all-{label}"),
            &format!(
                "auth required pam_oath.so usersfile={} window=1 digits=6\n",
                oath_file.display()
            ),
        );
        sets.push(Set {
            label,
            users,
            oath_file,
            oath_text,
        });
    }
    let big_nss = b.root.join("nss/big.passwd");
    std::fs::write(&big_nss, &big_passwd).expect("passwd");
    eprintln!(
        "twofold-bench: made {} system-mode users in {:.1} s",
        10 + big,
        t0.elapsed().as_secs_f64()
    );
    let permit_user = sets[0].users[0].0.clone();
    let mut base = Vec::new();
    let mut base_cpu = Vec::new();
    // tf 10, tf big, oath 10, oath big, tf big with all users in the password database.
    let mut s: Vec<Vec<f64>> = vec![Vec::new(); 5];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); 5];
    for i in 0..n {
        let r = b.login("permit", &permit_user, "x");
        base.push(r.wall_ms);
        base_cpu.push(r.cpu_ms);
        for (j, set) in sets.iter().enumerate() {
            let (u, path, text) = &set.users[i % 10];
            let r = b.login(&format!("tf-sys-{}", set.label), u, &code_now(&u.secret));
            if b.expect("system-mode login", r, true) {
                s[j].push(r.wall_ms);
                cpu[j].push(r.cpu_ms);
            }
            write_mode(path, text.as_bytes(), 0o600);
            let r = b.login(&format!("oath-all-{}", set.label), u, &code_now(&u.secret));
            if b.expect("pam_oath shared usersfile login", r, true) {
                s[2 + j].push(r.wall_ms);
                cpu[2 + j].push(r.cpu_ms);
            }
            write_mode(&set.oath_file, set.oath_text.as_bytes(), 0o600);
        }
        let (u, path, text) = &sets[1].users[10 + i % 10];
        let mut u = u.clone();
        u.passwd = big_nss.clone();
        let r = b.login("tf-sys-big", &u, &code_now(&u.secret));
        if b.expect("system-mode login, big password database", r, true) {
            s[4].push(r.wall_ms);
            cpu[4].push(r.cpu_ms);
        }
        write_mode(path, text.as_bytes(), 0o600);
    }
    // Instructions (user space only: the kernel's directory lookup is in the CPU time).
    let mut ir: Vec<i64> = vec![0; 5];
    if b.opts.callgrind > 0 {
        let base_ir = b.callgrind("permit", &permit_user, "x", "permit").1 as i64;
        for (j, set) in sets.iter().enumerate() {
            let (u, path, text) = &set.users[0];
            let (ok, n) = b.callgrind(
                &format!("tf-sys-{}", set.label),
                u,
                &code_now(&u.secret),
                &format!("twofold-sys-{}", set.label),
            );
            write_mode(path, text.as_bytes(), 0o600);
            if ok {
                ir[j] = n as i64 - base_ir;
            }
            let (ok, n) = b.callgrind(
                &format!("oath-all-{}", set.label),
                u,
                &code_now(&u.secret),
                &format!("oath-all-{}", set.label),
            );
            write_mode(&set.oath_file, set.oath_text.as_bytes(), 0o600);
            if ok {
                ir[2 + j] = n as i64 - base_ir;
            }
        }
        let (u, path, text) = &sets[1].users[10];
        let mut u = u.clone();
        u.passwd = big_nss.clone();
        let (ok, n) = b.callgrind(
            "tf-sys-big",
            &u,
            &code_now(&u.secret),
            "twofold-sys-big-passwd",
        );
        write_mode(path, text.as_bytes(), 0o600);
        if ok {
            ir[4] = n as i64 - base_ir;
        }
    }
    let bw = median(&base);
    let bc = median(&base_cpu);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| configuration | users enrolled | wall median (ms) | p10..p90 (ms) | own wall (ms) | own CPU (ms) | own instructions | ratio to 10 users (wall / CPU / instructions) |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let own = |j: usize| median(&s[j]) - bw;
    let rows = [
        (
            "pam_twofold, system mode (one file per user)",
            10usize,
            0usize,
            0usize,
        ),
        ("pam_twofold, system mode (one file per user)", big, 1, 0),
        (
            "pam_twofold, system mode, and all users in the password database (nss_wrapper)",
            big,
            4,
            0,
        ),
        ("pam_oath, one shared usersfile", 10, 2, 2),
        ("pam_oath, one shared usersfile", big, 3, 2),
    ];
    for (name, count, j, r) in rows {
        let ownc = |j: usize| median(&cpu[j]) - bc;
        let _ = writeln!(
            t,
            "| {name} | {count} | {:.2} | {:.2}..{:.2} | {:.2} | {:.2} | {} | {:.2} / {:.2} / {:.3} |",
            median(&s[j]),
            percentile(&s[j], 0.1),
            percentile(&s[j], 0.9),
            own(j),
            ownc(j),
            fmt_ir(ir[j]),
            own(j) / own(r),
            ownc(j) / ownc(r),
            ir[j] as f64 / ir[r] as f64
        );
    }
    let _ = writeln!(
        t,
        "\nBaseline pam_permit {bw:.2} ms; {n} logins each, interleaved. Ten users of each directory log in in turn, \
         their file put back as enrolled after each login. Unless said otherwise the password database holds the \
         machine's own users plus the one logging in.\n"
    );
    b.say(&t);
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .expect("file");
    f.write_all(bytes).expect("write");
}

fn main() {
    let opts = Opts::parse();
    if !nix::unistd::Uid::effective().is_root() {
        die("must run as root (a private mount namespace, users' files of other uids)");
    }
    std::fs::create_dir_all(opts.out.join("callgrind")).expect("out dir");
    let out = std::fs::canonicalize(&opts.out).expect("out dir");
    if out.starts_with("/tmp") {
        die("--out must be outside /tmp: the driver runs with a /tmp of its own");
    }
    let opts = Opts { out, ..opts };
    let b = Bench::new(opts);
    b.private_syslog();
    b.services();
    b.say(&format!(
        "# twofold-bench results\n\nmodule: `{}`\nwork directory: `{}` (filesystem of the secret files)\n",
        b.opts.module.display(),
        b.root.display()
    ));
    if b.opts.wants("totp") {
        totp(&b);
    }
    if b.opts.wants("recovery") {
        recovery(&b);
    }
    if b.opts.wants("flood") {
        flood(&b);
    }
    if b.opts.wants("scale") {
        scale(&b);
    }
    b.say(&format!(
        "\nsyslog lines received on /dev/log: {}\n",
        b.syslog_lines.load(Ordering::Relaxed)
    ));
    let anomalies = b.anomalies.lock().expect("anomalies").clone();
    b.say(&format!(
        "\nUnexpected results (left out of the figures above): {}\n",
        anomalies.len()
    ));
    for a in &anomalies {
        b.say(&format!("- {a}\n"));
    }
    let report = b.report.lock().expect("report").clone();
    std::fs::write(b.opts.out.join("results.md"), report).expect("results");
    if std::env::var_os("TWOFOLD_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&b.root);
    }
}
