//! Writes the seed corpus to `fuzz/seeds/<target>/`: valid files of every shape, and `decide`
//! cases whose typed code matches (a fuzzer cannot guess an argon2 preimage or a TOTP code),
//! all with argon2 at m_kib=8, t=1 so executions stay fast.
//! Run: `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`
use data_encoding::BASE64;
use std::path::Path;
use twofold_core::codes::{generate, grouped, PASS_LEN, RECOVERY_LEN};
use twofold_core::kdf::{self, KdfParams, Purpose};
use twofold_core::secret::{AccessPass, Algorithm, Device, RecoveryCodes, SecretFile, SecretKey};
use twofold_core::totp;
use zeroize::Zeroizing;

const NOW: u64 = 1_800_000_000;
const CHEAP: KdfParams = KdfParams {
    m_kib: 8,
    t: 1,
    p: 1,
};

fn device(name: &str, key: &[u8], algorithm: Algorithm, digits: u8, period: u64) -> Device {
    Device {
        name: name.into(),
        secret: SecretKey::from_bytes(key),
        algorithm,
        digits,
        period,
        created: NOW - 1000,
        last_step: 0,
        window: None,
    }
}

fn codes(purpose: Purpose, plain: &[Zeroizing<String>]) -> RecoveryCodes {
    let salt = [7u8; 16];
    let hashes = plain
        .iter()
        .map(|c| BASE64.encode(kdf::hash(CHEAP, purpose, &salt, c).unwrap().as_ref()))
        .collect();
    RecoveryCodes {
        kdf: CHEAP,
        salt: BASE64.encode(&salt),
        hashes,
        created: NOW - 1000,
    }
}

