//! `twofold`: enrollment and administration of the second factor that pam_twofold asks for.
//!
//! `cli` is the command line, `error` every way it can fail (each with a hint), `invocation`
//! who runs it for whom; one module a command family. Secret files are touched only through
//! `twofold_core::store` (see `stored`). Installed setuid root, `privilege` runs first and
//! decides what of root is kept (twofold(1), SELF-SERVICE).
#![forbid(unsafe_code)]

mod admin;
mod cli;
mod device;
mod doctor;
mod enroll;
mod error;
mod import;
mod invocation;
mod journal;
mod migrate;
mod privilege;
mod prompt;
mod qr;
mod recovery;
mod reverify;
mod status;
mod stored;

use clap::{CommandFactory, Parser};
use cli::{AdminCommand, Cli, Command, DeviceCommand, ImportCommand, RecoveryCommand, Shell};
use error::{Error, Result};
use invocation::Invocation;
use std::io::Write;
use std::process::ExitCode;

/// twofold(1) as the packages install it: `twofold man` prints the same page.
const MAN_PAGE: &str = include_str!("../../packaging/man/twofold.1");

fn main() -> ExitCode {
    // Setuid root: the effective ids are the user's before anything else happens.
    let setuid = match privilege::lower_at_start() {
        Ok(setuid) => setuid,
        Err(e) => {
            report(&e, false);
            return ExitCode::FAILURE;
        }
    };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let json = cli.json;
    if let Some(setuid) = setuid {
        if let Err(e) = setuid.enter(&cli) {
            report(&e, json);
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1));
        }
    }
    // The doctor judges a broken configuration instead of stopping at it, and its exit
    // status says whether it found an error.
    if let Command::Doctor(args) = &cli.command {
        return match doctor::run(&cli.config, json, cli.user.as_deref(), args) {
            Ok(code) => code,
            Err(e) => {
                report(&e, json);
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

/// clap's own errors; --help and --version are "errors" that exit 0.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    let text = e.render().to_string();
    // clap's first line, without its "error: " prefix, is the message.
    let message = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string();
    report(&Error::Usage(message), true);
    ExitCode::from(2)
}

fn report(e: &Error, json: bool) {
    let text = if json {
        serde_json::json!({ "error": e.to_string(), "hint": e.hint() }).to_string()
    } else {
        format!("twofold: error: {e}\nhint: {}", e.hint())
    };
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn run(cli: Cli) -> Result<()> {
    // These need neither the configuration nor an account, and print no JSON.
    let printed = match &cli.command {
        Command::Completions { .. } => Some("completions"),
        Command::Man => Some("man"),
        _ => None,
    };
    if let Some(command) = printed.filter(|_| cli.json) {
        return Err(Error::Usage(format!(
            "--json does not apply to `twofold {command}`, which prints a file as it is"
        )));
    }
    match &cli.command {
        Command::Completions { shell } => return completions(*shell),
        Command::Man => return write_stdout(MAN_PAGE.as_bytes()),
        _ => {}
    }
    let inv = Invocation::start(&cli.config, cli.json)?;
    privilege::settle(inv.root_keeps_the_state())?;
    let user = cli.user.as_deref();
    match &cli.command {
        Command::Enroll(args) => enroll::enroll(&inv, user, args),
        Command::Device(DeviceCommand::Add {
            name,
            no_confirm,
            qr,
        }) => enroll::device_add(&inv, user, name, *no_confirm, qr),
        Command::Device(DeviceCommand::List) => device::list(&inv, user),
        Command::Device(DeviceCommand::Remove { name, yes }) => {
            device::remove(&inv, user, name, *yes)
        }
        Command::Recovery(RecoveryCommand::Regenerate) => recovery::regenerate(&inv, user),
        Command::Status => status::status(&inv, user),
        Command::Admin(AdminCommand::Status { name }) => status::admin_status(&inv, user, name),
        Command::Admin(AdminCommand::Reset { name }) => admin::reset(&inv, user, name),
        Command::Admin(AdminCommand::Unlock { name }) => admin::unlock(&inv, user, name),
        Command::Admin(AdminCommand::IssuePass { name, ttl }) => {
            admin::issue_pass(&inv, user, name, ttl)
        }
        Command::Admin(AdminCommand::Migrate(args)) => migrate::migrate(&inv, user, args),
        Command::Import(ImportCommand::GoogleAuthenticator {
            file,
            device,
            force,
        }) => import::google_authenticator(&inv, user, file.as_deref(), device, *force),
        Command::Completions { .. } | Command::Man | Command::Doctor(_) => Ok(()),
    }
}

fn completions(shell: Shell) -> Result<()> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "twofold", &mut out);
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|err| Error::Output {
            path: "standard output".into(),
            err,
        })
}
