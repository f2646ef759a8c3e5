//! A throw-away host for loading the built `pam_twofold.so` into real libpam, without root
//! changes to the machine and without Docker: pamtester runs under pam_wrapper (a private
//! pam.d) and nss_wrapper (private users), in a private mount namespace where /run/syslog is
//! our socket, so the module's auth-log lines can be asserted on.
#![allow(dead_code)]

use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use twofold_core::account::Account;
use twofold_core::codes::{generate, grouped, RECOVERY_LEN};
use twofold_core::secret::{Device, SecretFile, SecretKey};
use twofold_core::store::{Location, Owner, SecretStore};
use zeroize::Zeroizing;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The module under test: `target/<profile>/libpam_twofold.so`, built for the profile of this
/// test binary.
pub fn module_file() -> PathBuf {
    module_path()
}

/// The package is a cdylib only, and `cargo test` builds no cdylib for integration tests. So the first call in each test process runs
/// `cargo build -p pam_twofold` with the cargo and the profile that built this test: a no-op
/// when the module is fresh, and cargo's own lock makes tests started together wait for one
/// build. The tests never load a module older than the sources.
fn module_path() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            // target/<profile>/deps/<test binary>
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
                "debug" => "dev",
                other => other,
            };
            let out = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "pam_twofold",
                    "--profile",
                    profile,
                ])
                .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdin(Stdio::null())
                .output()
                .expect("run cargo to build the module");
            assert!(
                out.status.success(),
                "cargo build -p pam_twofold failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let so = profile_dir.join("libpam_twofold.so");
            assert!(so.exists(), "{} not built", so.display());
            so
        })
        .clone()
}

pub struct Host {
    pub root: PathBuf,
    /// The module's path inside a login's mount namespace (`root/lib`).
    pub so: PathBuf,
    /// Where cargo built it, bind-mounted on `root/lib` in the namespace.
    so_dir: PathBuf,
    pub logs: Arc<Mutex<Vec<String>>>,
    _socket: Arc<UnixDatagram>,
    passwd: String,
    group: String,
    pub stack: String,
    /// Environment of each login's pamtester (for pam_wrapper's pam_set_items.so).
    pub env: Vec<(String, String)>,
    /// The uid (and gid) pamtester runs as, when not root (a screen locker runs PAM so).
    pub run_as: Option<u32>,
}

pub struct Enrolled {
    pub secret: Vec<u8>,
    pub recovery: Vec<String>,
}

impl Enrolled {
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.secret)
    }
    /// The code at `t`, from the core's own TOTP.
    pub fn code_at(&self, t: u64) -> String {
        let d = device("x", &self.secret);
        twofold_core::totp::code_at(&d, t).unwrap().to_string()
    }
}

pub fn device(name: &str, secret: &[u8]) -> Device {
    Device::new(name, SecretKey::from_bytes(secret), 0)
}

pub struct Login {
    pub output: Output,
    pub logs: Vec<String>,
}

impl Login {
    pub fn succeeded(&self) -> bool {
        self.output.status.success()
    }
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.succeeded(),
            "login failed: {}\nlogs: {:#?}",
            self.text(),
            self.logs
        );
        self
    }
    pub fn assert_denied(&self) -> &Self {
        assert!(
            !self.succeeded(),
            "login succeeded: {}\nlogs: {:#?}",
            self.text(),
            self.logs
        );
        // A denial only counts if the module itself decided it: libpam also denies when the
        // module cannot be loaded, and such a test would pass for the wrong reason.
        assert!(
            self.logs
                .iter()
                .any(|l| l.contains("pam_twofold[") && l.contains("result=deny")),
            "denied, but not by pam_twofold: {}\nlogs: {:#?}",
            self.text(),
            self.logs
        );
        self
    }
    pub fn assert_log(&self, needle: &str) -> &Self {
        assert!(
            self.logs.iter().any(|l| l.contains(needle)),
            "no log line with {needle:?}: {:#?}\noutput: {}",
            self.logs,
            self.text()
        );
        self
    }
    pub fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }
}

