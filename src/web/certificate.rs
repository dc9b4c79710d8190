//! The box's self-signed HTTPS certificate.
//!
//! Phones only get a camera and microphone on a secure origin, and the box has
//! no public name, so it signs its own certificate on first start and keeps it
//! in the data dir. Apple's rules for user-trusted certificates apply: the
//! names in SANs, the serverAuth EKU, at most 825 days. A new one is made when
//! the box's names or addresses change or the old one nears expiry.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

use crate::system::{HostIdentity, durable};

/// Longest validity Apple platforms accept for a user-trusted server certificate.
pub const MAX_VALIDITY_DAYS: i64 = 825;
/// Renew this long before expiry.
const RENEW_BEFORE_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate files in {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("certificate or key is not usable: {0}")]
    Unusable(String),
}

/// A certificate with its key, ready to serve.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the DER certificate, `AB:CD:…`, as browsers show it.
    pub sha256: String,
    pub not_after: OffsetDateTime,
    pub identity: HostIdentity,
}

/// Whether [`ensure`] reused the stored certificate or made a new one, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Reused,
    Created(&'static str),
}

/// What is stored beside the certificate, to decide without parsing X.509.
/// Written last, so the digests also tell whether a renewal was cut short
/// (key and certificate from different generations).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Stored {
    identity: HostIdentity,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    cert_sha256: String,
    public_key_sha256: String,
}

/// Why a new certificate is needed, or `None` to keep the stored one.
pub fn renewal_reason(
    stored: Option<(&HostIdentity, OffsetDateTime)>,
    current: &HostIdentity,
    now: OffsetDateTime,
) -> Option<&'static str> {
    match stored {
        None => Some("no usable certificate"),
        Some((identity, _)) if identity.hostname != current.hostname => Some("host name changed"),
        // An address the certificate names but the box lost does no harm; a
        // new one would fail in the browser.
        Some((identity, _)) if current.ips.iter().any(|ip| !identity.ips.contains(ip)) => Some("new address"),
        Some((_, not_after)) if not_after - now < Duration::days(RENEW_BEFORE_DAYS) => Some("expires soon"),
        Some(_) => None,
    }
}

/// Loads the certificate in `dir`, or makes (and stores) a new one when
/// [`renewal_reason`] says so.
pub fn ensure(
    dir: &Path,
    identity: &HostIdentity,
    now: OffsetDateTime,
) -> Result<(Certificate, Renewal), CertificateError> {
    let io = |source| CertificateError::Io { dir: dir.into(), source };
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    let stored = load(dir);
    let reason = renewal_reason(stored.as_ref().map(|c| (&c.identity, c.not_after)), identity, now);
    match (stored, reason) {
        (Some(cert), None) => Ok((cert, Renewal::Reused)),
        (_, reason) => {
            let cert = generate(identity, now)?;
            save(dir, &cert).map_err(io)?;
            Ok((cert, Renewal::Created(reason.unwrap_or("no usable certificate"))))
        }
    }
}

