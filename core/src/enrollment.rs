//! A new enrollment's secrets, made the same way by `twofold enroll` and by the PAM module
//! at first login: a device's random key, the recovery codes, and how the codes are shown.

use crate::auth::{Answer, Conversation, Level, Outcome, Request};
use crate::codes::{self, classify, Attempt};
use crate::config::Config;
use crate::qr::{self, TextStyle};
use crate::secret::{Device, SecretKey};
use crate::store::{Created, Storage};
use crate::totp::{self, Match};
use crate::{otpauth, SecretFile};
use zeroize::Zeroizing;

/// 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;

const RECOVERY_ADVICE: &str =
    "Keep them somewhere safe and away from this computer: in a password manager, or on paper.\n\
They are not shown again; `twofold recovery regenerate` replaces them all.\n";

/// A device with a new random key, added at `now`.
pub fn new_device(name: &str, now: crate::UnixTime) -> Result<Device, getrandom::Error> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    getrandom::fill(bytes.as_mut())?;
    Ok(Device::new(
        name,
        SecretKey::from_bytes(bytes.as_ref()),
        now,
    ))
}

pub fn new_recovery_codes() -> Result<Vec<Zeroizing<String>>, getrandom::Error> {
    (0..RECOVERY_CODES)
        .map(|_| codes::generate(codes::RECOVERY_LEN))
        .collect()
}

/// Recovery codes as printed for people ([`codes::grouped`]), indented, then the advice.
pub fn codes_block(printed: &[String]) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::new());
    for c in printed {
        text.push_str("    ");
        text.push_str(c);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(RECOVERY_ADVICE);
    text
}

/// The device name of an enrollment at login (`twofold device rename` changes it).
const DEVICE_AT_LOGIN: &str = "default";
const CONFIRM_PROMPT: &str = "Enter the code shown by your app to activate it: ";
const CONTINUE_PROMPT: &str = "Press Enter to continue: ";

