//! The stores a browser trusts and holds its credentials in, each a private temp folder removed on
//! drop: an NSS database trusting exactly the run's CA certificates (Chromium's `$HOME/.pki/nssdb`
//! and a Firefox profile's `cert9.db` share its format), and an empty Kerberos credential cache for
//! a browser without a ticket.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// A temp HOME whose NSS database trusts exactly the given CA certificates, for a chromedriver
/// and the browsers it starts. Removed on drop.
#[derive(Debug)]
pub struct BrowserTrustStore {
    dir: tempfile::TempDir,
}

/// Why a trust store could not be made: the browsers could not trust the run's CA, so nothing
/// over TLS could be judged.
#[derive(Debug)]
pub enum TrustStoreError {
    /// The CA file holds no certificate.
    NoCertificate(String),
    /// `certutil` (Debian's libnss3-tools) is not installed.
    NoCertutil,
    /// A folder or file of the store could not be written.
    Io {
        /// What was being written.
        what: String,
        /// Why.
        cause: std::io::Error,
    },
    /// `certutil` could not be run, or refused.
    Certutil {
        /// What it was asked to do.
        what: String,
        /// Why.
        cause: String,
    },
}

impl std::fmt::Display for TrustStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustStoreError::NoCertificate(source) => write!(
                f,
                "{source} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)"
            ),
            TrustStoreError::NoCertutil => f.write_str(
                "the browser is given the CA through an NSS database, which needs `certutil` \
                 (Debian package libnss3-tools; run ci/install-run)",
            ),
            TrustStoreError::Io { what, cause } => write!(f, "cannot {what}: {cause}"),
            TrustStoreError::Certutil { what, cause } => {
                write!(f, "certutil could not {what}: {cause}")
            }
        }
    }
}

impl std::error::Error for TrustStoreError {}

impl BrowserTrustStore {
    /// A store trusting the certificates of `pem` (one or more PEM certificates, as read from
    /// `source`) as TLS server CAs, and nothing else.
    pub fn with_ca_pem(pem: &str, source: &Path) -> Result<BrowserTrustStore, TrustStoreError> {
        let certs = pem_certificates(pem);
        if certs.is_empty() {
            return Err(TrustStoreError::NoCertificate(format!(
                "tls.ca_file {}",
                source.display()
            )));
        }
        let store_error = |cause| TrustStoreError::Io {
            what: "make the browser's trust store".into(),
            cause,
        };
        let dir = crate::engine::rundir::tempdir("logout-harness-trust-").map_err(store_error)?;
        crate::engine::process::remove_on_signal(dir.path());
        let store = BrowserTrustStore { dir };
        let db = store.dir.path().join(".pki/nssdb");
        std::fs::create_dir_all(&db).map_err(store_error)?;
        nss_db_trusting(&db, &certs, &format!("tls.ca_file {}", source.display()))?;
        Ok(store)
    }

    /// The environment of a chromedriver whose browsers use this store.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![("HOME".into(), self.dir.path().as_os_str().to_owned())]
    }
}

impl Drop for BrowserTrustStore {
    fn drop(&mut self) {
        crate::engine::process::forget_dir(self.dir.path());
    }
}

fn run_certutil(cmd: &mut Command, what: &str) -> Result<(), TrustStoreError> {
    let out = cmd.output().map_err(|cause| TrustStoreError::Io {
        what: format!("run certutil to {what}"),
        cause,
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TrustStoreError::Certutil {
            what: what.to_string(),
            cause: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Makes the NSS certificate database in `db` (a directory; Chromium's `$HOME/.pki/nssdb`, or a
/// Firefox profile, whose `cert9.db` is the same format) trust each of `certs` (PEM blocks, from
/// `source`, for messages) as a TLS server CA, and nothing else.
pub fn nss_db_trusting(db: &Path, certs: &[String], source: &str) -> Result<(), TrustStoreError> {
    let certutil = crate::engine::process::which("certutil").ok_or(TrustStoreError::NoCertutil)?;
    let db_arg = format!("sql:{}", db.display());
    run_certutil(
        Command::new(&certutil).args(["-N", "-d", &db_arg, "--empty-password"]),
        "create the NSS database",
    )?;
    for (i, cert) in certs.iter().enumerate() {
        let file = db.join(format!("logout-harness-ca-{i}.pem"));
        std::fs::write(&file, cert).map_err(|cause| TrustStoreError::Io {
            what: format!("write {}", file.display()),
            cause,
        })?;
        // "C,,": a CA trusted to issue TLS server certificates; nothing for mail or code.
        let added = run_certutil(
            Command::new(&certutil)
                .args(["-A", "-d", &db_arg, "-t", "C,,", "-n"])
                .arg(format!("logout-harness CA {i}"))
                .arg("-i")
                .arg(&file),
            &format!("add certificate {} of {source}", i + 1),
        );
        let _ = std::fs::remove_file(&file);
        added?;
    }
    Ok(())
}

/// The PEM certificate blocks of `pem`, each with its BEGIN and END lines.
pub fn pem_certificates(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    out
}

/// An empty Kerberos credential cache of its own, for a browser "without a ticket".
#[derive(Debug)]
pub struct EmptyCcache {
    dir: tempfile::TempDir,
}

impl EmptyCcache {
    /// A new temp dir whose `empty` file (never created) is the cache.
    pub fn new() -> std::io::Result<EmptyCcache> {
        let dir = crate::engine::rundir::tempdir("logout-harness-noticket-")?;
        crate::engine::process::remove_on_signal(dir.path());
        Ok(EmptyCcache { dir })
    }

    /// `KRB5CCNAME` for a driver; `KRB5_CONFIG` is inherited from the harness as it is.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![(
            "KRB5CCNAME".into(),
            format!("FILE:{}", self.dir.path().join("empty").display()).into(),
        )]
    }
}

impl Drop for EmptyCcache {
    fn drop(&mut self) {
        crate::engine::process::forget_dir(self.dir.path());
    }
}

/// Whether a Kerberos credential cache holds a valid ticket: `ccache` (a user's `kerberos_ccache`,
/// whose browsers get a driver of their own), or else the one the harness and the browsers of its
/// shared driver use (this process's `KRB5CCNAME`, `KRB5_CONFIG`). `klist -s`; `None` when `klist`
/// (Debian's krb5-user) is not installed, so it cannot be told.
pub fn has_kerberos_ticket(ccache: Option<&Path>) -> Option<bool> {
    let klist = crate::engine::process::which("klist")?;
    let mut cmd = Command::new(klist);
    cmd.arg("-s");
    if let Some(ccache) = ccache {
        cmd.arg("-c").arg(ccache);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_certificate_of_a_bundle_is_found() {
        let one = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let bundle = format!("# comment\n{one}\n\n{}\n", one.replace("AAAA", "BBBB"));
        let certs = pem_certificates(&bundle);
        assert_eq!(certs.len(), 2);
        assert!(certs[1].contains("BBBB") && certs[1].ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem_certificates("not a certificate").is_empty());
    }
}
