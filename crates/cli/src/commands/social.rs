//! The browser leg of `tandem login --social` and `tandem account link-social` (RFC 8252): a
//! one-shot listener on 127.0.0.1 receives the redirect that carries the one-time code.

use std::time::Duration;

use tandem_client::social::SocialRequest;
use tandem_client::{ApiClient, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

/// How long the CLI waits for the browser (the server's flow lives 10 minutes).
const WAIT: Duration = Duration::from_secs(600);
const PAGE: &str = "<!doctype html><meta charset=utf-8><title>Tandem</title>\
    <p>You can close this window and return to the terminal.</p>";

/// A flow's listener, redirect URI and client secrets.
pub struct Loopback {
    listener: TcpListener,
    pub redirect_uri: String,
    pub request: SocialRequest,
}

impl Loopback {
    pub async fn bind() -> Result<Self, ClientError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| ClientError::Local(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| ClientError::Local(e.to_string()))?
            .port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            request: SocialRequest::new()?,
        })
    }

    /// Shows the URL (stderr, so `--json` output stays one document), opens it with
    /// `xdg-open` when there is one and `open_browser`, and waits for the redirect.
    pub async fn wait(
        &self,
        authorization_url: &str,
        open_browser: bool,
    ) -> Result<Zeroizing<String>, ClientError> {
        eprintln!("Open this URL in a browser to sign in:\n  {authorization_url}");
        eprintln!("Waiting for the browser at {}", self.redirect_uri);
        if open_browser && which("xdg-open") {
            let _ = std::process::Command::new("xdg-open")
                .arg(authorization_url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        tokio::time::timeout(WAIT, self.receive())
            .await
            .map_err(|_| ClientError::Local("no answer from the browser in 10 minutes".into()))?
    }

    async fn receive(&self) -> Result<Zeroizing<String>, ClientError> {
        loop {
            let (mut stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| ClientError::Local(e.to_string()))?;
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // The request line is all we need; browsers send it in the first packet.
            while len < buf.len() && !buf[..len].windows(2).any(|w| w == b"\r\n") {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..]))
                    .await
                {
                    Ok(Ok(n)) if n > 0 => len += n,
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).into_owned();
            let target = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let Some(query) = target.strip_prefix("/callback?") else {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                continue;
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
            return self.request.code_from(query);
        }
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Signs in with a provider: the session, or `second_factor_required`.
pub async fn login(
    api: &ApiClient,
    provider: &str,
    open_browser: bool,
) -> Result<tandem_client::proto::auth::LoginResponse, ClientError> {
    let flow = Loopback::bind().await?;
    let started = api
        .social_start(provider, &flow.redirect_uri, &flow.request)
        .await?;
    let code = flow.wait(&started.authorization_url, open_browser).await?;
    api.social_finish(&code, &flow.request).await
}
