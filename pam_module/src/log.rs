//! The auth log: facility authpriv, ident `pam_twofold`. One line per decision, never a code,
//! secret or hash (the core's reasons are written to that rule).
//!
//! Written directly to the syslog socket as an RFC 3164 line, `<PRI>Mmm dd hh:mm:ss
//! pam_twofold[PID]: message` (UTC), the format the `syslog` crate wrote. Not through that
//! crate: it parsed a time format description for every line and brought in the `time`
//! crate; this line is built with a few string appends (see BENCHMARKS.md). Not through libc's
//! openlog/syslog either: openlog and closelog would change the host application's own
//! syslog settings (its ident), which a module must leave alone. The socket's system calls
//! go through rustix (raw system calls, like the store's): libc's socket, connect, send and
//! getpid would be four more symbols for every login's dlopen to look up.

use rustix::fd::OwnedFd;
use rustix::net::{
    connect, send, socket_with, AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};
use std::sync::Mutex;
use twofold_core::auth::Level;
use twofold_core::push_decimal;

/// Where syslog daemons listen, in the order tried (the `syslog` crate's list).
const SOCKET_PATHS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];
/// syslog's facility authpriv (10), shifted as the priority field wants it.
const AUTHPRIV: u8 = 10 << 3;

struct Socket {
    fd: OwnedFd,
    /// A stream socket (some daemons listen that way): each message ends with a NUL byte.
    stream: bool,
}

// The socket is opened on first use and kept for the life of the loaded module: reconnecting
// for every line would cost a socket and a connect per login.
static LOGGER: Mutex<Option<Socket>> = Mutex::new(None);

fn unix_socket(kind: SocketType) -> Option<OwnedFd> {
    socket_with(AddressFamily::UNIX, kind, SocketFlags::CLOEXEC, None).ok()
}

fn open_socket(paths: &[&str]) -> Option<Socket> {
    for &path in paths {
        let addr = SocketAddrUnix::new(path).ok()?;
        let fd = unix_socket(SocketType::DGRAM)?;
        match connect(&fd, &addr) {
            Ok(()) => return Some(Socket { fd, stream: false }),
            Err(rustix::io::Errno::PROTOTYPE) => {
                let fd = unix_socket(SocketType::STREAM)?;
                return connect(&fd, &addr)
                    .ok()
                    .map(|()| Socket { fd, stream: true });
            }
            Err(rustix::io::Errno::NOENT) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// One message: a datagram, or on a stream socket the line and a NUL byte.
fn send_line(sock: &Socket, text: &str) -> bool {
    if sock.stream {
        send_all(&sock.fd, text.as_bytes()) && send_all(&sock.fd, &[0])
    } else {
        send(&sock.fd, text.as_bytes(), SendFlags::empty()).is_ok_and(|n| n == text.len())
    }
}

/// Sends all of `bytes`; on a stream socket a short send continues where it stopped. Never
/// raises SIGPIPE in the host process if the daemon went away.
fn send_all(fd: &OwnedFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        match send(fd, bytes, SendFlags::NOSIGNAL) {
            Ok(0) => return false,
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    true
}

fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warning => 4,
        Level::Notice => 5,
        Level::Info => 6,
    }
}

/// Appends `Mmm dd hh:mm:ss` of a Unix time, in UTC.
fn push_timestamp(out: &mut String, secs: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), month and day only.
    let z = days + 719_468;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    out.push_str(MONTHS[(month - 1) as usize]);
    out.push(' ');
    push_decimal(out, day, 2);
    out.push(' ');
    push_decimal(out, rem / 3600, 2);
    out.push(':');
    push_decimal(out, rem % 3600 / 60, 2);
    out.push(':');
    push_decimal(out, rem % 60, 2);
}

#[cfg(test)]
fn timestamp(secs: u64) -> String {
    let mut out = String::new();
    push_timestamp(&mut out, secs);
    out
}

/// The whole line, as sent.
fn line(level: Level, message: &str, now: u64, pid: u32) -> String {
    let mut out = String::with_capacity(40 + message.len());
    out.push('<');
    push_decimal(&mut out, u64::from(AUTHPRIV | severity(level)), 1);
    out.push('>');
    push_timestamp(&mut out, now);
    out.push_str(" pam_twofold[");
    push_decimal(&mut out, u64::from(pid), 1);
    out.push_str("]: ");
    out.push_str(message);
    out
}

/// Seconds since the Unix epoch; `None` if the clock reads before 1970 or cannot be read.
///
/// The `clock_gettime` system call through libc's `syscall`, which the standard library
/// imports anyway, rather than `SystemTime::now` (libc's `clock_gettime`: one more symbol the
/// loader resolves at every login's load of the module, ≈ 0.8 k instructions,
/// BENCHMARKS.md). Not rustix's clock: it reads the vDSO's ELF header itself, which crashes
/// under valgrind.
pub fn unix_now() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(CLOCK_REALTIME, &ts) writes one `timespec` to a valid, writable,
    // properly aligned place that lives across the call; the arguments match the system
    // call's (a clock id, a pointer).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            libc::CLOCK_REALTIME,
            &mut ts as *mut libc::timespec,
        )
    };
    if rc != 0 {
        return None;
    }
    u64::try_from(ts.tv_sec).ok()
}

