//! DKLs23 refresh, three rounds, same public key, epoch + 1.
//!
//! - fast: new key shares and zero-share seeds; the OT state is re-randomised, not re-run;
//! - complete: additionally fresh base OTs (as costly as keygen). Required after an import
//!   and after any detected cheating.

use std::collections::BTreeMap;

use dkls23::protocols::dkg::{
    KeepInitMulPhase3to4, KeepInitZeroSharePhase2to3, KeepInitZeroSharePhase3to4, ProofCommitment,
    TransmitInitMulPhase3to4, TransmitInitZeroSharePhase2to4, TransmitInitZeroSharePhase3to4,
};
use dkls23::protocols::refresh::{
    KeepRefreshPhase2to3, KeepRefreshPhase3to4, TransmitRefreshPhase2to4, TransmitRefreshPhase3to4,
};
use dkls23::protocols::{Party, PartyIndex};
use dkls23::utilities::hashes::HashOutput;
use dkls23::utilities::proofs::DLogProof;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::abort::{Stage, classify};
use super::parties::{index, one, ordered, ordered_proofs, routed, split_fragments};
use super::secret::{Curve, EcdsaSecret};
use super::sign::check_share_context;
use super::{Refresh, Secp256k1};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::{Protocol, RefreshMode};
use crate::role::Role;
use crate::share::KeyShare;

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub fragment: k256::Scalar,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2<Z> {
    pub proof_commitment: HashOutput,
    pub zero: Z,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round3Fast {
    pub proof: DLogProof<Curve>,
    pub zero: TransmitRefreshPhase3to4,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round3Complete {
    pub proof: DLogProof<Curve>,
    pub zero: TransmitInitZeroSharePhase3to4,
    pub mul: TransmitInitMulPhase3to4<Curve>,
}

enum Keep {
    Started,
    FastAfter2 {
        keep: BTreeMap<PartyIndex, KeepRefreshPhase2to3>,
    },
    FastAfter3 {
        keep: BTreeMap<PartyIndex, KeepRefreshPhase3to4>,
        peer2: Round2<TransmitRefreshPhase2to4>,
    },
    CompleteAfter2 {
        keep: BTreeMap<PartyIndex, KeepInitZeroSharePhase2to3>,
    },
    CompleteAfter3 {
        zero: BTreeMap<PartyIndex, KeepInitZeroSharePhase3to4>,
        mul: BTreeMap<PartyIndex, KeepInitMulPhase3to4<Curve>>,
        peer2: Round2<TransmitInitZeroSharePhase2to4>,
    },
    Spent,
}

pub struct RefreshRounds {
    party: Party<Curve>,
    mode: RefreshMode,
    own_fragment: Zeroizing<k256::Scalar>,
    correction: Zeroizing<k256::Scalar>,
    own_proof: Option<ProofCommitment<Curve>>,
    keep: Keep,
}

pub(crate) fn start(
    share: &KeyShare<Secp256k1>,
    ctx: SessionContext,
    mode: RefreshMode,
) -> Result<(Refresh, Vec<u8>)> {
    let protocol = match mode {
        RefreshMode::Fast => Protocol::EcdsaRefreshFast,
        RefreshMode::Complete => Protocol::EcdsaRefreshComplete,
    };
    check_share_context(share, &ctx, &[protocol])?;
    let me = share.role;
    let party = share.secret.0.clone();
    let fragments = Zeroizing::new(match mode {
        RefreshMode::Fast => party.refresh_phase1(),
        RefreshMode::Complete => party.refresh_complete_phase1(),
    });
    let (own, peer) = split_fragments(&fragments, me)?;
    let frame = seal(&ctx, me, 1, &Round1 { fragment: peer })?;
    let rounds = RefreshRounds {
        party,
        mode,
        own_fragment: Zeroizing::new(own),
        correction: Zeroizing::new(k256::Scalar::ZERO),
        own_proof: None,
        keep: Keep::Started,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

impl RefreshRounds {
    fn round1(&mut self, ctx: &SessionContext, me: Role, body: &[u8]) -> Result<Vec<u8>> {
        let msg: Round1 = decode_body(body)?;
        let sid = ctx.session_id.0;
        let fragments = ordered(me, *self.own_fragment, msg.fragment);
        match self.mode {
            RefreshMode::Fast => {
                let (correction, proof, keep, transmit) =
                    self.party.refresh_phase2(&sid, &fragments);
                let out = Round2 {
                    proof_commitment: proof.commitment,
                    zero: one(transmit)?,
                };
                *self.correction = correction;
                self.own_proof = Some(proof);
                self.keep = Keep::FastAfter2 { keep };
                seal(ctx, me, 2, &out)
            }
            RefreshMode::Complete => {
                let (correction, proof, keep, transmit) =
                    self.party.refresh_complete_phase2(&sid, &fragments);
                let out = Round2 {
                    proof_commitment: proof.commitment,
                    zero: one(transmit)?,
                };
                *self.correction = correction;
                self.own_proof = Some(proof);
                self.keep = Keep::CompleteAfter2 { keep };
                seal(ctx, me, 2, &out)
            }
        }
    }

    fn round2(&mut self, ctx: &SessionContext, me: Role, body: &[u8]) -> Result<Vec<u8>> {
        let proof = self
            .own_proof
            .as_ref()
            .ok_or(Error::aborted("refresh state incomplete"))?
            .proof
            .clone();
        match self.mode {
            RefreshMode::Fast => {
                let peer2: Round2<TransmitRefreshPhase2to4> = decode_body(body)?;
                routed(peer2.zero.parties.sender, peer2.zero.parties.receiver, me)?;
                let Keep::FastAfter2 { keep } = &self.keep else {
                    return Err(Error::aborted("refresh state incomplete"));
                };
                let (keep, transmit) = self.party.refresh_phase3(keep);
                let out = Round3Fast {
                    proof,
                    zero: one(transmit)?,
                };
                self.keep = Keep::FastAfter3 { keep, peer2 };
                seal(ctx, me, 3, &out)
            }
            RefreshMode::Complete => {
                let peer2: Round2<TransmitInitZeroSharePhase2to4> = decode_body(body)?;
                routed(peer2.zero.parties.sender, peer2.zero.parties.receiver, me)?;
                let Keep::CompleteAfter2 { keep } = &self.keep else {
                    return Err(Error::aborted("refresh state incomplete"));
                };
                let (zero, zero_t, mul, mul_t) =
                    self.party.refresh_complete_phase3(&ctx.session_id.0, keep);
                let out = Round3Complete {
                    proof,
                    zero: one(zero_t)?,
                    mul: one(mul_t)?,
                };
                self.keep = Keep::CompleteAfter3 { zero, mul, peer2 };
                seal(ctx, me, 3, &out)
            }
        }
    }

    fn round3(&mut self, ctx: &SessionContext, me: Role, body: &[u8]) -> Result<Party<Curve>> {
        let sid = ctx.session_id.0;
        let missing = || Error::aborted("refresh state incomplete");
        let peer_proof = |proof: DLogProof<Curve>, commitment: HashOutput| -> Result<_> {
            Ok(ProofCommitment {
                index: index(me.peer())?,
                proof,
                commitment,
            })
        };
        match self.mode {
            RefreshMode::Fast => {
                let msg: Round3Fast = decode_body(body)?;
                routed(msg.zero.parties.sender, msg.zero.parties.receiver, me)?;
                let Keep::FastAfter3 { keep, peer2 } =
                    core::mem::replace(&mut self.keep, Keep::Spent)
                else {
                    return Err(missing());
                };
                let own = self.own_proof.take().ok_or_else(missing)?;
                let proofs =
                    ordered_proofs(me, own, peer_proof(msg.proof, peer2.proof_commitment)?);
                self.party
                    .refresh_phase4(
                        &sid,
                        &self.correction,
                        &proofs,
                        &keep,
                        &[peer2.zero],
                        &[msg.zero],
                    )
                    .map_err(classify(Stage::KeyMaterial))
            }
            RefreshMode::Complete => {
                let msg: Round3Complete = decode_body(body)?;
                routed(msg.zero.parties.sender, msg.zero.parties.receiver, me)?;
                routed(msg.mul.parties.sender, msg.mul.parties.receiver, me)?;
                let Keep::CompleteAfter3 { zero, mul, peer2 } =
                    core::mem::replace(&mut self.keep, Keep::Spent)
                else {
                    return Err(missing());
                };
                let own = self.own_proof.take().ok_or_else(missing)?;
                let proofs =
                    ordered_proofs(me, own, peer_proof(msg.proof, peer2.proof_commitment)?);
                self.party
                    .refresh_complete_phase4(
                        &sid,
                        &self.correction,
                        &proofs,
                        &zero,
                        &[peer2.zero],
                        &[msg.zero],
                        &mul,
                        &[msg.mul],
                    )
                    .map_err(classify(Stage::KeyMaterial))
            }
        }
    }
}

impl Rounds for RefreshRounds {
    type Output = KeyShare<Secp256k1>;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Self::Output>> {
        match round {
            1 => Ok(Progress::Send(self.round1(ctx, me, body)?)),
            2 => Ok(Progress::Send(self.round2(ctx, me, body)?)),
            3 => {
                let party = self.round3(ctx, me, body)?;
                if party.pk != self.party.pk {
                    // Checked on public values only: the peer learns nothing from the refusal.
                    return Err(Error::invalid("refresh changed the public key"));
                }
                let epoch = ctx
                    .epoch
                    .checked_add(1)
                    .ok_or(Error::aborted("epoch overflow"))?;
                Ok(Progress::Done(KeyShare::new(
                    me,
                    ctx.wallet.clone(),
                    epoch,
                    EcdsaSecret(party),
                )))
            }
            _ => Err(Error::aborted("refresh has three rounds")),
        }
    }
}
