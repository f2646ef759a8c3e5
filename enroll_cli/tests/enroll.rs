//! `twofold enroll`: whole runs of the binary, checked on their output and on the files.

mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, Instant};
use twofold_core::codes::classify;
use twofold_core::verify::{decide, Origin};
use twofold_core::Config;

const ORIGIN: Origin = Origin {
    rhost: Some("192.0.2.1"),
    service: "sshd",
};

fn is_recovery_code(c: &str) -> bool {
    c.len() == 19
        && c.split('-').all(|g| g.len() == 4)
        && matches!(
            classify(c.as_bytes()),
            twofold_core::codes::Attempt::Recovery(_)
        )
}

#[test]
fn enrollment_without_confirmation_prints_the_json_shape_and_stores_only_hashes() {
    let env = Env::new();
    let out = env.enroll("nobody");
    let obj = out.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["device", "recovery_codes", "secret", "uri", "user"]);
    assert_eq!(out["user"], "nobody");
    assert_eq!(out["device"], "default");
    let secret = out["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits of base32");
    assert_eq!(
        out["uri"],
        format!("otpauth://totp/twofold:nobody?secret={secret}&issuer=twofold")
    );
    let codes: Vec<&str> = out["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| is_recovery_code(c)), "{codes:?}");

    let path = env.secret_path("nobody");
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(path.parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(&path).unwrap();
    for c in &codes {
        assert!(
            !text.contains(&c.replace('-', "")) && !text.contains(c),
            "recovery code stored in clear"
        );
    }
    let file = env.secret_file("nobody").unwrap();
    assert_eq!(file.devices[0].secret.base32(), secret);
    assert_eq!(file.recovery_codes_left(), 10);
    // A printed code logs in, through the same verification the module uses.
    let d = decide(
        &file,
        &classify(codes[4].as_bytes()),
        &Config::default(),
        now(),
        &ORIGIN,
    );
    assert!(d.accepted, "{}", d.reason);

    let audit = env.audit_lines();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "enroll");
    assert_eq!(audit[0]["user"], "nobody");
    assert_eq!(audit[0]["by"], "root");
    assert_eq!(audit[0]["confirmed"], "no");
}

/// Spawns `twofold enroll` on pipes, reads the URI it prints, and answers the prompt.
fn enroll_answering(
    env: &Env,
    extra: &[&str],
    answer: impl FnOnce(&str) -> String,
) -> (Run, String) {
    let mut args = vec!["--user", "nobody", "enroll", "--qr", "none"];
    args.extend_from_slice(extra);
    let cmd = env.cmd(&args);
    let mut child = cmd.spawn();
    let mut stdout = child.stdout.take().unwrap();
    let shown = read_until(&mut stdout, "Enter the code shown by your app: ");
    let uri = shown
        .lines()
        .find_map(|l| l.strip_prefix("URI: "))
        .expect("the URI is printed")
        .to_string();
    let secret = secret_of(&uri);
    assert!(
        shown.contains(&secret.chars().take(4).collect::<String>()),
        "key printed for typing"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer(&secret).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: shown + &rest,
        stderr: String::from_utf8(out.stderr).unwrap(),
        argv: Vec::new(),
    };
    (run, secret)
}

#[test]
fn code_from_oathtool_confirms_the_enrollment_and_cannot_be_replayed() {
    let env = Env::new();
    let mut code = String::new();
    let (run, secret) = enroll_answering(&env, &[], |secret| {
        code = oathtool(secret);
        format!("{code}\n")
    });
    let run = run.success();
    assert!(
        run.stdout
            .contains("Device `default` is active for nobody."),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| is_recovery_code(l.trim()))
            .count(),
        10
    );

    let file = env.secret_file("nobody").unwrap();
    assert_eq!(file.devices[0].secret.base32(), secret);
    let step = file.devices[0].last_step;
    assert!(
        step.abs_diff(now() / 30) <= 1,
        "last_step {step} is the confirmed step"
    );
    // The confirmation code is spent: the module would call it a replay.
    let d = decide(
        &file,
        &classify(code.as_bytes()),
        &Config::default(),
        now(),
        &ORIGIN,
    );
    assert!(!d.accepted && d.reason.contains("replay"), "{}", d.reason);
    assert_eq!(env.audit_lines()[0]["confirmed"], "yes");
}