impl Host {
    pub fn new() -> Host {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // Not under /tmp: each login gets a private /tmp (see `pamtester`).
        let root = PathBuf::from(format!(
            "/var/tmp/twofold-pamtest-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["pam.d", "run", "home"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for d in ["", "home", "run"] {
            std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let sock_path = root.join("run/syslog");
        let socket = Arc::new(UnixDatagram::bind(&sock_path).unwrap());
        std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o666)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        {
            // Runs until the Host is dropped, whatever recv says: a dead reader would fill the
            // socket's queue and block every module that logs.
            let (socket, logs) = (Arc::clone(&socket), Arc::clone(&logs));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 8192];
                while Arc::strong_count(&socket) > 1 {
                    if let Ok(n) = socket.recv(&mut buf) {
                        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                        logs.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                    }
                }
            });
        }
        // The module as seen inside each login's mount namespace (see `namespace_setup`): the
        // build directory may itself be under /tmp, which the namespace hides.
        let built = module_path();
        std::fs::create_dir_all(root.join("lib")).unwrap();
        let so = root.join("lib").join(built.file_name().unwrap());
        let mut host = Host {
            so_dir: built.parent().unwrap().to_path_buf(),
            stack: String::new(),
            env: Vec::new(),
            run_as: None,
            passwd: "root:x:0:0:root:/root:/bin/sh\n".into(),
            group: "root:x:0:\n".into(),
            root,
            so,
            logs,
            _socket: socket,
        };
        // Empty: the built-in defaults, chosen explicitly (a missing file is refused).
        host.config("");
        host.stack(&format!(
            "auth required {} config={}\nauth optional pam_permit.so\n",
            host.so.display(),
            host.config_path().display(),
        ));
        host
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("twofold.toml")
    }

    pub fn config(&mut self, text: &str) -> &mut Self {
        std::fs::write(self.config_path(), text).unwrap();
        self
    }

    pub fn stack(&mut self, text: &str) -> &mut Self {
        self.stack = text.to_string();
        std::fs::write(self.root.join("pam.d/twofold"), text).unwrap();
        self
    }

    pub fn home(&self, user: &str) -> PathBuf {
        self.root.join("home").join(user)
    }

    /// Adds a user with a home directory of its own (mode 0755).
    pub fn user(&mut self, name: &str, uid: u32) -> &mut Self {
        let home = self.home(name);
        std::fs::create_dir_all(&home).unwrap();
        chown(&home, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.passwd.push_str(&format!(
            "{name}:x:{uid}:{uid}::{}:/bin/sh\n",
            home.display()
        ));
        self.group.push_str(&format!("{name}:x:{uid}:\n"));
        self.write_nss();
        self
    }

    pub fn group(&mut self, name: &str, gid: u32, members: &[&str]) -> &mut Self {
        self.group
            .push_str(&format!("{name}:x:{gid}:{}\n", members.join(",")));
        self.write_nss();
        self
    }

    fn write_nss(&self) {
        std::fs::write(self.root.join("passwd"), &self.passwd).unwrap();
        std::fs::write(self.root.join("group"), &self.group).unwrap();
    }

    fn nss_env(&self, cmd: &mut Command) {
        // Preloaded into pamtester only (see `pamtester`), not into unshare, sh and mount.
        cmd.env(
            "TWOFOLD_TEST_PRELOAD",
            "libpam_wrapper.so libnss_wrapper.so",
        )
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", self.root.join("pam.d"))
        .env("NSS_WRAPPER_PASSWD", self.root.join("passwd"))
        .env("NSS_WRAPPER_GROUP", self.root.join("group"));
    }

    /// Where the default configuration puts a user's secret file.
    pub fn secret_path(&self, user: &str) -> PathBuf {
        self.home(user).join(".config/twofold/secrets.toml")
    }

    /// Enrolls `user` (self-enrollment layout, files owned by the user) with one device and
    /// `recovery` recovery codes, through the core's own storage code.
    pub fn enroll(&self, user: &str, uid: u32, recovery: usize) -> Enrolled {
        let mut secret = vec![0u8; 20];
        getrandom_fill(&mut secret);
        let mut file = SecretFile::new();
        file.devices.push(device("phone", &secret));
        let codes: Vec<Zeroizing<String>> = (0..recovery)
            .map(|_| generate(RECOVERY_LEN).unwrap())
            .collect();
        if recovery > 0 {
            file.set_recovery_codes(&codes, now()).unwrap();
        }
        self.write_file(user, uid, &file);
        Enrolled {
            secret,
            recovery: codes.iter().map(|c| grouped(c)).collect(),
        }
    }

    pub fn location(&self, user: &str, uid: u32) -> Location {
        let p = self.secret_path(user);
        Location::from_path(p.to_str().unwrap(), Owner::User { uid, gid: uid }).unwrap()
    }

    pub fn write_file(&self, user: &str, uid: u32, file: &SecretFile) {
        let store = SecretStore::open_or_create(&self.location(user, uid)).unwrap();
        let lock = store.lock().unwrap();
        store.write(&lock, file).unwrap();
    }

    pub fn read_file(&self, user: &str, uid: u32) -> SecretFile {
        let store = SecretStore::open(&self.location(user, uid))
            .unwrap()
            .unwrap();
        store.read().unwrap().unwrap()
    }

    /// Shell commands that prepare a login's private mount namespace: the module's build
    /// directory on `root/lib`, our syslog socket's directory on /run, and a private /tmp
    /// (pam_wrapper keeps its per-process pam.d copy in /tmp/pam.X and races other processes
    /// cleaning "stale" ones when dozens start at once).
    pub fn namespace_setup(&self) -> String {
        format!(
            "mount --bind '{}' '{}' && mount --bind '{}' /run && mount -t tmpfs -o size=16m tmpfs /tmp",
            self.so_dir.display(),
            self.root.join("lib").display(),
            self.root.join("run").display()
        )
    }

    /// The pamtester command for one login as `user`, in its own mount namespace.
    pub fn pamtester(&self, user: &str) -> Command {
        self.pamtester_for("twofold", None, user)
    }

    /// pamtester for `service` (the stack copied to its pam.d file), with PAM_RHOST set to
    /// `rhost` as sshd would (`pamtester -I rhost=...`).
    pub fn pamtester_for(&self, service: &str, rhost: Option<&str>, user: &str) -> Command {
        self.pamtester_with(service, rhost, user, "")
    }

    /// pamtester with its output unbuffered (`stdbuf -o0`), for a test that reads what the
    /// module shows before it answers the next prompt.
    pub fn pamtester_unbuffered(&self, user: &str) -> Command {
        self.pamtester_with("twofold", None, user, "stdbuf -o0 ")
    }

    fn pamtester_with(
        &self,
        service: &str,
        rhost: Option<&str>,
        user: &str,
        wrap: &str,
    ) -> Command {
        if service != "twofold" {
            std::fs::write(self.root.join("pam.d").join(service), &self.stack).unwrap();
        }
        // The namespace needs root; pamtester itself runs as `run_as` when set.
        let setpriv = match self.run_as {
            Some(id) => format!("setpriv --reuid={id} --regid={id} --clear-groups "),
            None => String::new(),
        };
        let script = format!(
            "{} && LD_PRELOAD=\"$TWOFOLD_TEST_PRELOAD\" exec {setpriv}{wrap}pamtester -v{} {service} \"$1\" authenticate",
            self.namespace_setup(),
            rhost.map_or(String::new(), |r| format!(" -I 'rhost={r}'")),
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &script, "sh", user]);
        self.nss_env(&mut cmd);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts a login that types `input`, without waiting for it.
    pub fn start_login(&self, user: &str, input: &[u8]) -> std::process::Child {
        self.start(self.pamtester(user), input)
    }

    fn start(&self, mut pamtester: Command, input: &[u8]) -> std::process::Child {
        let mut child = pamtester
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = input.to_vec();
        line.push(b'\n');
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(&line);
        child
    }

    /// Starts one login per input, all at once; returns how many succeeded.
    pub fn concurrent_successes<'a>(
        &self,
        user: &str,
        inputs: impl IntoIterator<Item = &'a [u8]>,
    ) -> usize {
        let children: Vec<_> = inputs
            .into_iter()
            .map(|i| self.start_login(user, i))
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .filter(|o| {
                if !o.status.success() {
                    // Shown only when the test fails: why a login was refused.
                    eprintln!("refused: {}", String::from_utf8_lossy(&o.stderr).trim());
                }
                o.status.success()
            })
            .count()
    }

    /// One login attempt through real libpam; `input` is what the person types.
    pub fn login(&self, user: &str, input: &[u8]) -> Login {
        self.finish(|| self.start_login(user, input))
    }

    /// One login through `service`'s stack with PAM_RHOST `rhost` (see `pamtester_for`).
    pub fn login_via(&self, service: &str, rhost: Option<&str>, user: &str, input: &[u8]) -> Login {
        self.finish(|| self.start(self.pamtester_for(service, rhost, user), input))
    }

    fn finish(&self, start: impl FnOnce() -> std::process::Child) -> Login {
        let before = self.logs.lock().unwrap().len();
        let child = start();
        let output = child.wait_with_output().unwrap();
        // The module logs every decision: wait for the line (a loaded machine may take a
        // while to schedule the reader), then a moment for any further line.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.logs.lock().unwrap().len() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(20));
        let logs = self.logs.lock().unwrap()[before..].to_vec();
        Login { output, logs }
    }

    pub fn all_logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn getrandom_fill(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

pub fn assert_unchanged(path: &Path, before: &[u8]) {
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{} changed",
        path.display()
    );
}

/// A code for `secret` computed by oathtool, an independent TOTP implementation.
pub fn oathtool_code(base32: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", base32])
        .output()
        .expect("oathtool is installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn lookup(user: &str) -> Account {
    Account::lookup(user).unwrap()
}
