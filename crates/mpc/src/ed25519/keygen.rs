//! FROST DKG, two rounds: commitments with proof of knowledge, then the peer's secret share
//! (confidential).

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg::{self, round1, round2};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

use super::abort::classify;
use super::secret::{Ed25519Secret, identifier};
use super::{Ed25519, Keygen};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;
use crate::share::KeyShare;

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub package: round1::Package,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub package: round2::Package,
}

pub struct KeygenRounds {
    secret1: Option<round1::SecretPackage>,
    secret2: Option<round2::SecretPackage>,
    peer1: Option<round1::Package>,
}

pub(crate) fn start(me: Role, ctx: SessionContext) -> Result<(Keygen, Vec<u8>)> {
    if ctx.protocol != Protocol::Ed25519Keygen || ctx.epoch != 0 {
        return Err(Error::InvalidInput(
            "keygen needs an Ed25519Keygen context at epoch 0",
        ));
    }
    let (secret1, package) = dkg::part1(identifier(me)?, 2, 2, OsRng).map_err(classify)?;
    let frame = seal(&ctx, me, 1, &Round1 { package })?;
    let rounds = KeygenRounds {
        secret1: Some(secret1),
        secret2: None,
        peer1: None,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

/// The peer's round-2 package addressed to us, out of the map `part2` returns.
pub(crate) fn for_peer(
    mut packages: BTreeMap<frost_ed25519::Identifier, round2::Package>,
    me: Role,
) -> Result<round2::Package> {
    packages
        .remove(&identifier(me.peer())?)
        .ok_or(Error::aborted("no round-2 package for the peer"))
}

pub(crate) fn single<V>(me: Role, value: V) -> Result<BTreeMap<frost_ed25519::Identifier, V>> {
    let mut map = BTreeMap::new();
    map.insert(identifier(me.peer())?, value);
    Ok(map)
}

impl Rounds for KeygenRounds {
    type Output = KeyShare<Ed25519>;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Self::Output>> {
        let missing = || Error::aborted("keygen state incomplete");
        match round {
            1 => {
                let msg: Round1 = decode_body(body)?;
                let secret1 = self.secret1.take().ok_or_else(missing)?;
                let peers = single(me, msg.package.clone())?;
                let (secret2, packages) = dkg::part2(secret1, &peers).map_err(classify)?;
                self.secret2 = Some(secret2);
                self.peer1 = Some(msg.package);
                let out = Round2 {
                    package: for_peer(packages, me)?,
                };
                Ok(Progress::Send(seal(ctx, me, 2, &out)?))
            }
            2 => {
                let msg: Round2 = decode_body(body)?;
                let secret2 = self.secret2.take().ok_or_else(missing)?;
                let peer1 = single(me, self.peer1.take().ok_or_else(missing)?)?;
                let peer2 = single(me, msg.package)?;
                let (key, public) = dkg::part3(&secret2, &peer1, &peer2).map_err(classify)?;
                let secret = Ed25519Secret { key, public };
                Ok(Progress::Done(KeyShare::new(
                    me,
                    ctx.wallet.clone(),
                    0,
                    secret,
                )))
            }
            _ => Err(Error::aborted("keygen has two rounds")),
        }
    }
}
