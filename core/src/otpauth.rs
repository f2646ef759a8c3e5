//! The `otpauth://` URI that authenticator apps read from the QR code (Google's Key Uri
//! Format): `otpauth://totp/ISSUER:USER?secret=...&issuer=ISSUER`. Parameters with the apps'
//! defaults (SHA1, 6 digits, 30 s) are left out: some apps mishandle them.

use crate::secret::{Algorithm, Device};
use zeroize::Zeroizing;

pub fn uri(issuer: &str, user: &str, device: &Device) -> Zeroizing<String> {
    let mut u = Zeroizing::new(String::with_capacity(128));
    u.push_str("otpauth://totp/");
    u.push_str(&encode(issuer));
    u.push(':');
    u.push_str(&encode(user));
    u.push_str("?secret=");
    u.push_str(device.secret.base32());
    u.push_str("&issuer=");
    u.push_str(&encode(issuer));
    if device.algorithm != Algorithm::SHA1 {
        u.push_str("&algorithm=");
        u.push_str(device.algorithm.as_str());
    }
    if device.digits != 6 {
        u.push_str(&format!("&digits={}", device.digits));
    }
    if device.period != 30 {
        u.push_str(&format!("&period={}", device.period));
    }
    u
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key as people type it: groups of four, `JBSW Y3DP EHPK 3PXP`.
pub fn key_for_typing(base32: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(base32.len() * 5 / 4));
    crate::codes::push_grouped(&mut out, base32, ' ');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretKey;

    fn device() -> Device {
        Device::new("phone", SecretKey::from_bytes(b"12345678901234567890"), 0)
    }

    #[test]
    fn default_parameters_are_left_out() {
        let u = uri("twofold", "alice", &device());
        assert_eq!(
            *u,
            "otpauth://totp/twofold:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=twofold"
        );
    }

    #[test]
    fn other_parameters_and_odd_names_are_encoded() {
        let mut d = device();
        d.algorithm = Algorithm::SHA256;
        d.digits = 8;
        d.period = 60;
        let u = uri("ACME Corp", "first.last@example", &d);
        assert_eq!(
            *u,
            "otpauth://totp/ACME%20Corp:first.last%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Corp&algorithm=SHA256&digits=8&period=60"
        );
    }

    #[test]
    fn key_is_grouped_by_four() {
        assert_eq!(*key_for_typing("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
