//! Tandem ceremonies against the bare protocol crates and single-party signing, in one run.
//!
//! Criterion groups (both parties run in this one thread, so a pair's wall time is the sum of
//! both parties' CPU time):
//! - `tandem/<curve>/<op>`: our ceremonies through `testing::run_pair`;
//! - `bare/<curve>/<op>`: `dkls23` / `frost-ed25519` called directly with the same 2-party
//!   routing as our wrappers, every message postcard-encoded and strictly decoded (what any
//!   deployment of the bare crate must do to put a message on a wire);
//! - `bare_raw/<curve>/<op>`: the same, messages handed over as values (no encoding);
//! - `single/<curve>/{sign,verify}`: `k256` and `ed25519-dalek`, one party;
//! - `component/...`: pieces of the wrapper's overhead, measured alone.
//!
//! Before criterion runs, a report measures each party's CPU time, rounds and bytes, with the
//! tandem and bare runs interleaved, and prints the markdown tables of `docs/benchmarks.md`.
//! `TANDEM_BENCH_REPORT=0` skips it; so does `cargo test` (criterion's test mode, which runs
//! every benchmark once as a smoke test).
//!
//! `cargo bench -p tandem-mpc --bench ceremonies`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::{Ed25519, Ed25519Signature};
use tandem_mpc::testing::{Transcript, run_pair};
use tandem_mpc::{
    Ceremony, KeyShare, Operation, Progress, Protocol, RefreshMode, Role, Scheme, SchemeId,
    SessionContext, WalletId,
};

/// The prehash every ECDSA signature in this file signs.
static DIGEST: [u8; 32] = [0x5a; 32];
/// The message every Ed25519 signature in this file signs (a typical small transaction).
static MESSAGE: [u8; 128] = [0xa5; 128];

// ---------------------------------------------------------------------------------------------
// Two parties in lockstep, as arrays indexed by slot (0: device, 1: server)
// ---------------------------------------------------------------------------------------------

const SLOTS: [usize; 2] = [0, 1];

fn peer(p: usize) -> usize {
    1 - p
}

fn each<T, U>([a, b]: [T; 2], mut f: impl FnMut(usize, T) -> U) -> [U; 2] {
    [f(0, a), f(1, b)]
}

fn zip<A, B>([a0, a1]: [A; 2], [b0, b1]: [B; 2]) -> [(A, B); 2] {
    [(a0, b0), (a1, b1)]
}

fn unzip<A, B>([(a0, b0), (a1, b1)]: [(A, B); 2]) -> ([A; 2], [B; 2]) {
    ([a0, a1], [b0, b1])
}

/// Own and peer values in party-index order, as both libraries expect lists.
fn by_index<T>(p: usize, own: T, peer: T) -> Vec<T> {
    if p == 0 {
        vec![own, peer]
    } else {
        vec![peer, own]
    }
}

fn slot(role: Role) -> usize {
    match role {
        Role::Device => 0,
        Role::Server => 1,
    }
}

fn session_id() -> [u8; 32] {
    let mut sid = [0u8; 32];
    getrandom::fill(&mut sid).unwrap();
    sid
}

/// How a bare run moves a message from one party to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    /// postcard encoding and strict decoding, as Tandem applies to every message body.
    Postcard,
    /// The value itself.
    Raw,
}

impl Wire {
    fn ship<T: Serialize + DeserializeOwned>(self, msg: T) -> T {
        match self {
            Wire::Raw => msg,
            Wire::Postcard => {
                let bytes = postcard::to_allocvec(&msg).unwrap();
                drop(msg);
                let (value, rest) = postcard::take_from_bytes(&bytes).unwrap();
                assert!(rest.is_empty());
                value
            }
        }
    }

    /// Both parties' outgoing messages in, each party's incoming message out.
    fn exchange<T: Serialize + DeserializeOwned>(
        self,
        [from_device, from_server]: [T; 2],
    ) -> [T; 2] {
        [self.ship(from_server), self.ship(from_device)]
    }
}

// ---------------------------------------------------------------------------------------------
// Bare DKLs23 (dkls23 0.6.2), routed exactly as crates/mpc/src/ecdsa routes it
// ---------------------------------------------------------------------------------------------

mod bare_ecdsa {
    use dkls23::DkgSession;
    use dkls23::protocols::dkg::ProofCommitment;
    use dkls23::protocols::signing::SignData;
    use dkls23::protocols::{Parameters, Party, PartyIndex};
    use dkls23::utilities::hashes::HashOutput;
    use dkls23::utilities::proofs::DLogProof;

