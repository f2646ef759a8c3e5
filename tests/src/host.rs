//! A machine under test, declared in a few lines and built as a fresh container.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::auth_log::Decision;
use crate::docker::Container;
use crate::login::{quote, SshLogin, SudoRun};
use crate::output::Output;

/// How sshd authenticates: the packaged examples (`sshd_config` as a drop-in, a `pam.d-sshd*`
/// as `/etc/pam.d/sshd`), installed as an administrator is told to. A later `.file()` of one
/// of those paths replaces what the variant wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SshAuth {
    /// Public key only; PAM's auth stack is never asked. Proves the harness without twofold.
    Publickey,
    /// Public key, then a keyboard-interactive round where PAM asks pam_twofold for a code.
    PublickeyThenTotp,
    /// Keyboard-interactive only: pam_unix asks for the password, then pam_twofold for a code.
    PasswordThenTotp,
    /// Debian's stock sshd configuration and `/etc/pam.d/sshd`, as installed: for tests
    /// that follow the documents' own steps to change them.
    DebianDefault,
    /// Debian's stock sshd and /etc/pam.d/sshd, limited to the password method: sshd answers
    /// every PAM prompt with the password (what `pam-auth-update --enable twofold` meets).
    StockPassword,
}

/// How sudo authenticates (`/etc/pam.d/sudo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SudoAuth {
    /// The packaged example `/etc/pam.d/sudo`: the password (common-auth), then a code.
    PasswordThenTotp,
    /// Debian's own `/etc/pam.d/sudo` (`@include common-auth`), left as installed; for tests
    /// that change the common stack themselves, e.g. with pam-auth-update.
    DebianDefault,
}

/// Where the package puts its example PAM files; the suite installs those, so it tests
/// what administrators are told to copy.
const EXAMPLES: &str = "/usr/share/doc/twofold/examples";

/// No systemd in the container: the documents' `systemctl reload ssh` (or `restart`, or
/// `sshd`) stops the listening sshd and starts it again, returning once it listens, so a
/// test runs the documents' commands as printed. Open sessions are not affected.
const SYSTEMCTL_SHIM: &str = r#"cat >/usr/local/sbin/systemctl <<'EOF'
#!/bin/sh
# twofold-e2e: the part of systemctl the documents use, for a container without systemd.
case "$1 $2" in
"reload ssh" | "restart ssh" | "reload sshd" | "restart sshd")
    kill "$(cat /run/sshd.pid)"
    for _ in $(seq 250); do [ -e /run/sshd.pid ] || break; sleep 0.02; done
    /usr/sbin/sshd
    for _ in $(seq 250); do
        awk '$2 ~ /:0016$/ && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp && exit 0
        sleep 0.02
    done
    echo "sshd is not listening on port 22" >&2; exit 1 ;;
*) echo "systemctl shim of twofold-e2e: $* is not supported" >&2; exit 1 ;;
esac
EOF
chmod 0755 /usr/local/sbin/systemctl
"#;

/// What a file written during setup contains.
enum Contents {
    Text(String),
    /// A packaged example, `EXAMPLES/NAME`.
    Example(&'static str),
}

/// A user account: home directory, a password, root's public key in `authorized_keys`.
#[derive(Clone, Debug)]
pub struct User {
    name: String,
    password: String,
    groups: Vec<String>,
}

impl User {
    /// Password defaults to `NAME-password`.
    pub fn new(name: &str) -> User {
        User {
            name: name.into(),
            password: format!("{name}-password"),
            groups: Vec::new(),
        }
    }

    /// Also a member of `group` (created if needed).
    pub fn group(mut self, group: &str) -> User {
        self.groups.push(group.into());
        self
    }