#[test]
fn wrong_code_activates_nothing_and_removes_the_qr_image() {
    let env = Env::new();
    let png = env.path().join("qr.png");
    let (run, _) = enroll_answering(&env, &["--qr-png", png.to_str().unwrap()], |secret| {
        assert!(
            png.exists(),
            "the image is there while the code is asked for"
        );
        format!("{}\n", wrong_code(&device_with(secret)))
    });
    let run = run.failure();
    assert_eq!(
        run.error_text().0,
        "the code did not match; nothing was changed"
    );
    assert!(!env.secret_path("nobody").exists());
    assert!(
        !env.secret_path("nobody").parent().unwrap().exists(),
        "not even the directory"
    );
    assert!(
        !png.exists(),
        "the image of a secret that was never activated is removed"
    );
    assert!(env.audit_lines().is_empty());
}

/// twofold(1) promises three tries; a script (or `ssh host twofold enroll`, no terminal)
/// gets them too.
#[test]
fn answers_from_a_pipe_get_three_tries() {
    let env = Env::new();
    let (run, _) = enroll_answering(&env, &[], |secret| {
        let device = device_with(secret);
        format!("{}\n12ab\n{}\n", wrong_code(&device), oathtool(secret))
    });
    let run = run.success();
    assert!(
        run.stdout
            .contains("That code does not match. 2 tries left."),
        "{}",
        run.stdout
    );
    assert!(env.secret_file("nobody").is_some());
}

#[test]
fn no_code_and_non_codes_are_refused() {
    let env = Env::new();
    let run = env
        .run(&["--user", "nobody", "enroll", "--qr", "none"])
        .failure();
    assert_eq!(
        run.error_text().0,
        "no code was entered; nothing was changed"
    );
    let run = env
        .cmd(&["--user", "nobody", "enroll", "--qr", "none"])
        .stdin("12ab\n")
        .run()
        .failure();
    let (error, hint) = run.error_text();
    assert!(error.starts_with("that is not a 6-digit code"), "{error}");
    assert_eq!(hint, "type the digits your app shows, e.g. 123456");
    assert!(!env.secret_path("nobody").exists());
}

#[test]
fn enrolling_twice_needs_force() {
    let env = Env::new();
    let first = env.enroll("nobody");
    let run = env
        .run(&["--user", "nobody", "enroll", "--no-confirm", "--qr", "none"])
        .failure();
    let (error, hint) = run.error_text();
    assert_eq!(
        error,
        "nobody is already enrolled (1 device); nothing was changed"
    );
    assert!(
        hint.contains("--force") && hint.contains("twofold device add NAME"),
        "{hint}"
    );
    assert!(
        run.stdout.is_empty(),
        "no secret is shown before refusing: {}",
        run.stdout
    );
    let (error, _) = env
        .run(&["--json", "--user", "nobody", "enroll", "--no-confirm"])
        .failure()
        .error_json();
    assert_eq!(
        error,
        "nobody is already enrolled (1 device); nothing was changed"
    );
    assert_eq!(
        env.secret_file("nobody").unwrap().devices[0]
            .secret
            .base32(),
        first["secret"].as_str().unwrap()
    );

    let second = env
        .run(&[
            "--json",
            "--user",
            "nobody",
            "enroll",
            "--no-confirm",
            "--force",
        ])
        .success()
        .json();
    assert_ne!(second["secret"], first["secret"]);
    let file = env.secret_file("nobody").unwrap();
    assert_eq!(file.devices.len(), 1);
    assert_eq!(
        file.devices[0].secret.base32(),
        second["secret"].as_str().unwrap()
    );
    assert_eq!(env.audit_lines()[1]["replaced"], "yes");
}

#[test]
fn a_file_without_devices_is_not_an_enrollment_to_protect() {
    let env = Env::new();
    env.run(&["admin", "issue-pass", "nobody", "--ttl", "10m"])
        .success();
    assert!(env.secret_file("nobody").unwrap().devices.is_empty());
    env.enroll("nobody");
    assert_eq!(env.secret_file("nobody").unwrap().devices.len(), 1);
}