fn pass(plain: &str, expires: u64) -> AccessPass {
    let salt = [9u8; 16];
    AccessPass {
        kdf: CHEAP,
        salt: BASE64.encode(&salt),
        hash: BASE64.encode(
            kdf::hash(CHEAP, Purpose::Pass, &salt, plain)
                .unwrap()
                .as_ref(),
        ),
        issued: NOW - 60,
        expires,
        issued_by: "root".into(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let recovery: Vec<Zeroizing<String>> =
        (0..4).map(|_| generate(RECOVERY_LEN).unwrap()).collect();
    let scratch: Vec<Zeroizing<String>> = ["12345678", "87654321"]
        .iter()
        .map(|s| Zeroizing::new(s.to_string()))
        .collect();
    let the_pass = generate(PASS_LEN).unwrap();

    let mut one = SecretFile::new();
    one.devices.push(device(
        "phone",
        b"12345678901234567890",
        Algorithm::SHA1,
        6,
        30,
    ));

    let mut full = one.clone();
    let mut tablet = device("tablet.2", &[0xA5; 32], Algorithm::SHA256, 8, 60);
    tablet.window = Some(3);
    tablet.last_step = NOW / 60 - 5;
    full.devices.push(tablet);
    full.devices
        .push(device("old_key", &[1; 10], Algorithm::SHA512, 7, 10));
    full.recovery = Some(codes(Purpose::Recovery, &recovery));
    full.pass = Some(pass(&the_pass, NOW + 900));
    full.state.failures = 2;
    full.state.last_login = Some(NOW - 3600);
    full.state.last_login_from = Some("local (sshd \"x\")\u{1}".into());
    full.state.last_login_method = Some("totp".into());

    let mut imported = one.clone();
    imported.devices[0].window = Some(10);
    imported.legacy_scratch = Some(codes(Purpose::Scratch, &scratch));
    imported.recovery = Some(codes(Purpose::Recovery, &recovery[..1]));

    let mut throttled = full.clone();
    throttled.state.failures = 9;
    throttled.state.throttled_until = NOW + 120;

    let mut replayed = one.clone();
    replayed.devices[0].last_step = NOW / 30;

    // A key enrolled twice, a recovery code stored twice: each must still work only once.
    let mut doubled = one.clone();
    let mut copy = doubled.devices[0].clone();
    copy.name = "phone-again".into();
    doubled.devices.push(copy);
    doubled.recovery = Some(codes(
        Purpose::Recovery,
        &[recovery[3].clone(), recovery[3].clone()],
    ));

    let files = [
        ("one", &one),
        ("full", &full),
        ("imported", &imported),
        ("throttled", &throttled),
        ("replayed", &replayed),
        ("doubled", &doubled),
    ];
    for (name, f) in files {
        write(
            &root.join("secret_file"),
            name,
            f.to_toml().unwrap().as_bytes(),
        );
    }
    write(&root.join("secret_file"), "version_only", b"version = 1\n");
    // Readable, but larger than the limit once rewritten (newlines come back as `\n`).
    let mut grows = String::from("version = 1\n[state]\nlast_login_from = \"\"\"\n");
    grows.push_str(&"\t\n".repeat(30_000));
    grows.push_str("\"\"\"\n");
    write(
        &root.join("secret_file"),
        "grows_when_rewritten",
        grows.as_bytes(),
    );

    let phone = &one.devices[0];
    let tablet = &full.devices[1];
    let toml = |f: &SecretFile| f.to_toml().unwrap().as_bytes().to_vec();
    let decide_cases: Vec<(&str, u64, String, Vec<u8>)> = vec![
        (
            "totp_now",
            NOW,
            totp::code_at(phone, NOW).unwrap().to_string(),
            toml(&one),
        ),
        (
            "totp_previous_step",
            NOW,
            totp::code_at(phone, NOW - 30).unwrap().to_string(),
            toml(&full),
        ),
        (
            "totp_8_digits_window_3",
            NOW,
            totp::code_at(tablet, NOW + 120).unwrap().to_string(),
            toml(&full),
        ),
        (
            "totp_replayed",
            NOW + 5,
            totp::code_at(phone, NOW).unwrap().to_string(),
            toml(&replayed),
        ),
        (
            "totp_throttled",
            NOW,
            totp::code_at(phone, NOW).unwrap().to_string(),
            toml(&throttled),
        ),
        ("totp_wrong", NOW, "000000".into(), toml(&full)),
        (
            "recovery",
            NOW,
            grouped(&recovery[2]).to_lowercase(),
            toml(&full),
        ),
        (
            "recovery_with_scratch",
            NOW,
            grouped(&recovery[0]),
            toml(&imported),
        ),
        ("scratch", NOW, scratch[1].to_string(), toml(&imported)),
        ("pass", NOW, grouped(&the_pass), toml(&full)),
        ("pass_expired", NOW + 900, grouped(&the_pass), toml(&full)),
        ("malformed", NOW, "12345O".into(), toml(&one)),
        (
            "totp_key_twice",
            NOW,
            totp::code_at(phone, NOW).unwrap().to_string(),
            toml(&doubled),
        ),
        ("recovery_twice", NOW, grouped(&recovery[3]), toml(&doubled)),
    ];
    for (name, now, typed, file) in decide_cases {
        write(
            &root.join("decide"),
            name,
            &twofold_fuzz::join(now, typed.as_bytes(), &file),
        );
    }

    let configs: [(&str, &str); 6] = [
        ("empty", ""),
        (
            "full",
            "secret_path = \"/var/lib/twofold/{user}.toml\"\nunenrolled = \"allow\"\nunenrolled_allow_until = 2026-12-31T00:00:00Z\n\
             exempt_groups = [\"breakglass\"]\nwindow = 2\nprompt = \"Code: \"\nissuer = \"host1\"\n\
             [rate_limit]\nfree_failures = 3\nbase_delay_secs = 10\nmax_delay_secs = 60\n",
        ),
        ("home", "secret_path = \"{home}/.config/twofold/{uid}.toml\"\nunenrolled_allow_until = 2026-11-25\n"),
        ("rate_limit", "[rate_limit]\nbase_delay_secs = 86400\nmax_delay_secs = 86400\n"),
        // The configuration the packages install.
        ("shipped", include_str!("../../packaging/twofold.toml")),
        (
            "plain",
            "# plain\r\nsecret_path = \"/var/lib/twofold/{user}.toml\"\r\nunenrolled = \"allow\" # rollout\n\
             exempt_groups = [\"breakglass\", \"wheel\"]\nwindow = 2\nprompt = \"Code: \"\nissuer = \"host1\"\n\
             audit_log = \"/var/log/twofold/audit.log\"\n\n  [rate_limit]\nfree_failures = 3\n\tbase_delay_secs\t=\t10\n\
             max_delay_secs = 60\ntotp_lockout_after = 50\n",
        ),
    ];
    for (name, text) in configs {
        write(&root.join("config"), name, text.as_bytes());
    }

    let typed: [(&str, String); 6] = [
        ("totp", "123456".into()),
        ("totp_spaced", " 123 4567 ".into()),
        ("recovery", grouped(&recovery[0])),
        (
            "recovery_lower",
            grouped(&recovery[1]).to_lowercase().replace('-', " "),
        ),
        ("pass", grouped(&the_pass)),
        (
            "typo",
            grouped(&recovery[0]).replace(&recovery[0][..1], "Z"),
        ),
    ];
    for (name, text) in typed {
        write(&root.join("classify"), name, text.as_bytes());
    }
    println!("seeds written to {}", root.display());
}
