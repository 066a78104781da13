//! The adversarial harness: a lockstep network that can rewrite, drop, duplicate, reorder
//! and replay frames, for every message of every operation.
//!
//! Two entry points:
//! - [`droppable_battery`]: in ONE run, before each genuine frame it delivers a battery of
//!   frames that must all be dropped (every header bit flipped, truncations, trailing bytes,
//!   swapped sender role, another wallet, another epoch, the same hop of another session, the
//!   previous round's frame, the next round's frame ahead of time), then the genuine frame,
//!   then the genuine frame again. Every bad frame must be refused as droppable and the
//!   ceremony must still complete;
//! - [`run_with_attack`]: one run where one hop's frame is replaced by a tampered one whose
//!   header is valid, so the body reaches the protocol.

use std::collections::HashMap;

use crate::ceremony::{Ceremony, Progress};
use crate::context::{SessionContext, WalletId};
use crate::envelope::{self, decode_body};
use crate::error::{Error, ErrorClass, Result};
use crate::protocol::Protocol;
use crate::role::Role;

use crate::local::Pair;

/// Rewrites a whole frame; `None` leaves it untouched.
pub type Rewriter = dyn Fn(&[u8]) -> Option<Vec<u8>>;

/// Frames each party sent, by (sender, round).
type Sent = HashMap<(Role, u8), Vec<u8>>;

/// A tampering of one hop's frame that keeps its header valid.
pub enum Attack {
    /// Flip bit `n` (modulo the body's bit length) of the body.
    FlipBodyBit(usize),
    /// The body of the same hop in another session, under this session's header: what an
    /// unauthenticated relay could splice.
    ReaddressedReplay,
    /// Any rewrite of the whole frame (e.g. [`tamper_ecdsa_sign_ot`]).
    Rewrite(Box<Rewriter>),
}

/// Everything that happened in one adversarial run.
#[derive(Debug)]
pub struct Outcome<DO, SO> {
    /// Every refusal, in order, with the refusing party.
    pub errors: Vec<(Role, Error)>,
    pub device_output: Option<DO>,
    pub server_output: Option<SO>,
}

impl<DO, SO> Outcome<DO, SO> {
    /// The first refusal that ended a ceremony.
    pub fn terminal(&self) -> Option<&(Role, Error)> {
        self.errors.iter().find(|(_, e)| !e.is_droppable())
    }

    pub fn classes(&self) -> Vec<ErrorClass> {
        self.errors.iter().map(|(_, e)| e.class()).collect()
    }
}

/// What [`droppable_battery`] found.
#[derive(Debug)]
pub struct HopReport<DO, SO> {
    /// Bad frames delivered.
    pub attempts: usize,
    /// Bad frames that were not refused as droppable, described.
    pub violations: Vec<String>,
    pub outcome: Outcome<DO, SO>,
}

struct View<'a> {
    from: Role,
    round: u8,
    frame: &'a [u8],
    previous: Option<&'a [u8]>,
    next: Option<&'a [u8]>,
}

/// One frame to deliver, and whether it must be refused as droppable.
struct Delivery {
    frame: Vec<u8>,
    must_drop: Option<String>,
}

