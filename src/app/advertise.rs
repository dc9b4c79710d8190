//! mDNS/DNS-SD: the box answers as `<room>.local` and lists itself as an
//! `_https._tcp` service named after the room, so laptops find it by name
//! (mdns-sd runs its own thread; this owns it).

use std::net::IpAddr;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

use crate::system::local_name;

pub const SERVICE_TYPE: &str = "_https._tcp.local.";

/// The advertisement, withdrawn when dropped.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// Advertises the HTTPS port on the LAN; a box bound to loopback (tests,
/// a developer's machine) advertises on loopback only.
pub fn advertise(room: &str, bind: IpAddr, https_port: u16) -> Result<Advertisement, mdns_sd::Error> {
    let daemon = ServiceDaemon::new()?;
    if bind.is_loopback() {
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(IfKind::LoopbackV4)?;
    }
    let host = format!("{}.", local_name(room));
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