    use super::*;

    type Curve = k256::Secp256k1;
    pub type Share = Party<Curve>;

    fn index(p: usize) -> PartyIndex {
        PartyIndex::new(p as u8 + 1).unwrap()
    }

    fn one<T>(items: Vec<T>) -> T {
        let [item]: [T; 1] = items.try_into().ok().expect("one message for the peer");
        item
    }

    /// Round 1 of keygen and refresh: each party keeps its own polynomial evaluation and sends
    /// the peer's. Returns each party's evaluations in party-index order.
    fn exchange_fragments(w: Wire, evaluations: [Vec<k256::Scalar>; 2]) -> [Vec<k256::Scalar>; 2] {
        let (own, sent) = unzip(each(evaluations, |p, f| (f[p], f[peer(p)])));
        each(zip(own, w.exchange(sent)), |p, (own, got)| {
            by_index(p, own, got)
        })
    }

    /// Proof commitments in party-index order; the peer's arrived in two parts (commitment in
    /// round 2, opening in round 3).
    fn proofs(
        p: usize,
        own: ProofCommitment<Curve>,
        proof: DLogProof<Curve>,
        commitment: HashOutput,
    ) -> Vec<ProofCommitment<Curve>> {
        by_index(
            p,
            own,
            ProofCommitment {
                index: index(peer(p)),
                proof,
                commitment,
            },
        )
    }

    pub fn keygen(w: Wire) -> [Share; 2] {
        let sid = session_id();
        let parameters = Parameters::new(2, 2).unwrap();
        let mut sessions =
            SLOTS.map(|p| DkgSession::<Curve>::new(parameters.clone(), index(p), sid.to_vec()));
        let fragments = exchange_fragments(w, sessions.each_ref().map(|s| s.phase1()));
        // Round 2: commitments to the proof of knowledge, the zero-share seed, the chain code.
        let (kept, sent) = unzip(each(fragments, |p, f| {
            let (proof, zero, chain) = sessions[p].phase2(&f).unwrap();
            let msg = (proof.commitment, one(zero), chain.clone());
            ((proof, chain), msg)
        }));
        let got2 = w.exchange(sent);
        // Round 3: the openings and the base-OT setup.
        let (kept, sent) = unzip(each(kept, |p, (proof, chain2)| {
            let (zero, mul, chain3) = sessions[p].phase3().unwrap();
            let msg = (proof.proof.clone(), one(zero), one(mul), chain3.clone());
            ((proof, chain2, chain3), msg)
        }));
        let got3 = w.exchange(sent);
        let inbox = zip(got2, got3);
        each(
            zip(zip(sessions, kept), inbox),
            |p, ((session, own), (r2, r3))| {
                let (proof, chain2, chain3) = own;
                let (commitment, zero2, peer_chain2) = r2;
                let (peer_proof, zero3, mul, peer_chain3) = r3;
                let chains2 = BTreeMap::from([(index(p), chain2), (index(peer(p)), peer_chain2)]);
                let chains3 = BTreeMap::from([(index(p), chain3), (index(peer(p)), peer_chain3)]);
                let proofs = proofs(p, proof, peer_proof, commitment);
                let (party, _) = session
                    .phase4(
                        &proofs,
                        &[zero2],
                        &[zero3],
                        &[mul],
                        &chains2,
                        &chains3,
                        |_| String::new(),
                    )
                    .unwrap();
                party
            },
        )
    }

    /// Returns each party's `(s, recovery id)`; both verified by `sign_phase4` itself.
    pub fn sign(shares: &[Share; 2], digest: &[u8; 32], w: Wire) -> [(String, u8); 2] {
        let sid = session_id();
        let data = SLOTS.map(|p| SignData {
            sign_id: sid.to_vec(),
            counterparties: vec![index(peer(p))],
            message_hash: *digest,
        });
        let (kept, sent) = unzip(SLOTS.map(|p| {
            let (unique, keep, transmit) = shares[p].sign_phase1(&data[p]).unwrap();
            ((unique, keep), one(transmit))
        }));
        let (kept, sent) = unzip(each(
            zip(kept, w.exchange(sent)),
            |p, ((unique, keep), msg)| {
                let (unique, keep, transmit) = shares[p]
                    .sign_phase2(&data[p], unique, keep, &[msg])
                    .unwrap();
                ((unique, keep), one(transmit))
            },
        ));
        let (kept, sent) = unzip(each(
            zip(kept, w.exchange(sent)),
            |p, ((unique, keep), msg)| {
                let (x, broadcast) = shares[p]
                    .sign_phase3(&data[p], unique, keep, &[msg])
                    .unwrap();
                ((x, broadcast.clone()), broadcast)
            },
        ));
        each(zip(kept, w.exchange(sent)), |p, ((x, own), msg)| {
            shares[p]
                .sign_phase4(&data[p], &x, &[own, msg], true)
                .unwrap()
        })
    }

