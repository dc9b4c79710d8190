//! The box is found by DNS-SD: a browser on loopback resolves its
//! `_https._tcp` service to `<room>.local` and the HTTPS port.

use std::time::{Duration, Instant};

use confcam::app::advertise::SERVICE_TYPE;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent};

use crate::common::{small_config, start_box};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_sd_browser_finds_the_box_by_its_room_name() {
    let mut config = small_config();
    config.server.mdns = true;
    config.server.bind = "127.0.0.1".parse().unwrap();
    config.room.name = "Ada Lovelace Room".into();
    let the_box = start_box(config).await;
    let port = the_box.https.port();

    let found = tokio::task::spawn_blocking(move || {
        let browser = ServiceDaemon::new().unwrap();
        browser.disable_interface(IfKind::All).unwrap();
        browser.enable_interface(IfKind::LoopbackV4).unwrap();
        let events = browser.browse(SERVICE_TYPE).unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        let mut found = None;
        while let Ok(event) = events.recv_timeout(until.saturating_duration_since(Instant::now())) {
            if let ServiceEvent::ServiceResolved(service) = event
                && service.port == port
            {
                found = Some(service);
                break;
            }
        }
        let _ = browser.shutdown();
        found
    })
    .await
    .unwrap();
    let service = found.expect("the box resolved within 10 s");
    assert_eq!(service.fullname, format!("Ada Lovelace Room.{SERVICE_TYPE}"));
    assert_eq!(service.host, "ada-lovelace-room.local.");
    assert!(service.addresses.iter().any(|a| a.to_string() == "127.0.0.1"), "{:?}", service.addresses);
    assert_eq!(service.txt_properties.get_property_val_str("path"), Some("/"));
    the_box.running.shutdown().await;
}
