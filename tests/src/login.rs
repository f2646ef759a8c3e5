//! Logins as a person would make them: `ssh` to 127.0.0.1 inside the container, and `sudo`.

use crate::host::Host;
use crate::output::Output;

/// An ssh login in preparation: `host.ssh("alice").answer_with(&code).run()`.
#[must_use = "call .run()"]
pub struct SshLogin<'h> {
    host: &'h Host,
    user: String,
    answers: Vec<String>,
    command: String,
    address: String,
    hold: Option<String>,
    limit_secs: u64,
    /// Answers the enrollment prompt (one showing `secret=`) with a code of the key shown:
    /// `Some(true)` the right code, `Some(false)` a wrong one.
    enrollment: Option<bool>,
}

impl<'h> SshLogin<'h> {
    pub(crate) fn new(host: &'h Host, user: &str) -> Self {
        SshLogin {
            host,
            user: user.into(),
            answers: Vec::new(),
            command: "id -un".into(),
            address: "127.0.0.1".into(),
            hold: None,
            limit_secs: 30,
            enrollment: None,
        }
    }

    /// Holds the answer to the prompt until the file `go` exists in the container (the
    /// login has then read the user's state and waits at the prompt, which it says with a
    /// file `waiting` in its /tmp/login.* directory): for races on a state read by all.
    pub fn hold_answer_until(mut self, go: &str) -> Self {
        self.hold = Some(go.into());
        self
    }

    /// How long the client may take before it is killed (default 30 s); a client killed
    /// so exits with status 124 (`timeout`'s), which [`Output::assert_not_timed_out`]
    /// catches. A race's logins wait at the prompt for the others, so need longer.
    pub fn time_limit(mut self, secs: u64) -> Self {
        self.limit_secs = secs;
        self
    }

    /// Answers the prompt of an enrollment at login (the one that shows an `otpauth://` URI)
    /// as a person with an authenticator app would: with the current code of the key shown,
    /// computed by oathtool in the container. Other prompts get the answers given, in order
    /// (the enrollment prompt counts as one of them).
    pub fn answer_enrollment_from_shown_key(mut self) -> Self {
        self.enrollment = Some(true);
        self
    }

    /// As [`Self::answer_enrollment_from_shown_key`], but with a wrong code: the right one
    /// with its first digit changed.
    pub fn answer_enrollment_wrongly(mut self) -> Self {
        self.enrollment = Some(false);
        self
    }

    /// The address of sshd to connect to (default 127.0.0.1), and so the client's own
    /// address that sshd sees (`::1` needs sshd listening there too: `ListenAddress ::1`).
    pub fn to(mut self, address: &str) -> Self {
        self.address = address.into();
        self
    }

    /// The answer to the next prompt (password, code). Prompts beyond the answers get "".
    pub fn answer_with(mut self, answer: &str) -> Self {
        self.answers.push(answer.into());
        self
    }

    /// The remote command (default `id -un`, so stdout names the user logged in).
    pub fn command(mut self, command: &str) -> Self {
        self.command = command.into();
        self
    }