/// Lockstep network. In each round, the party named by `first` receives first, so the other
/// party's *next* frame already exists when the other delivery happens (that is how a
/// reordering is simulated).
fn engine<D: Ceremony, S: Ceremony>(
    pair: Pair<D, S>,
    first: Role,
    mut hook: impl FnMut(&View<'_>) -> Vec<Delivery>,
    violations: &mut Vec<String>,
) -> (Outcome<D::Output, S::Output>, usize, Sent) {
    let ((mut device, d0), (mut server, s0)) = pair;
    let mut outcome = Outcome {
        errors: Vec::new(),
        device_output: None,
        server_output: None,
    };
    let mut attempts = 0;
    let mut sent: Sent = HashMap::new();
    let mut pending: HashMap<Role, Vec<u8>> =
        HashMap::from([(Role::Device, d0), (Role::Server, s0)]);
    let mut dead: Vec<Role> = Vec::new();
    let mut round = 1u8;
    while !pending.is_empty() && round < 16 {
        let mut current = core::mem::take(&mut pending);
        for receiver in [first, first.peer()] {
            let from = receiver.peer();
            let Some(frame) = current.remove(&from) else {
                continue;
            };
            sent.insert((from, round), frame.clone());
            if dead.contains(&receiver) {
                continue;
            }
            let previous = if round > 1 {
                sent.get(&(from, round - 1)).cloned()
            } else {
                None
            };
            let next = pending.get(&from).cloned().filter(|_| receiver != first);
            let view = View {
                from,
                round,
                frame: &frame,
                previous: previous.as_deref(),
                next: next.as_deref(),
            };
            for delivery in hook(&view) {
                if dead.contains(&receiver) {
                    break;
                }
                let must_drop = delivery.must_drop.is_some();
                attempts += usize::from(must_drop);
                let result = match receiver {
                    Role::Device => device.receive(&delivery.frame).map(|p| match p {
                        Progress::Send(f) => Some(f),
                        Progress::Done(o) => {
                            outcome.device_output = Some(o);
                            None
                        }
                    }),
                    Role::Server => server.receive(&delivery.frame).map(|p| match p {
                        Progress::Send(f) => Some(f),
                        Progress::Done(o) => {
                            outcome.server_output = Some(o);
                            None
                        }
                    }),
                };
                match result {
                    Ok(reply) => {
                        if let Some(what) = delivery.must_drop {
                            violations.push(format!("{from:?} round {round}: {what} was accepted"));
                        }
                        if let Some(reply) = reply {
                            pending.insert(receiver, reply);
                        }
                    }
                    Err(e) => {
                        if let (Some(what), false) = (&delivery.must_drop, e.is_droppable()) {
                            violations.push(format!(
                                "{from:?} round {round}: {what} gave terminal {e:?}"
                            ));
                        }
                        if !e.is_droppable() {
                            dead.push(receiver);
                        }
                        outcome.errors.push((receiver, e));
                    }
                }
            }
        }
        round += 1;
    }
    (outcome, attempts, sent)
}

fn genuine(frame: &[u8]) -> Delivery {
    Delivery {
        frame: frame.to_vec(),
        must_drop: None,
    }
}

fn bad(frame: Vec<u8>, what: impl Into<String>) -> Delivery {
    Delivery {
        frame,
        must_drop: Some(what.into()),
    }
}

/// Offset of the body inside a frame (the header length).
fn header_len(frame: &[u8]) -> usize {
    let wallet_len = frame.get(44).copied().map(usize::from).unwrap_or(0);
    45 + wallet_len + 4
}

/// The same frame with a different body.
pub(crate) fn rebody(frame: &[u8], body: &[u8]) -> Vec<u8> {
    let h = header_len(frame);
    let mut out = frame[..h - 4].to_vec();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The same frame re-addressed to another wallet or epoch.
fn readdress(frame: &[u8], wallet: Option<&str>, epoch_delta: u64) -> Option<Vec<u8>> {
    let env = envelope::decode(frame).ok()?;
    let ctx = SessionContext {
        protocol: env.protocol,
        wallet: WalletId::new(wallet.unwrap_or(env.wallet)).ok()?,
        epoch: env.epoch.wrapping_add(epoch_delta),
        session_id: env.session_id,
    };
    envelope::encode(&ctx, env.sender, env.round, env.body).ok()
}

fn battery(view: &View<'_>, shadow: &Sent) -> Vec<Delivery> {
    let f = view.frame;
    let h = header_len(f);
    let mut out = Vec::new();
    for bit in 0..h * 8 {
        let mut g = f.to_vec();
        g[bit / 8] ^= 1 << (bit % 8);
        out.push(bad(g, format!("header bit {bit} flipped")));
    }
    for len in [0, 1, 4, 44, h - 1, h, f.len() - 1] {
        out.push(bad(
            f[..len.min(f.len() - 1)].to_vec(),
            format!("truncated to {len}"),
        ));
    }
    let mut longer = f.to_vec();
    longer.push(0);
    out.push(bad(longer, "one trailing byte"));
    let mut swapped = f.to_vec();
    swapped[2] = view.from.peer().index();
    out.push(bad(swapped, "sender role swapped"));
    if let Some(g) = readdress(f, Some("another-wallet"), 0) {
        out.push(bad(g, "replayed into another wallet"));
    }
    if let Some(g) = readdress(f, None, 1) {
        out.push(bad(g, "replayed into another epoch"));
    }
    if let Some(g) = shadow.get(&(view.from, view.round)) {
        out.push(bad(g.clone(), "same hop of another session"));
    }
    if let Some(g) = view.previous {
        out.push(bad(g.to_vec(), "previous round's frame again"));
    }
    if let Some(g) = view.next {
        out.push(bad(g.to_vec(), "next round's frame ahead of time"));
    }
    out.push(genuine(f));
    out.push(bad(f.to_vec(), "duplicate of an accepted frame"));
    out
}

/// Runs one ceremony with the droppable battery at every hop. `start` builds a pair for a
/// context; it is called for the main run and for a shadow session to replay from.
pub fn droppable_battery<D: Ceremony, S: Ceremony>(
    protocol: Protocol,
    wallet: &WalletId,
    epoch: u64,
    first: Role,
    mut start: impl FnMut(SessionContext) -> Result<Pair<D, S>>,
) -> Result<HopReport<D::Output, S::Output>> {
    let mut ignored = Vec::new();
    let shadow_ctx = SessionContext::fresh(protocol, wallet.clone(), epoch)?;
    let (_, _, shadow) = engine(
        start(shadow_ctx)?,
        first,
        |v| vec![genuine(v.frame)],
        &mut ignored,
    );
    let ctx = SessionContext::fresh(protocol, wallet.clone(), epoch)?;
    let mut violations = Vec::new();
    let (outcome, attempts, _) =
        engine(start(ctx)?, first, |v| battery(v, &shadow), &mut violations);
    Ok(HopReport {
        attempts,
        violations,
        outcome,
    })
}

/// Runs one ceremony in which the frame `from` sends in `round` is replaced by `attack`'s
/// version. A replacement refused as droppable is followed by the genuine frame, as a
/// retransmission would be.
pub fn run_with_attack<D: Ceremony, S: Ceremony>(
    protocol: Protocol,
    wallet: &WalletId,
    epoch: u64,
    target: (Role, u8),
    attack: &Attack,
    mut start: impl FnMut(SessionContext) -> Result<Pair<D, S>>,
) -> Result<Outcome<D::Output, S::Output>> {
    let mut ignored = Vec::new();
    let shadow = if matches!(attack, Attack::ReaddressedReplay) {
        let ctx = SessionContext::fresh(protocol, wallet.clone(), epoch)?;
        engine(
            start(ctx)?,
            Role::Server,
            |v| vec![genuine(v.frame)],
            &mut ignored,
        )
        .2
    } else {
        HashMap::new()
    };
    let ctx = SessionContext::fresh(protocol, wallet.clone(), epoch)?;
    let hook = |v: &View<'_>| {
        if (v.from, v.round) != target {
            return vec![genuine(v.frame)];
        }
        let tampered = match attack {
            Attack::FlipBodyBit(n) => {
                let h = header_len(v.frame);
                let bits = (v.frame.len() - h) * 8;
                let mut g = v.frame.to_vec();
                if bits > 0 {
                    let bit = n % bits;
                    g[h + bit / 8] ^= 1 << (bit % 8);
                }
                Some(g)
            }
            Attack::ReaddressedReplay => shadow.get(&target).map(|s| {
                let body = &s[header_len(s)..];
                rebody(v.frame, body)
            }),
            Attack::Rewrite(f) => f(v.frame),
        };
        match tampered {
            Some(t) => vec![
                Delivery {
                    frame: t,
                    must_drop: None,
                },
                genuine(v.frame),
            ],
            None => vec![genuine(v.frame)],
        }
    };
    Ok(engine(start(ctx)?, Role::Server, hook, &mut ignored).0)
}

/// Which part of DKLs23's OT-extension / multiplication data to corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtField {
    /// Round 1: the OT-extension matrix `u`.
    ExtensionU,
    /// Round 1: the OT-extension consistency value `verify_x`.
    ExtensionVerifyX,
    /// Round 2: the multiplication sender's `tau` values.
    MultiplicationTau,
    /// Round 2: the multiplication check `verify_u`.
    MultiplicationVerifyU,
}