    pub fn refresh_fast(shares: &[Share; 2], w: Wire) -> [Share; 2] {
        let sid = session_id();
        let fragments = exchange_fragments(w, shares.each_ref().map(|s| s.refresh_phase1()));
        let (kept, sent) = unzip(each(fragments, |p, f| {
            let (correction, proof, keep, zero) = shares[p].refresh_phase2(&sid, &f);
            let msg = (proof.commitment, one(zero));
            ((correction, proof, keep), msg)
        }));
        let got2 = w.exchange(sent);
        let (kept, sent) = unzip(each(kept, |p, (correction, proof, keep)| {
            let (keep, zero) = shares[p].refresh_phase3(&keep);
            let msg = (proof.proof.clone(), one(zero));
            ((correction, proof, keep), msg)
        }));
        let inbox = zip(got2, w.exchange(sent));
        each(
            zip(kept, inbox),
            |p, ((correction, proof, keep), (r2, r3))| {
                let ((commitment, zero2), (peer_proof, zero3)) = (r2, r3);
                let proofs = proofs(p, proof, peer_proof, commitment);
                shares[p]
                    .refresh_phase4(&sid, &correction, &proofs, &keep, &[zero2], &[zero3])
                    .unwrap()
            },
        )
    }

    pub fn refresh_complete(shares: &[Share; 2], w: Wire) -> [Share; 2] {
        let sid = session_id();
        let fragments =
            exchange_fragments(w, shares.each_ref().map(|s| s.refresh_complete_phase1()));
        let (kept, sent) = unzip(each(fragments, |p, f| {
            let (correction, proof, keep, zero) = shares[p].refresh_complete_phase2(&sid, &f);
            let msg = (proof.commitment, one(zero));
            ((correction, proof, keep), msg)
        }));
        let got2 = w.exchange(sent);
        let (kept, sent) = unzip(each(kept, |p, (correction, proof, keep)| {
            let (zero_keep, zero, mul_keep, mul) = shares[p].refresh_complete_phase3(&sid, &keep);
            let msg = (proof.proof.clone(), one(zero), one(mul));
            ((correction, proof, zero_keep, mul_keep), msg)
        }));
        let inbox = zip(got2, w.exchange(sent));
        each(
            zip(kept, inbox),
            |p, ((correction, proof, zero_keep, mul_keep), (r2, r3))| {
                let ((commitment, zero2), (peer_proof, zero3, mul)) = (r2, r3);
                let proofs = proofs(p, proof, peer_proof, commitment);
                shares[p]
                    .refresh_complete_phase4(
                        &sid,
                        &correction,
                        &proofs,
                        &zero_keep,
                        &[zero2],
                        &[zero3],
                        &mul_keep,
                        &[mul],
                    )
                    .unwrap()
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Bare FROST (frost-ed25519 3.0.0), routed exactly as crates/mpc/src/ed25519 routes it
// ---------------------------------------------------------------------------------------------

mod bare_ed25519 {
    use frost_ed25519::keys::dkg::{self, round1, round2};
    use frost_ed25519::keys::refresh::{refresh_dkg_part1, refresh_dkg_part2, refresh_dkg_shares};
    use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};
    use frost_ed25519::{Identifier, Signature, SigningPackage};
    use rand_core::OsRng;

    use super::*;

    pub type Share = (KeyPackage, PublicKeyPackage);
    type Packages1 = BTreeMap<Identifier, round1::Package>;
    type Packages2 = BTreeMap<Identifier, round2::Package>;
    type Part2 = fn(
        round1::SecretPackage,
        &Packages1,
    ) -> Result<(round2::SecretPackage, Packages2), frost_ed25519::Error>;

    fn id(p: usize) -> Identifier {
        Identifier::try_from(p as u16 + 1).unwrap()
    }

    fn from_peer<V>(p: usize, value: V) -> BTreeMap<Identifier, V> {
        BTreeMap::from([(id(peer(p)), value)])
    }

    fn from_both<V>(p: usize, own: V, peer_value: V) -> BTreeMap<Identifier, V> {
        BTreeMap::from([(id(p), own), (id(peer(p)), peer_value)])
    }

    /// The two-round DKG that keygen and refresh share: commitments, then the peer's share.
    fn dkg_rounds(
        w: Wire,
        part1: impl Fn(Identifier) -> (round1::SecretPackage, round1::Package),
        part2: Part2,
        mut finish: impl FnMut(usize, &round2::SecretPackage, &Packages1, &Packages2) -> Share,
    ) -> [Share; 2] {
        let (secrets, sent) = unzip(SLOTS.map(|p| part1(id(p))));
        let (kept, sent) = unzip(each(
            zip(secrets, w.exchange(sent)),
            |p, (secret, package)| {
                let peer1 = from_peer(p, package);
                let (secret, mut packages) = part2(secret, &peer1).unwrap();
                let msg = packages.remove(&id(peer(p))).unwrap();
                ((secret, peer1), msg)
            },
        ));
        each(
            zip(kept, w.exchange(sent)),
            |p, ((secret, peer1), package)| finish(p, &secret, &peer1, &from_peer(p, package)),
        )
    }

    pub fn keygen(w: Wire) -> [Share; 2] {
        dkg_rounds(
            w,
            |id| dkg::part1(id, 2, 2, OsRng).unwrap(),
            dkg::part2,
            |_, secret, peer1, peer2| dkg::part3(secret, peer1, peer2).unwrap(),
        )
    }

    pub fn refresh(shares: &[Share; 2], w: Wire) -> [Share; 2] {
        dkg_rounds(
            w,
            |id| refresh_dkg_part1(id, 2, 2, OsRng).unwrap(),
            refresh_dkg_part2,
            |p, secret, peer1, peer2| {
                let (key, public) = &shares[p];
                refresh_dkg_shares(secret, peer1, peer2, public.clone(), key.clone()).unwrap()
            },
        )
    }

    /// Both parties aggregate (which verifies the signature), as in our wrapper.
    pub fn sign(shares: &[Share; 2], message: &[u8], w: Wire) -> [Signature; 2] {
        let (kept, sent) = unzip(SLOTS.map(|p| {
            let (nonces, commitments) =
                frost_ed25519::round1::commit(shares[p].0.signing_share(), &mut OsRng);
            ((nonces, commitments), commitments)
        }));
        let (kept, sent) = unzip(each(
            zip(kept, w.exchange(sent)),
            |p, ((nonces, own), peer_c)| {
                let package = SigningPackage::new(from_both(p, own, peer_c), message);
                let share = frost_ed25519::round2::sign(&package, &nonces, &shares[p].0).unwrap();
                ((package, share), share)
            },
        ));
        each(
            zip(kept, w.exchange(sent)),
            |p, ((package, own), peer_share)| {
                frost_ed25519::aggregate(&package, &from_both(p, own, peer_share), &shares[p].1)
                    .unwrap()
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Tandem ceremonies, with and without per-party timing
// ---------------------------------------------------------------------------------------------

type Started<C> = tandem_mpc::Result<(C, Vec<u8>)>;

/// One instrumented Tandem run: wall time of the pair and each party's share of it.
struct Timed {
    total: Duration,
    device: Duration,
    server: Duration,
    transcript: Transcript,
    frame_lens: Vec<usize>,
}

fn clocked<T>(clock: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *clock += start.elapsed();
    out
}

/// One party's end of the in-memory link in [`timed_run`].
struct Side<C> {
    ceremony: C,
    clock: Duration,
    done: bool,
}

impl<C: Ceremony> Side<C> {
    fn start(
        role: Role,
        ctx: SessionContext,
        start: &impl Fn(Role, SessionContext) -> Started<C>,
    ) -> (Self, Vec<u8>) {
        let mut clock = Duration::ZERO;
        let (ceremony, first) = clocked(&mut clock, || start(role, ctx)).unwrap();
        (
            Side {
                ceremony,
                clock,
                done: false,
            },
            first,
        )
    }

    /// Feeds a frame; returns the reply, if any. The output is dropped outside the clock.
    fn deliver(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let ceremony = &mut self.ceremony;
        match clocked(&mut self.clock, || ceremony.receive(frame)).unwrap() {
            Progress::Send(reply) => Some(reply),
            Progress::Done(_) => {
                self.done = true;
                None
            }
        }
    }
}

/// `run_pair`'s lockstep delivery, with each party's calls timed separately.
fn timed_run<C: Ceremony>(
    start: &impl Fn(Role, SessionContext) -> Started<C>,
    ctx: SessionContext,
) -> Timed {
    let begin = Instant::now();
    let (mut device, d0) = Side::start(Role::Device, ctx.clone(), start);
    let (mut server, s0) = Side::start(Role::Server, ctx, start);
    let mut transcript = Transcript::default();
    let mut frame_lens = Vec::with_capacity(8);
    let (mut to_server, mut to_device) = (Some(d0), Some(s0));
    while !(device.done && server.done) {
        // Both frames of a round are in flight before either is delivered.
        let (df, sf) = (to_server.take(), to_device.take());
        assert!(df.is_some() || sf.is_some(), "ceremony stalled");
        transcript.rounds += 1;
        if let Some(frame) = df {
            transcript.device_to_server_bytes += frame.len();
            frame_lens.push(frame.len());
            to_device = server.deliver(&frame);
        }
        if let Some(frame) = sf {
            transcript.server_to_device_bytes += frame.len();
            frame_lens.push(frame.len());
            to_server = device.deliver(&frame);
        }
    }
    Timed {
        total: begin.elapsed(),
        device: device.clock,
        server: server.clock,
        transcript,
        frame_lens,
    }
}

/// How long one run takes, which sets the sample counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cost {
    /// ~1 s: ECDSA keygen and complete refresh.
    Slow,
    /// 10–100 ms: ECDSA sign and fast refresh.
    Medium,
    /// Around a millisecond: Ed25519.
    Fast,
}

impl Cost {
    /// Runs per case in the report (sub-millisecond medians need more runs to settle).
    fn runs(self) -> usize {
        match self {
            Cost::Slow => 15,
            Cost::Medium => 100,
            Cost::Fast => 1000,
        }
    }

    fn configure(self, group: &mut BenchmarkGroup<'_, WallTime>) {
        let (samples, mode, warm_up, measure) = match self {
            // One iteration per sample: criterion warns that 10 samples do not fit in 1 s.
            Cost::Slow => (10, SamplingMode::Flat, 500, 1_000),
            Cost::Medium => (10, SamplingMode::Flat, 1_000, 3_000),
            Cost::Fast => (20, SamplingMode::Auto, 1_000, 2_000),
        };
        group
            .sample_size(samples)
            .sampling_mode(mode)
            .warm_up_time(Duration::from_millis(warm_up))
            .measurement_time(Duration::from_millis(measure));
    }
}

/// One curve/op: the Tandem ceremony and the bare crate doing the same work.
struct Case {
    curve: &'static str,
    op: &'static str,
    cost: Cost,
    tandem: Box<dyn Fn() -> Transcript>,
    timed: Box<dyn Fn() -> Timed>,
    bare: Box<dyn Fn(Wire)>,
}

fn case<C, F>(
    curve: &'static str,
    op: &'static str,
    cost: Cost,
    protocol: Protocol,
    epoch: u64,
    start: F,
    bare: Box<dyn Fn(Wire)>,
) -> Case
where
    C: Ceremony + 'static,
    F: Fn(Role, SessionContext) -> Started<C> + 'static,
{
    let wallet = WalletId::new("wallet-bench").unwrap();
    let context = move || SessionContext::fresh(protocol, wallet.clone(), epoch).unwrap();
    let start = Rc::new(start);
    let (start2, context2) = (start.clone(), context.clone());
    let tandem = move || {
        let ctx = context();
        let pair = (
            start(Role::Device, ctx.clone()).unwrap(),
            start(Role::Server, ctx).unwrap(),
        );
        run_pair(pair).unwrap().2
    };
    let timed = move || timed_run(&*start2, context2());
    Case {
        curve,
        op,
        cost,
        tandem: Box::new(tandem),
        timed: Box::new(timed),
        bare,
    }
}

/// A keygen'd Tandem pair and the message to sign with it.
struct Fixture<S: Scheme> {
    shares: Rc<[KeyShare<S>; 2]>,
    message: &'static S::Message,
}

impl<S: Scheme> Fixture<S> {
    fn new(message: &'static S::Message) -> Self {
        let ctx = SessionContext::fresh(
            Protocol::for_op(S::ID, Operation::Keygen),
            WalletId::new("wallet-bench").unwrap(),
            0,
        )
        .unwrap();
        let pair = (
            S::keygen(Role::Device, ctx.clone()).unwrap(),
            S::keygen(Role::Server, ctx).unwrap(),
        );
        let (device, server, _) = run_pair(pair).unwrap();
        Fixture {
            shares: Rc::new([device, server]),
            message,
        }
    }

    fn signature(&self) -> S::Signature {
        let ctx = SessionContext::fresh(
            Protocol::for_op(S::ID, Operation::Sign),
            self.shares[0].wallet().clone(),
            self.shares[0].epoch(),
        )
        .unwrap();
        let [device, server] = &*self.shares;
        let pair = (
            S::sign(device, ctx.clone(), self.message).unwrap(),
            S::sign(server, ctx, self.message).unwrap(),
        );
        run_pair(pair).unwrap().0
    }

    /// The Tandem side of `op`, generic over the scheme.
    fn case(&self, op: Operation, cost: Cost, bare: Box<dyn Fn(Wire)>) -> Case {
        let (curve, name) = names(S::ID, op);
        let protocol = Protocol::for_op(S::ID, op);
        let (shares, message) = (self.shares.clone(), self.message);
        let epoch = shares[0].epoch();
        match op {
            Operation::Keygen => case(curve, name, cost, protocol, 0, S::keygen, bare),
            Operation::Sign => {
                let start = move |role: Role, ctx: SessionContext| {
                    S::sign(&shares[slot(role)], ctx, message)
                };
                case(curve, name, cost, protocol, epoch, start, bare)
            }
            Operation::RefreshFast | Operation::RefreshComplete => {
                let mode = match op {
                    Operation::RefreshFast => RefreshMode::Fast,
                    _ => RefreshMode::Complete,
                };
                let start = move |role: Role, ctx: SessionContext| {
                    S::refresh(&shares[slot(role)], ctx, mode)
                };
                case(curve, name, cost, protocol, epoch, start, bare)
            }
        }
    }
}

fn names(scheme: SchemeId, op: Operation) -> (&'static str, &'static str) {
    let curve = match scheme {
        SchemeId::Secp256k1 => "ecdsa",
        SchemeId::Ed25519 => "ed25519",
    };
    let op = match (scheme, op) {
        (_, Operation::Keygen) => "keygen",
        (_, Operation::Sign) => "sign",
        (SchemeId::Ed25519, _) => "refresh",
        (_, Operation::RefreshFast) => "refresh_fast",
        (_, Operation::RefreshComplete) => "refresh_complete",
    };
    (curve, op)
}

/// A bare run, type-erased.
fn bare<O>(f: impl Fn(Wire) -> O + 'static) -> Box<dyn Fn(Wire)> {
    Box::new(move |w| {
        black_box(f(w));
    })
}

/// A bare run over fixed shares, type-erased.
fn bare_with<T: 'static, O>(
    shares: &Rc<T>,
    f: impl Fn(&T, Wire) -> O + 'static,
) -> Box<dyn Fn(Wire)> {
    let shares = shares.clone();
    bare(move |w| f(&shares, w))
}

/// A short operation measured alone: the single-party baselines and the overhead components.
struct Micro {
    group: String,
    name: &'static str,
    run: Box<dyn Fn()>,
}

fn micro<O>(group: impl Into<String>, name: &'static str, f: impl Fn() -> O + 'static) -> Micro {
    let run = Box::new(move || {
        black_box(f());
    });
    Micro {
        group: group.into(),
        name,
        run,
    }
}

struct Suite {
    cases: Vec<Case>,
    micros: Vec<Micro>,
}

fn suite() -> Suite {
    let ecdsa = Fixture::<Secp256k1>::new(&DIGEST);
    let ed = Fixture::<Ed25519>::new(&MESSAGE[..]);
    let dkls = Rc::new(bare_ecdsa::keygen(Wire::Raw));
    let frost = Rc::new(bare_ed25519::keygen(Wire::Raw));
    let cases = vec![
        ecdsa.case(Operation::Keygen, Cost::Slow, bare(bare_ecdsa::keygen)),
        ecdsa.case(
            Operation::Sign,
            Cost::Medium,
            bare_with(&dkls, |s, w| bare_ecdsa::sign(s, &DIGEST, w)),
        ),
        ecdsa.case(
            Operation::RefreshFast,
            Cost::Medium,
            bare_with(&dkls, bare_ecdsa::refresh_fast),
        ),
        ecdsa.case(
            Operation::RefreshComplete,
            Cost::Slow,
            bare_with(&dkls, bare_ecdsa::refresh_complete),
        ),
        ed.case(Operation::Keygen, Cost::Fast, bare(bare_ed25519::keygen)),
        ed.case(
            Operation::Sign,
            Cost::Fast,
            bare_with(&frost, |s, w| bare_ed25519::sign(s, &MESSAGE, w)),
        ),
        ed.case(
            Operation::RefreshFast,
            Cost::Fast,
            bare_with(&frost, bare_ed25519::refresh),
        ),
    ];
    let mut micros = single_party();
    micros.extend(components(&ecdsa, &dkls, &frost));
    Suite { cases, micros }
}

fn single_party() -> Vec<Micro> {
    use ed25519_dalek::{Signer as _, Verifier as _};
    use k256::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};

    let k256_key = k256::ecdsa::SigningKey::from_slice(&session_id()).unwrap();
    let k256_sig: k256::ecdsa::Signature = k256_key.sign_prehash(&DIGEST).unwrap();
    let k256_pub = *k256_key.verifying_key();
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&session_id());
    let dalek_sig = dalek_key.sign(&MESSAGE);
    let dalek_pub = dalek_key.verifying_key();
    vec![
        micro("single/ecdsa", "sign", move || -> k256::ecdsa::Signature {
            k256_key.sign_prehash(&DIGEST).unwrap()
        }),
        micro("single/ecdsa", "verify", move || {
            k256_pub.verify_prehash(&DIGEST, &k256_sig).unwrap()
        }),
        micro("single/ed25519", "sign", move || dalek_key.sign(&MESSAGE)),
        micro("single/ed25519", "verify", move || {
            dalek_pub.verify(&MESSAGE, &dalek_sig).unwrap()
        }),
    ]
}

/// What the wrappers do beyond the bare crates, each measured alone (per party, per call).
fn components(
    ecdsa: &Fixture<Secp256k1>,
    dkls: &Rc<[bare_ecdsa::Share; 2]>,
    frost: &Rc<[bare_ed25519::Share; 2]>,
) -> Vec<Micro> {
    let (ecdsa_pk, ecdsa_sig) = (ecdsa.shares[0].public_key().to_vec(), ecdsa.signature());
    let frost_pk = frost[0].1.verifying_key().serialize().unwrap();
    let [frost_sig, _] = bare_ed25519::sign(frost, &MESSAGE, Wire::Raw);
    let (dkls, frost) = (dkls.clone(), frost.clone());
    vec![
        // sign.rs and refresh.rs clone the ~52 KB `Party` at every start (and drop it after).
        micro("component/ecdsa", "party_clone", move || dkls[0].clone()),
        // The release check after `sign_phase4` (which has already verified): k256 verify + recovery.
        micro("component/ecdsa", "release_verify", move || {
            Secp256k1::verify(&ecdsa_pk, &DIGEST, &ecdsa_sig).unwrap()
        }),
        // What sign.rs adds after `aggregate` (which has already verified): serialise, then
        // `verify_strict`.
        micro("component/ed25519", "release_check", move || {
            let bytes: [u8; 64] = frost_sig.serialize().unwrap().try_into().unwrap();
            Ed25519::verify(&frost_pk, &MESSAGE, &Ed25519Signature(bytes)).unwrap()
        }),
        // sign.rs and refresh.rs clone the key and public packages at every start.
        micro("component/ed25519", "share_clone", move || frost[0].clone()),
        micro("component", "session_context", || {
            SessionContext::fresh(
                Protocol::EcdsaSign,
                WalletId::new("wallet-bench").unwrap(),
                0,
            )
            .unwrap()
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The report: per-party CPU, rounds, bytes, ratios
// ---------------------------------------------------------------------------------------------

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median per-call time of a short operation: 25 batches of `batch` calls.
fn micro_median(f: &dyn Fn(), batch: u32) -> Duration {
    median(
        (0..25)
            .map(|_| time(|| (0..batch).for_each(|_| f())) / batch)
            .collect(),
    )
}

/// Envelope cost of one ceremony: encoding and decoding frames of the lengths it sent.
fn envelope_cost(frame_lens: &[usize]) -> Duration {
    let wallet = WalletId::new("wallet-bench").unwrap();
    let header = tandem_mpc::encode(
        &SessionContext::fresh(Protocol::EcdsaSign, wallet.clone(), 0).unwrap(),
        Role::Device,
        1,
        &[],
    )
    .unwrap()
    .len();
    let ctx = SessionContext::fresh(Protocol::EcdsaSign, wallet, 0).unwrap();
    let bodies: Vec<Vec<u8>> = frame_lens
        .iter()
        .map(|len| vec![7u8; len - header])
        .collect();
    let once = || {
        for body in &bodies {
            let frame = tandem_mpc::encode(&ctx, Role::Device, 1, body).unwrap();
            let env = tandem_mpc::decode(&frame).unwrap();
            env.check(&ctx, Role::Server, 1).unwrap();
        }
    };
    micro_median(&once, 20)
}

struct Row {
    name: String,
    tandem: Duration,
    device: Duration,
    server: Duration,
    transcript: Transcript,
    bare: Duration,
    bare_raw: Duration,
    envelope: Duration,
}

fn measure(case: &Case, runs: usize) -> Row {
    let reference = (case.tandem)();
    (case.bare)(Wire::Postcard);
    (case.bare)(Wire::Raw);
    let mut samples: [Vec<Duration>; 5] = Default::default();
    let mut last = None;
    for _ in 0..runs {
        let timed = (case.timed)();
        assert_eq!(
            timed.transcript, reference,
            "instrumented loop must match run_pair"
        );
        samples[0].push(timed.total);
        samples[1].push(timed.device);
        samples[2].push(timed.server);
        samples[3].push(time(|| (case.bare)(Wire::Postcard)));
        samples[4].push(time(|| (case.bare)(Wire::Raw)));
        last = Some(timed);
    }
    let last = last.unwrap();
    let [tandem, device, server, bare, bare_raw] = samples.map(median);
    let name = format!("{}/{}", case.curve, case.op);
    Row {
        name,
        tandem,
        device,
        server,
        transcript: last.transcript,
        bare,
        bare_raw,
        envelope: envelope_cost(&last.frame_lens),
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{model}, {cpus} logical CPUs")
}

fn report(suite: &Suite) {
    println!("\n## Report ({}; medians)\n", machine());
    println!(
        "| op | tandem ms | device ms | server ms | rounds | bytes d→s | bytes s→d | bare+postcard ms | bare raw ms | tandem / bare+postcard | ≤ 1.10 | tandem / bare raw | envelope µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|");
    let mut rows = Vec::new();
    for case in &suite.cases {
        let row = measure(case, case.cost.runs());
        let ratio = row.tandem.as_secs_f64() / row.bare.as_secs_f64();
        let raw_ratio = row.tandem.as_secs_f64() / row.bare_raw.as_secs_f64();
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.1} |",
            row.name,
            ms(row.tandem),
            ms(row.device),
            ms(row.server),
            row.transcript.rounds,
            row.transcript.device_to_server_bytes,
            row.transcript.server_to_device_bytes,
            ms(row.bare),
            ms(row.bare_raw),
            ratio,
            if ratio <= 1.10 { "yes" } else { "**no**" },
            raw_ratio,
            us(row.envelope),
        );
        rows.push(row);
    }
    println!("\n| single-party baseline / component | µs per call |");
    println!("|---|---:|");
    let mut micros = BTreeMap::new();
    for m in &suite.micros {
        let t = micro_median(&*m.run, 200);
        println!("| {}/{} | {:.2} |", m.group, m.name, us(t));
        micros.insert(format!("{}/{}", m.group, m.name), t);
    }
    println!("\n| 2-party sign / single-party sign | both parties | device only |");
    println!("|---|---:|---:|");
    for curve in ["ecdsa", "ed25519"] {
        let row = rows
            .iter()
            .find(|r| r.name == format!("{curve}/sign"))
            .unwrap();
        let single = micros[&format!("single/{curve}/sign")].as_secs_f64();
        println!(
            "| {curve} | {:.0}× | {:.0}× |",
            row.tandem.as_secs_f64() / single,
            row.device.as_secs_f64() / single
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// Criterion
// ---------------------------------------------------------------------------------------------

fn criterion_benches(c: &mut Criterion, suite: &Suite) {
    for case in &suite.cases {
        let variants = [
            ("tandem", None),
            ("bare", Some(Wire::Postcard)),
            ("bare_raw", Some(Wire::Raw)),
        ];
        for (variant, wire) in variants {
            let mut group = c.benchmark_group(format!("{variant}/{}", case.curve));
            case.cost.configure(&mut group);
            group.bench_function(case.op, |b| match wire {
                None => b.iter(|| (case.tandem)()),
                Some(w) => b.iter(|| (case.bare)(w)),
            });
            group.finish();
        }
    }
    for m in &suite.micros {
        let mut group = c.benchmark_group(m.group.as_str());
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function(m.name, |b| b.iter(&m.run));
        group.finish();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let suite = suite();
    // Criterion's own rule: without `--bench` (cargo test) or with `--test`, it only smoke-tests.
    let benchmarking = has("--bench") && !has("--test") && !has("--list");
    if benchmarking && std::env::var("TANDEM_BENCH_REPORT").map_or(true, |v| v != "0") {
        report(&suite);
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &suite);
    c.final_summary();
}