/// Enrollment at first login (`unenrolled = "enroll"`), for a user `auth` found without any
/// state, after the stack's first factor: a new key shown in the conversation, activated
/// only by a right code from the app, and stored only where there is still no state.
///
/// What the person sees: the key and the URI as PAM_TEXT_INFO, then the QR code inside the
/// prompt for the code. OpenSSH's keyboard-interactive shows informational messages only
/// with the next prompt (the QR code at the prompt keeps the two together) and escapes
/// anything but ASCII in prompts (so the code is drawn in `##`). After the activation the
/// recovery codes are shown once, followed by a prompt so that ssh shows them, and the
/// login proceeds: the person proved the first factor and a code of the key just shown,
/// which is what a login with that key would prove.
///
/// Each step is logged through the conversation (offered) and in the outcome (activated,
/// wrong code, refused); never the key or a code.
pub(crate) fn at_first_login(
    config: &Config,
    req: &Request,
    user: &str,
    storage: &mut impl Storage,
    conv: &mut dyn Conversation,
) -> Outcome {
    let refuse = |method, conv: &mut dyn Conversation, reason: String, level| {
        // As for every refusal before the prompt: the prompt does not tell who is enrolled.
        let _ = conv.prompt_hidden(&config.prompt);
        Outcome::deny(method, reason, level)
    };
    if !config.enrollment_offered(req.now) {
        let until = config
            .enroll_until
            .map(crate::time::rfc3339)
            .unwrap_or_default();
        return refuse(
            "unenrolled",
            conv,
            format!("not enrolled and enroll_until ({until}) has passed: unenrolled = \"enroll\" now refuses like \"deny\""),
            Level::Warning,
        );
    }
    if !conv.shows_info() {
        return refuse(
            "unenrolled",
            conv,
            "not enrolled; enrollment at login not offered: this conversation cannot show the QR code (PAM_SILENT); refused".into(),
            Level::Warning,
        );
    }
    let mut device = match new_device(DEVICE_AT_LOGIN, req.now) {
        Ok(d) => d,
        Err(e) => return refuse("enroll", conv, format!("no random key: {e}"), Level::Error),
    };
    let uri = otpauth::uri(&config.issuer, user, &device);
    let drawn = match qr::text(&uri, TextStyle::Ascii) {
        Ok(q) => q,
        Err(e) => return refuse("enroll", conv, e, Level::Error),
    };
    conv.log(
        Level::Notice,
        "enroll",
        "offered",
        "not enrolled: enrollment offered in the login conversation (unenrolled = \"enroll\")",
    );
    let mut shown = Zeroizing::new(format!(
        "No second factor is set up for {user} yet. Set up an authenticator app now:\n\
         scan the QR code below, or add this key by hand (time-based, SHA1, 6 digits, 30 seconds):\n\n    "
    ));
    shown.push_str(&otpauth::key_for_typing(device.secret.base32()));
    shown.push_str("\n\nURI: ");
    shown.push_str(&uri);
    shown.push('\n');
    conv.info(&shown);
    drop(shown);
    let mut prompt = Zeroizing::new(String::with_capacity(drawn.len() + 100));
    prompt.push_str(&drawn);
    drop(drawn);
    prompt.push('\n');
    prompt.push_str(CONFIRM_PROMPT);
    let answer = conv.prompt_hidden(&prompt);
    drop(prompt);
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            return Outcome::deny(
                "enroll",
                format!("conversation failed during the enrollment ({e}): nothing activated"),
                Level::Warning,
            )
        }
    };
    // The answer is checked against the time it was typed: scanning takes a while.
    let Some(now) = conv.now() else {
        return Outcome::deny(
            "enroll",
            "clock unreadable: nothing activated",
            Level::Error,
        );
    };
    let window = device.window.unwrap_or(config.window);
    let checked = match classify(&answer) {
        Attempt::Totp(code) => totp::check(&device, &code, now, window),
        _ => Ok(Match::None),
    };
    drop(answer);
    match checked {
        Ok(Match::Fresh(step)) => device.last_step = step,
        Ok(Match::Replayed | Match::None) => {
            return Outcome::deny(
                "enroll",
                "enrollment offered, but the answer was not a right code of the key shown: nothing activated",
                Level::Warning,
            )
        }
        Err(e) => return Outcome::deny("enroll", e, Level::Error),
    }
    let recovery = match new_recovery_codes() {
        Ok(r) => r,
        Err(e) => {
            return Outcome::deny(
                "enroll",
                format!("no random recovery codes: {e}; nothing activated"),
                Level::Error,
            )
        }
    };
    let mut file = SecretFile::new();
    file.devices.push(device);
    if let Err(e) = file.set_recovery_codes(&recovery, now) {
        return Outcome::deny("enroll", format!("{e}; nothing activated"), Level::Error);
    }
    match storage.create(&file) {
        Ok(Created::Created) => {}
        Ok(Created::Exists) => {
            return Outcome::deny(
                "enroll",
                "a right code, but the user was enrolled meanwhile (another login or `twofold enroll`): refused, the existing enrollment kept",
                Level::Warning,
            )
        }
        Err(e) => {
            return Outcome::deny(
                "enroll",
                format!("a right code, but the enrollment could not be stored: {e}; nothing activated"),
                Level::Error,
            )
        }
    }
    drop(file);
    let printed = Zeroizing::new(
        recovery
            .iter()
            .map(|c| codes::grouped(c))
            .collect::<Vec<String>>(),
    );
    drop(recovery);
    let mut text = Zeroizing::new(format!(
        "Your authenticator app is active for {user}: the next login asks for its code.\n\n\
         Recovery codes. Each works once, in place of a code from your app:\n\n"
    ));
    text.push_str(&codes_block(&printed));
    drop(printed);
    conv.info(&text);
    drop(text);
    // Shows the codes over ssh; the answer is not looked at.
    let seen = conv.prompt_hidden(CONTINUE_PROMPT);
    Outcome {
        answer: Answer::Success,
        method: "enroll",
        reason: match seen {
            Ok(_) => "not enrolled: enrolled at login with a right code of the key shown (device `default`); recovery codes shown".into(),
            Err(e) => format!("not enrolled: enrolled at login with a right code of the key shown (device `default`); the conversation ended at the recovery codes ({e}): they may not have been seen"),
        },
        level: Level::Notice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::auth::scripted::Script;
    use crate::auth::{authenticate, Caller};
    use crate::store::{Location, SecretStore};

    const NOW: crate::UnixTime = 1_800_000_000;
    /// The person types the code two minutes after the login began (four steps later).
    const TYPED: crate::UnixTime = NOW + 120;
    const REQ: Request = Request {
        user: "root",
        service: "sshd",
        rhost: Some("192.0.2.7"),
        now: NOW,
        caller: Caller {
            uids: [0; 3],
            gids: [0; 3],
            capabilities: true,
        },
    };

    /// A system-mode config for root in a fresh, absent directory (system mode wants
    /// root-owned files: these tests run as root, as CI does).
    fn setup(name: &str, policy: &str) -> (Config, Location, String) {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "system mode needs root-owned files: run the tests as root"
        );
        let dir = format!("/tmp/twofold-enroll-{name}-{}", std::process::id());
        let _ = std::fs::remove_dir_all(&dir);
        let config =
            Config::parse(&format!("secret_path = \"{dir}/{{user}}.toml\"\n{policy}")).unwrap();
        let loc = Location::for_account(&config, &Account::lookup("root").unwrap()).unwrap();
        (config, loc, dir)
    }

    fn stored(loc: &Location) -> Option<SecretFile> {
        SecretStore::open(loc)
            .unwrap()
            .and_then(|s| s.read().unwrap())
    }

    /// The device of the key the person was shown (read from the URI, as an app would).
    fn shown_device(info: &str) -> Device {
        let key = info
            .split("secret=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .expect("no key in the message");
        Device::new("app", SecretKey::from_base32(key).unwrap(), 0)
    }

    /// A conversation that shows info, with the clock at `TYPED`.
    fn person(answers: &[&[u8]]) -> Script {
        Script {
            shows_info: true,
            now: Some(TYPED),
            ..Script::answering(answers)
        }
    }

    /// A person who answers the confirmation prompt with `answer(key shown)`, then Enter.
    struct Answering<F: FnMut(&Device) -> Vec<u8>> {
        script: Script,
        answer: F,
        /// Done at the confirmation prompt, before answering (another enrollment, say).
        meanwhile: Option<Box<dyn FnOnce()>>,
    }

    impl<F: FnMut(&Device) -> Vec<u8>> Conversation for Answering<F> {
        fn prompt_hidden(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, String> {
            if prompt.ends_with(CONFIRM_PROMPT) {
                let device = shown_device(&self.script.infos[0]);
                if let Some(m) = self.meanwhile.take() {
                    m();
                }
                self.script.answers.push_front((self.answer)(&device));
            }
            self.script.prompt_hidden(prompt)
        }
        fn info(&mut self, text: &str) {
            self.script.info(text)
        }
        fn shows_info(&self) -> bool {
            true
        }
        fn now(&self) -> Option<crate::UnixTime> {
            Some(TYPED)
        }
        fn log(&mut self, level: Level, method: &str, result: &str, reason: &str) {
            self.script.log(level, method, result, reason)
        }
    }

    fn answering<F: FnMut(&Device) -> Vec<u8>>(answer: F) -> Answering<F> {
        Answering {
            script: Script::answering(&[b""]),
            answer,
            meanwhile: None,
        }
    }

    fn right_code(d: &Device) -> Vec<u8> {
        crate::totp::code_at(d, TYPED).unwrap().as_bytes().to_vec()
    }

    #[test]
    fn an_unenrolled_user_is_offered_and_a_right_code_activates_the_enrollment() {
        let (config, loc, dir) = setup("right", "unenrolled = \"enroll\"");
        let mut conv = answering(right_code);
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Success, "{}", out.reason);
        assert_eq!((out.method, out.level), ("enroll", Level::Notice));
        let s = &conv.script;
        assert_eq!(s.logs.len(), 1, "{:?}", s.logs);
        assert!(s.logs[0].starts_with("enroll offered"), "{:?}", s.logs);
        // The key and the URI as information, the QR code (ASCII) in the prompt after it.
        let device = shown_device(&s.infos[0]);
        assert!(s.infos[0].contains(&*otpauth::key_for_typing(device.secret.base32())));
        assert!(s.infos[0].contains("URI: otpauth://totp/twofold:root?secret="));
        assert_eq!(s.prompts.len(), 2, "{:?}", s.prompts);
        assert!(s.prompts[0].is_ascii() && s.prompts[0].starts_with("####"));
        assert!(s.prompts[0].ends_with(CONFIRM_PROMPT));
        // Then the recovery codes, once, and a prompt so that ssh shows them.
        assert!(s.infos[1].contains("Recovery codes"), "{}", s.infos[1]);
        assert_eq!(s.prompts[1], CONTINUE_PROMPT);
        let file = stored(&loc).expect("no enrollment stored");
        assert_eq!(file.devices.len(), 1);
        assert_eq!(file.devices[0].secret.base32(), device.secret.base32());
        // Checked at the time it was typed, and that code is used up.
        assert_eq!(file.devices[0].last_step, TYPED / 30);
        assert_eq!(file.recovery_codes_left(), RECOVERY_CODES);
        let shown: Vec<String> = s.infos[1]
            .lines()
            .filter(|l| l.starts_with("    "))
            .map(|l| l.trim().replace('-', ""))
            .collect();
        assert_eq!(shown.len(), RECOVERY_CODES);
        let recovery = file.recovery.as_ref().unwrap();
        let found = recovery.find(crate::kdf::Purpose::Recovery, &shown[9], None);
        assert_eq!(
            found.unwrap(),
            Some(9),
            "the codes shown are not the ones stored"
        );
        for line in s.logs.iter().chain([&out.reason]) {
            assert!(!line.contains(device.secret.base32()), "{line}");
        }

        // The next login asks for a code, and the code of the enrollment is a replay.
        let mut next = person(&[&right_code(&device)]);
        let req = Request { now: TYPED, ..REQ };
        let out = authenticate(&config, &req, &mut next);
        assert_eq!(out.answer, Answer::Deny, "{}", out.reason);
        assert!(out.reason.contains("replay"), "{}", out.reason);
        assert_eq!(next.prompts, [config.prompt.as_str()]);
        assert!(next.infos.is_empty() && next.logs.is_empty());
        let later = crate::totp::code_at(&device, TYPED + 30).unwrap();
        let out = authenticate(
            &config,
            &Request {
                now: TYPED + 30,
                ..REQ
            },
            &mut person(&[later.as_bytes()]),
        );
        assert_eq!((out.answer, out.method), (Answer::Success, "totp"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_wrong_code_activates_nothing() {
        let (config, loc, dir) = setup("wrong", "unenrolled = \"enroll\"");
        let wrong = |d: &Device| {
            let mut c = right_code(d);
            c[0] = if c[0] == b'9' { b'0' } else { c[0] + 1 };
            c
        };
        for answer in [&wrong as &dyn Fn(&Device) -> Vec<u8>, &|_: &Device| {
            b"hunter2".to_vec()
        }] {
            let mut conv = answering(answer);
            let out = authenticate(&config, &REQ, &mut conv);
            assert_eq!((out.answer, out.method), (Answer::Deny, "enroll"));
            assert!(out.reason.contains("nothing activated"), "{}", out.reason);
            assert_eq!(conv.script.prompts.len(), 1, "no further prompt");
            assert!(stored(&loc).is_none(), "an enrollment was stored");
        }
        // A code of the start of the login, typed minutes later, is no right code.
        let mut conv = answering(|d| crate::totp::code_at(d, NOW).unwrap().as_bytes().to_vec());
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!(out.answer, Answer::Deny, "{}", out.reason);
        assert!(stored(&loc).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_conversation_that_ends_at_the_offer_activates_nothing() {
        let (config, loc, dir) = setup("hangup", "unenrolled = \"enroll\"");
        // No answer at all: the client went away at the QR code.
        let mut conv = person(&[]);
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!((out.answer, out.method), (Answer::Deny, "enroll"));
        assert!(out.reason.contains("nothing activated"), "{}", out.reason);
        assert_eq!(conv.logs.len(), 1, "offered, and logged as such");
        assert!(stored(&loc).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_enrollment_that_appeared_during_the_offer_is_kept_and_the_login_refused() {
        let (config, loc, dir) = setup("race", "unenrolled = \"enroll\"");
        let mut other = SecretFile::new();
        other.devices.push(Device::new(
            "phone",
            SecretKey::from_bytes(b"12345678901234567890"),
            0,
        ));
        let (l, o) = (loc.clone(), other.clone());
        let mut conv = answering(right_code);
        conv.meanwhile = Some(Box::new(move || {
            let store = SecretStore::open_or_create(&l).unwrap();
            let lock = store.lock().unwrap();
            store.write(&lock, &o).unwrap();
        }));
        let out = authenticate(&config, &REQ, &mut conv);
        assert_eq!((out.answer, out.method), (Answer::Deny, "enroll"));
        assert!(out.reason.contains("enrolled meanwhile"), "{}", out.reason);
        assert_eq!(
            stored(&loc),
            Some(other),
            "the other enrollment was replaced"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_enrolled_user_is_never_offered_enrollment() {
        let (config, loc, dir) = setup("enrolled", "unenrolled = \"enroll\"");
        // Any state counts, even one without devices (a temporary access pass).
        for devices in [0, 1] {
            let mut file = SecretFile::new();
            if devices == 1 {
                file.devices.push(Device::new(
                    "phone",
                    SecretKey::from_bytes(b"12345678901234567890"),
                    0,
                ));
            }
            let store = SecretStore::open_or_create(&loc).unwrap();
            let lock = store.lock().unwrap();
            store.write(&lock, &file).unwrap();
            drop(lock);
            let mut conv = person(&[b"123456"]);
            let out = authenticate(&config, &REQ, &mut conv);
            assert_ne!(out.method, "enroll", "{}", out.reason);
            assert_eq!(conv.prompts, [config.prompt.as_str()]);
            assert!(conv.infos.is_empty() && conv.logs.is_empty());
            assert_eq!(stored(&loc).unwrap().devices.len(), devices);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn after_enroll_until_or_without_info_it_refuses_like_deny_without_an_offer() {
        for (policy, conv_shows_info, why) in [
            (
                "unenrolled = \"enroll\"\nenroll_until = 2027-01-15T00:00:00Z",
                true,
                "enroll_until (2027-01-15T00:00:00Z) has passed",
            ),
            ("unenrolled = \"enroll\"", false, "PAM_SILENT"),
        ] {
            let (config, loc, dir) = setup("refused", policy);
            let mut conv = Script {
                shows_info: conv_shows_info,
                ..person(&[b"123456"])
            };
            let out = authenticate(&config, &REQ, &mut conv);
            assert_eq!((out.answer, out.method), (Answer::Deny, "unenrolled"));
            assert!(out.reason.contains(why), "{}", out.reason);
            // Asked for a code like anyone refused, shown nothing.
            assert_eq!(conv.prompts, [config.prompt.as_str()]);
            assert!(conv.infos.is_empty() && conv.logs.is_empty());
            assert!(stored(&loc).is_none());
            let _ = std::fs::remove_dir_all(dir);
        }
        // Before the date it is offered.
        let (config, _loc, dir) = setup(
            "until",
            "unenrolled = \"enroll\"\nenroll_until = 2027-02-01T00:00:00Z",
        );
        let out = authenticate(&config, &REQ, &mut answering(right_code));
        assert_eq!(out.answer, Answer::Success, "{}", out.reason);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
