//! The `docker` command line, and nothing else: start a container, run a shell script in it,
//! remove it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use crate::output::Output;

const DEFAULT_IMAGE: &str = "twofold-e2e:latest";

/// A running container, removed on drop (unless `TWOFOLD_E2E_KEEP=1`).
pub(crate) struct Container {
    name: String,
    /// `None` on a directory's network: the [`crate::Directory`] holds the slots.
    _slot: Option<Slot>,
}

impl Container {
    /// Starts a container of the test image with no network but loopback, IPv6 (::1)
    /// included, so that sshd can see two client addresses. It only sleeps; the harness
    /// starts the daemons it needs with `docker exec`. The sleep also bounds the life of a
    /// container whose test process was killed before it could remove it.
    pub(crate) fn start() -> Container {
        Container::run(image(), "none", &[], Some(Slot::acquire(1)))
    }

    /// As [`Container::start`], of `image`, on the Docker network `network` of a
    /// [`crate::Directory`], which took the slots of all its containers at once (one at a
    /// time, two tests each holding some could wait for each other forever). Other
    /// containers on the network reach it by its [`Container::name`]. `hosts` are
    /// (name, address) lines for its /etc/hosts (`--add-host`).
    pub(crate) fn start_on(image: &str, network: &str, hosts: &[(String, String)]) -> Container {
        Container::run(image, network, hosts, None)
    }

    fn run(
        image: &str,
        network: &str,
        hosts: &[(String, String)],
        slot: Option<Slot>,
    ) -> Container {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "twofold-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut add_hosts = String::new();
        for (host, address) in hosts {
            add_hosts += &format!(" --add-host {host}:{address}");
        }
        let run = format!(
            "run --detach --rm --network {network} --sysctl net.ipv6.conf.lo.disable_ipv6=0 \
             --hostname twofold-e2e{add_hosts} \
             --add-host twofold-e2e:127.0.1.1 --label twofold-e2e --name {name} {image} sleep 900"
        );
        let out = docker(&run.split_whitespace().collect::<Vec<_>>());
        assert!(
            out.success(),
            "could not start a container of {image}:\n{out}"
        );
        Container { name, _slot: slot }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `docker exec` of `sh -c script` as `user`, with every stream piped.
    fn spawn(&self, user: &str, script: &str) -> std::process::Child {
        Command::new("docker")
            .args([
                "exec",
                "--interactive",
                "--user",
                user,
                &self.name,
                "sh",
                "-c",
                script,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| no_docker(e))
    }

    /// Runs `script` with `sh -c` as `user`, `stdin` on its standard input.
    pub(crate) fn exec(&self, user: &str, script: &str, stdin: &[u8]) -> Output {
        let started = std::time::Instant::now();
        let mut child = self.spawn(user, script);
        let mut input = child.stdin.take().expect("stdin is piped");
        // A command that exits without reading its input closes the pipe: not our concern.
        let _ = input.write_all(stdin);
        drop(input);
        let out = child.wait_with_output().expect("waiting for docker exec");
        if std::env::var_os("TWOFOLD_E2E_TRACE").is_some() {
            let first_line = script.lines().next().unwrap_or_default();
            eprintln!(
                "{:6} ms  {}  [{user}] {first_line}",
                started.elapsed().as_millis(),
                self.name
            );
        }
        Output {
            command: format!("[{user}] {script}"),
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            prompts: Vec::new(),
        }
    }
}

impl Container {
    /// Runs `script` as `user` like [`Container::exec`], and plays the person at the
    /// terminal: each line the script prints on stdout goes to `answer`, and what it returns
    /// is typed on the script's stdin, followed by a newline.
    pub(crate) fn exec_answering(
        &self,
        user: &str,
        script: &str,
        mut answer: impl FnMut(&str) -> Option<String>,
    ) -> Output {
        let mut child = self.spawn(user, script);
        let mut input = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        let mut printed = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line.expect("reading docker exec's stdout");
            if let Some(reply) = answer(&line) {
                // A command that exits without reading its input closes the pipe: its
                // output says what happened.
                let _ = writeln!(input, "{reply}");
            }
            printed.push_str(&line);
            printed.push('\n');
        }
        drop(input);
        let status = child.wait().expect("waiting for docker exec");
        Output {
            command: format!("[{user}] {script}"),
            status: status.code().unwrap_or(-1),
            stdout: printed,
            stderr: errors.join().expect("stderr reader"),
            prompts: Vec::new(),
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::env::var_os("TWOFOLD_E2E_KEEP").is_some_and(|v| v == "1") {
            eprintln!(
                "TWOFOLD_E2E_KEEP=1: leaving container {} running",
                self.name
            );
            return;
        }
        let _ = Command::new("docker")
            .args(["rm", "--force", "--volumes", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The image under test; checked once per process so a missing image gives one clear message.
pub(crate) fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let image = std::env::var("TWOFOLD_E2E_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.into());
        let out = docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
        assert!(
            out.success(),
            "the test image {image} does not exist: run scripts/e2e-image.sh first \
             (it builds the packages and the image)\n{out}"
        );
        image
    })
}

pub(crate) fn docker(args: &[&str]) -> Output {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| no_docker(e));
    Output {
        command: format!("docker {}", args.join(" ")),
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        prompts: Vec::new(),
    }
}

fn no_docker(e: std::io::Error) -> ! {
    panic!(
        "cannot run `docker` ({e}). The end-to-end suite is the product's proof and needs a \
         Docker engine; it fails rather than skips without one."
    )
}

/// Bounds how many containers run at once (`TWOFOLD_E2E_JOBS`, default 4), whatever
/// parallelism the test runner picks: on two cores more only makes every login slower.
/// A slot may count several containers, taken together (at most the limit).
pub(crate) struct Slot {
    count: usize,
}

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

impl Slot {
    pub(crate) fn acquire(count: usize) -> Slot {
        let limit = std::env::var("TWOFOLD_E2E_JOBS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(4);
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let count = count.min(limit);
        while *running + count > limit {
            running = FREED.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += count;
        Slot { count }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running -= self.count;
        FREED.notify_all();
    }
}