    pub fn password(mut self, password: &str) -> User {
        self.password = password.into();
        self
    }
}

impl From<&str> for User {
    fn from(name: &str) -> User {
        User::new(name)
    }
}

/// Declares a machine: `Host::new().user("alice").enrolled("alice").sshd(..).build()`.
#[must_use = "call .build()"]
#[derive(Default)]
pub struct HostBuilder {
    users: Vec<User>,
    enrolled: Vec<String>,
    sshd: Option<SshAuth>,
    sudo: Option<SudoAuth>,
    sudoers: Vec<String>,
    config: Option<String>,
    files: Vec<(String, String)>,
    secrets: Vec<String>,
    network: Option<String>,
    hosts: Vec<(String, String)>,
}

impl HostBuilder {
    pub fn user(mut self, user: impl Into<User>) -> Self {
        self.users.push(user.into());
        self
    }

    /// Enrolls `user` with `twofold --json --user USER enroll --no-confirm` once the machine
    /// runs; [`Host::enrollment`] has the secret and recovery codes it printed.
    pub fn enrolled(mut self, user: &str) -> Self {
        self.enrolled.push(user.into());
        self
    }

    /// Starts sshd on 127.0.0.1:22, authenticating as `auth` says.
    pub fn sshd(mut self, auth: SshAuth) -> Self {
        self.sshd = Some(auth);
        self
    }

    /// Sets sudo's PAM stack.
    pub fn sudo(mut self, auth: SudoAuth) -> Self {
        self.sudo = Some(auth);
        self
    }

    /// `USER ALL=(ALL:ALL) ALL` in sudoers.
    pub fn sudoer(mut self, user: &str) -> Self {
        self.sudoers.push(user.into());
        self
    }

