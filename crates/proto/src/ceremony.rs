//! The ceremony socket (`GET /v1/ceremony`, WebSocket, authenticated by the session's bearer
//! token). A socket carries ceremonies one at a time; after one succeeds the device may send
//! the next `Start` (the server re-checks the session first) or close. Each ceremony:
//!
//! ```text
//! device                                   server
//!   Start{operation, device_nonce}   ──▶   (sign: refused with `signing_input_mismatch` if
//!                                          the device's `signing_input` hash differs)
//!                                    ◀──   Accepted{wallet_id, epoch, server_nonce}
//!   binary MPC frames                ◀─▶   binary MPC frames   (tandem-mpc envelopes)
//! keygen:
//!   Stored{public_key}               ──▶   (device has persisted its share; the server
//!                                          commits only if the key is its own)
//!                                    ◀──   KeygenDone{wallet}
//! sign:
//!                                    ◀──   Signed{result}
//! refresh (two-phase, DESIGN.md §5):
//!   Staged{device_nonce}             ──▶   (both sides persisted the staged share)
//!                                    ◀──   TestSign{server_nonce}
//!   binary MPC frames (test signature under the new epoch)
//!                                    ◀──   Committed{wallet}   (device then promotes)
//! status (no MPC, no nonce use; the device's proof of the server's epoch, docs/crash-safety.md):
//!   Start{Status{wallet_id}, …}     ──▶
//!                                    ◀──   Status{wallet}   (read from the database now)
//! any time:                          ◀──   Failed{error}  (then the socket closes)
//! between ceremonies: the server closes a socket idle for `limits.ceremony_idle_secs`.
//! ```
//!
//! **Pipelined signing** (two round trips on a warm socket). A `Start` with `pipeline: true`
//! asks the server to issue, in that ceremony's first answer (`Accepted.next_nonce` or
//! `Status.next_nonce`), a single-use server nonce for the *next* ceremony on this socket.
//! The device then opens its next signature with `Start{server_nonce: <that nonce>}` and sends
//! its first MPC frame right behind it, without waiting for `Accepted`:
//!
//! ```text
//!   Start{sign, device_nonce, server_nonce} + frame 1  ──▶
//!                                 ◀──   Accepted{server_nonce (the same), next_nonce}
//!                                       + frames 1 and 2 (ECDSA) / 1 and 2 (FROST)
//!   frames 2 and 3 (ECDSA) / 2 (FROST)                 ──▶
//!                                 ◀──   frame 3 (ECDSA) + Signed{result}
//! ```
//!
//! Every `Start` consumes the socket's pending nonce whether it uses it or not, so a nonce is
//! never used twice; one the server did not issue on this socket is refused
//! (`protocol_error`). The session id still derives from both parties' fresh nonces.
//!
//! Control messages are JSON text frames; MPC frames are binary frames holding exactly one
//! `tandem-mpc` envelope.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::sign::{SignPayload, SignResult};
use crate::wallet::{Chain, WalletInfo};

/// What the ceremony is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    Keygen {
        chain: Chain,
    },
    Sign {
        wallet_id: String,
        /// The epoch of the device's share; the server refuses a mismatch up front.
        epoch: u64,
        payload: SignPayload,
        /// Hex SHA-256 of what the device will sign ([`crate::prepare::Prepared::input_hash`]).
        /// The server compares it with its own before any MPC frame and answers
        /// `signing_input_mismatch`: a device that computes other bytes (SDK/server version
        /// skew) learns why, and nothing is frozen. Optional so that older devices still
        /// sign; servers older than this field refuse it (upgrade servers first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signing_input: Option<String>,
    },
    /// Refresh, followed by a joint test signature and the commit.
    Refresh {
        wallet_id: String,
        epoch: u64,
        #[serde(default)]
        mode: RefreshKind,
    },
    /// The wallet as the server's database holds it now. Answered inside the channel so the
    /// device may act on it (settle a staged share); the HTTP wallet endpoints are only hints.
    Status {
        wallet_id: String,
    },
}

