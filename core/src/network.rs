//! `exempt_networks`: client addresses that skip the second factor, as members of an exempt
//! group do. Only sshd's PAM_RHOST is compared: sshd sets it to the client's numeric address.
//! Other services leave it empty (sudo, su, a console) or fill it with something a user or a
//! web front end may choose, so a service other than `sshd` is never exempted by address.
//!
//! A few lines of std instead of a CIDR crate: parsing is `IpAddr::from_str` plus a prefix
//! length, and matching is one mask.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The only PAM service whose RHOST is compared (OpenSSH's `SSHD_PAM_SERVICE`).
pub const SERVICE: &str = "sshd";

/// A network such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses one entry. Refused, with the entry in the message: anything that is not an
    /// address with an optional decimal prefix length, a prefix longer than the address, bits
    /// set past the prefix (`10.0.0.1/8` is a typo for a host or for `10.0.0.0/8`), and
    /// IPv4-mapped IPv6 entries (`::ffff:10.0.0.0/104`: such client addresses are compared as
    /// IPv4, so the entry must be written in IPv4).
    pub fn parse(entry: &str) -> Result<Network, String> {
        let bad = |why: String| format!("exempt_networks: `{entry}` {why}");
        let (addr, prefix) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let base: IpAddr = addr.parse().map_err(|_| {
            bad("is not an IP address or network; write for example \"10.0.0.0/8\" or \"2001:db8::/32\"".into())
        })?;
        if let IpAddr::V6(v6) = base {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Err(bad(format!(
                    "is an IPv4-mapped IPv6 address; write it as IPv4 ({v4}): mapped client addresses are compared as IPv4"
                )));
            }
        }
        let width: u8 = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= width && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad(format!("has a bad prefix length; use 0 to {width}")))?,
        };
        let net = Network { base, prefix };
        if bits(base) & !net.mask() != 0 {
            let start = match base {
                IpAddr::V4(_) => {
                    IpAddr::V4(Ipv4Addr::from(((bits(base) & net.mask()) >> 96) as u32))
                }
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits(base) & net.mask())),
            };
            return Err(bad(format!(
                "has bits set past the prefix length; the network is {start}/{prefix}"
            )));
        }
        Ok(net)
    }

    /// Whether `addr` is in the network. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as a
    /// dual-stack listener may report an IPv4 client) is the IPv4 address it maps.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = unmapped(addr);
        addr.is_ipv4() == self.base.is_ipv4() && (bits(addr) ^ bits(self.base)) & self.mask() == 0
    }

    /// The prefix's bits, left-aligned in 128 bits like the addresses from [`bits`].
    fn mask(&self) -> u128 {
        u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// The exempt network a login comes from, with the client's address: `None` unless the
/// service is sshd and RHOST is a numeric address in one of `networks`. A host name (sshd
/// with `UseDNS yes`), an empty RHOST and an address with a zone (`fe80::1%eth0`) never match.
pub fn exempt_network(
    networks: &[Network],
    service: &str,
    rhost: Option<&str>,
) -> Option<(Network, IpAddr)> {
    if service != SERVICE {
        return None;
    }
    let addr = unmapped(rhost?.parse().ok()?);
    networks
        .iter()
        .find(|n| n.contains(addr))
        .map(|n| (*n, addr))
}

fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The address's bits, left-aligned in 128 bits so one mask serves both families.
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(entries: &[&str]) -> Vec<Network> {
        entries.iter().map(|e| Network::parse(e).unwrap()).collect()
    }

    #[test]
    fn addresses_inside_a_network_match_and_outside_do_not() {
        let n = nets(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
        for inside in [
            "10.0.0.0",
            "10.255.255.255",
            "2001:db8::1",
            "2001:db8:ffff::",
            "192.0.2.7",
        ] {
            assert!(
                exempt_network(&n, "sshd", Some(inside)).is_some(),
                "{inside}"
            );
        }
        for outside in [
            "11.0.0.1",
            "9.255.255.255",
            "2001:db9::1",
            "192.0.2.8",
            "::1",
            "127.0.0.1",
        ] {
            assert!(
                exempt_network(&n, "sshd", Some(outside)).is_none(),
                "{outside}"
            );
        }
        let (net, addr) = exempt_network(&n, "sshd", Some("10.1.2.3")).unwrap();
        assert_eq!(
            (net.to_string(), addr.to_string()),
            ("10.0.0.0/8".into(), "10.1.2.3".into())
        );
    }

    #[test]
    fn the_whole_address_space_and_single_hosts_work() {
        let n = nets(&["0.0.0.0/0", "::/0"]);
        assert!(exempt_network(&n, "sshd", Some("203.0.113.9")).is_some());
        assert!(exempt_network(&n, "sshd", Some("2001:db8::9")).is_some());
        let n = nets(&["2001:db8::5/128"]);
        assert!(exempt_network(&n, "sshd", Some("2001:db8::5")).is_some());
        assert!(exempt_network(&n, "sshd", Some("2001:db8::4")).is_none());
    }

    #[test]
    fn names_empty_and_odd_rhosts_never_match() {
        let n = nets(&["0.0.0.0/0", "::/0"]);
        for rhost in [
            None,
            Some(""),
            Some("localhost"),
            Some("host.example.org"),
            Some("10.0.0.1 "),
            Some("fe80::1%eth0"),
            Some("10.0.0.1:22"),
            Some("[::1]"),
            Some("010.0.0.1"),
        ] {
            assert!(exempt_network(&n, "sshd", rhost).is_none(), "{rhost:?}");
        }
    }

    #[test]
    fn only_sshd_is_exempted_by_address() {
        let n = nets(&["10.0.0.0/8"]);
        for service in ["sudo", "su", "login", "sshd-kbdint", "SSHD", "?"] {
            assert!(
                exempt_network(&n, service, Some("10.1.2.3")).is_none(),
                "{service}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_client_addresses_are_compared_as_ipv4() {
        let n = nets(&["10.0.0.0/8"]);
        let (_, addr) = exempt_network(&n, "sshd", Some("::ffff:10.1.2.3")).unwrap();
        assert_eq!(addr.to_string(), "10.1.2.3");
        assert!(exempt_network(&n, "sshd", Some("::ffff:11.1.2.3")).is_none());
        // An IPv6 network does not cover the IPv4 address space by the back door.
        let n = nets(&["::/0"]);
        assert!(exempt_network(&n, "sshd", Some("::ffff:10.1.2.3")).is_none());
    }

    #[test]
    fn bad_entries_are_refused_naming_the_entry() {
        for (entry, says) in [
            ("10.0.0.0/33", "prefix length"),
            ("2001:db8::/129", "prefix length"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/+8", "prefix length"),
            ("10.0.0.0/8/8", "prefix length"),
            ("10.0.0.1/8", "the network is 10.0.0.0/8"),
            ("2001:db8::1/32", "the network is 2001:db8::/32"),
            ("::ffff:10.0.0.0/104", "write it as IPv4 (10.0.0.0)"),
            ("10.0.0", "not an IP address"),
            ("office.example.org", "not an IP address"),
            ("", "not an IP address"),
            (" 10.0.0.0/8", "not an IP address"),
            ("fe80::/10%eth0", "prefix length"),
        ] {
            let e = Network::parse(entry).unwrap_err();
            assert!(
                e.contains(&format!("`{entry}`")) && e.contains(says),
                "{entry}: {e}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_network_contains_exactly_the_addresses_sharing_its_prefix(
            a in proptest::prelude::any::<u128>(),
            b in proptest::prelude::any::<u128>(),
            prefix in 0u8..=128,
            v4 in proptest::prelude::any::<bool>(),
        ) {
            let width: u8 = if v4 { 32 } else { 128 };
            let (a, b) = if v4 { (a as u32 as u128, b as u32 as u128) } else { (a, b) };
            let prefix = prefix.min(width);
            let shift = u32::from(width - prefix);
            let keep = |x: u128| x.checked_shr(shift).unwrap_or(0).checked_shl(shift).unwrap_or(0);
            let ip = |x: u128| -> IpAddr {
                if v4 { Ipv4Addr::from(x as u32).into() } else { Ipv6Addr::from(x).into() }
            };
            let mapped = |x: u128| !v4 && Ipv6Addr::from(x).to_ipv4_mapped().is_some();
            let entry = format!("{}/{prefix}", ip(keep(a)));
            match Network::parse(&entry) {
                Ok(net) => {
                    proptest::prop_assert_eq!(net.to_string(), entry);
                    for x in [a, b] {
                        // A mapped address is compared as IPv4, never by an IPv6 entry.
                        let expected = keep(x) == keep(a) && !mapped(x);
                        proptest::prop_assert_eq!(net.contains(ip(x)), expected, "{}", ip(x));
                    }
                }
                // Only IPv4-mapped entries are refused.
                Err(_) => proptest::prop_assert!(mapped(keep(a))),
            }
        }

        #[test]
        fn parsing_never_panics(text in ".{0,60}") {
            let _ = Network::parse(&text);
        }
    }
}