    /// The contents of `/etc/twofold/twofold.toml` (without it: the packaged file).
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.into());
        self
    }

    /// A file owned by root, mode 0644, written after everything else the builder writes.
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.into(), contents.into()));
        self
    }

    /// A file owned by root, mode 0600 (a password file), written with the other files.
    pub fn secret_file(mut self, path: &str, contents: &str) -> Self {
        self.secrets.push(path.into());
        self.file(path, contents)
    }

    /// Runs the machine on the Docker network `name` (a [`crate::Directory`]'s) instead of
    /// none; its sshd still listens on 127.0.0.1 only.
    pub fn network(mut self, name: &str) -> Self {
        self.network = Some(name.into());
        self
    }

    /// A line `ADDRESS NAME` in the machine's /etc/hosts (`docker run --add-host`): how
    /// hosts find [`crate::Directory::start_replicated`]'s servers without a DNS lookup.
    pub fn hosts_entry(mut self, name: &str, address: &str) -> Self {
        self.hosts.push((name.into(), address.into()));
        self
    }

    /// Starts the container, sets it up and returns once its daemons accept logins.
    /// Panics (failing the test) when Docker or the image is missing.
    #[track_caller]
    pub fn build(self) -> Host {
        let container = match &self.network {
            Some(network) => Container::start_on(crate::docker::image(), network, &self.hosts),
            None => Container::start(),
        };
        let mut host = Host {
            container,
            enrollments: BTreeMap::new(),
        };
        let script = self.setup_script();
        host.container.exec("root", &script, b"").assert_success();
        // Side by side: enrolling hashes ten recovery codes, which takes a while.
        let outputs: Vec<Output> = std::thread::scope(|scope| {
            let enrolls: Vec<_> = (self.enrolled.iter())
                .map(|user| {
                    let host = &host;
                    scope.spawn(move || {
                        host.twofold(&format!("--json --user {user} enroll --no-confirm"))
                    })
                })
                .collect();
            enrolls
                .into_iter()
                .map(|e| e.join().expect("enroll thread"))
                .collect()
        });
        for (user, out) in self.enrolled.iter().zip(&outputs) {
            out.assert_success();
            host.enrollments
                .insert(user.clone(), Enrollment::from_json(out));
        }
        host
    }

    fn setup_script(&self) -> String {
        let mut s = String::from("set -eu\n");
        for user in &self.users {
            for group in &user.groups {
                s += &format!(
                    "getent group {0} >/dev/null || groupadd {0}\n",
                    quote(group)
                );
            }
            let groups = if user.groups.is_empty() {
                String::new()
            } else {
                format!("-G {} ", quote(&user.groups.join(",")))
            };
            let name = quote(&user.name);
            s += &format!("useradd --create-home --shell /bin/bash {groups}{name}\n");
            s += &format!(
                "install -d -m 700 -o {name} -g {name} /home/{name}/.ssh\n\
                 install -m 600 -o {name} -g {name} /root/.ssh/id_ed25519.pub \
                 /home/{name}/.ssh/authorized_keys\n"
            );
        }
        if !self.users.is_empty() {
            // One chpasswd for all: each run locks and rewrites /etc/shadow.
            let mut passwords = String::new();
            for user in &self.users {
                passwords += &format!("{}:{}\n", user.name, user.password);
            }
            s += &format!("printf '%s' {} | chpasswd\n", quote(&passwords));
        }
        let mut files: Vec<(&str, Contents)> = Vec::new();
        if let Some(config) = &self.config {
            files.push(("/etc/twofold/twofold.toml", Contents::Text(config.clone())));
        }
        if let Some(auth) = self.sshd {
            // sshd reads the drop-ins in name order and the first value of a keyword wins:
            // ours (00-) only adds what the container needs, and the method list where the
            // packaged example's own list is not the one wanted.
            let (methods, sshd_example, pam_example) = match auth {
                SshAuth::Publickey => ("AuthenticationMethods publickey\n", None, None),
                SshAuth::DebianDefault => ("", None, None),
                SshAuth::PublickeyThenTotp => ("", Some("sshd_config"), Some("pam.d-sshd")),
                SshAuth::PasswordThenTotp => (
                    // The alternative line the example gives for hosts without keys.
                    "AuthenticationMethods keyboard-interactive\n",
                    Some("sshd_config"),
                    Some("pam.d-sshd-password"),
                ),
                SshAuth::StockPassword => ("AuthenticationMethods password\n", None, None),
            };
            let ours = format!("ListenAddress 127.0.0.1\nMaxStartups 100\nPrintMotd no\n{methods}");
            files.push((
                "/etc/ssh/sshd_config.d/00-twofold-e2e.conf",
                Contents::Text(ours),
            ));
            if let Some(example) = sshd_example {
                files.push((
                    "/etc/ssh/sshd_config.d/twofold.conf",
                    Contents::Example(example),
                ));
            }
            if let Some(example) = pam_example {
                files.push(("/etc/pam.d/sshd", Contents::Example(example)));
            }
        }
        if self.sudo == Some(SudoAuth::PasswordThenTotp) {
            files.push(("/etc/pam.d/sudo", Contents::Example("pam.d-sudo")));
            files.push(("/etc/pam.d/sudo-i", Contents::Example("pam.d-sudo-i")));
        }
        if !self.sudoers.is_empty() {
            // One try per sudo: a wrong answer fails at once instead of prompting again.
            let mut sudoers = String::from("Defaults lecture=never, passwd_tries=1\n");
            for user in &self.sudoers {
                sudoers += &format!("{user} ALL=(ALL:ALL) ALL\n");
            }
            files.push(("/etc/sudoers.d/twofold-e2e", Contents::Text(sudoers)));
        }
        for (path, contents) in &self.files {
            files.push((path, Contents::Text(contents.clone())));
        }
        for (path, contents) in &files {
            let path = quote(path);
            s += &format!("mkdir -p \"$(dirname {path})\"\n");
            match contents {
                Contents::Text(text) => s += &format!("printf '%s' {} >{path}\n", quote(text)),
                Contents::Example(name) => s += &format!("cp {EXAMPLES}/{name} {path}\n"),
            }
            s += &format!("chmod 0644 {path}\n");
        }
        for path in &self.secrets {
            s += &format!("chmod 0600 {}\n", quote(path));
        }
        if !self.sudoers.is_empty() {
            s += "chmod 0440 /etc/sudoers.d/twofold-e2e\n";
        }
        if self.sshd.is_some() {
            s += SYSTEMCTL_SHIM;
        }
        s += if self.sshd.is_some() {
            "start-services sshd\n"
        } else {
            "start-services\n"
        };
        s
    }
}

/// What `twofold --json enroll` printed for a user.
#[derive(Clone, Debug)]
pub struct Enrollment {
    pub device: String,
    pub secret: String,
    pub uri: String,
    pub recovery_codes: Vec<String>,
}

