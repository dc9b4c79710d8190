use std::net::IpAddr;

/// The names a phone may use to reach the box: its mDNS host name and
/// addresses. The HTTPS certificate must name all of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostIdentity {
    /// Host name as one DNS label (`confcam-blue`); served as `<name>.local`.
    pub hostname: String,
    /// Every non-loopback address the box has, plus 127.0.0.1; sorted.
    pub ips: Vec<IpAddr>,
}

impl HostIdentity {
    /// Reads the host name and the addresses of every interface now.
    pub fn current() -> Self {
        let hostname = dns_label(&gethostname::gethostname().to_string_lossy());
        let found = if_addrs::get_if_addrs().unwrap_or_default();
        HostIdentity::new(hostname, found.iter().map(|i| i.ip()))
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
}

/// Turns a host name into a single lower-case DNS label (`Box.lan` → `box`).
fn dns_label(name: &str) -> String {
    let first = name.split('.').next().unwrap_or_default().to_ascii_lowercase();
    let label: String = first.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let label = label.trim_matches('-');
    if label.is_empty() { "confcam".into() } else { label.chars().take(63).collect() }
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
    }

    #[test]
    fn host_names_become_one_dns_label() {
        assert_eq!(dns_label("Confcam-Blue.lan"), "confcam-blue");
        assert_eq!(dns_label("my_box"), "my-box");
        assert_eq!(dns_label(""), "confcam");
        assert_eq!(dns_label("---"), "confcam");
    }
}
