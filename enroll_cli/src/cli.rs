//! The command line, as clap sees it. The help texts are the short documentation; the man
//! page, packaging/man/twofold.1, is the long one (`twofold man` prints it).

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use twofold_core::config::DEFAULT_PATH;

#[derive(Debug, Parser)]
#[command(
    name = "twofold",
    version,
    about = "Second factor for Linux logins: enroll authenticator apps, manage recovery codes and access passes",
    long_about = "Second factor for Linux logins: enroll authenticator apps, manage recovery codes and \
temporary access passes for the PAM module pam_twofold.\n\n\
Without --user, twofold acts for the user who runs it. Only root may act for another user \
(--user NAME) or run the admin commands. In system mode (a secret_path without {home}) the \
secret files belong to root, so enrollment is done by an administrator; users then manage \
their devices and recovery codes through the setuid-root twofold, after confirming a current \
code (twofold(1), SELF-SERVICE).",
    after_help = "Exit status: 0 on success, 1 on an error, 2 on a usage error."
)]
pub struct Cli {
    /// Configuration file (root only when twofold runs setuid root for a user)
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub config: String,

    /// Machine-readable JSON on stdout; errors as {"error", "hint"} on stderr
    #[arg(long, global = true)]
    pub json: bool,

    /// Act for this user instead of yourself (root only)
    #[arg(long, global = true, value_name = "USER")]
    pub user: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up an authenticator app (new secret, QR code) and print fresh recovery codes
    #[command(
        long_about = "Set up an authenticator app: creates a new 160-bit secret, shows it as a \
QR code, an otpauth:// URI and a key to type, then asks for a code from the app and activates \
the enrollment only if the code is right (up to 3 tries; each code is checked against the \
time it is entered). Prints 10 new recovery codes; only their hashes are stored.\n\n\
With --json, the JSON document is printed at the end; the QR code, URI and prompt go to stderr \
when stderr is a terminal, and the code is read from stdin. --qr-png and --qr-svg files are \
written before the code is asked for, and removed again if the enrollment fails."
    )]
    Enroll(EnrollArgs),

    /// Add, list or remove authenticator devices
    #[command(subcommand)]
    Device(DeviceCommand),

    /// Manage recovery codes
    #[command(subcommand)]
    Recovery(RecoveryCommand),

    /// Show devices, recovery codes left, last login and throttling
    Status,

    /// Administer other users' second factor (root only)
    #[command(subcommand)]
    Admin(AdminCommand),

    /// Import an enrollment from another tool
    #[command(subcommand)]
    Import(ImportCommand),

    /// Check the host: will this configuration lock someone out, or let someone in?
    #[command(
        long_about = "Check sshd's effective configuration, the PAM stacks, the admins' \
enrollments, the secret files and the clock, and say for each finding what is wrong, why it \
matters and how to fix it (twofold(1), section DOCTOR, lists them). Root sees everything; a \
user sees what concerns them. With --user NAME, also what a login of NAME would meet, without \
asking for any code. Makes no network call.",
        after_help = "Exit status: 0 when there is no error, 1 when there is, 2 on a usage error."
    )]
    Doctor(DoctorArgs),

    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print the man page twofold(1) (roff) on stdout
    Man,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// Name of the device, as shown by `twofold device list`
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub device: String,

    /// Activate without asking for a code from the app (for administrators provisioning)
    #[arg(long)]
    pub no_confirm: bool,

    /// Replace an existing enrollment: its devices and recovery codes stop working
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub qr: QrArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// With --user: only this service's way in
    #[arg(long, value_enum, value_name = "SERVICE")]
    pub service: Option<DoctorService>,

    /// With --user: the address the login comes from (for sshd's Match blocks)
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoctorService {
    Sshd,
    Sudo,
}

#[derive(Debug, Args)]
pub struct QrArgs {
    /// How to draw the QR code in the terminal
    #[arg(long = "qr", value_enum, value_name = "STYLE", default_value_t = QrStyle::Utf8)]
    pub style: QrStyle,

