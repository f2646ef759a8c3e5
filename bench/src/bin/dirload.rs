//! dirload: the login load of one host of the directory benchmark (bench/directory.rs runs it
//! in each host's container). Each thread runs logins through `twofold_core::auth`, the code
//! the PAM module runs (the module only adds reading the PAM items around it), with the host's
//! `/etc/twofold/twofold.toml`: every login connects to the directory, binds, reads the user's
//! entry and its used items' entries in one search, adds the entry of the step it uses and
//! commits with one compare-and-swap modify, as a login in sshd does.
//!
//!   dirload USERS START_MS SECS THREADS
//!
//! USERS holds `name base32-secret` lines. All hosts walk the users in the same order from the
//! same wall-clock instant START_MS, so the hosts race for the same user and code. Each login
//! types the code of its own time step. Prints one `ok USER STEP` line per accepted code, one
//! `lat MICROS` line per login, and a summary line `sum ATTEMPTS OK SECONDS`.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twofold_core::auth::{self, Answer, Caller, Conversation, Request};
use twofold_core::config::Config;
use twofold_core::secret::{Algorithm, Device, SecretKey};
use twofold_core::totp;
use zeroize::Zeroizing;

/// What one thread saw: the accepted (user index, time step) pairs and each login's latency.
type Worker = (Vec<(usize, u64)>, Vec<u64>);

struct Typed(Zeroizing<Vec<u8>>);

impl Conversation for Typed {
    fn prompt_hidden(&mut self, _prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        Ok(self.0.clone())
    }
    fn info(&mut self, _text: &str) {}
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [users, start_ms, secs, threads] = &args[..] else {
        eprintln!("usage: dirload USERS START_MS SECS THREADS");
        std::process::exit(2);
    };
    let users: Vec<(String, Device)> = std::fs::read_to_string(users)
        .expect("users file")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, secret)| {
            let device = Device {
                name: "phone".into(),
                secret: SecretKey::from_base32(secret).expect("base32 secret"),
                algorithm: Algorithm::SHA1,
                digits: 6,
                period: 30,
                created: 0,
                last_step: 0,
                window: None,
            };
            (name.to_owned(), device)
        })
        .collect();
    let start = Duration::from_millis(start_ms.parse().expect("START_MS"));
    let secs: u64 = secs.parse().expect("SECS");
    let threads: usize = threads.parse().expect("THREADS");
    let config = Config::load("/etc/twofold/twofold.toml").expect("configuration");
    let caller = Caller::of_this_process();
    if let Some(wait) = start.checked_sub(now()) {
        std::thread::sleep(wait);
    }
    let began = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Vec<Worker> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut ok, mut lat) = (Vec::new(), Vec::new());
                    while began.elapsed() < Duration::from_secs(secs) {
                        let i = next.fetch_add(1, Ordering::Relaxed) % users.len();
                        let (name, device) = &users[i];
                        let t = now().as_secs();
                        let code = totp::code_at(device, t).expect("code");
                        let mut typed = Typed(Zeroizing::new(code.as_bytes().to_vec()));
                        let req = Request {
                            user: name,
                            service: "sshd",
                            rhost: Some("192.0.2.1"),
                            now: t,
                            caller,
                        };
                        let t0 = Instant::now();
                        let outcome = auth::authenticate(&config, &req, &mut typed);
                        lat.push(t0.elapsed().as_micros() as u64);
                        if outcome.answer == Answer::Success {
                            ok.push((i, t / 30));
                        } else if !outcome.reason.contains("replay") {
                            eprintln!("{name}: {}", outcome.reason);
                        }
                    }
                    (ok, lat)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let elapsed = began.elapsed().as_secs_f64();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut attempts, mut accepted) = (0, 0);
    for (ok, lat) in &results {
        for (i, step) in ok {
            writeln!(out, "ok {} {step}", users[*i].0).expect("stdout");
        }
        for l in lat {
            writeln!(out, "lat {l}").expect("stdout");
        }
        attempts += lat.len();
        accepted += ok.len();
    }
    writeln!(out, "sum {attempts} {accepted} {elapsed:.3}").expect("stdout");
}
