//! mDNS/DNS-SD: the box answers as `<room>.local` and lists itself as an
//! `_https._tcp` service named after the room, so laptops find it by name
//! (mdns-sd runs its own thread; this owns it).

use std::net::IpAddr;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

pub const SERVICE_TYPE: &str = "_https._tcp.local.";

/// The advertisement, withdrawn when dropped.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// The room's name as a host label: lower case letters, digits and single
/// hyphens ("Room 4 – Ada" → "room-4-ada"); "confcam" when nothing is left.
pub fn host_label(room: &str) -> String {
    let mut label = String::new();
    for c in room.chars().flat_map(char::to_lowercase) {
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

/// Advertises the HTTPS port on the LAN; a box bound to loopback (tests,
/// a developer's machine) advertises on loopback only.
pub fn advertise(room: &str, bind: IpAddr, https_port: u16) -> Result<Advertisement, mdns_sd::Error> {
    let daemon = ServiceDaemon::new()?;
    if bind.is_loopback() {
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(IfKind::LoopbackV4)?;
    }
    let host = format!("{}.local.", host_label(room));
    let info =
        ServiceInfo::new(SERVICE_TYPE, room, &host, (), https_port, [("path", "/")].as_slice())?.enable_addr_auto();
    let fullname = info.get_fullname().to_string();
    daemon.register(info)?;
    tracing::info!(host = %host, service = %fullname, "advertised on the network (mDNS)");
    Ok(Advertisement { daemon, fullname })
}

impl Drop for Advertisement {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_become_host_labels() {
        assert_eq!(host_label("Meeting room"), "meeting-room");
        assert_eq!(host_label("  Room 4 – Ada!! "), "room-4-ada");
        assert_eq!(host_label("Café"), "caf");
        assert_eq!(host_label("–––"), "confcam");
        assert_eq!(host_label(&"a".repeat(80)).len(), 63);
    }
}
