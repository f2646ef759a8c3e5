//! Runs the real `twofold` binary against a private configuration: secret files in system
//! mode under a fresh directory in /tmp, and an audit log beside them. Tests run as root;
//! `as_nobody` runs the binary as uid 65534 through setpriv.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;
use twofold_core::secret::Device;
use twofold_core::SecretFile;

pub const BIN: &str = env!("CARGO_BIN_EXE_twofold");

pub struct Env {
    pub dir: TempDir,
    pub config: PathBuf,
    pub audit_log: PathBuf,
}

impl Env {
    /// System mode: `secret_path = "<dir>/secrets/{user}.toml"`.
    pub fn new() -> Env {
        Env::with_config(|dir| format!("secret_path = \"{dir}/secrets/{{user}}.toml\"\n"))
    }

    pub fn with_config(text: impl FnOnce(&str) -> String) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("twofold-cli-")
            .tempdir_in("/tmp")
            .unwrap();
        // Readable by nobody too, for the tests that run as another user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("twofold.toml");
        let audit_log = dir.path().join("audit").join("audit.log");
        // First, so that it stays a top-level key whatever tables the text adds.
        let text = format!(
            "audit_log = \"{}\"\n{}",
            audit_log.display(),
            text(dir.path().to_str().unwrap())
        );
        std::fs::write(&config, text).unwrap();
        Env {
            dir,
            config,
            audit_log,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn secret_path(&self, user: &str) -> PathBuf {
        self.path().join("secrets").join(format!("{user}.toml"))
    }

    /// The user's secret file, parsed by the core (so also checked).
    pub fn secret_file(&self, user: &str) -> Option<SecretFile> {
        let bytes = std::fs::read(self.secret_path(user)).ok()?;
        Some(SecretFile::parse(&bytes).expect("the CLI wrote a valid file"))
    }

    /// Replaces a secret file directly (test setup), keeping the mode the store expects.
    pub fn put_secret_file(&self, user: &str, file: &SecretFile) {
        let path = self.secret_path(user);
        std::fs::write(&path, file.to_toml().unwrap().as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }

    pub fn cmd(&self, args: &[&str]) -> Cmd {
        let mut argv = vec![
            "--config".to_string(),
            self.config.to_str().unwrap().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        Cmd {
            argv,
            stdin: String::new(),
            run_as: None,
            audit_log: self.audit_log.clone(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).run()
    }

    /// `enroll --no-confirm --json` for `user`, returning the JSON document.
    pub fn enroll(&self, user: &str) -> Value {
        self.run(&[
            "--json",
            "--user",
            user,
            "enroll",
            "--no-confirm",
            "--qr",
            "none",
        ])
        .success()
        .json()
    }
}

pub struct Cmd {
    argv: Vec<String>,
    stdin: String,
    run_as: Option<(u32, u32)>,
    audit_log: PathBuf,
}

impl Cmd {
    pub fn stdin(mut self, text: &str) -> Cmd {
        self.stdin = text.to_string();
        self
    }

    pub fn run_as_nobody(self) -> Cmd {
        self.run_as_user(65534, 65534)
    }

    pub fn run_as_user(mut self, uid: u32, gid: u32) -> Cmd {
        self.run_as = Some((uid, gid));
        self
    }

    pub fn command(&self) -> Command {
        let mut c = if let Some((uid, gid)) = self.run_as {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
                BIN.into(),
            ]);
            c
        } else {
            Command::new(BIN)
        };
        c.args(&self.argv);
        c
    }

    pub fn spawn(&self) -> Child {
        self.command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("twofold runs")
    }

    pub fn run(self) -> Run {
        Run::of_child(self.spawn(), &self.stdin, self.argv)
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub argv: Vec<String>,
}

impl Run {
    /// Types `stdin` into a spawned twofold (its pipes taken) and waits for it.
    pub fn of_child(mut child: Child, stdin: &str, argv: Vec<String>) -> Run {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            argv,
        }
    }

    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "{self:#?}");
        assert_eq!(self.problems(), "", "{self:#?}");
        self
    }

    /// Exit 0, with warnings on stderr allowed.
    pub fn success_with_warnings(self) -> Run {
        assert_eq!(self.code, 0, "{self:#?}");
        self
    }

    pub fn failure(self) -> Run {
        assert_eq!(self.code, 1, "{self:#?}");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// stderr without the warning that syslog is missing (test machines have no syslog).
    pub fn problems(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| {
                !l.starts_with("twofold: warning: syslog")
                    && !l.starts_with("{\"warning\":\"syslog")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The `{"error", "hint"}` document of a --json run that failed.
    pub fn error_json(&self) -> (String, String) {
        let v: Value = serde_json::from_str(self.problems().trim())
            .unwrap_or_else(|e| panic!("stderr is not one JSON document ({e}): {self:#?}"));
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{v}");
        (
            obj["error"].as_str().unwrap().to_string(),
            obj["hint"].as_str().unwrap().to_string(),
        )
    }

    /// The text error: `twofold: error: ...` and `hint: ...`.
    pub fn error_text(&self) -> (String, String) {
        let p = self.problems();
        let mut lines = p.lines();
        let error = lines
            .next()
            .and_then(|l| l.strip_prefix("twofold: error: "))
            .unwrap_or_else(|| panic!("{self:#?}"));
        let hint = lines
            .next()
            .and_then(|l| l.strip_prefix("hint: "))
            .unwrap_or_else(|| panic!("{self:#?}"));
        (error.to_string(), hint.to_string())
    }
}

/// The current code of a base32 secret, by an independent implementation.
pub fn oathtool(secret: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .expect(
            "oathtool is installed (Debian package oathtool; scripts/install-deps.sh installs it)",
        );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A 6-digit code that matches none of the steps near now.
pub fn wrong_code(device: &Device) -> String {
    let now = now();
    let near: Vec<String> = (0..=4)
        .map(|i| {
            twofold_core::totp::code_at(device, now + i * 30 - 60)
                .unwrap()
                .to_string()
        })
        .collect();
    (0..1_000_000u32)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A device with this secret, for computing codes in tests.
pub fn device_with(secret: &str) -> Device {
    Device::new(
        "t",
        twofold_core::secret::SecretKey::from_base32(secret).unwrap(),
        0,
    )
}

/// `secret=XXXX` from an otpauth URI.
pub fn secret_of(uri: &str) -> String {
    uri.split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap()
        .to_string()
}

/// Reads a child's output until `marker` has appeared, returning all of it.
pub fn read_until(out: &mut impl Read, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.windows(marker.len()).any(|w| w == marker.as_bytes()) {
        match out.read(&mut byte) {
            Ok(0) => panic!(
                "end of output before {marker:?}: {}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(_) => seen.push(byte[0]),
            Err(e) => panic!("{e}"),
        }
    }
    String::from_utf8(seen).unwrap()
}

/// Decodes a PNG holding one QR code.
pub fn decode_qr_png(path: &Path) -> String {
    try_decode_qr_png(path)
        .unwrap_or_else(|| panic!("{} holds no readable QR code", path.display()))
}

/// `None` while the file is missing or incomplete.
pub fn try_decode_qr_png(path: &Path) -> Option<String> {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path).ok()?));
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    Some(grids[0].decode().ok()?.1)
}

pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}