/// Which refresh: `fast` re-randomises the shares and keeps the OT state; `complete` also
/// renews the OT state. Only a complete refresh, by a session opened after the freeze,
/// unfreezes a wallet frozen after detected cheating (DESIGN.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefreshKind {
    #[default]
    Fast,
    Complete,
}

/// Device → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Start {
        operation: Operation,
        /// Hex, 32 bytes from the OS CSPRNG.
        device_nonce: String,
        /// The nonce the server issued for this ceremony in the previous one's first answer
        /// (`next_nonce`); the device has already bound its first MPC frame to it and sent
        /// that frame behind this message. Absent: the server picks a fresh nonce and the
        /// device waits for `Accepted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_nonce: Option<String>,
        /// Asks for a `next_nonce` in this ceremony's first answer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pipeline: bool,
    },
    /// Keygen: the device has durably stored its new share (staged, unused until
    /// `keygen_done`). `public_key` (hex) is the joint key the device computed: the server
    /// commits the wallet only if it is its own (key confirmation), and the device promotes
    /// its share only if `keygen_done` reports its key. Optional for older devices.
    Stored {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        public_key: Option<String>,
    },
    /// Refresh: the device has durably stored its staged share; the nonce starts the test
    /// signature's session.
    Staged { device_nonce: String },
}

/// Server → device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    Accepted {
        wallet_id: String,
        epoch: u64,
        /// Hex, 32 bytes.
        server_nonce: String,
        /// The single-use server nonce for the next ceremony on this socket (only when
        /// `Start.pipeline` asked for it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_nonce: Option<String>,
    },
    KeygenDone {
        wallet: WalletInfo,
    },
    Signed {
        result: SignResult,
    },
    TestSign {
        server_nonce: String,
    },
    Committed {
        wallet: WalletInfo,
    },
    Status {
        wallet: WalletInfo,
        /// As in `Accepted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_nonce: Option<String>,
    },
    Failed {
        error: ApiError,
    },
}

/// The fixed message of a refresh's test signature: binds wallet, new epoch and the refresh
/// session, so it can never be replayed as a signature over anything meaningful.
pub fn refresh_test_message(wallet_id: &str, new_epoch: u64, refresh_session: &[u8]) -> Vec<u8> {
    let mut m = b"tandem/refresh-test-signature/v1".to_vec();
    m.extend_from_slice(&(wallet_id.len() as u64).to_be_bytes());
    m.extend_from_slice(wallet_id.as_bytes());
    m.extend_from_slice(&new_epoch.to_be_bytes());
    m.extend_from_slice(refresh_session);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::Encoding;

    #[test]
    fn start_round_trips_flat() {
        let msg = ClientMessage::Start {
            operation: Operation::Sign {
                wallet_id: "w".into(),
                epoch: 3,
                payload: SignPayload::EvmMessage {
                    message: "hi".into(),
                    encoding: Encoding::Utf8,
                },
                signing_input: Some("ab".into()),
            },
            device_nonce: "00".into(),
            server_nonce: Some("11".into()),
            pipeline: true,
        };
        let json = serde_json::to_string(&msg).unwrap_or_default();
        assert!(json.contains(r#""type":"start""#), "{json}");
        assert!(json.contains(r#""kind":"sign""#), "{json}");
        let back: ClientMessage =
            serde_json::from_str(&json).unwrap_or(ClientMessage::Stored { public_key: None });
        assert_eq!(back, msg);
        // What older devices send still reads, with no pipelining asked for.
        let old =
            r#"{"type":"start","device_nonce":"00","operation":{"kind":"status","wallet_id":"w"}}"#;
        let read: ClientMessage =
            serde_json::from_str(old).unwrap_or(ClientMessage::Stored { public_key: None });
        assert!(matches!(
            read,
            ClientMessage::Start {
                server_nonce: None,
                pipeline: false,
                ..
            }
        ));
    }
}
