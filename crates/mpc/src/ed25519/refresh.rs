//! FROST refresh by a DKG whose constant terms are zero: new shares, same group key.

use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::keys::refresh::{refresh_dkg_part1, refresh_dkg_part2, refresh_dkg_shares};
use rand_core::OsRng;

use super::abort::classify;
use super::keygen::{Round1, Round2, for_peer, single};
use super::secret::{Ed25519Secret, identifier};
use super::{Ed25519, Refresh};
use crate::ceremony::{Progress, Rounds, Run};
use crate::context::SessionContext;
use crate::envelope::{decode_body, seal};
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::role::Role;
use crate::share::KeyShare;

pub struct RefreshRounds {
    old: Ed25519Secret,
    secret1: Option<round1::SecretPackage>,
    secret2: Option<round2::SecretPackage>,
    peer1: Option<round1::Package>,
}

pub(crate) fn check_share_context(
    share: &KeyShare<Ed25519>,
    ctx: &SessionContext,
    protocol: Protocol,
) -> Result<()> {
    if ctx.protocol != protocol {
        return Err(Error::InvalidInput("context is for another protocol"));
    }
    if ctx.wallet != share.wallet || ctx.epoch != share.epoch {
        return Err(Error::InvalidInput(
            "context is for another wallet or epoch",
        ));
    }
    Ok(())
}

pub(crate) fn start(share: &KeyShare<Ed25519>, ctx: SessionContext) -> Result<(Refresh, Vec<u8>)> {
    check_share_context(share, &ctx, Protocol::Ed25519Refresh)?;
    let me = share.role;
    let (secret1, package) = refresh_dkg_part1(identifier(me)?, 2, 2, OsRng).map_err(classify)?;
    let frame = seal(&ctx, me, 1, &Round1 { package })?;
    let rounds = RefreshRounds {
        old: share.secret.clone(),
        secret1: Some(secret1),
        secret2: None,
        peer1: None,
    };
    Ok((Run::new(ctx, me, rounds), frame))
}

impl Rounds for RefreshRounds {
    type Output = KeyShare<Ed25519>;

    fn advance(
        &mut self,
        ctx: &SessionContext,
        me: Role,
        round: u8,
        body: &[u8],
    ) -> Result<Progress<Self::Output>> {
        let missing = || Error::aborted("refresh state incomplete");
        match round {
            1 => {
                let msg: Round1 = decode_body(body)?;
                let secret1 = self.secret1.take().ok_or_else(missing)?;
                let peers = single(me, msg.package.clone())?;
                let (secret2, packages) = refresh_dkg_part2(secret1, &peers).map_err(classify)?;
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
                let (key, public) = refresh_dkg_shares(
                    &secret2,
                    &peer1,
                    &peer2,
                    self.old.public.clone(),
                    self.old.key.clone(),
                )
                .map_err(classify)?;
                if key.verifying_key() != self.old.key.verifying_key() {
                    return Err(Error::invalid("refresh changed the public key"));
                }
                let epoch = ctx
                    .epoch
                    .checked_add(1)
                    .ok_or(Error::aborted("epoch overflow"))?;
                let secret = Ed25519Secret { key, public };
                Ok(Progress::Done(KeyShare::new(
                    me,
                    ctx.wallet.clone(),
                    epoch,
                    secret,
                )))
            }
            _ => Err(Error::aborted("refresh has two rounds")),
        }
    }
}