impl Enrollment {
    #[track_caller]
    fn from_json(out: &Output) -> Enrollment {
        let json = out.json();
        let text = |key: &str| {
            json[key]
                .as_str()
                .unwrap_or_else(|| panic!("enroll JSON has no string {key:?}:\n{out}"))
                .to_owned()
        };
        let recovery_codes = json["recovery_codes"]
            .as_array()
            .unwrap_or_else(|| panic!("enroll JSON has no recovery_codes:\n{out}"))
            .iter()
            .map(|c| c.as_str().expect("recovery code is a string").to_owned())
            .collect();
        Enrollment {
            device: text("device"),
            secret: text("secret"),
            uri: text("uri"),
            recovery_codes,
        }
    }
}

/// A running machine under test. Dropping it removes the container.
pub struct Host {
    container: Container,
    enrollments: BTreeMap<String, Enrollment>,
}

impl Host {
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> HostBuilder {
        HostBuilder::default()
    }

    pub(crate) fn container(&self) -> &Container {
        &self.container
    }

    /// The container's name, for `docker exec -it NAME bash` with `TWOFOLD_E2E_KEEP=1`.
    pub fn name(&self) -> &str {
        self.container.name()
    }

    pub fn ssh(&self, user: &str) -> SshLogin<'_> {
        SshLogin::new(self, user)
    }

    pub fn sudo(&self, user: &str) -> SudoRun<'_> {
        SudoRun::new(self, user)
    }

    /// Runs a shell command as root.
    pub fn run(&self, command: &str) -> Output {
        self.container.exec("root", command, b"")
    }

    /// Runs a shell command as `user`.
    pub fn run_as(&self, user: &str, command: &str) -> Output {
        self.container.exec(user, command, b"")
    }

    /// Runs `script` as `user` the way a person with an authenticator app does: whenever
    /// it prints an `otpauth://` URI (as `twofold enroll` does), the app's current code for
    /// that secret is typed in. The last secret shown, with the recovery codes printed,
    /// becomes `enrolled`'s [`Host::enrollment`] (`user` itself, or the user root enrolled
    /// with `--user`), so [`Host::totp`] gives their codes.
    ///
    /// When the setuid twofold asks to confirm the current factor before a change
    /// (twofold(1), SELF-SERVICE), the next step's code (the current one may have confirmed
    /// the device) of the secret shown last in this run, or else of `enrolled`'s device.
    #[track_caller]
    pub fn run_with_app(&mut self, user: &str, script: &str, enrolled: &str) -> Output {
        let mut uri = None;
        let enrolled_secret = self.enrollments.get(enrolled).map(|e| e.secret.clone());
        let out = self.container.exec_answering(user, script, |line| {
            if line.starts_with("Confirm it is you") {
                let shown = uri.as_deref().map(uri_secret);
                return Some(self.totp_of_secret(shown.as_ref().or(enrolled_secret.as_ref())?, 1));
            }
            let shown = line
                .split_whitespace()
                .find(|w| w.starts_with("otpauth://"))?;
            uri = Some(shown.to_owned());
            Some(self.totp_of_secret(&uri_secret(shown), 0))
        });
        if let Some(uri) = uri {
            let recovery_codes = (out.stdout.split_whitespace())
                .filter(|w| is_recovery_code(w))
                .map(str::to_owned)
                .collect();
            let enrollment = Enrollment {
                device: String::new(),
                secret: uri_secret(&uri),
                uri,
                recovery_codes,
            };
            self.enrollments.insert(enrolled.into(), enrollment);
        }
        out
    }

    /// Writes `contents` to `path` as root, mode 0644, replacing the file.
    #[track_caller]
    pub fn write_file(&self, path: &str, contents: &str) {
        let path = quote(path);
        self.run(&format!(
            "printf '%s' {} >{path} && chmod 0644 {path}",
            quote(contents)
        ))
        .assert_success();
    }

    /// Copies the file `local` of this machine to `path` in the container (`docker cp`).
    #[track_caller]
    pub fn copy_in(&self, local: &std::path::Path, path: &str) {
        let local = local.to_str().expect("a UTF-8 path");
        let to = format!("{}:{path}", self.container().name());
        crate::docker::docker(&["cp", local, &to]).assert_success();
    }

    /// The contents of `path`, read as root.
    #[track_caller]
    pub fn read_file(&self, path: &str) -> String {
        let out = self.run(&format!("cat {}", quote(path)));
        out.assert_success();
        out.stdout
    }

    /// Runs the CLI as root: `host.twofold("--json admin issue-pass alice --ttl 10m")`.
    pub fn twofold(&self, args: &str) -> Output {
        self.run(&format!("twofold {args}"))
    }

    /// What `twofold enroll` printed for `user` during build.
    #[track_caller]
    pub fn enrollment(&self, user: &str) -> &Enrollment {
        self.enrollments
            .get(user)
            .unwrap_or_else(|| panic!("{user} was not declared .enrolled()"))
    }

    /// The current TOTP code of `user`'s enrolled device, from oathtool in the container.
    #[track_caller]
    pub fn totp(&self, user: &str) -> String {
        self.totp_of_secret(&self.enrollment(user).secret.clone(), 0)
    }

    /// The code of `user`'s device `steps` time steps (30 s) from now.
    #[track_caller]
    pub fn totp_in_steps(&self, user: &str, steps: i64) -> String {
        self.totp_of_secret(&self.enrollment(user).secret.clone(), steps)
    }

    /// The code for a base32 `secret` `steps` time steps from now:
    /// `oathtool --totp -b -N 'now + 30*steps seconds' SECRET`.
    #[track_caller]
    pub fn totp_of_secret(&self, secret: &str, steps: i64) -> String {
        let out = self.run(&format!(
            "oathtool --totp -b -N 'now {:+} seconds' {}",
            steps * 30,
            quote(secret)
        ));
        out.assert_success();
        out.stdout.trim().to_owned()
    }

    /// Six digits that are none of the codes of `user`'s devices from two steps back to
    /// two steps ahead, so a guaranteed wrong code.
    #[track_caller]
    pub fn wrong_code(&self, user: &str) -> String {
        let out = self.run(&format!(
            "oathtool --totp -b -w 4 -N 'now - 60 seconds' {}",
            quote(&self.enrollment(user).secret)
        ));
        out.assert_success();
        ["123456", "654321", "000000", "999999"]
            .into_iter()
            .find(|candidate| !out.stdout.lines().any(|code| code.trim() == *candidate))
            .expect("four codes cannot all be valid")
            .to_owned()
    }

    /// The decisions pam_twofold has logged so far, oldest first, once there are at least
    /// `count` of them (rsyslog writes asynchronously). Panics after 5 s with the whole log.
    #[track_caller]
    pub fn decisions(&self, count: usize) -> Vec<Decision> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.auth_log();
            let decisions: Vec<Decision> = log.lines().filter_map(Decision::parse).collect();
            if decisions.len() >= count {
                return decisions;
            }
            if Instant::now() > deadline {
                panic!(
                    "expected at least {count} pam_twofold decisions in /var/log/auth.log, \
                     found {}:\n{log}",
                    decisions.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `count`th decision (1-based) logged by pam_twofold, waiting for it if need be.
    #[track_caller]
    pub fn decision(&self, nth: usize) -> Decision {
        self.decisions(nth).swap_remove(nth - 1)
    }

    /// The whole of `/var/log/auth.log`.
    pub fn auth_log(&self) -> String {
        self.run("cat /var/log/auth.log").stdout
    }
}

/// The `secret` parameter of an `otpauth://` URI.
#[track_caller]
fn uri_secret(uri: &str) -> String {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    (query.split('&'))
        .find_map(|pair| pair.strip_prefix("secret="))
        .unwrap_or_else(|| panic!("no secret in {uri}"))
        .to_owned()
}

/// `XXXX-XXXX-XXXX-XXXX` in Crockford base32, as twofold prints recovery codes.
fn is_recovery_code(word: &str) -> bool {
    let groups: Vec<&str> = word.split('-').collect();
    groups.len() == 4
        && (groups.iter()).all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
}
