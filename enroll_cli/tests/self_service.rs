//! The setuid-root twofold (twofold(1), SELF-SERVICE): a copy of the built binary, root's and
//! mode 4755, run by a user in system mode. The user here is `nobody` (the one whose
//! state changes) and `daemon` the other user, whose file must never change.
//!
//! A setuid run reads only /etc/twofold/twofold.toml (`--config` is refused), so each run
//! gets its own: in a private mount namespace, an overlay over /etc whose upper layer holds
//! the test's twofold.toml; the host's /etc is not touched.

mod common;

use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use twofold_core::SecretFile;

const ALICE: (u32, &str) = (65534, "nobody");
const BOB: &str = "daemon";

struct Setuid {
    env: Env,
    bin: PathBuf,
    etc: PathBuf,
}

impl Setuid {
    fn new() -> Setuid {
        let env = Env::new();
        let bin = env.path().join("twofold");
        std::fs::copy(BIN, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();
        // Setuid is honoured only where the mount allows it.
        let findmnt = Command::new("findmnt")
            .args(["-n", "-o", "OPTIONS", "-T"])
            .arg(&bin)
            .output()
            .unwrap();
        let options = String::from_utf8_lossy(&findmnt.stdout).to_string();
        assert!(
            !options.split(',').any(|o| o.trim() == "nosuid"),
            "{} is on a nosuid mount ({options}): the test cannot run a setuid copy there",
            bin.display()
        );
        let etc = env.path().join("etc-upper");
        std::fs::create_dir_all(etc.join("twofold")).unwrap();
        std::fs::create_dir_all(env.path().join("etc-work")).unwrap();
        std::fs::copy(&env.config, etc.join("twofold/twofold.toml")).unwrap();
        Setuid { env, bin, etc }
    }

    /// `twofold ARGS` run by `nobody` with `stdin`, through the setuid copy.
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        self.run_with_env(args, stdin, &[])
    }

    fn run_with_env(&self, args: &[&str], stdin: &str, vars: &[(&str, &str)]) -> Run {
        let script = "mount -t overlay overlay -o \"lowerdir=/etc,upperdir=$1,workdir=$2\" /etc \
                      && uid=$3 && shift 3 && exec setpriv --reuid=$uid --regid=$uid --init-groups \"$@\"";
        let mut c = Command::new("unshare");
        c.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&self.etc)
        .arg(self.env.path().join("etc-work"))
        .arg(ALICE.0.to_string())
        .arg(&self.bin)
        .args(args)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        Run::of_child(
            c.spawn().unwrap(),
            stdin,
            args.iter().map(|a| a.to_string()).collect(),
        )
    }

    /// Enrolls `user` as root; the secret and the recovery codes.
    fn enroll(&self, user: &str) -> (String, Vec<String>) {
        let doc = self.env.enroll(user);
        let codes = doc["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        (doc["secret"].as_str().unwrap().to_string(), codes)
    }

    fn bytes(&self, user: &str) -> Vec<u8> {
        std::fs::read(self.env.secret_path(user)).unwrap()
    }

    fn file(&self, user: &str) -> SecretFile {
        self.env.secret_file(user).unwrap()
    }
}

fn device_names(file: &SecretFile) -> Vec<String> {
    file.devices.iter().map(|d| d.name.clone()).collect()
}

