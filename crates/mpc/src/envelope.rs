//! The frame every protocol message travels in.
//!
//! ```text
//! version u8 | protocol u8 | sender u8 | round u8 | session id [32] | epoch u64 BE
//! | wallet id length u8 | wallet id | body length u32 BE | body (postcard)
//! ```
//!
//! A receiver checks every header field against its own context *before* decoding the body
//! or running any cryptography, and refuses trailing bytes.

use serde::{Serialize, de::DeserializeOwned};

use crate::context::{MAX_WALLET_ID_LEN, SessionContext, SessionId};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;

/// Current envelope format version.
pub const ENVELOPE_VERSION: u8 = 1;
/// Largest body accepted. The biggest honest frame (DKLs23 keygen round 3) is ~150 KB.
pub const MAX_BODY_LEN: usize = 512 * 1024;
const FIXED_HEADER: usize = 4 + 32 + 8 + 1;

/// A decoded frame header plus its (still undecoded) body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub version: u8,
    pub protocol: Protocol,
    pub sender: Role,
    pub round: u8,
    pub session_id: SessionId,
    pub epoch: u64,
    pub wallet: &'a str,
    pub body: &'a [u8],
}

/// Serialises `body` and wraps it for the counterparty.
pub(crate) fn seal<T: Serialize>(
    ctx: &SessionContext,
    sender: Role,
    round: u8,
    body: &T,
) -> Result<Vec<u8>> {
    let body =
        postcard::to_allocvec(body).map_err(|_| Error::aborted("message serialisation failed"))?;
    encode(ctx, sender, round, &body)
}

/// Writes a frame around already-encoded body bytes.
pub fn encode(ctx: &SessionContext, sender: Role, round: u8, body: &[u8]) -> Result<Vec<u8>> {
    if body.len() > MAX_BODY_LEN {
        return Err(Error::aborted("message exceeds the frame size limit"));
    }
    let wallet = ctx.wallet.as_str().as_bytes();
    let mut out = Vec::with_capacity(FIXED_HEADER + 1 + wallet.len() + 4 + body.len());
    out.extend_from_slice(&[ENVELOPE_VERSION, ctx.protocol as u8, sender.index(), round]);
    out.extend_from_slice(&ctx.session_id.0);
    out.extend_from_slice(&ctx.epoch.to_be_bytes());
    // WalletId guarantees 1..=64 bytes, so the length fits a byte.
    out.push(wallet.len() as u8);
    out.extend_from_slice(wallet);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Parses a frame without judging whether it is for us.
pub fn decode(frame: &[u8]) -> Result<Envelope<'_>> {
    let mut r = Reader(frame);
    let version = r.u8()?;
    if version != ENVELOPE_VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    let protocol = Protocol::from_u8(r.u8()?).ok_or(Error::Malformed("unknown protocol"))?;
    let sender = Role::from_index(r.u8()?).ok_or(Error::Malformed("unknown sender role"))?;
    let round = r.u8()?;
    let session_id = SessionId(r.array::<32>()?);
    let epoch = u64::from_be_bytes(r.array::<8>()?);
    let wallet_len = usize::from(r.u8()?);
    if wallet_len == 0 || wallet_len > MAX_WALLET_ID_LEN {
        return Err(Error::Malformed("wallet id length"));
    }
    let wallet = core::str::from_utf8(r.take(wallet_len)?)
        .map_err(|_| Error::Malformed("wallet id is not UTF-8"))?;
    let body_len = u32::from_be_bytes(r.array::<4>()?) as usize;
    if body_len > MAX_BODY_LEN {
        return Err(Error::Malformed("body too large"));
    }
    let body = r.take(body_len)?;
    if !r.0.is_empty() {
        return Err(Error::Malformed("trailing bytes after body"));
    }
    Ok(Envelope {
        version,
        protocol,
        sender,
        round,
        session_id,
        epoch,
        wallet,
        body,
    })
}

impl Envelope<'_> {
    /// Accepts the frame only if it is exactly the one `me` expects next from its peer.
    pub fn check(&self, ctx: &SessionContext, me: Role, round: u8) -> Result<()> {
        if self.protocol != ctx.protocol {
            return Err(Error::WrongProtocol {
                expected: ctx.protocol as u8,
                got: self.protocol as u8,
            });
        }
        if self.wallet != ctx.wallet.as_str() {
            return Err(Error::WrongWallet);
        }
        if self.epoch != ctx.epoch {
            return Err(Error::WrongEpoch {
                expected: ctx.epoch,
                got: self.epoch,
            });
        }
        if self.session_id != ctx.session_id {
            return Err(Error::WrongSession);
        }
        if self.sender != me.peer() {
            return Err(Error::WrongSender {
                expected: me.peer().index(),
                got: self.sender.index(),
            });
        }
        if self.round != round {
            return Err(Error::WrongRound {
                expected: round,
                got: self.round,
            });
        }
        Ok(())
    }
}

/// Strict postcard decoding: the whole body must be consumed.
pub(crate) fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let (value, rest) = postcard::take_from_bytes::<T>(body)
        .map_err(|_| Error::Malformed("body does not decode"))?;
    if !rest.is_empty() {
        return Err(Error::Malformed("trailing bytes in body"));
    }
    Ok(value)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::Malformed("truncated frame"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}
