//! HTTPS with rustls on the aws-lc-rs provider (TLS 1.3 and 1.2 only), the certificate chain and
//! key read from PEM files and reloaded when they change, so that an ACME client or a secret
//! mount can rotate the certificate without a restart. A file that fails to load keeps the
//! previous certificate in service and is logged.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain and its private key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM object of the expected kind.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no certificate in the file")]
    NoCertificate(PathBuf),
    /// The key is unusable or does not belong to the certificate.
    #[error("the key in {key} does not fit the certificate in {cert}: {source}")]
    Key {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads and checks the certificate chain and key.
pub fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    fn pem(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + '_ {
        move |source| TlsError::Pem {
            path: path.to_owned(),
            source,
        }
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(pem(&files.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(&files.cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(pem(&files.key))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Key {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    })
}

/// The certificate in service, replaced when the files change.
#[derive(Debug)]
pub struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// Modification times (certificate, key) of what is in service.
    loaded: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Reloading {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (modified(&self.files.cert), modified(&self.files.key))
    }

    /// Reloads if either file changed since the last load; returns whether a new certificate
    /// is in service. A failed load keeps the previous one (the files may be mid-rotation: a
    /// new certificate written before its key).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let stamps = self.stamps();
        if *self.loaded.read().unwrap_or_else(|e| e.into_inner()) == stamps {
            return Ok(false);
        }
        let key = load(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = stamps;
        Ok(true)
    }

    /// Checks the files every `every` for as long as the server runs.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.reload_if_changed() {
                Ok(true) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays in service")
                }
            }
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The acceptor for `files` (loaded now: a bad file stops the start) and its reloader.
pub fn acceptor(files: TlsFiles) -> Result<(TlsAcceptor, Arc<Reloading>), TlsError> {
    let provider = provider();
    let first = load(&files, &provider)?;
    let reloading = Arc::new(Reloading {
        loaded: RwLock::new((modified(&files.cert), modified(&files.key))),
        current: RwLock::new(Arc::new(first)),
        provider: provider.clone(),
        files,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(reloading.clone());
    // The connection loop speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), reloading))
}
