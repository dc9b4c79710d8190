//! What a client can hold open on the HTTPS port: a flood of idle,
//! half-open and slow connections does not keep a new client out.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{client, small_config, start_box};

/// A connection from `source` (any 127/8 address reaches the box on
/// loopback), made in one of three ways: silent, the first bytes of a TLS
/// hello and no more, or a finished handshake and half a request.
async fn held(source: IpAddr, box_addr: SocketAddr, kind: usize) -> Option<Box<dyn std::any::Any + Send>> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(source, 0)).ok()?;
    let mut tcp: TcpStream = socket.connect(box_addr).await.ok()?;
    match kind % 3 {
        0 => Some(Box::new(tcp)),
        1 => {
            tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).await.ok()?;
            Some(Box::new(tcp))
        }
        _ => {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = crate::tls::connector().connect(name, tcp).await.ok()?;
            tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await.ok()?;
            Some(Box::new(tls))
        }
    }
}

/// Polls the box's gauge of open HTTPS connections.
async fn metric(base: &str, name: &str) -> f64 {
    let text = client().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("confcam_{name} "))).unwrap_or_else(|| panic!("{name}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_is_served_while_1500_idle_half_open_and_slow_connections_are_held() {
    let b = start_box(small_config()).await;
    let base = format!("https://{}", b.https);
    // 1,500 connections from twelve addresses (125 each: under the bound
    // per client), all held by the box at once.
    let mut flood = Vec::new();
    for n in 0..1500 {
        let source = IpAddr::from([127, 0, 0, 2 + (n / 125) as u8]);
        flood.push(held(source, b.https, n).await);
    }
    let opened = flood.iter().filter(|c| c.is_some()).count();
    assert_eq!(opened, 1500, "the flood connected");
    let open = metric(&base, "https_connections").await;
    eprintln!("{open} HTTPS connections open during the flood");
    assert!(open >= 1000.0, "the box holds the flood's connections: {open}");

    // A new client (its own address) gets the health, the phone's page and a
    // join answer, each within 2 s (generous on a busy machine).
    let http = client();
    for (method, path) in [("GET", "/healthz"), ("GET", "/join/"), ("POST", "/api/join")] {
        let started = Instant::now();
        let request = http.request(method.parse().unwrap(), format!("{base}{path}"));
        let request = if method == "POST" {
            request.json(&serde_json::json!({ "code": "1", "name": "A", "sdp": "v=0" }))
        } else {
            request
        };
        let answer = tokio::time::timeout(Duration::from_secs(2), request.send()).await;
        let status = answer.unwrap_or_else(|_| panic!("{path}: no answer within 2 s")).unwrap().status();
        eprintln!("{method} {path}: {status} after {:?}", started.elapsed());
        assert!(status.as_u16() < 500, "{path}: {status}");
    }

    // One address alone cannot hold more than its share: the rest of its
    // connections are closed at once, and counted.
    let greedy = IpAddr::from([127, 0, 0, 99]);
    let mut more = Vec::new();
    for n in 0..200 {
        more.push(held(greedy, b.https, 3 * n).await);
    }
    let refused = metric(&base, "https_connections_refused_total").await;
    assert!(refused >= 72.0, "200 from one address, 128 kept: {refused} refused");
    drop((flood, more));
    b.running.shutdown().await;
}
