//! The auth log: facility authpriv, ident `pam_twofold`. One line per decision, never a code,
//! secret or hash (the core's reasons are written to that rule).

use std::sync::Mutex;
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};
use twofold_core::auth::Level;

// The socket is opened on first use and kept for the life of the loaded module: reconnecting
// for every line would cost a socket and a connect per login.
static LOGGER: Mutex<Option<Logger<LoggerBackend, Formatter3164>>> = Mutex::new(None);

fn connect() -> Option<Logger<LoggerBackend, Formatter3164>> {
    syslog::unix(Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "pam_twofold".into(),
        pid: std::process::id(),
    })
    .ok()
}

pub fn write(level: Level, message: &str) {
    let Ok(mut guard) = LOGGER.lock() else { return };
    for _ in 0..2 {
        if guard.is_none() {
            *guard = connect();
        }
        let Some(logger) = guard.as_mut() else { return };
        let sent = match level {
            Level::Error => logger.err(message),
            Level::Warning => logger.warning(message),
            Level::Notice => logger.notice(message),
            Level::Info => logger.info(message),
        };
        if sent.is_ok() {
            return;
        }
        // The syslog daemon may have restarted: reconnect once.
        *guard = None;
    }
}

/// A value as `"..."` with quotes and control characters escaped, so a hostile user name or
/// host cannot forge fields or lines in the log.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
