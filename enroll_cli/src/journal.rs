//! The record of every change: one syslog line (facility authpriv, ident `twofold`) and, for
//! changes made by root, one JSON line appended to the audit log.
//!
//! The audit log is opened before the change is made, so an admin action that cannot be
//! audited is not done at all. Threats: a symlink planted at the log's path (opened with
//! `O_NOFOLLOW`, checked on the descriptor), a log readable by users (created 0600 in a 0700
//! directory, both checked to be root's).

use crate::error::{Error, Result};
use crate::invocation::Invocation;
use nix::sys::stat::{fstat, Mode, SFlag};
use serde::Serialize;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};
use twofold_core::auth::{Answer, Level, Outcome};

/// One change, as logged.
pub struct Event<'a> {
    pub action: &'static str,
    pub user: &'a str,
    pub details: Vec<(&'static str, String)>,
}

impl Event<'_> {
    /// `action=enroll user="alice" by="root" device="phone"`: the shape of the module's log
    /// lines, with the same quoting.
    pub fn syslog_line(&self, by: &str, by_uid: u32) -> String {
        let mut line = format!(
            "action={} user={} by={}",
            self.action,
            quoted(self.user),
            quoted(by)
        );
        for (k, v) in &self.details {
            line.push_str(&format!(" {k}={}", quoted(v)));
        }
        line.push_str(&format!(" by_uid={by_uid}"));
        line
    }
}

use twofold_core::log::quote as quoted;

#[derive(Serialize)]
struct AuditLine<'a> {
    time: String,
    unix: u64,
    action: &'a str,
    user: &'a str,
    by: &'a str,
    by_uid: u32,
    #[serde(flatten)]
    details: std::collections::BTreeMap<&'a str, &'a str>,
}

pub struct Journal {
    audit: Option<(String, File)>,
}

impl Journal {
    /// Opens the audit log when root is making the change; a failure stops the command.
    pub fn open(inv: &Invocation) -> Result<Journal> {
        // A user's self-service change (the setuid run) goes in root's audit log too,
        // opened as root before the change.
        if !inv.invoker.is_root() && !crate::privilege::self_service() {
            return Ok(Journal { audit: None });
        }
        let _root = crate::privilege::Root::gain()?;
        // From the root-owned configuration, never from the environment: under sudo the
        // environment may be the invoking user's.
        let path = inv.config.audit_log.clone();
        let file = open_audit_log(&path).map_err(|problem| Error::Audit {
            path: path.clone(),
            problem,
        })?;
        Ok(Journal {
            audit: Some((path, file)),
        })
    }

    /// Records a change that has been made. Syslog being down is a warning (the change is
    /// done); an audit log that cannot be written is an error, so the admin knows.
    pub fn record(&mut self, inv: &Invocation, event: Event) -> Result<()> {
        let line = event.syslog_line(inv.by(), inv.invoker.uid);
        if let Err(e) = syslog_notice(&line) {
            inv.warn(&format!(
                "syslog is not available ({e}); this change is not in the system log: {line}"
            ));
        }
        let Some((path, file)) = self.audit.as_mut() else {
            return Ok(());
        };
        let record = AuditLine {
            time: twofold_core::time::rfc3339(inv.now),
            unix: inv.now,
            action: event.action,
            user: event.user,
            by: inv.by(),
            by_uid: inv.invoker.uid,
            details: event
                .details
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect(),
        };
        let mut text =
            serde_json::to_string(&record).map_err(|e| Error::Internal(format!("JSON: {e}")))?;
        text.push('\n');
        // One write on an O_APPEND file: lines of concurrent runs do not interleave.
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::Audit {
                path: path.clone(),
                problem: format!("write failed ({e}) after the change was made"),
            })
    }
}

/// The line of a self-service run's check of the second factor (`reverify`), in the
/// module's shape: `service="twofold" user=... rhost="-" method=... result=... reason=...`.
/// Syslog being down loses the line, not the answer (as in the module).
pub fn login_line(outcome: &Outcome, user: &str, uid: u32) {
    let result = match outcome.answer {
        Answer::Success => "success",
        Answer::Ignore => "ignore",
        Answer::Deny => "deny",
    };
    let line = format!(
        "service={} user={} rhost=\"-\" method={} result={result} reason={} by_uid={uid}",
        quoted(crate::reverify::SERVICE),
        quoted(user),
        outcome.method,
        quoted(&outcome.reason)
    );
    let _ = syslog_at(outcome.level, &line);
}

fn syslog_notice(line: &str) -> std::result::Result<(), String> {
    syslog_at(Level::Notice, line)
}

fn syslog_at(level: Level, line: &str) -> std::result::Result<(), String> {
    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "twofold".into(),
        pid: std::process::id(),
    };
    let mut logger: Logger<LoggerBackend, Formatter3164> =
        syslog::unix(formatter).map_err(|e| e.to_string())?;
    match level {
        Level::Error => logger.err(line),
        Level::Warning => logger.warning(line),
        Level::Notice => logger.notice(line),
        Level::Info => logger.info(line),
    }
    .map_err(|e| e.to_string())
}

fn open_audit_log(path: &str) -> std::result::Result<File, String> {
    let dir = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or("is not an absolute path")?;
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "its directory {} must be a real directory owned by root, not writable by others",
            dir.display()
        ));
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot be opened: {e}"))?;
    let st = fstat(&file).map_err(|e| format!("fstat: {e}"))?;
    let regular = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
    if !regular || st.st_uid != 0 || Mode::from_bits_truncate(st.st_mode).bits() & 0o077 != 0 {
        return Err(format!(
            "must be a regular file owned by root with mode 0600 (it is mode {:04o}, uid {})",
            st.st_mode & 0o7777,
            st.st_uid
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_line_quotes_values_as_the_module_does() {
        let e = Event {
            action: "issue-pass",
            user: "alice",
            details: vec![
                ("expires", "2026-01-01T00:00:00Z".into()),
                ("note", "two words".into()),
            ],
        };
        assert_eq!(
            e.syslog_line("root", 0),
            "action=issue-pass user=\"alice\" by=\"root\" expires=\"2026-01-01T00:00:00Z\" note=\"two words\" by_uid=0"
        );
    }
}
