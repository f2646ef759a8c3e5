use std::fmt;

/// What a command in the container did: exit status, output and, for logins, the prompts
/// ssh's askpass was shown.
#[derive(Clone, Debug)]
pub struct Output {
    /// The command as a person would type it, for failure messages.
    pub command: String,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// Prompts in the order they were shown (empty for commands that are not ssh logins).
    pub prompts: Vec<String>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "expected success, but it failed:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.success(),
            "expected a failure, but it succeeded:\n{self}"
        );
        self
    }

    /// Asserts that the command ended by itself, not killed by its time limit (`timeout`
    /// exits with 124): a refusal, not a hang.
    #[track_caller]
    pub fn assert_not_timed_out(&self) -> &Self {
        assert_ne!(self.status, 124, "killed by its time limit:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_stdout(&self, expected: &str) -> &Self {
        assert_eq!(
            self.stdout.trim_end(),
            expected,
            "unexpected stdout:\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{self}"
        );
        self
    }

    /// Asserts the exact prompts shown, each compared by its end: ssh puts `(user@host) `
    /// in front of keyboard-interactive prompts.
    #[track_caller]
    pub fn assert_prompts(&self, expected: &[&str]) -> &Self {
        let matches = self.prompts.len() == expected.len()
            && self
                .prompts
                .iter()
                .zip(expected)
                .all(|(shown, want)| shown.ends_with(want));
        assert!(matches, "expected prompts {expected:?}:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_no_prompt(&self) -> &Self {
        self.assert_prompts(&[])
    }

    /// stdout parsed as JSON (the CLI's `--json`).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  command: {}", self.command)?;
        writeln!(f, "  status:  {}", self.status)?;
        if !self.prompts.is_empty() {
            writeln!(f, "  prompts: {:?}", self.prompts)?;
        }
        writeln!(f, "  stdout:  {}", indent(&self.stdout))?;
        write!(f, "  stderr:  {}", indent(&self.stderr))
    }
}

fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n           ")
}
