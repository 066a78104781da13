//! The end-to-end encrypted channel inside every ceremony socket (DESIGN.md §4), sans-IO.
//!
//! Noise `NK` (X25519, ChaCha20-Poly1305, SHA-256): the device knows and pins the server's
//! static public key, so only that server can read what the device sends, even when TLS ends
//! at a proxy. The prologue binds the channel to the bearer session (its SHA-256), so a
//! channel set up under one session cannot be spliced into another. Noise keeps one key and
//! one nonce counter per direction: a replayed, reordered, dropped or altered message fails
//! to decrypt and the channel is dead from then on.
//!
//! Handshake: device → server `msg1` (e, es), server → device `msg2` (e, ee), each one binary
//! socket message. After it, every socket message is one Noise transport message holding a
//! record `kind ‖ last ‖ data`; a payload longer than one Noise message (ECDSA keygen frames
//! are ~150 KB) is split into records, all but the last with `last = 0`.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The Noise protocol name.
pub const PATTERN: &str = "Noise_NK_25519_ChaChaPoly_SHA256";

/// `GET /v1/server-key`: what a device pins on first login.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerKey {
    /// Hex of the server's static X25519 public key.
    pub public_key: String,
    /// The Noise protocol name.
    pub protocol: String,
}
const PROLOGUE: &[u8] = b"tandem/ceremony-channel/v1";
/// Noise's limit on one message, tag included.
const NOISE_MAX: usize = 65_535;
const TAG: usize = 16;
const HEADER: usize = 2;
const CHUNK: usize = NOISE_MAX - TAG - HEADER;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    /// The handshake failed: most likely the server is not the one the device pinned.
    #[error("the encrypted channel could not be set up (is this the pinned server?)")]
    Handshake,
    /// A message failed to decrypt: altered, replayed, reordered or from someone else.
    #[error("a message on the encrypted channel failed authentication")]
    Authentication,
    #[error("malformed record on the encrypted channel")]
    Malformed,
    #[error("message too large for the encrypted channel")]
    TooLarge,
    #[error("bad key material")]
    Key,
}

/// What a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A JSON control message.
    Control = 0,
    /// A binary `tandem-mpc` frame.
    Frame = 1,
}

/// The server's long-term channel key pair.
pub struct StaticKeypair {
    private: Zeroizing<Vec<u8>>,
    public: [u8; 32],
}

impl core::fmt::Debug for StaticKeypair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticKeypair")
            .field("public", &hex::encode(self.public))
            .field("private", &"[redacted]")
            .finish()
    }
}

impl StaticKeypair {
    pub fn generate() -> Result<StaticKeypair, ChannelError> {
        let builder = snow::Builder::new(params()?);
        let kp = builder.generate_keypair().map_err(|_| ChannelError::Key)?;
        let public: [u8; 32] = kp
            .public
            .as_slice()
            .try_into()
            .map_err(|_| ChannelError::Key)?;
        Ok(StaticKeypair {
            private: Zeroizing::new(kp.private),
            public,
        })
    }

    /// From the 32-byte private key; the public key is recomputed.
    pub fn from_private(private: &[u8]) -> Result<StaticKeypair, ChannelError> {
        let bytes: [u8; 32] = private.try_into().map_err(|_| ChannelError::Key)?;
        let public = x25519_public(&bytes)?;
        Ok(StaticKeypair {
            private: Zeroizing::new(bytes.to_vec()),
            public,
        })
    }

    pub fn private_bytes(&self) -> &[u8] {
        &self.private
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }
}

/// The X25519 public key of a private key (the same clamping Noise's DH applies).
fn x25519_public(private: &[u8; 32]) -> Result<[u8; 32], ChannelError> {
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use curve25519_dalek::scalar::clamp_integer;
    Ok(MontgomeryPoint::mul_base_clamped(clamp_integer(*private)).to_bytes())
}

fn params() -> Result<snow::params::NoiseParams, ChannelError> {
    PATTERN.parse().map_err(|_| ChannelError::Key)
}

fn prologue(session_token: &str) -> Vec<u8> {
    let mut p = PROLOGUE.to_vec();
    p.extend_from_slice(&Sha256::digest(session_token.as_bytes()));
    p
}

/// Device side, before the server's answer.
pub struct Initiator {
    state: snow::HandshakeState,
}