/// A rustls server config serving `cert` over HTTP/2 and HTTP/1.1.
pub fn server_config(cert: &Certificate) -> Result<Arc<rustls::ServerConfig>, CertificateError> {
    let unusable = |e: &dyn std::fmt::Display| CertificateError::Unusable(e.to_string());
    let chain = vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).map_err(|e| unusable(&e))?];
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(|e| unusable(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| unusable(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn generate(identity: &HostIdentity, now: OffsetDateTime) -> Result<Certificate, CertificateError> {
    let mut names = identity.dns_names();
    names.extend(identity.ips.iter().map(|ip| ip.to_string()));
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{}.local", identity.hostname));
    dn.push(DnType::OrganizationName, "confcam");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // A little slack for a clock that is behind; the whole span stays ≤ 825 days.
    params.not_before = now - Duration::hours(1);
    params.not_after = params.not_before + Duration::days(MAX_VALIDITY_DAYS);
    // Browsers reject two certificates with one issuer and serial, so every
    // new certificate gets a random serial.
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| CertificateError::Unusable("no randomness for the serial".into()))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(serial.to_vec().into());
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Certificate {
        sha256: fingerprint(cert.der()),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: params.not_after,
        identity: identity.clone(),
    })
}

/// `AB:CD:…` SHA-256 of a DER certificate (or any DER).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
const META_FILE: &str = "cert.json";

fn load(dir: &Path) -> Option<Certificate> {
    let cert_pem = fs::read_to_string(dir.join(CERT_FILE)).ok()?;
    let key_pem = fs::read_to_string(dir.join(KEY_FILE)).ok()?;
    let stored: Stored = serde_json::from_str(&fs::read_to_string(dir.join(META_FILE)).ok()?).ok()?;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?;
    let key = KeyPair::from_pem(&key_pem).ok()?;
    if fingerprint(&der) != stored.cert_sha256 || fingerprint(key.public_key_raw()) != stored.public_key_sha256 {
        return None;
    }
    let cert = Certificate {
        sha256: stored.cert_sha256,
        cert_pem,
        key_pem,
        not_after: stored.not_after,
        identity: stored.identity,
    };
    server_config(&cert).ok()?;
    Some(cert)
}

/// Writes each file to a temporary name and renames it, so a power cut never
/// leaves half a key; the key is created 0600.
fn save(dir: &Path, cert: &Certificate) -> std::io::Result<()> {
    let public_key = KeyPair::from_pem(&cert.key_pem).map_err(std::io::Error::other)?.public_key_raw().to_vec();
    let meta = serde_json::to_string_pretty(&Stored {
        identity: cert.identity.clone(),
        not_after: cert.not_after,
        cert_sha256: cert.sha256.clone(),
        public_key_sha256: fingerprint(&public_key),
    })?;
    for (name, text, mode) in
        [(KEY_FILE, &cert.key_pem, 0o600), (CERT_FILE, &cert.cert_pem, 0o644), (META_FILE, &meta, 0o644)]
    {
        durable::replace(&dir.join(name), text.as_bytes(), mode)?;
    }
    durable::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn identity(ips: &[&str]) -> HostIdentity {
        HostIdentity::new("confcam-test".into(), ips.iter().map(|s| s.parse().unwrap()))
    }

    #[test]
    fn renews_only_when_names_change_or_expiry_nears() {
        let now = OffsetDateTime::now_utc();
        let a = identity(&["192.168.1.5"]);
        let later = now + Duration::days(400);
        assert_eq!(renewal_reason(None, &a, now), Some("no usable certificate"));
        assert_eq!(renewal_reason(Some((&a, later)), &a, now), None);
        assert_eq!(renewal_reason(Some((&a, later)), &identity(&["192.168.1.6"]), now), Some("new address"));
        assert_eq!(renewal_reason(Some((&identity(&["192.168.1.5", "10.0.0.1"]), later)), &a, now), None, "lost one");
        let renamed = HostIdentity { hostname: "other".into(), ..a.clone() };
        assert_eq!(renewal_reason(Some((&a, later)), &renamed, now), Some("host name changed"));
        assert_eq!(renewal_reason(Some((&a, now + Duration::days(29))), &a, now), Some("expires soon"));
    }

    #[test]
    fn certificate_names_the_box_and_follows_apples_rules() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let id = identity(&["192.168.1.5", "2001:db8::7"]);
        let (cert, renewal) = ensure(dir.path(), &id, now).unwrap();
        assert_eq!(renewal, Renewal::Created("no usable certificate"));

        let der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap();
        let (_, x509) = X509Certificate::from_der(&der).unwrap();
        let san = x509.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    std::net::IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string()
                }
                GeneralName::IPAddress(b) => std::net::IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        for want in ["confcam-test.local", "localhost", "192.168.1.5", "127.0.0.1", "2001:db8::7"] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        assert!(x509.extended_key_usage().unwrap().unwrap().value.server_auth);
        let v = x509.validity();
        assert!(v.not_after.timestamp() - v.not_before.timestamp() <= MAX_VALIDITY_DAYS * 86_400);
        assert_eq!(cert.sha256, fingerprint(&der));
        assert_eq!(cert.sha256.len(), 32 * 3 - 1);

        let mode = |f: &str| fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(KEY_FILE), 0o600);
        assert_eq!(fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
        server_config(&cert).unwrap();
    }

    #[test]
    fn stored_certificate_is_reused_until_the_addresses_change() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let (first, _) = ensure(dir.path(), &identity(&["10.1.1.1"]), now).unwrap();
        let (again, renewal) = ensure(dir.path(), &identity(&["10.1.1.1"]), now + Duration::days(1)).unwrap();
        assert_eq!((renewal, again.sha256.clone()), (Renewal::Reused, first.sha256.clone()));
        let (moved, renewal) = ensure(dir.path(), &identity(&["10.1.1.2"]), now).unwrap();
        assert_eq!(renewal, Renewal::Created("new address"));

        assert_ne!(moved.sha256, first.sha256);
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        ensure(dir.path(), &identity(&[]), now).unwrap();
        let other = tempfile::tempdir().unwrap();
        ensure(other.path(), &identity(&[]), now).unwrap();
        fs::copy(other.path().join(KEY_FILE), dir.path().join(KEY_FILE)).unwrap();
        let (cert, renewal) = ensure(dir.path(), &identity(&[]), now).unwrap();
        assert_eq!(renewal, Renewal::Created("no usable certificate"));
        server_config(&cert).unwrap();
    }

    #[test]
    fn damaged_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        ensure(dir.path(), &identity(&[]), now).unwrap();
        fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let (_, renewal) = ensure(dir.path(), &identity(&[]), now).unwrap();
        assert_eq!(renewal, Renewal::Created("no usable certificate"));
    }
}
