use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv6Addr};

/// The names a phone may use to reach the box: its mDNS host name and
/// addresses. The HTTPS certificate must name all of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostIdentity {
    /// Host name as one DNS label (`confcam-blue`); served as `<name>.local`.
    pub hostname: String,
    /// The addresses phones can reach, plus 127.0.0.1; sorted.
    pub ips: Vec<IpAddr>,
}

/// Interfaces no phone reaches the box through (containers, bridges, VPNs).
const VIRTUAL_INTERFACES: [&str; 11] =
    ["docker", "veth", "br-", "virbr", "lxc", "cni", "flannel", "podman", "tun", "tap", "wg"];

impl HostIdentity {
    /// This machine's host name as a DNS label.
    pub fn hostname() -> String {
        dns_label(&gethostname::gethostname().to_string_lossy())
    }

    /// Reads the host name and the addresses of the real interfaces now.
    /// Temporary (privacy) and deprecated IPv6 addresses are left out: they
    /// rotate, and a new certificate each time would make every phone accept
    /// it again.
    pub fn current() -> io::Result<Self> {
        let hostname = Self::hostname();
        let passing = passing_ipv6();
        let ips = if_addrs::get_if_addrs()?
            .into_iter()
            .filter(|i| !VIRTUAL_INTERFACES.iter().any(|v| i.name.starts_with(v)))
            .map(|i| i.ip())
            .filter(|ip| !matches!(ip, IpAddr::V6(v6) if passing.contains(v6)));
        Ok(HostIdentity::new(hostname, ips))
    }

    /// Keeps the addresses a client can reach: drops loopback (127.0.0.1 is
    /// added back) and IPv6 link-local ones (they need a zone id in a URL).
    pub fn new(hostname: String, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut ips: Vec<IpAddr> = ips
            .into_iter()
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
            .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
            .chain([IpAddr::from([127, 0, 0, 1])])
            .collect();
        ips.sort();
        ips.dedup();
        HostIdentity { hostname, ips }
    }

    /// DNS names for the certificate: `<host>.local`, `<host>`, `localhost`.
    pub fn dns_names(&self) -> Vec<String> {
        vec![format!("{}.local", self.hostname), self.hostname.clone(), "localhost".into()]
    }

    /// Whether `host` (a `Host` header without its port) is one of our names
    /// or addresses.
    pub fn names(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.ips.contains(&ip),
            Err(_) => self.dns_names().iter().any(|n| n.eq_ignore_ascii_case(host)),
        }
    }

    /// The address to send a client to when its name for us is unknown.
    pub fn preferred_host(&self) -> String {
        let lan = self.ips.iter().find(|ip| ip.is_ipv4() && !ip.is_loopback());
        lan.map_or_else(|| format!("{}.local", self.hostname), |ip| ip.to_string())
    }
}

/// IPv6 addresses that are temporary (0x01) or deprecated (0x20), from
/// `/proc/net/if_inet6` (`address ifindex prefix scope flags name`).
fn passing_ipv6() -> HashSet<Ipv6Addr> {
    let text = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    parse_if_inet6(&text)
}

fn parse_if_inet6(text: &str) -> HashSet<Ipv6Addr> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(4)?, 16).ok()?;
            let addr = u128::from_str_radix(fields.first()?, 16).ok()?;
            (flags & (0x01 | 0x20) != 0).then(|| Ipv6Addr::from(addr))
        })
        .collect()
}

/// Turns a host name into a single lower-case DNS label (`Box.lan` → `box`).
fn dns_label(host_name: &str) -> String {
    to_label(host_name.split('.').next().unwrap_or_default())
}

/// Turns a name into one lower-case DNS label: letters and digits, other
/// runs of characters as one hyphen ("Room 4 – Ada" → `room-4-ada`);
/// "confcam" when nothing is left.
/// The name the box answers to on the LAN (mDNS): `<room>.local`.
pub fn local_name(room: &str) -> String {
    format!("{}.local", to_label(room))
}

pub fn to_label(name: &str) -> String {
    let mut label = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            label.push(c);
        } else if !label.is_empty() && !label.ends_with('-') {
            label.push('-');
        }
    }
    let label: String = label.trim_end_matches('-').chars().take(63).collect();
    let label = label.trim_end_matches('-');
    if label.is_empty() { "confcam".into() } else { label.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_reachable_addresses_and_adds_localhost() {
        let ips = ["192.168.1.20", "127.0.0.1", "::1", "fe80::1", "2001:db8::5", "10.0.0.2", "192.168.1.20"];
        let id = HostIdentity::new("box".into(), ips.iter().map(|s| s.parse().unwrap()));
        let got: Vec<String> = id.ips.iter().map(|i| i.to_string()).collect();
        assert_eq!(got, ["10.0.0.2", "127.0.0.1", "192.168.1.20", "2001:db8::5"]);
        assert_eq!(id.preferred_host(), "10.0.0.2");
    }

    #[test]
    fn host_names_become_one_dns_label() {
        assert_eq!(dns_label("Confcam-Blue.lan"), "confcam-blue");
        assert_eq!(dns_label("my_box"), "my-box");
        assert_eq!(dns_label(""), "confcam");
        assert_eq!(dns_label("---"), "confcam");
    }

    #[test]
    fn room_names_become_host_labels() {
        assert_eq!(to_label("Meeting room"), "meeting-room");
        assert_eq!(to_label("  Room 4 – Ada!! "), "room-4-ada");
        assert_eq!(to_label("Café"), "caf");
        assert_eq!(to_label("–––"), "confcam");
        assert_eq!(to_label(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn knows_its_own_names() {
        let id = HostIdentity::new("box".into(), ["192.168.1.20".parse().unwrap(), "2001:db8::5".parse().unwrap()]);
        for ours in ["box.local", "BOX.local", "box", "localhost", "192.168.1.20", "127.0.0.1", "[2001:db8::5]"] {
            assert!(id.names(ours), "{ours}");
        }
        for other in ["evil.example", "192.168.1.21", "[2001:db8::6]", "box.lan"] {
            assert!(!id.names(other), "{other}");
        }
    }

    #[test]
    fn temporary_and_deprecated_ipv6_addresses_are_recognised() {
        let text = "\
20010db8000000000000000000000005 02 40 00 00     eth0
20010db8000000001111222233334444 02 40 00 01     eth0
20010db8000000005555666677778888 02 40 00 20     eth0
fe800000000000000000000000000001 02 40 20 80     eth0
";
        let passing = parse_if_inet6(text);
        let want: HashSet<Ipv6Addr> = ["2001:db8::1111:2222:3333:4444", "2001:db8::5555:6666:7777:8888"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(passing, want);
    }
}
