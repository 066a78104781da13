//! `tandem bench --rtt`: a TCP relay between the simulated devices and the server that holds
//! every chunk for half the round-trip time in each direction (this machine has no netem),
//! and counts the devices' *flights*: bursts of data a device sends after something arrived
//! from the server since its previous burst. On a warm socket, flights per signature is the
//! number of round trips a signature costs.
//!
//! Chunks are timestamped when read and written out in order once their time has come, so the
//! relay adds latency without limiting throughput. A new connection also pays one round trip
//! before its first byte reaches the server, as the TCP handshake would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tandem_client::ClientError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running relay; dropping it stops accepting connections.
pub struct Delay {
    pub addr: SocketAddr,
    flights: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Delay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Delay {
    /// Device flights so far, over every connection.
    pub fn flights(&self) -> u64 {
        self.flights.load(Ordering::Relaxed)
    }
}

/// Parses `50ms`, `0.05s` or a bare number of milliseconds.
pub fn parse_rtt(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (s, 1e-3)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 50ms)"))?;
    let seconds = value * scale;
    if !(seconds.is_finite() && (0.0..=10.0).contains(&seconds)) {
        return Err("the round-trip time must be between 0 and 10 s".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Puts a relay in front of the server at `url` (`http(s)://host:port`, a loopback host):
/// returns it and the URL the devices use instead (same scheme and host, so TLS names
/// still match).
pub async fn front(url: &str, rtt: Duration) -> Result<(Delay, String), ClientError> {
    let bad = || ClientError::Local(format!("--rtt: cannot read the server URL `{url}`"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().map_err(|_| bad())?),
        _ => (authority, default_port),
    };
    let target = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|_| bad())?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            ClientError::Local("--rtt relays only to a server on this machine (loopback)".into())
        })?;
    let delay = start(target, rtt).await?;
    let relayed = format!("{scheme}://{host}:{}", delay.addr.port());
    Ok((delay, relayed))
}

/// Starts a relay on loopback in front of `target`.
pub async fn start(target: SocketAddr, rtt: Duration) -> Result<Delay, ClientError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| ClientError::Local(format!("--rtt relay: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ClientError::Local(format!("--rtt relay: {e}")))?;
    let flights = Arc::new(AtomicU64::new(0));
    let counter = flights.clone();
    let accept = tokio::spawn(async move {
        while let Ok((device, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(target).await {
                    relay(device, server, rtt, counter).await;
                }
            });
        }
    });
    Ok(Delay {
        addr,
        flights,
        accept,
    })
}

async fn relay(device: TcpStream, server: TcpStream, rtt: Duration, flights: Arc<AtomicU64>) {
    let _ = device.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (device_read, device_write) = device.into_split();
    let (server_read, server_write) = server.into_split();
    // Whether the server sent anything since the device's last burst.
    let answered = Arc::new(AtomicBool::new(true));
    let half = rtt / 2;
    let opened = Instant::now() + rtt;
    let up = {
        let answered = answered.clone();
        let on_read = move || {
            if answered.swap(false, Ordering::Relaxed) {
                flights.fetch_add(1, Ordering::Relaxed);
            }
        };
        pump(device_read, server_write, half, opened, on_read)
    };
    let down = {
        let on_read = move || answered.store(true, Ordering::Relaxed);
        pump(server_read, device_write, half, Instant::now(), on_read)
    };
    let _ = tokio::join!(up, down);
}

/// Copies one direction, each chunk delayed by `delay` from when it was read (and never
/// before `not_before`).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    not_before: Instant,
    on_read: impl Fn() + Send + 'static,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    on_read();
                    let due = (Instant::now() + delay).max(not_before);
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_spellings() {
        assert_eq!(parse_rtt("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_rtt("50"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_rtt("0.1s"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_rtt("0"), Ok(Duration::ZERO));
        assert!(parse_rtt("fast").is_err());
        assert!(parse_rtt("-5ms").is_err());
        assert!(parse_rtt("11s").is_err());
    }
}
