//! User mode (`secret_path` under `{home}`) with a real non-root user: a throwaway account
//! made with useradd for this test and removed after it.

mod common;

use common::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

struct ThrowawayUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl ThrowawayUser {
    /// Fails the test where accounts cannot be made (it needs root, as CI runs it).
    fn create(env: &Env) -> ThrowawayUser {
        let name = format!("tf-cli-{}", std::process::id());
        let home = env.path().join("home");
        let made = Command::new("useradd")
            .args([
                "--home-dir",
                home.to_str().unwrap(),
                "--create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--user-group",
                &name,
            ])
            .status();
        assert!(
            matches!(made, Ok(s) if s.success()),
            "useradd could not create a throwaway user ({made:?}): run the tests as root"
        );
        let account = twofold_core::account::Account::lookup(&name).unwrap();
        ThrowawayUser {
            name,
            uid: account.uid,
            gid: account.gid,
            home,
        }
    }

    fn cmd(&self, env: &Env, args: &[&str]) -> Cmd {
        env.cmd(args).run_as_user(self.uid, self.gid)
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        // The home directory goes with the test's temporary directory.
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

#[test]
fn a_real_user_enrolls_in_their_home_and_root_administers_it() {
    let env =
        Env::with_config(|_| "secret_path = \"{home}/.config/twofold/secrets.toml\"\n".into());
    let user = ThrowawayUser::create(&env);
    let secret_path = user.home.join(".config/twofold/secrets.toml");

    // Self-enrollment, confirmed with the code from oathtool.
    let mut child = user.cmd(&env, &["enroll", "--qr", "none"]).spawn();
    let mut stdout = child.stdout.take().unwrap();
    let shown = read_until(&mut stdout, "Enter the code shown by your app: ");
    let uri = shown
        .lines()
        .find_map(|l| l.strip_prefix("URI: "))
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with(&format!("otpauth://totp/twofold:{}?secret=", user.name)),
        "{uri}"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", oathtool(&secret_of(&uri))).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    let meta = std::fs::metadata(&secret_path).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (user.uid, 0o600));
    for dir in [user.home.join(".config"), user.home.join(".config/twofold")] {
        let m = std::fs::metadata(&dir).unwrap();
        assert_eq!(
            (m.uid(), m.mode() & 0o7777),
            (user.uid, 0o700),
            "{}",
            dir.display()
        );
    }

    let status = user.cmd(&env, &["status"]).run().success().stdout;
    assert!(
        status.contains(&format!("User:            {}\n", user.name)),
        "{status}"
    );
    let (error, _) = user
        .cmd(&env, &["--user", "root", "status"])
        .run()
        .failure()
        .error_text();
    assert_eq!(error, "only root may act for another user (--user root)");
    user.cmd(&env, &["admin", "status", &user.name])
        .run()
        .failure();

    // Root works on the user's file as the user (fsuid): the file stays theirs.
    env.run(&["admin", "status", &user.name]).success();
    env.run(&["--user", &user.name, "recovery", "regenerate"])
        .success();
    assert_eq!(std::fs::metadata(&secret_path).unwrap().uid(), user.uid);

    // Unreadable, even to root: root reads a user's file with the user's rights.
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (error, hint) = env
        .run(&["--json", "admin", "status", &user.name])
        .failure()
        .error_json();
    assert!(
        error.starts_with(&secret_path.display().to_string()),
        "{error}"
    );
    assert!(!hint.is_empty());
    user.cmd(&env, &["status"]).run().failure();
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    // ~/.google_authenticator by default, read from the home in the password database.
    let ga = user.home.join(".google_authenticator");
    std::fs::write(&ga, "JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n11223344\n").unwrap();
    std::os::unix::fs::chown(&ga, Some(user.uid), Some(user.gid)).unwrap();
    std::fs::set_permissions(&ga, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = user
        .cmd(
            &env,
            &["--json", "import", "google-authenticator", "--force"],
        )
        .run()
        .success()
        .json();
    assert_eq!(out["file"], ga.to_str().unwrap());
    assert_eq!(out["scratch_codes"], 1);
    let file = twofold_core::SecretFile::parse(&std::fs::read(&secret_path).unwrap()).unwrap();
    assert_eq!(file.devices[0].secret.base32(), "JBSWY3DPEHPK3PXP");

    env.run(&["admin", "reset", &user.name]).success();
    assert!(!secret_path.exists());
    assert_eq!(env.audit_lines().last().unwrap()["action"], "admin-reset");
}