/// Re-encodes an ECDSA signing frame with one OT/multiplication field corrupted, keeping the
/// frame well-formed so that only the protocol's own checks can catch it. `None` when the
/// frame is not the round that carries that field.
pub fn tamper_ecdsa_sign_ot(frame: &[u8], field: OtField) -> Option<Vec<u8>> {
    use crate::ecdsa::sign_messages::{Round1, Round2};
    let env = envelope::decode(frame).ok()?;
    if env.protocol != Protocol::EcdsaSign {
        return None;
    }
    let body = match (env.round, field) {
        (1, OtField::ExtensionU | OtField::ExtensionVerifyX) => {
            let mut msg: Round1 = decode_body(env.body).ok()?;
            let ote = &mut msg.transmit.mul_transmit;
            match field {
                OtField::ExtensionU => ote.u.first_mut()?[0] ^= 1,
                _ => ote.verify_x[0] ^= 1,
            }
            postcard::to_allocvec(&msg).ok()?
        }
        (2, OtField::MultiplicationTau | OtField::MultiplicationVerifyU) => {
            let mut msg: Round2 = decode_body(env.body).ok()?;
            let mul = &mut msg.transmit.mul_transmit;
            let target = match field {
                OtField::MultiplicationTau => mul.vector_of_tau.first_mut()?.first_mut()?,
                _ => mul.verify_u.first_mut()?,
            };
            *target += k256::Scalar::ONE;
            postcard::to_allocvec(&msg).ok()?
        }
        _ => return None,
    };
    Some(rebody(frame, &body))
}