#[test]
fn a_user_adds_a_device_and_regenerates_codes_after_a_right_code() {
    let s = Setuid::new();
    let (secret, codes) = s.enroll(ALICE.1);
    let bob = s.enroll(BOB);
    let bob_before = s.bytes(BOB);

    // Status and the list need no code.
    let status = s.run(&["status"], "").success_with_warnings();
    assert!(status.stdout.contains("Devices:         1"), "{status:#?}");
    s.run(&["device", "list"], "").success_with_warnings();

    let added = s
        .run(
            &["--json", "device", "add", "tablet", "--no-confirm"],
            &format!("{}\n", oathtool(&secret)),
        )
        .success_with_warnings();
    assert_eq!(added.json()["device"], "tablet", "{added:#?}");
    let file = s.file(ALICE.1);
    assert_eq!(device_names(&file), ["default", "tablet"]);
    // The code that confirmed it is used, as a login's would be.
    assert!(file.devices[0].last_step > 0);
    assert_eq!(file.state.last_login_method.as_deref(), Some("totp"));
    // The files stay root's, in root's group.
    let meta = std::fs::metadata(s.env.secret_path(ALICE.1)).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (0, 0, 0o600)
    );

    let before = file.recovery.clone();
    let regenerated = s
        .run(
            &["--json", "recovery", "regenerate"],
            &format!("{}\n", codes[0]),
        )
        .success_with_warnings();
    let fresh = regenerated.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(fresh, 10);
    let file = s.file(ALICE.1);
    assert_ne!(file.recovery, before);
    assert_eq!(file.recovery_codes_left(), 10);

    // The old codes are gone with their set: the second one no longer proves anything.
    let refused = s
        .run(&["device", "remove", "tablet"], &format!("{}\n", codes[1]))
        .failure();
    assert_eq!(
        refused.error_text().0,
        "your second factor was not accepted; nothing was changed"
    );
    assert_eq!(device_names(&s.file(ALICE.1)), ["default", "tablet"]);
    let new_code = regenerated.json()["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_string();
    s.run(&["device", "remove", "tablet"], &format!("{new_code}\n"))
        .success_with_warnings();
    assert_eq!(device_names(&s.file(ALICE.1)), ["default"]);

    assert_eq!(s.bytes(BOB), bob_before);
    drop(bob);
    // The user's changes are in root's audit log too, as theirs, with how they proved it.
    let theirs: Vec<_> = s
        .env
        .audit_lines()
        .into_iter()
        .filter(|l| l["by"] != "root")
        .collect();
    let actions: Vec<_> = theirs
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 3, "{theirs:#?}");
    assert!(
        theirs
            .iter()
            .all(|l| l["by_uid"] == ALICE.0 && l["verified"].is_string()),
        "{theirs:#?}"
    );
}

#[test]
fn a_wrong_code_changes_no_device_and_no_recovery_code() {
    let s = Setuid::new();
    let (secret, _) = s.enroll(ALICE.1);
    let wrong = wrong_code(&device_with(&secret));
    let before = s.file(ALICE.1);
    for (args, answer) in [
        (
            &["device", "add", "tablet", "--no-confirm"][..],
            wrong.as_str(),
        ),
        (&["recovery", "regenerate"], wrong.as_str()),
        (&["device", "remove", "default", "--yes"], wrong.as_str()),
        (&["recovery", "regenerate"], "AAAA-BBBB-CCCC-DDDD"),
        (&["recovery", "regenerate"], ""),
        (&["device", "add", "tablet", "--no-confirm"], "my password"),
    ] {
        let run = s.run(args, &format!("{answer}\n")).failure();
        let (error, _) = run.error_text();
        assert_eq!(
            error, "your second factor was not accepted; nothing was changed",
            "{args:?} {answer:?}: {run:#?}"
        );
        let after = s.file(ALICE.1);
        assert_eq!(device_names(&after), ["default"], "{args:?}");
        assert_eq!(after.recovery, before.recovery, "{args:?}");
        assert_eq!(after.devices[0].last_step, before.devices[0].last_step);
    }
    // Counted as a login's wrong codes are (throttling): the one change a wrong code makes.
    assert!(s.file(ALICE.1).state.failures >= 2);
}

#[test]
fn another_user_another_configuration_the_environment_and_admin_commands_reach_nothing() {
    let s = Setuid::new();
    let (secret, codes) = s.enroll(ALICE.1);
    s.enroll(BOB);
    let bob_before = s.bytes(BOB);
    // A configuration of the user's making: system mode in a directory they would control.
    let evil_dir = s.env.path().join("evil");
    std::fs::create_dir(&evil_dir).unwrap();
    let evil = evil_dir.join("evil.toml");
    std::fs::write(
        &evil,
        format!(
            "secret_path = \"{}/secrets/{{user}}.toml\"\n",
            s.env.path().display()
        ),
    )
    .unwrap();
    let evil = evil.to_str().unwrap();
    let code = format!("{}\n", codes[0]);
    for (args, refused) in [
        (vec!["--user", BOB, "recovery", "regenerate"], "only root may act for another user (--user daemon)"),
        (vec!["--user", BOB, "status"], "only root may act for another user (--user daemon)"),
        (vec!["--user", "root", "device", "list"], "only root may act for another user (--user root)"),
        (vec!["--config", evil, "status"], "--config is for root only when twofold runs setuid root for a user; nothing was changed"),
        (vec!["device", "add", "x", "--config", evil], "--config is for root only when twofold runs setuid root for a user; nothing was changed"),
        (vec!["admin", "reset", BOB], "`twofold admin reset` is for root only"),
        (vec!["admin", "unlock", BOB], "`twofold admin unlock` is for root only"),
        (vec!["admin", "issue-pass", BOB, "--ttl", "1h"], "`twofold admin issue-pass` is for root only"),
        (vec!["admin", "status", BOB], "`twofold admin status` is for root only"),
        (vec!["--user", BOB, "enroll", "--force"], "only root may act for another user (--user daemon)"),
    ] {
        let run = s.run(&args, &code).failure();
        assert_eq!(run.error_text().0, refused, "{args:?}");
        // Refused before any prompt: no code was asked for or used.
        assert!(!run.stdout.contains("Verification code"), "{run:#?}");
        assert_eq!(s.bytes(BOB), bob_before, "{args:?}");
    }
    assert_eq!(s.file(ALICE.1).recovery_codes_left(), 10);

    // Variables that might name another configuration or home are not read: the run uses
    // /etc/twofold/twofold.toml and the user's own state.
    let vars = [
        ("TWOFOLD_CONFIG", evil),
        ("TWOFOLD_USER", BOB),
        ("HOME", "/root"),
        ("USER", BOB),
        ("LOGNAME", BOB),
        ("LD_PRELOAD", "/nonexistent.so"),
    ];
    let status = s
        .run_with_env(&["--json", "status"], "", &vars)
        .success_with_warnings();
    assert_eq!(status.json()["user"], ALICE.1);
    assert_eq!(
        status.json()["secret_path"],
        s.env.secret_path(ALICE.1).to_str().unwrap()
    );
    s.run_with_env(
        &["device", "add", "tablet", "--no-confirm"],
        &format!("{}\n", oathtool(&secret)),
        &vars,
    )
    .success_with_warnings();
    assert_eq!(device_names(&s.file(ALICE.1)), ["default", "tablet"]);
    assert_eq!(s.bytes(BOB), bob_before);
}