impl Initiator {
    /// Starts the handshake to the server whose key the device pinned. Returns `msg1`.
    pub fn start(
        server_public: &[u8; 32],
        session_token: &str,
    ) -> Result<(Initiator, Vec<u8>), ChannelError> {
        let prologue = prologue(session_token);
        let mut state = snow::Builder::new(params()?)
            .prologue(&prologue)
            .and_then(|b| b.remote_public_key(server_public))
            .and_then(|b| b.build_initiator())
            .map_err(|_| ChannelError::Handshake)?;
        let mut msg = vec![0u8; 256];
        let n = state
            .write_message(&[], &mut msg)
            .map_err(|_| ChannelError::Handshake)?;
        msg.truncate(n);
        Ok((Initiator { state }, msg))
    }

    /// Reads the server's `msg2`; the channel is then up.
    pub fn finish(mut self, msg2: &[u8]) -> Result<Secure, ChannelError> {
        let mut buf = vec![0u8; 256];
        self.state
            .read_message(msg2, &mut buf)
            .map_err(|_| ChannelError::Handshake)?;
        let transport = self
            .state
            .into_transport_mode()
            .map_err(|_| ChannelError::Handshake)?;
        Ok(Secure::new(transport))
    }
}

/// Server side: answers `msg1` and brings the channel up.
pub fn respond(
    keypair: &StaticKeypair,
    session_token: &str,
    msg1: &[u8],
) -> Result<(Secure, Vec<u8>), ChannelError> {
    let prologue = prologue(session_token);
    let mut state = snow::Builder::new(params()?)
        .prologue(&prologue)
        .and_then(|b| b.local_private_key(keypair.private_bytes()))
        .and_then(|b| b.build_responder())
        .map_err(|_| ChannelError::Handshake)?;
    let mut buf = vec![0u8; 256];
    state
        .read_message(msg1, &mut buf)
        .map_err(|_| ChannelError::Handshake)?;
    let mut msg2 = vec![0u8; 256];
    let n = state
        .write_message(&[], &mut msg2)
        .map_err(|_| ChannelError::Handshake)?;
    msg2.truncate(n);
    let transport = state
        .into_transport_mode()
        .map_err(|_| ChannelError::Handshake)?;
    Ok((Secure::new(transport), msg2))
}

/// An established channel.
pub struct Secure {
    transport: snow::TransportState,
    /// A message whose last record has not arrived yet: plaintext, so wiped on drop and
    /// never left behind by a reallocation.
    partial: Option<(Kind, Zeroizing<Vec<u8>>)>,
    max_message: usize,
    /// One record's plaintext, reused for every record sealed or opened: no allocation and
    /// no zeroizing pass per record (a signature moves ~80 KB each way), and whatever it last
    /// held is wiped when the channel drops.
    scratch: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Secure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secure([redacted])")
    }
}

impl Secure {
    fn new(transport: snow::TransportState) -> Secure {
        Secure {
            transport,
            partial: None,
            max_message: 4 << 20,
            scratch: Zeroizing::new(vec![0u8; NOISE_MAX]),
        }
    }

    /// Caps the size of one reassembled message.
    pub fn with_max_message(mut self, max: usize) -> Secure {
        self.max_message = max;
        self
    }

    /// Encrypts one message into one or more socket messages.
    pub fn seal(&mut self, kind: Kind, data: &[u8]) -> Result<Vec<Vec<u8>>, ChannelError> {
        if data.len() > self.max_message {
            return Err(ChannelError::TooLarge);
        }
        let mut out = Vec::with_capacity(data.len() / CHUNK + 1);
        let mut chunks = data.chunks(CHUNK).peekable();
        if chunks.peek().is_none() {
            out.push(self.seal_record(kind, true, &[])?);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            out.push(self.seal_record(kind, last, chunk)?);
        }
        Ok(out)
    }

    fn seal_record(
        &mut self,
        kind: Kind,
        last: bool,
        chunk: &[u8],
    ) -> Result<Vec<u8>, ChannelError> {
        let len = HEADER + chunk.len();
        let record = self.scratch.get_mut(..len).ok_or(ChannelError::TooLarge)?;
        let (header, body) = record.split_at_mut(HEADER);
        header.copy_from_slice(&[kind as u8, u8::from(last)]);
        body.copy_from_slice(chunk);
        let mut out = vec![0u8; len + TAG];
        let n = self
            .transport
            .write_message(record, &mut out)
            .map_err(|_| ChannelError::Authentication)?;
        out.truncate(n);
        Ok(out)
    }