    /// Runs the client as root of the container with root's key pair, which every user's
    /// `authorized_keys` holds. Keyboard-interactive prompts go to the askpass script
    /// (`SSH_ASKPASS_REQUIRE=force`, no terminal thanks to `setsid -w` and `</dev/null`), which
    /// records them. `NumberOfPasswordPrompts=1`: otherwise one wrong code is three attempts.
    pub fn run(self) -> Output {
        let mut answers = String::new();
        for answer in &self.answers {
            answers.push_str(answer);
            answers.push('\n');
        }
        let ssh = format!(
            "ssh -o NumberOfPasswordPrompts=1 -l {} {} {}",
            quote(&self.user),
            quote(&self.address),
            quote(&self.command)
        );
        assert!(
            self.hold.is_none() || self.enrollment.is_none(),
            "hold_answer_until and an enrollment answer do not combine"
        );
        let askpass = match (&self.hold, self.enrollment) {
            (None, Some(right)) => format!(
                r#"askpass="$d/askpass"
cat >"$askpass" <<'EOF'
#!/bin/sh
case "$1" in
*otpauth://*secret=*)
    printf '%s\0' "$1" >>"$ASKPASS_DIR/prompts"
    key=$(printf '%s\n' "$1" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' | head -n 1)
    code=$(oathtool --totp -b "$key")
    if [ {wrong} = yes ]; then
        first=${{code%"${{code#?}}"}}
        code=$(( (first + 1) % 10 ))${{code#?}}
    fi
    printf '%s\n' "$code" ;;
*) exec /usr/local/bin/askpass "$@" ;;
esac
EOF
chmod 0755 "$askpass""#,
                wrong = if right { "no" } else { "yes" },
            ),
            (None, None) => "askpass=/usr/local/bin/askpass".to_string(),
            (Some(go), _) => format!(
                r#"askpass="$d/askpass"
printf '#!/bin/sh\n: >"$ASKPASS_DIR/waiting"\nuntil [ -e %s ]; do sleep 0.01; done\nexec /usr/local/bin/askpass "$@"\n' {go} >"$askpass"
chmod 0755 "$askpass""#,
                go = quote(&quote(go)),
            ),
        };
        // Prints status, stdout, stderr and the prompts, separated by NUL bytes.
        let script = format!(
            r#"d=$(mktemp -d /tmp/login.XXXXXX)
{askpass}
printf '%s' {answers} >"$d/answers"
: >"$d/prompts"
SSH_ASKPASS="$askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none ASKPASS_DIR="$d" \
    timeout {limit} setsid -w {ssh} </dev/null >"$d/stdout" 2>"$d/stderr"
printf '%s\0' "$?"; cat "$d/stdout"; printf '\0'; cat "$d/stderr"; printf '\0'; cat "$d/prompts"
rm -rf "$d""#,
            answers = quote(&answers),
            limit = self.limit_secs,
        );
        let raw = self.host.container().exec("root", &script, b"");
        let mut parts = raw.stdout.splitn(4, '\0');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        let (status, stdout, stderr, prompts) = (next(), next(), next(), next());
        let Ok(status) = status.parse::<i32>() else {
            panic!("the login script itself failed:\n{raw}");
        };
        Output {
            command: format!("{ssh}   (answers {:?})", self.answers),
            status,
            stdout,
            stderr,
            prompts: prompts.split_terminator('\0').map(str::to_owned).collect(),
        }
    }
}

/// A sudo command in preparation: `host.sudo("alice").answer_with(&code).run()`.
#[must_use = "call .run()"]
pub struct SudoRun<'h> {
    host: &'h Host,
    user: String,
    answers: Vec<String>,
    command: String,
}

impl<'h> SudoRun<'h> {
    pub(crate) fn new(host: &'h Host, user: &str) -> Self {
        SudoRun {
            host,
            user: user.into(),
            answers: Vec::new(),
            command: "id -un".into(),
        }
    }

    /// A line for sudo to read from stdin for the next prompt.
    pub fn answer_with(mut self, answer: &str) -> Self {
        self.answers.push(answer.into());
        self
    }

    /// The command sudo runs as root (default `id -un`, so stdout says `root`).
    pub fn command(mut self, command: &str) -> Self {
        self.command = command.into();
        self
    }

    /// `sudo -k -S`: never a cached credential, answers read from stdin, prompts on stderr.
    pub fn run(self) -> Output {
        let script = format!("timeout 30 sudo -k -S -- sh -c {}", quote(&self.command));
        let mut stdin = String::new();
        for answer in &self.answers {
            stdin.push_str(answer);
            stdin.push('\n');
        }
        let mut out = self
            .host
            .container()
            .exec(&self.user, &script, stdin.as_bytes());
        out.command = format!("{}   (answers {:?})", out.command, self.answers);
        out
    }
}

/// Quotes `s` for sh.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