/// The reflection attack: a frame sent back to its own sender as if the peer had sent it
/// (envelope sender and the library's inner routing both swapped). It needs no share, only
/// the frame, so the receiver's refusal must not freeze anything. `None` for a frame that is
/// not an ECDSA signing round-1 or round-2 frame.
pub fn reflect_ecdsa_sign(frame: &[u8]) -> Option<Vec<u8>> {
    use crate::ecdsa::sign_messages::{Round1, Round2};
    let env = envelope::decode(frame).ok()?;
    if env.protocol != Protocol::EcdsaSign {
        return None;
    }
    let body = match env.round {
        1 => {
            let mut msg: Round1 = decode_body(env.body).ok()?;
            let p = &mut msg.transmit.parties;
            core::mem::swap(&mut p.sender, &mut p.receiver);
            postcard::to_allocvec(&msg).ok()?
        }
        2 => {
            let mut msg: Round2 = decode_body(env.body).ok()?;
            let p = &mut msg.transmit.parties;
            core::mem::swap(&mut p.sender, &mut p.receiver);
            postcard::to_allocvec(&msg).ok()?
        }
        _ => return None,
    };
    let ctx = SessionContext {
        protocol: env.protocol,
        wallet: WalletId::new(env.wallet).ok()?,
        epoch: env.epoch,
        session_id: env.session_id,
    };
    envelope::encode(&ctx, env.sender.peer(), env.round, &body).ok()
}

/// An ECDSA signing round-1 frame whose session binding names another session (one bit
/// flipped): what a peer signing another digest, or answering another attempt, sends. `None`
/// for any other frame.
pub fn rebind_ecdsa_sign(frame: &[u8]) -> Option<Vec<u8>> {
    use crate::ecdsa::sign_messages::Round1;
    let env = envelope::decode(frame).ok()?;
    if env.protocol != Protocol::EcdsaSign || env.round != 1 {
        return None;
    }
    let mut msg: Round1 = decode_body(env.body).ok()?;
    msg.transmit.session_binding[0] ^= 1;
    Some(rebody(frame, &postcard::to_allocvec(&msg).ok()?))
}