#[test]
fn files_named_on_the_command_line_are_written_as_the_user_so_planted_symlinks_reach_nothing() {
    let s = Setuid::new();
    let (_, codes) = s.enroll(ALICE.1);
    s.enroll(BOB);
    let bob_before = s.bytes(BOB);
    // A directory of the user's, with links to bob's file and into root's secret directory.
    let own = s.env.path().join("alice");
    std::fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(ALICE.0), Some(ALICE.0)).unwrap();
    let secrets = s.env.path().join("secrets");
    let to_bob = own.join("qr.png");
    std::os::unix::fs::symlink(s.env.secret_path(BOB), &to_bob).unwrap();
    let into_secrets = own.join("dir");
    std::os::unix::fs::symlink(&secrets, &into_secrets).unwrap();
    let dangling = own.join("new.png");
    std::os::unix::fs::symlink(secrets.join("planted.png"), &dangling).unwrap();

    for (i, target) in [
        to_bob.clone(),
        into_secrets.join("planted.png"),
        dangling.clone(),
    ]
    .iter()
    .enumerate()
    {
        let run = s
            .run(
                &[
                    "device",
                    "add",
                    "tablet",
                    "--no-confirm",
                    "--qr-png",
                    target.to_str().unwrap(),
                ],
                &format!("{}\n", codes[i]),
            )
            .failure();
        assert!(
            run.error_text().0.starts_with("cannot write")
                || run.error_text().0.contains("already exists"),
            "{run:#?}"
        );
        assert_eq!(s.bytes(BOB), bob_before);
        assert!(!secrets.join("planted.png").exists());
        assert_eq!(device_names(&s.file(ALICE.1)), ["default"]);
    }
    // The same option into the user's own directory works, and the file is the user's.
    let png = own.join("tablet.png");
    s.run(
        &[
            "device",
            "add",
            "tablet",
            "--no-confirm",
            "--qr-png",
            png.to_str().unwrap(),
        ],
        &format!("{}\n", codes[3]),
    )
    .success_with_warnings();
    assert_eq!(std::fs::metadata(&png).unwrap().uid(), ALICE.0);
    assert!(decode_qr_png(&png).starts_with("otpauth://totp/"));
}

#[test]
fn without_root_keeping_the_state_a_setuid_run_gives_root_up_as_before() {
    // Home mode: nobody's home does not exist, so `status` fails as it does without the
    // setuid bit (as the user, never creating anything as root).
    let s = Setuid::new();
    std::fs::write(
        s.etc.join("twofold/twofold.toml"),
        "secret_path = \"{home}/.config/twofold/secrets.toml\"\n",
    )
    .unwrap();
    let setuid = s.run(&["status"], "");
    let plain = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--init-groups", BIN])
        .args([
            "--config",
            s.etc.join("twofold/twofold.toml").to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    assert_eq!(setuid.code, plain.status.code().unwrap());
    assert_eq!(setuid.stdout, String::from_utf8_lossy(&plain.stdout));
    assert!(!Path::new("/nonexistent").exists());
}
