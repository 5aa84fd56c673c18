//! TLS for the listener (`--tls-cert`, `--tls-key`): rustls, with the certificate taken up
//! again when its files change or on SIGHUP, for new handshakes only, so that no open
//! connection is dropped by a renewal (certbot, an ACME client or an operator replacing the
//! files). A renewal that cannot be read (half-written, a key that does not match) is logged
//! and the certificate in use is kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often the files' modification times are looked at.
pub const POLL: Duration = Duration::from_secs(5);

/// The certificate and key of the listener, and where they come from.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last read.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Certificates {
    /// Reads the certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1
    /// or SEC1); refuses a key that is not the certificate's.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Certificates>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = (modified(cert), modified(key));
        let current = read(cert, key, &provider)?;
        Ok(Arc::new(Certificates {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(current)),
            seen: Mutex::new(seen),
        }))
    }

    /// Reads the files again and uses them for the next handshakes; the certificate in use is
    /// kept if they cannot be read.
    pub fn reload(&self) -> Result<()> {
        let seen = (modified(&self.cert), modified(&self.key));
        let next = read(&self.cert, &self.key, &self.provider)?;
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(next);
        }
        if let Ok(mut s) = self.seen.lock() {
            *s = seen;
        }
        Ok(())
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        let now = (modified(&self.cert), modified(&self.key));
        self.seen.lock().map(|s| *s != now).unwrap_or(false)
    }

    /// The acceptor for the listener: TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// Reloads on SIGHUP and when the files change (looked at every [`POLL`]).
    /// The SIGHUP handler is installed before this returns, not when the task first runs, so
    /// a reload sent right after start-up is taken up rather than ending the process.
    pub fn watch(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            loop {
                #[cfg(unix)]
                let why = tokio::select! {
                    _ = tick.tick() => if self.changed() { "the files changed" } else { continue },
                    Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                };
                #[cfg(not(unix))]
                let why = {
                    tick.tick().await;
                    if !self.changed() {
                        continue;
                    }
                    "the files changed"
                };
                match self.reload() {
                    Ok(()) => tracing::info!(why, "TLS certificate reloaded"),
                    Err(e) => tracing::warn!(
                        why,
                        "TLS certificate not reloaded, the one in use is kept: {e:#}"
                    ),
                }
            }
        })
    }
}

fn read(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("{}: cannot read the certificate", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{}: no certificate in it",
        cert.display()
    );
    let der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{}: not a PEM private key", key.display()))?;
    let certified = CertifiedKey::from_der(chain, der, provider)
        .with_context(|| format!("{}: the key is not the certificate's", key.display()))?;
    Ok(certified)
}