    /// Decrypts one socket message. Returns a whole message once its last record arrived.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Option<(Kind, Vec<u8>)>, ChannelError> {
        if ciphertext.len() > NOISE_MAX || ciphertext.len() < TAG + HEADER {
            return Err(ChannelError::Malformed);
        }
        let n = self
            .transport
            .read_message(ciphertext, &mut self.scratch)
            .map_err(|_| ChannelError::Authentication)?;
        let record = &self.scratch[..n];
        let kind = match record.first() {
            Some(0) => Kind::Control,
            Some(1) => Kind::Frame,
            _ => return Err(ChannelError::Malformed),
        };
        let last = match record.get(1) {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(ChannelError::Malformed),
        };
        let data = &record[HEADER..];
        let mut buffer = match self.partial.take() {
            Some((k, buf)) if k == kind => buf,
            Some(_) => return Err(ChannelError::Malformed),
            None => Zeroizing::new(Vec::new()),
        };
        let needed = buffer.len() + data.len();
        if needed > self.max_message {
            return Err(ChannelError::TooLarge);
        }
        if needed > buffer.capacity() {
            // Grow by hand: `Vec` would free the old allocation without wiping it.
            let grown = needed.max(buffer.capacity() * 2).min(self.max_message);
            let mut bigger = Zeroizing::new(Vec::with_capacity(grown));
            bigger.extend_from_slice(&buffer);
            buffer = bigger;
        }
        buffer.extend_from_slice(data);
        if last {
            // The caller owns the plaintext from here (and wipes it).
            Ok(Some((kind, std::mem::take(&mut *buffer))))
        } else {
            self.partial = Some((kind, buffer));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(token: &str) -> (Secure, Secure, StaticKeypair) {
        let server = StaticKeypair::generate().unwrap_or_else(|_| unreachable!());
        let (init, msg1) =
            Initiator::start(&server.public(), token).unwrap_or_else(|_| unreachable!());
        let (srv, msg2) = respond(&server, token, &msg1).unwrap_or_else(|_| unreachable!());
        let dev = init.finish(&msg2).unwrap_or_else(|_| unreachable!());
        (dev, srv, server)
    }

    #[test]
    fn round_trip_small_and_chunked() {
        let (mut dev, mut srv, _) = pair("tdm_token");
        for size in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 150_000] {
            let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let msgs = dev.seal(Kind::Frame, &data).unwrap_or_default();
            let mut got = None;
            for m in &msgs {
                assert!(m.len() <= NOISE_MAX);
                got = srv.open(m).unwrap_or(None).or(got);
            }
            assert_eq!(got, Some((Kind::Frame, data)));
        }
        let back = srv.seal(Kind::Control, b"{}").unwrap_or_default();
        assert_eq!(
            dev.open(&back[0]).unwrap_or(None),
            Some((Kind::Control, b"{}".to_vec()))
        );
    }

    #[test]
    fn tamper_replay_and_wrong_key_fail() {
        let (mut dev, mut srv, _) = pair("tdm_token");
        let m1 = dev
            .seal(Kind::Control, b"one")
            .unwrap_or_default()
            .remove(0);
        let m2 = dev
            .seal(Kind::Control, b"two")
            .unwrap_or_default()
            .remove(0);
        let mut flipped = m1.clone();
        flipped[5] ^= 1;
        assert_eq!(srv.open(&flipped), Err(ChannelError::Authentication));
        // Replay: after m1 was accepted, m1 again fails (the counter moved on).
        let (mut dev, mut srv, _) = pair("tdm_token");
        let m1 = dev
            .seal(Kind::Control, b"one")
            .unwrap_or_default()
            .remove(0);
        assert!(srv.open(&m1).is_ok());
        assert_eq!(srv.open(&m1), Err(ChannelError::Authentication));
        drop(m2);
        // A device pinned to another key, or under another session, cannot finish.
        let real = StaticKeypair::generate().unwrap_or_else(|_| unreachable!());
        let other = StaticKeypair::generate().unwrap_or_else(|_| unreachable!());
        let (_, msg1) = Initiator::start(&other.public(), "t").unwrap_or_else(|_| unreachable!());
        assert!(respond(&real, "t", &msg1).is_err());
        let (_, msg1) =
            Initiator::start(&real.public(), "session-a").unwrap_or_else(|_| unreachable!());
        assert!(respond(&real, "session-b", &msg1).is_err());
    }

    #[test]
    fn private_key_round_trip() {
        let kp = StaticKeypair::generate().unwrap_or_else(|_| unreachable!());
        let again =
            StaticKeypair::from_private(kp.private_bytes()).unwrap_or_else(|_| unreachable!());
        assert_eq!(kp.public(), again.public());
        assert!(!format!("{kp:?}").contains(&hex::encode(kp.private_bytes())));
    }
}
