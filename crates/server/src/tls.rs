//! In-process TLS (rustls, ring): certificate files, or a self-signed development
//! certificate. The end-to-end ceremony channel does not depend on it; TLS protects the rest
//! (tokens, login codes, payload previews) when no proxy terminates TLS in front.
//!
//! Certificate files are read again on SIGHUP (see [`reload_on_sighup`]): new connections get
//! the new certificate, open ones keep the one they were set up with.

use std::path::{Path, PathBuf};

use axum_server::tls_rustls::RustlsConfig;

/// How `tandem serve` should do TLS.
#[derive(Clone, Debug)]
pub enum TlsSetup {
    /// PEM certificate chain and private key files.
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate for `localhost` and `127.0.0.1`, written to the data
    /// directory (`dev-tls-cert.pem`) so that clients can trust it explicitly.
    Dev,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate or key: {0}")]
    Load(std::io::Error),
    #[error("generating the development certificate: {0}")]
    Generate(String),
    #[error("writing the development certificate: {0}")]
    Write(std::io::Error),
}

/// Builds the rustls configuration; for `Dev`, also returns where the certificate went.
pub async fn rustls_config(
    setup: &TlsSetup,
    data_dir: &Path,
) -> Result<(RustlsConfig, Option<PathBuf>), TlsError> {
    match setup {
        TlsSetup::Files { cert, key } => Ok((
            RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(TlsError::Load)?,
            None,
        )),
        TlsSetup::Dev => {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names)
                .map_err(|e| TlsError::Generate(e.to_string()))?;
            let cert_pem = certified.cert.pem();
            let key_pem = certified.signing_key.serialize_pem();
            let path = data_dir.join("dev-tls-cert.pem");
            std::fs::create_dir_all(data_dir).map_err(TlsError::Write)?;
            std::fs::write(&path, &cert_pem).map_err(TlsError::Write)?;
            // The key stays in memory only: a new certificate each start is fine for development.
            let config = RustlsConfig::from_pem(cert_pem.into_bytes(), key_pem.into_bytes())
                .await
                .map_err(TlsError::Load)?;
            Ok((config, Some(path)))
        }
    }
}

/// Reloads the certificate and key files into `config` on every SIGHUP, for as long as the
/// server runs. A file that does not load keeps the previous certificate in service (and is
/// logged), so a half-copied renewal never takes the server down.
pub fn reload_on_sighup(config: RustlsConfig, cert: PathBuf, key: PathBuf) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGHUP: TLS certificates will not reload");
                return;
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match config.reload_from_pem_file(&cert, &key).await {
                    Ok(()) => tracing::info!(
                        cert = %cert.display(),
                        "TLS certificate reloaded (SIGHUP); new connections use it"
                    ),
                    Err(e) => tracing::error!(
                        cert = %cert.display(),
                        key = %key.display(),
                        error = %e,
                        "TLS certificate reload failed; still serving the previous certificate"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (config, cert, key);
}
