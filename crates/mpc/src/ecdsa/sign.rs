//! DKLs23 signing, three rounds (OT-extension multiplication, then the signature shares).
//! Both parties finish with the signature; each re-verifies it before returning it.

use std::collections::BTreeMap;

use dkls23::protocols::signing::{
    Broadcast3to4, KeepPhase1to2, KeepPhase2to3, SignData, TransmitPhase1to2, TransmitPhase2to3,
    UniqueKeep1to2, UniqueKeep2to3,
};
use dkls23::protocols::{Party, PartyIndex};
use serde::{Deserialize, Serialize};

use super::abort::{Stage, classify};
use super::parties::{index, one, routed};
use super::secret::Curve;
use super::verify::verify_signature;
use super::{Secp256k1, Sign};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;
use crate::share::KeyShare;

/// A secp256k1 ECDSA signature with low s and its recovery id (bit 0: R.y odd,
/// bit 1: R.x reduced mod n).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EcdsaSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// `r || s`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r);
        out[32..].copy_from_slice(&self.s);
        out
    }

    /// `r || s || recovery_id` (add 27 or the EIP-155 offset for an Ethereum `v`).
    pub fn to_rsv(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&self.to_bytes());
        out[64] = self.recovery_id;
        out
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub transmit: TransmitPhase1to2,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub transmit: TransmitPhase2to3<Curve>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round3 {
    pub broadcast: Broadcast3to4<Curve>,
}

type Keep1 = (
    UniqueKeep1to2<Curve>,
    BTreeMap<PartyIndex, KeepPhase1to2<Curve>>,
);
type Keep2 = (
    UniqueKeep2to3<Curve>,
    BTreeMap<PartyIndex, KeepPhase2to3<Curve>>,
);

pub struct SignRounds {
    party: Party<Curve>,
    data: SignData,
    public_key: Vec<u8>,
    digest: [u8; 32],
    keep1: Option<Keep1>,
    keep2: Option<Keep2>,
    x_coord: Option<String>,
    own_broadcast: Option<Broadcast3to4<Curve>>,
}

pub(crate) fn check_share_context(
    share: &KeyShare<Secp256k1>,
    ctx: &SessionContext,
    protocols: &[Protocol],
) -> Result<()> {
    if !protocols.contains(&ctx.protocol) {
        return Err(Error::InvalidInput("context is for another protocol"));
    }
    if ctx.wallet != share.wallet || ctx.epoch != share.epoch {
        return Err(Error::InvalidInput(
            "context is for another wallet or epoch",
        ));
    }
    Ok(())
}

pub(crate) fn start(
    share: &KeyShare<Secp256k1>,
    ctx: SessionContext,
    digest: &[u8; 32],
) -> Result<(Sign, Vec<u8>)> {
    check_share_context(share, &ctx, &[Protocol::EcdsaSign])?;
    let me = share.role;
    let data = SignData {
        sign_id: ctx.session_id.0.to_vec(),
        counterparties: vec![index(me.peer())?],
        message_hash: *digest,
    };
    let party = share.secret.0.clone();
    let (unique, keep, transmit) = party.sign_phase1(&data).map_err(classify(Stage::Sign))?;
    let frame = seal(
        &ctx,
        me,
        1,
        &Round1 {
            transmit: one(transmit)?,
        },
    )?;
    let rounds = SignRounds {
        party,
        data,
        public_key: share.public_key.clone(),
        digest: *digest,
        keep1: Some((unique, keep)),
        keep2: None,
        x_coord: None,
        own_broadcast: None,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

impl Rounds for SignRounds {
    type Output = EcdsaSignature;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<EcdsaSignature>> {
        let missing = || Error::aborted("signing state incomplete");
        match round {
            1 => {
                let msg: Round1 = decode_body(body)?;
                routed(
                    msg.transmit.parties.sender,
                    msg.transmit.parties.receiver,
                    me,
                )?;
                let (unique, keep) = self.keep1.take().ok_or_else(missing)?;
                let (unique, keep, transmit) = self
                    .party
                    .sign_phase2(&self.data, unique, keep, &[msg.transmit])
                    .map_err(classify(Stage::Sign))?;
                self.keep2 = Some((unique, keep));
                Ok(Progress::Send(seal(
                    ctx,
                    me,
                    2,
                    &Round2 {
                        transmit: one(transmit)?,
                    },
                )?))
            }
            2 => {
                let msg: Round2 = decode_body(body)?;
                routed(
                    msg.transmit.parties.sender,
                    msg.transmit.parties.receiver,
                    me,
                )?;
                let (unique, keep) = self.keep2.take().ok_or_else(missing)?;
                let (x_coord, broadcast) = self
                    .party
                    .sign_phase3(&self.data, unique, keep, &[msg.transmit])
                    .map_err(classify(Stage::Sign))?;
                self.x_coord = Some(x_coord);
                let frame = seal(
                    ctx,
                    me,
                    3,
                    &Round3 {
                        broadcast: broadcast.clone(),
                    },
                )?;
                self.own_broadcast = Some(broadcast);
                Ok(Progress::Send(frame))
            }
            3 => {
                let msg: Round3 = decode_body(body)?;
                let x_coord = self.x_coord.take().ok_or_else(missing)?;
                let own = self.own_broadcast.take().ok_or_else(missing)?;
                let (s_hex, recovery_id) = self
                    .party
                    .sign_phase4(&self.data, &x_coord, &[own, msg.broadcast], true)
                    .map_err(classify(Stage::Sign))?;
                let mut signature = EcdsaSignature {
                    r: [0; 32],
                    s: [0; 32],
                    recovery_id,
                };
                hex_into(&x_coord, &mut signature.r)?;
                hex_into(&s_hex, &mut signature.s)?;
                // An invalid final signature can only come from the peer's shares.
                verify_signature(&self.public_key, &self.digest, &signature)
                    .map_err(|_| Error::cheating("joint signature does not verify"))?;
                Ok(Progress::Done(signature))
            }
            _ => Err(Error::aborted("signing has three rounds")),
        }
    }
}

fn hex_into(hex: &str, out: &mut [u8; 32]) -> Result<()> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(Error::aborted("signature component length"));
    }
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = nibble(pair[0])?;
        let lo = nibble(pair[1])?;
        out[i] = (hi << 4) | lo;
    }
    Ok(())
}

fn nibble(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::aborted("signature component is not hex")),
    }
}
