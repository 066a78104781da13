//! DKLs23 distributed key generation, three rounds:
//! 1. polynomial evaluation for the peer (confidential);
//! 2. commitments: proof of knowledge, zero-share seed, chain-code contribution;
//! 3. openings: the proof, the zero-share seed (confidential), base-OT setup, chain code.
//!
//! Openings are sent only after the peer's commitments arrived, as commit-then-open requires.

use std::collections::BTreeMap;

use dkls23::DkgSession;
use dkls23::protocols::dkg::{
    BroadcastDerivationPhase2to4, BroadcastDerivationPhase3to4, ProofCommitment,
    TransmitInitMulPhase3to4, TransmitInitZeroSharePhase2to4, TransmitInitZeroSharePhase3to4,
};
use dkls23::utilities::hashes::HashOutput;
use dkls23::utilities::proofs::DLogProof;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::abort::{Stage, classify};
use super::parties::{index, one, ordered, ordered_proofs, parameters, routed, split_fragments};
use super::secret::{Curve, EcdsaSecret};
use super::{Keygen, Secp256k1};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;
use crate::share::KeyShare;

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub fragment: k256::Scalar,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub proof_commitment: HashOutput,
    pub zero: TransmitInitZeroSharePhase2to4,
    pub derivation: BroadcastDerivationPhase2to4,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round3 {
    pub proof: DLogProof<Curve>,
    pub zero: TransmitInitZeroSharePhase3to4,
    pub mul: TransmitInitMulPhase3to4<Curve>,
    pub derivation: BroadcastDerivationPhase3to4,
}

pub struct KeygenRounds {
    session: Option<DkgSession<Curve>>,
    own_fragment: Zeroizing<k256::Scalar>,
    own_proof: Option<ProofCommitment<Curve>>,
    own_derivation2: Option<BroadcastDerivationPhase2to4>,
    own_derivation3: Option<BroadcastDerivationPhase3to4>,
    peer2: Option<Round2>,
}

pub(crate) fn start(me: Role, ctx: SessionContext) -> Result<(Keygen, Vec<u8>)> {
    if ctx.protocol != Protocol::EcdsaKeygen || ctx.epoch != 0 {
        return Err(Error::InvalidInput(
            "keygen needs an EcdsaKeygen context at epoch 0",
        ));
    }
    let session = DkgSession::<Curve>::new(parameters()?, index(me)?, ctx.session_id.0.to_vec());
    let fragments = Zeroizing::new(session.phase1());
    let (own, peer) = split_fragments(&fragments, me)?;
    let frame = seal(&ctx, me, 1, &Round1 { fragment: peer })?;
    let rounds = KeygenRounds {
        session: Some(session),
        own_fragment: Zeroizing::new(own),
        own_proof: None,
        own_derivation2: None,
        own_derivation3: None,
        peer2: None,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

impl Rounds for KeygenRounds {
    type Output = KeyShare<Secp256k1>;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Self::Output>> {
        match round {
            1 => {
                let msg: Round1 = decode_body(body)?;
                let session = self.session.as_mut().ok_or(Error::aborted("no session"))?;
                let fragments = ordered(me, *self.own_fragment, msg.fragment);
                let (proof, zero, derivation) = session
                    .phase2(&fragments)
                    .map_err(classify(Stage::KeyMaterial))?;
                let out = Round2 {
                    proof_commitment: proof.commitment,
                    zero: one(zero)?,
                    derivation: derivation.clone(),
                };
                self.own_proof = Some(proof);
                self.own_derivation2 = Some(derivation);
                Ok(Progress::Send(seal(ctx, me, 2, &out)?))
            }
            2 => {
                let msg: Round2 = decode_body(body)?;
                routed(msg.zero.parties.sender, msg.zero.parties.receiver, me)?;
                let session = self.session.as_mut().ok_or(Error::aborted("no session"))?;
                let (zero, mul, derivation) =
                    session.phase3().map_err(classify(Stage::KeyMaterial))?;
                let proof = self.own_proof.as_ref().ok_or(Error::aborted("no proof"))?;
                let out = Round3 {
                    proof: proof.proof.clone(),
                    zero: one(zero)?,
                    mul: one(mul)?,
                    derivation: derivation.clone(),
                };
                self.own_derivation3 = Some(derivation);
                self.peer2 = Some(msg);
                Ok(Progress::Send(seal(ctx, me, 3, &out)?))
            }
            3 => {
                let msg: Round3 = decode_body(body)?;
                routed(msg.zero.parties.sender, msg.zero.parties.receiver, me)?;
                routed(msg.mul.parties.sender, msg.mul.parties.receiver, me)?;
                let missing = || Error::aborted("keygen state incomplete");
                let session = self.session.take().ok_or_else(missing)?;
                let peer2 = self.peer2.take().ok_or_else(missing)?;
                let own_proof = self.own_proof.take().ok_or_else(missing)?;
                let peer_proof = ProofCommitment {
                    index: index(me.peer())?,
                    proof: msg.proof,
                    commitment: peer2.proof_commitment,
                };
                let proofs = ordered_proofs(me, own_proof, peer_proof);
                let mut deriv2 = BTreeMap::new();
                deriv2.insert(index(me)?, self.own_derivation2.take().ok_or_else(missing)?);
                deriv2.insert(index(me.peer())?, peer2.derivation);
                let mut deriv3 = BTreeMap::new();
                deriv3.insert(index(me)?, self.own_derivation3.take().ok_or_else(missing)?);
                deriv3.insert(index(me.peer())?, msg.derivation);
                let (party, _package) = session
                    .phase4(
                        &proofs,
                        &[peer2.zero],
                        &[msg.zero],
                        &[msg.mul],
                        &deriv2,
                        &deriv3,
                        |_| String::new(),
                    )
                    .map_err(classify(Stage::KeyMaterial))?;
                Ok(Progress::Done(KeyShare::new(
                    me,
                    ctx.wallet.clone(),
                    0,
                    EcdsaSecret(party),
                )))
            }
            _ => Err(Error::aborted("keygen has three rounds")),
        }
    }
}