    /// Also write the QR code as a PNG image to FILE (created with mode 0600; must not exist)
    #[arg(long, value_name = "FILE")]
    pub qr_png: Option<PathBuf>,

    /// Also write the QR code as an SVG image to FILE (created with mode 0600; must not exist)
    #[arg(long, value_name = "FILE")]
    pub qr_svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QrStyle {
    /// Unicode half blocks, for light text on a dark background (most terminals)
    Utf8,
    /// Unicode half blocks, for dark text on a light background
    Utf8Inverted,
    /// Half blocks in explicit ANSI colours, black on white, whatever the terminal's colours
    Ansi,
    /// Half blocks in explicit ANSI colours, white on black
    AnsiInverted,
    /// No QR code in the terminal (the URI and the key are still printed)
    None,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Add another authenticator app (the existing ones keep working)
    Add {
        /// Name of the new device (1-32 of A-Z a-z 0-9 . _ -)
        name: String,
        /// Activate without asking for a code from the app
        #[arg(long)]
        no_confirm: bool,
        #[command(flatten)]
        qr: QrArgs,
    },
    /// List the enrolled devices
    List,
    /// Remove a device; its codes stop working at once
    Remove {
        name: String,
        /// Do not ask before removing the last device
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Print new recovery codes; the old ones stop working at once
    Regenerate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Show a user's second-factor status
    Status {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Remove a user's secret file (audited); the user then follows the `unenrolled` policy
    Reset {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Clear a user's failed attempts and TOTP throttling
    Unlock {
        #[arg(value_name = "USER")]
        name: String,
    },
    /// Issue a single-use temporary access pass, e.g. for a user who lost their phone
    IssuePass {
        #[arg(value_name = "USER")]
        name: String,
        /// How long the pass is valid: 1m to 7d (e.g. 15m, 2h, 1d)
        #[arg(long, value_name = "DURATION")]
        ttl: String,
    },
    /// Move users' state between this host's secret files and the directory ([directory])
    #[command(
        long_about = "Move users' state, unchanged (used codes stay used), between this host's \
secret files and the directory named by [directory] in twofold.toml. Name the user with --user \
NAME, or every user with --all (to the directory: every account of the password database and \
of the directory that has a secret file here; to the files: every directory entry that holds a \
state and has an account here). A destination that already holds a state is never \
overwritten. To the directory, this host's secret file is removed once the entry holds its \
state; to the files, the entry keeps its state for the other hosts. Every user moved is \
recorded in the auth log and the audit log. twofold(1), section MIGRATION, gives the order \
of the steps.",
        group(ArgGroup::new("direction").required(true).args(["to_directory", "to_files"]))
    )]
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Copy secret files into the users' directory entries, then remove the files
    #[arg(long)]
    pub to_directory: bool,
    /// Copy the directory entries' state into this host's secret files (never replaces a file)
    #[arg(long)]
    pub to_files: bool,
    /// Every user with a state to move (instead of --user NAME)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import ~/.google_authenticator (TOTP only; scratch codes kept, hashed, throttled like app codes)
    #[command(
        long_about = "Import a google-authenticator file (default: ~/.google_authenticator of \
the user, home from the password database). The secret stays the same, so the app keeps \
working; STEP_SIZE and WINDOW_SIZE are kept, used DISALLOW_REUSE steps are not accepted again, \
RATE_LIMIT gives way to twofold's [rate_limit], and the 8-digit scratch codes are stored as \
hashes; too short to be tried without a limit, they are paused and locked with app codes, so \
run `twofold recovery regenerate` afterwards. The file is read as the user, never through a \
symlink, and must be the user's own (mode 0600 or stricter). HOTP (counter-based) files are \
refused. Replaces nothing without --force."
    )]
    GoogleAuthenticator {
        /// The file to import
        file: Option<PathBuf>,
        /// Name of the imported device
        #[arg(long, value_name = "NAME", default_value = "google-authenticator")]
        device: String,
        /// Replace an existing enrollment
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks (conflicting ids, bad defaults) fail at runtime otherwise.
    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