pub fn write(level: Level, message: &str) {
    let now = unix_now().unwrap_or(0);
    let pid = rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs();
    let text = line(level, message, now, pid);
    let Ok(mut guard) = LOGGER.lock() else { return };
    for _ in 0..2 {
        if guard.is_none() {
            *guard = open_socket(&SOCKET_PATHS);
        }
        let sent = match guard.as_ref() {
            None => return,
            Some(sock) => send_line(sock, &text),
        };
        if sent {
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
    quote_into(&mut out, value);
    out
}

/// Appends `value` quoted as [`quote`] does.
pub fn quote_into(out: &mut String, value: &str) {
    out.push('"');
    // Most values (user names, services, hosts) hold nothing to escape: then one append.
    // Every control character is ASCII or in U+0080..U+009F (UTF-8 lead byte 0xC2).
    if !value
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f || b == 0xc2)
    {
        out.push_str(value);
        out.push('"');
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_rfc3164_with_authpriv_priority() {
        // 2026-11-25T09:05:03Z
        let t = 1_795_597_503;
        assert_eq!(
            line(Level::Info, "x=1", t, 42),
            "<86>Nov 25 09:05:03 pam_twofold[42]: x=1"
        );
        assert_eq!(
            line(Level::Error, "m", t, 1),
            "<83>Nov 25 09:05:03 pam_twofold[1]: m"
        );
        assert_eq!(
            line(Level::Warning, "m", t, 1),
            "<84>Nov 25 09:05:03 pam_twofold[1]: m"
        );
        assert_eq!(
            line(Level::Notice, "m", t, 1),
            "<85>Nov 25 09:05:03 pam_twofold[1]: m"
        );
    }

    #[test]
    fn numbers_are_padded_and_whole() {
        assert_eq!(
            line(Level::Info, "", 0, u32::MAX),
            format!("<86>Jan 01 00:00:00 pam_twofold[{}]: ", u32::MAX)
        );
    }

    /// The socket is found in the list order (a missing path is skipped), as a datagram or as
    /// a stream socket, and the daemon receives exactly the line (plus NUL on a stream).
    #[test]
    fn lines_reach_datagram_and_stream_daemons() {
        use std::io::Read;
        use std::os::unix::net::{UnixDatagram, UnixListener};
        let dir = std::env::temp_dir().join(format!("twofold-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (missing, dgram, stream) = (dir.join("none"), dir.join("dgram"), dir.join("stream"));
        let _ = std::fs::remove_file(&dgram);
        let _ = std::fs::remove_file(&stream);
        let daemon = UnixDatagram::bind(&dgram).unwrap();
        let listener = UnixListener::bind(&stream).unwrap();
        let (missing, dgram, stream) = (
            missing.to_str().unwrap(),
            dgram.to_str().unwrap(),
            stream.to_str().unwrap(),
        );
        assert!(open_socket(&[missing]).is_none());

        let sock = open_socket(&[missing, dgram]).unwrap();
        assert!(!sock.stream);
        assert!(send_line(&sock, "<86>one"));
        let mut buf = [0u8; 64];
        let n = daemon.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<86>one");

        let sock = open_socket(&[stream, dgram]).unwrap();
        assert!(sock.stream);
        let (mut conn, _) = listener.accept().unwrap();
        assert!(send_line(&sock, "<86>two"));
        drop(sock);
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"<86>two\0");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timestamps_match_the_calendar() {
        assert_eq!(timestamp(0), "Jan 01 00:00:00");
        assert_eq!(timestamp(951_782_400), "Feb 29 00:00:00"); // 2000, a leap year
        assert_eq!(timestamp(1_709_251_199), "Feb 29 23:59:59"); // 2024
        assert_eq!(timestamp(1_735_689_599), "Dec 31 23:59:59"); // 2024
        assert_eq!(timestamp(4_107_542_400), "Mar 01 00:00:00"); // 2100, not a leap year
    }

    /// The raw system call reads the same clock as std.
    #[test]
    fn unix_now_is_the_system_clock() {
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let now = unix_now().unwrap();
        assert!(now.abs_diff(std_now) <= 1, "{now} vs {std_now}");
    }

    #[test]
    fn quote_escapes_what_could_forge_a_field_or_line() {
        assert_eq!(quote("alice"), "\"alice\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("a\nresult=success"), "\"a\\nresult=success\"");
        // C1 control characters too (U+0080..U+009F), not the characters that merely share
        // their first UTF-8 byte, nor other non-ASCII text.
        assert_eq!(quote("a\u{85}b"), "\"a\\u{85}b\"");
        assert_eq!(quote("a\u{9f}"), "\"a\\u{9f}\"");
        assert_eq!(quote("a\u{a0}\u{bf}b"), "\"a\u{a0}\u{bf}b\"");
        assert_eq!(quote("jos\u{e9}"), "\"jos\u{e9}\"");
        assert_eq!(quote("\u{7f}\t"), "\"\\u{7f}\\t\"");
        assert_eq!(quote(""), "\"\"");
    }
}
