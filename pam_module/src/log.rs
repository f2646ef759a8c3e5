//! The auth log: facility authpriv, ident `pam_twofold`, through the `syslog` crate (as the CLI
//! writes its own lines). One line per decision, never a code, secret or hash (the core's
//! reasons are written to that rule); values quoted by `twofold_core::log::quote`. Not libc's
//! openlog/syslog: openlog and closelog would change the host application's own syslog
//! settings (its ident), which a module must leave alone.

use syslog::{Facility, Formatter3164};
use twofold_core::auth::Level;

/// Sends one line; a missing or failing syslog daemon loses the line, never the login's answer.
pub fn write(level: Level, message: &str) {
    let formatter = Formatter3164 {
        facility: Facility::LOG_AUTHPRIV,
        hostname: None,
        process: "pam_twofold".into(),
        pid: std::process::id(),
    };
    let Ok(mut logger) = syslog::unix(formatter) else {
        return;
    };
    let _ = match level {
        Level::Error => logger.err(message),
        Level::Warning => logger.warning(message),
        Level::Notice => logger.notice(message),
        Level::Info => logger.info(message),
    };
}
