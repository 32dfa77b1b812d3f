//! A test certificate authority for servers the tests start (Dovecot): a CA made with rcgen per run, a server
//! certificate for `localhost` and 127.0.0.1 issued by it, and rustls client configs that trust the CA and
//! nothing else. Certificate verification stays on everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, RootCertStore};

/// A CA and one server certificate, written as PEM files into a directory.
pub struct TestCa {
    pub ca_pem_path: PathBuf,
    pub server_cert_path: PathBuf,
    pub server_key_path: PathBuf,
}

impl TestCa {
    /// Creates the CA and a server certificate for `localhost` / 127.0.0.1 in `dir`.
    pub fn create(dir: &Path) -> TestCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "cognito-delivery-probe test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = ca_params.self_signed(&ca_key).expect("self-signed CA");

        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("server certificate");

        let ca_pem_path = dir.join("ca.pem");
        let server_cert_path = dir.join("server.pem");
        let server_key_path = dir.join("server.key");
        std::fs::write(&ca_pem_path, ca.pem()).expect("write CA");
        std::fs::write(&server_cert_path, cert.pem()).expect("write server certificate");
        std::fs::write(&server_key_path, key.serialize_pem()).expect("write server key");
        TestCa { ca_pem_path, server_cert_path, server_key_path }
    }
}

impl TestCa {
    /// A rustls server config presenting the server certificate (ring provider), for TLS servers the tests
    /// run in-process.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let pem = std::fs::read(&self.server_cert_path).expect("read server certificate");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().expect("server certificate PEM parses");
        let key_pem = std::fs::read(&self.server_key_path).expect("read server key");
        let key = PrivateKeyDer::from_pem_slice(&key_pem).expect("server key PEM parses");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate and key match");
        Arc::new(config)
    }
}

/// A rustls client config that trusts exactly the CA in `ca_pem_path`.
pub fn client_config_trusting(ca_pem_path: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_pem_path).expect("read CA PEM");
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("CA PEM parses")).expect("CA certificate accepted");
    }
    Arc::new(client_config(roots))
}

/// A rustls client config with the public web PKI roots only (webpki-roots): must reject the test CA.
pub fn client_config_default_roots() -> Arc<rustls::ClientConfig> {
    let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    Arc::new(client_config(roots))
}

fn client_config(roots: RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}
