use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use x509_parser::prelude::*;

use crate::common::{small_config, start_box};

/// Accepts any certificate and keeps it, so the test can inspect what the box
/// serves.
#[derive(Debug, Default)]
struct Capture(Mutex<Option<Vec<u8>>>);

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client that takes whatever certificate the box serves and keeps
/// it in `capture`.
fn connector_keeping(capture: Arc<Capture>) -> tokio_rustls::TlsConnector {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(capture)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A TLS client that takes whatever certificate the box serves.
pub fn connector() -> tokio_rustls::TlsConnector {
    connector_keeping(Arc::default())
}

/// The certificate the box serves right now, as DER.
async fn served_certificate(addr: std::net::SocketAddr) -> Vec<u8> {
    let capture = Arc::new(Capture::default());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector_keeping(capture.clone()).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    capture.0.lock().unwrap().clone().expect("a certificate was served")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_certificate_names_the_box_for_phones() {
    let b = start_box(small_config()).await;
    let der = served_certificate(b.https).await;
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let identity = confcam::system::HostIdentity::current().unwrap();
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in &cert.subject_alternative_name().unwrap().unwrap().value.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::IPAddress(b) if b.len() == 4 => {
                ips.push(std::net::IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()))
            }
            GeneralName::IPAddress(b) => ips.push(std::net::IpAddr::from(<[u8; 16]>::try_from(*b).unwrap())),
            _ => {}
        }
    }
    assert!(dns.contains(&format!("{}.local", identity.hostname)), "{dns:?}");
    assert!(dns.contains(&"localhost".to_string()), "{dns:?}");
    assert!(ips.contains(&"127.0.0.1".parse().unwrap()), "{ips:?}");
    for ip in &identity.ips {
        assert!(ips.contains(ip), "{ip} missing from {ips:?}");
    }
    assert!(cert.extended_key_usage().unwrap().unwrap().value.server_auth);
    let v = cert.validity();
    assert!(v.not_after.timestamp() - v.not_before.timestamp() <= 825 * 86_400);

    // The fingerprint /healthz reports is the one served.
    let health: confcam::web::Health =
        crate::common::client().get(format!("https://{}/healthz", b.https)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health.subsystems.web.certificate_sha256, confcam::web::certificate::fingerprint(&der));
    b.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_address_gets_a_new_certificate_without_a_restart() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let moved = Arc::new(AtomicBool::new(false));
    let flag = moved.clone();
    let b = crate::common::start_with(small_config(), move |boot| {
        boot.certificate_check = Duration::from_millis(100);
        boot.host_identity = Arc::new(move || {
            let ip = if flag.load(Ordering::Relaxed) { "192.0.2.20" } else { "192.0.2.10" };
            Ok(confcam::system::HostIdentity::new("confcam-test".into(), [ip.parse().unwrap()]))
        });
    })
    .await;
    let before = served_certificate(b.https).await;

    // DHCP hands the box a new address.
    moved.store(true, Ordering::Relaxed);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let after = loop {
        let now = served_certificate(b.https).await;
        if now != before {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "certificate not renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, cert) = X509Certificate::from_der(&after).unwrap();
    let san = format!("{:?}", cert.subject_alternative_name().unwrap().unwrap().value.general_names);
    assert!(san.contains("[192, 0, 2, 20]") && !san.contains("[192, 0, 2, 10]"), "{san}");
    let health = crate::daemon::health_of(&crate::common::client(), &format!("https://{}", b.https)).await;
    assert_eq!(health.subsystems.web.certificate_sha256, confcam::web::certificate::fingerprint(&after));
    b.running.shutdown().await;
}
