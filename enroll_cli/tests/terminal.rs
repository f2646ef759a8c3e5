//! `twofold enroll` in a real terminal (a pty): the QR code is drawn, a wrong code is refused
//! with a retry and activates nothing, the right code activates.

mod common;

use common::*;
use rexpect::session::{spawn_command, PtySession};

const PROMPT: &str = "Enter the code shown by your app: ";

fn start(env: &Env) -> (PtySession, String, String) {
    let cmd = env
        .cmd(&["--user", "nobody", "enroll", "--device", "phone"])
        .command();
    let mut p = spawn_command(cmd, Some(30_000)).expect("a pty");
    let shown = bytes_to_utf8(&p.exp_string(PROMPT).expect("the prompt"));
    let uri = shown
        .lines()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix("URI: "))
        .expect("the URI is shown")
        .to_string();
    (p, shown, uri)
}

/// rexpect hands out each byte as one char: put the UTF-8 back together.
fn bytes_to_utf8(text: &str) -> String {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a byte"))
        .collect();
    String::from_utf8(bytes).expect("UTF-8 output")
}

/// The exit code, from the `Exited(pid, code)` that rexpect reports.
fn exit_code(p: &PtySession) -> i32 {
    let status = format!("{:?}", p.process().wait().unwrap());
    let code = status
        .strip_prefix("Exited(")
        .and_then(|s| s.rsplit_once(", "))
        .map(|(_, c)| c.trim_end_matches(')'));
    code.and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{status}"))
}

#[test]
fn wrong_code_is_refused_in_a_terminal_then_the_right_one_activates() {
    let env = Env::new();
    let (mut p, shown, uri) = start(&env);
    assert!(shown.contains("Scan this QR code with the app:"), "{shown}");
    // Half blocks, drawn line by line: many lines of the same width.
    let qr_lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains('\u{2588}') || l.contains('\u{2580}'))
        .collect();
    assert!(qr_lines.len() >= 15, "{shown}");
    let secret = secret_of(&uri);

    p.send_line(&wrong_code(&device_with(&secret))).unwrap();
    p.exp_string("That code does not match. 2 tries left.")
        .unwrap();
    p.exp_string(PROMPT).unwrap();
    assert!(
        !env.secret_path("nobody").exists(),
        "nothing stored after a wrong code"
    );

    p.send_line(&oathtool(&secret)).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("Device `phone` is active for nobody."),
        "{rest}"
    );
    assert!(rest.contains("They are not shown again"), "{rest}");
    assert_eq!(exit_code(&p), 0);
    let file = env.secret_file("nobody").unwrap();
    assert_eq!(file.devices[0].name, "phone");
    assert_eq!(file.devices[0].secret.base32(), secret);
}

#[test]
fn three_wrong_codes_in_a_terminal_end_with_nothing_stored() {
    let env = Env::new();
    let (mut p, _, uri) = start(&env);
    let wrong = wrong_code(&device_with(&secret_of(&uri)));
    p.send_line(&wrong).unwrap();
    p.exp_string("2 tries left.").unwrap();
    p.send_line("not a code").unwrap();
    p.exp_string("That is not a 6-digit code").unwrap();
    p.exp_string("1 try left.").unwrap();
    p.send_line(&wrong).unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(
        rest.contains("twofold: error: none of the 3 codes matched; nothing was changed"),
        "{rest}"
    );
    assert_eq!(exit_code(&p), 1);
    assert!(!env.secret_path("nobody").exists());
}
