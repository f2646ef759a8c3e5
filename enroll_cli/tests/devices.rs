//! `twofold device add | list | remove`.

mod common;

use common::*;
use std::io::Write;

#[test]
fn added_device_is_confirmed_with_its_own_code_and_listed() {
    let env = Env::new();
    env.enroll("nobody");
    let mut child = env
        .cmd(&[
            "--json", "--user", "nobody", "device", "add", "tablet", "--qr-png",
        ])
        .spawn();
    drop(child.stdin.take());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(2),
        "--qr-png needs a file"
    );

    let png = env.path().join("tablet.png");
    let mut child = env
        .cmd(&[
            "--json",
            "--user",
            "nobody",
            "device",
            "add",
            "tablet",
            "--qr-png",
            png.to_str().unwrap(),
        ])
        .spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let uri = loop {
        if let Some(uri) = try_decode_qr_png(&png) {
            break uri;
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", oathtool(&secret_of(&uri))).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["device", "secret", "uri", "user"]);
    assert_eq!(doc["device"], "tablet");
    assert_eq!(doc["uri"], uri.as_str());

    let file = env.secret_file("nobody").unwrap();
    assert_eq!(
        file.devices
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["default", "tablet"]
    );
    assert!(file.devices[1].last_step > 0, "confirmed step recorded");
    assert_eq!(file.recovery_codes_left(), 10, "recovery codes untouched");

    let list = env
        .run(&["--user", "nobody", "device", "list"])
        .success()
        .stdout;
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "ALGORITHM", "DIGITS", "PERIOD", "CREATED"]
    );
    assert_eq!(
        lines[2].split_whitespace().take(4).collect::<Vec<_>>(),
        ["tablet", "SHA1", "6", "30s"]
    );
    let json = env
        .run(&["--json", "--user", "nobody", "device", "list"])
        .success()
        .json();
    assert_eq!(json["user"], "nobody");
    let d = &json["devices"][1];
    assert_eq!(
        (
            d["name"].as_str(),
            d["algorithm"].as_str(),
            d["digits"].as_u64(),
            d["period"].as_u64()
        ),
        (Some("tablet"), Some("SHA1"), Some(6), Some(30))
    );
    assert!(d["created"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn device_add_refuses_duplicates_and_unenrolled_users() {
    let env = Env::new();
    let run = env
        .run(&[
            "--user",
            "nobody",
            "device",
            "add",
            "tablet",
            "--no-confirm",
        ])
        .failure();
    assert_eq!(
        run.error_text(),
        (
            "nobody is not enrolled".into(),
            "run `twofold enroll` first".into()
        )
    );
    env.enroll("nobody");
    let run = env
        .run(&[
            "--user",
            "nobody",
            "device",
            "add",
            "default",
            "--no-confirm",
        ])
        .failure();
    let (error, hint) = run.error_text();
    assert_eq!(error, "a device named `default` already exists");
    assert!(hint.contains("twofold device remove default"), "{hint}");
    assert!(run.stdout.is_empty());
}

#[test]
fn removing_a_device_and_confirming_the_last_one() {
    let env = Env::new();
    env.enroll("nobody");
    env.run(&[
        "--user",
        "nobody",
        "device",
        "add",
        "tablet",
        "--no-confirm",
        "--qr",
        "none",
    ])
    .success();

    let out = env
        .run(&["--json", "--user", "nobody", "device", "remove", "default"])
        .success()
        .json();
    assert_eq!(
        out,
        serde_json::json!({"user": "nobody", "removed": "default", "devices_left": 1})
    );

    // The last one: asks, and anything but "yes" keeps it.
    let run = env
        .cmd(&["--user", "nobody", "device", "remove", "tablet"])
        .stdin("no\n")
        .run()
        .failure();
    assert!(
        run.stdout.contains("`tablet` is the last device")
            && run.stdout.contains("Type yes to remove it: "),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.error_text(),
        (
            "not confirmed".into(),
            "nothing was removed; type `yes` to confirm, or pass --yes".into()
        )
    );
    let (error, hint) = env
        .run(&["--json", "--user", "nobody", "device", "remove", "tablet"])
        .failure()
        .error_json();
    assert!(
        error.contains("needs confirmation") && hint == "pass --yes to remove the last device",
        "{error} / {hint}"
    );
    assert_eq!(env.secret_file("nobody").unwrap().devices.len(), 1);

    let run = env
        .cmd(&["--user", "nobody", "device", "remove", "tablet"])
        .stdin("yes\n")
        .run()
        .success();
    assert!(
        run.stdout
            .contains("Device `tablet` removed; 0 left. No device is left"),
        "{}",
        run.stdout
    );
    let file = env.secret_file("nobody").unwrap();
    assert!(file.devices.is_empty());
    assert_eq!(
        file.recovery_codes_left(),
        10,
        "recovery codes still log in"
    );

    let run = env
        .run(&["--user", "nobody", "device", "remove", "tablet"])
        .failure();
    assert_eq!(run.error_text().0, "there is no device named `tablet`");

    let actions: Vec<String> = env
        .audit_lines()
        .iter()
        .map(|l| l["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["enroll", "device-add", "device-remove", "device-remove"]
    );
}

#[test]
fn last_device_goes_at_once_with_yes() {
    let env = Env::new();
    env.enroll("nobody");
    env.run(&["--user", "nobody", "device", "remove", "default", "--yes"])
        .success();
    assert!(env.secret_file("nobody").unwrap().devices.is_empty());
}