#[test]
fn qr_png_decodes_to_the_same_uri_and_images_are_private() {
    let env = Env::new();
    let png = env.path().join("code.png");
    let svg = env.path().join("code.svg");
    let out = env
        .run(&[
            "--json",
            "--user",
            "nobody",
            "enroll",
            "--no-confirm",
            "--qr-png",
            png.to_str().unwrap(),
            "--qr-svg",
            svg.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(decode_qr_png(&png), out["uri"].as_str().unwrap());
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg_text.starts_with("<?xml") && svg_text.contains("<svg"),
        "{svg_text:.100}"
    );
    assert_eq!(mode_of(&png), 0o600);
    assert_eq!(mode_of(&svg), 0o600);

    // An existing file is never overwritten, and nothing is enrolled.
    let run = env
        .run(&[
            "--user",
            "daemon",
            "enroll",
            "--no-confirm",
            "--qr-png",
            png.to_str().unwrap(),
        ])
        .failure();
    assert_eq!(
        run.error_text().0,
        format!("{} already exists; nothing was changed", png.display())
    );
    assert!(!env.secret_path("daemon").exists());
}

#[test]
fn json_enrollment_reads_the_code_from_stdin_without_prompting_on_stdout() {
    let env = Env::new();
    let png = env.path().join("code.png");
    let cmd = env.cmd(&[
        "--json",
        "--user",
        "nobody",
        "enroll",
        "--qr-png",
        png.to_str().unwrap(),
    ]);
    let mut child = cmd.spawn();
    // The image is written before the code is asked for: it is how a script shows the code.
    let deadline = Instant::now() + Duration::from_secs(20);
    let uri = loop {
        if let Some(uri) = try_decode_qr_png(&png) {
            break uri;
        }
        assert!(Instant::now() < deadline, "no QR image appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    let code = oathtool(&secret_of(&uri));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{code}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is only the JSON document");
    assert_eq!(doc["uri"], uri.as_str());
    assert_eq!(doc["recovery_codes"].as_array().unwrap().len(), 10);
    assert!(png.exists(), "kept after a successful enrollment");
}

#[test]
fn terminal_qr_styles() {
    let env = Env::new();
    let run = |style: &str, user: &str| {
        env.run(&["--user", user, "enroll", "--no-confirm", "--qr", style])
            .success()
            .stdout
    };
    assert!(run("utf8", "nobody").contains('\u{2588}'));
    assert!(run("ansi", "daemon").contains("\x1b[30;107m"));
    assert!(run("ansi-inverted", "bin").contains("\x1b[97;40m"));
    let none = run("none", "sys");
    assert!(
        !none.contains('\u{2588}')
            && !none.contains('\u{2580}')
            && none.contains("URI: otpauth://"),
        "{none}"
    );
}

#[test]
fn system_mode_sends_users_to_an_administrator() {
    let env = Env::new();
    let run = env.cmd(&["enroll"]).run_as_nobody().run().failure();
    let (error, hint) = run.error_text();
    assert_eq!(
        error,
        "the secret files are kept by root (system mode), so nobody cannot manage them directly"
    );
    assert_eq!(
        hint,
        "ask an administrator to run `twofold enroll --user nobody`"
    );
    assert!(!env.path().join("secrets").exists());
}

#[test]
fn bad_device_name_is_refused_before_anything_is_shown() {
    let env = Env::new();
    let run = env
        .run(&[
            "--user",
            "nobody",
            "enroll",
            "--device",
            "my phone",
            "--no-confirm",
        ])
        .failure();
    assert_eq!(run.error_text().0, "`my phone` is not a valid device name");
    assert!(run.stdout.is_empty());
}

#[test]
fn issuer_comes_from_the_configuration_and_is_percent_encoded() {
    let env = Env::with_config(|dir| {
        format!("secret_path = \"{dir}/secrets/{{user}}.toml\"\nissuer = \"ACME Corp\"\n")
    });
    let out = env.enroll("nobody");
    let secret = out["secret"].as_str().unwrap();
    assert_eq!(
        out["uri"],
        format!("otpauth://totp/ACME%20Corp:nobody?secret={secret}&issuer=ACME%20Corp")
    );
}

/// Reads a QR code drawn with half blocks back into modules and decodes it.
fn decode_terminal_qr(text: &str, blocks_are_light: bool) -> String {
    let rows: Vec<Vec<char>> = text
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| " \u{2588}\u{2580}\u{2584}".contains(c)))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows[0].len();
    assert!(
        rows.iter().all(|r| r.len() == width),
        "a square of equal lines"
    );
    let scale = 4;
    let (w, h) = (width * scale, rows.len() * 2 * scale);
    let pixel = |x: usize, y: usize| {
        let c = rows[y / scale / 2][x / scale];
        let upper = (y / scale) & 1 == 0;
        let drawn = match c {
            '\u{2588}' => true,
            '\u{2580}' => upper,
            '\u{2584}' => !upper,
            _ => false,
        };
        // A white border around it all, as a screen around a terminal.
        if drawn == blocks_are_light {
            255
        } else {
            0
        }
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "{text}");
    grids[0].decode().unwrap().1
}

#[test]
fn terminal_qr_code_decodes_to_the_uri() {
    let env = Env::new();
    for (user, style, light) in [("nobody", "utf8", true), ("daemon", "utf8-inverted", false)] {
        let out = env
            .run(&["--user", user, "enroll", "--no-confirm", "--qr", style])
            .success()
            .stdout;
        let uri = out.lines().find_map(|l| l.strip_prefix("URI: ")).unwrap();
        assert_eq!(decode_terminal_qr(&out, light), uri, "{style}");
    }
}
