//! FROST signing, two rounds: nonce commitments, then signature shares. Each party
//! aggregates (which verifies the signature and, on failure, blames the bad share); the
//! server, which releases signatures, also verifies strictly with ed25519-dalek.

use std::collections::BTreeMap;

use frost_ed25519::SigningPackage;
use frost_ed25519::round1::{self, SigningCommitments, SigningNonces};
use frost_ed25519::round2::{self, SignatureShare};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

use super::abort::classify;
use super::keygen::single;
use super::refresh::check_share_context;
use super::secret::{Ed25519Secret, identifier};
use super::verify::verify_strict;
use super::{Ed25519, Sign};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;
use crate::share::KeyShare;

/// A 64-byte Ed25519 signature `R || s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ed25519Signature(pub [u8; 64]);

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub commitments: SigningCommitments,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub share: SignatureShare,
}

pub struct SignRounds {
    secret: Ed25519Secret,
    public_key: Vec<u8>,
    message: Vec<u8>,
    // Taken exactly once: a nonce pair can never sign twice.
    nonces: Option<SigningNonces>,
    own_commitments: SigningCommitments,
    package: Option<SigningPackage>,
    own_share: Option<SignatureShare>,
}

pub(crate) fn start(
    share: &KeyShare<Ed25519>,
    ctx: SessionContext,
    message: &[u8],
) -> Result<(Sign, Vec<u8>)> {
    check_share_context(share, &ctx, Protocol::Ed25519Sign)?;
    let me = share.role;
    let (nonces, commitments) = round1::commit(share.secret.key.signing_share(), &mut OsRng);
    let frame = seal(&ctx, me, 1, &Round1 { commitments })?;
    let rounds = SignRounds {
        secret: share.secret.clone(),
        public_key: share.public_key.clone(),
        message: message.to_vec(),
        nonces: Some(nonces),
        own_commitments: commitments,
        package: None,
        own_share: None,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

impl Rounds for SignRounds {
    type Output = Ed25519Signature;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Ed25519Signature>> {
        let missing = || Error::aborted("signing state incomplete");
        match round {
            1 => {
                let msg: Round1 = decode_body(body)?;
                let nonces = self.nonces.take().ok_or_else(missing)?;
                let mut commitments = BTreeMap::new();
                commitments.insert(identifier(me)?, self.own_commitments);
                commitments.insert(identifier(me.peer())?, msg.commitments);
                let package = SigningPackage::new(commitments, &self.message);
                let share = round2::sign(&package, &nonces, &self.secret.key).map_err(classify)?;
                self.package = Some(package);
                self.own_share = Some(share);
                Ok(Progress::Send(seal(ctx, me, 2, &Round2 { share })?))
            }
            2 => {
                let msg: Round2 = decode_body(body)?;
                let package = self.package.take().ok_or_else(missing)?;
                let mut shares = single(me, msg.share)?;
                shares.insert(identifier(me)?, self.own_share.take().ok_or_else(missing)?);
                let signature = frost_ed25519::aggregate(&package, &shares, &self.secret.public)
                    .map_err(classify)?;
                let bytes: [u8; 64] = signature
                    .serialize()
                    .map_err(|_| Error::aborted("signature encoding"))?
                    .try_into()
                    .map_err(|_| Error::aborted("signature length"))?;
                // `aggregate` has already verified the signature (cofactorless RFC 8032 with
                // canonical, torsion-free points). The server releases signatures, so it alone
                // adds an independent strict check; repeating it on the device doubled the
                // overhead over the bare crate for no gain.
                if me == Role::Server {
                    verify_strict(&self.public_key, &self.message, &bytes)
                        .map_err(|_| Error::invalid("joint signature does not verify strictly"))?;
                }
                Ok(Progress::Done(Ed25519Signature(bytes)))
            }
            _ => Err(Error::aborted("signing has two rounds")),
        }
    }
}
