//! A private test CA and a server certificate for `localhost` and `127.0.0.1`, made per test run,
//! so that a third-party TLS server can be trusted through the target's `tls.ca_file` alone.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files written into a directory: the CA (what a target's `tls.ca_file` names) and the
/// server's certificate and key.
pub struct Pki {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Makes a CA and a leaf for `localhost` / `127.0.0.1` and writes them into `dir`.
pub fn make(dir: &Path) -> Result<Pki, String> {
    let err = |e: rcgen::Error| format!("making the test CA: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "logout-harness real-servers test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().map_err(err)?;
    // The SANs the target files use: no host mapping is needed to reach them.
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;

    let pki = Pki {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
    };
    let write = |p: &Path, s: String| {
        std::fs::write(p, s).map_err(|e| format!("writing {}: {e}", p.display()))
    };
    write(&pki.ca_file, ca_cert.pem())?;
    write(&pki.cert_file, leaf_cert.pem())?;
    write(&pki.key_file, leaf_key.serialize_pem())?;
    Ok(pki)
}
