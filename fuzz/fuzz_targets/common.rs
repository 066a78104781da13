//! Setup shared by the fuzz targets (and by `examples/seeds.rs`). Everything here runs on
//! honest inputs only, so it may unwrap: a failure is a setup bug, not a finding about the
//! fuzzer's bytes.
#![allow(dead_code, clippy::expect_used)]

use std::sync::OnceLock;

use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{
    Ceremony, KeyShare, Nonce, Progress, Protocol, Role, Scheme, SessionContext, WalletId,
};

pub const WALLET: &str = "fuzz-wallet";
pub const ECDSA_DIGEST: [u8; 32] = [0x5a; 32];
pub const ED25519_MESSAGE: &[u8] = b"tandem fuzz message";

/// A fixed context (fixed nonces), so that both parties of an in-memory run agree on it and a
/// crash reproduces with the same header bytes.
pub fn context(protocol: Protocol, epoch: u64) -> SessionContext {
    let wallet = WalletId::new(WALLET).expect("wallet id");
    SessionContext::derive(protocol, wallet, epoch, &Nonce([1; 32]), &Nonce([2; 32]))
}

fn expect_send<O>(progress: tandem_mpc::Result<Progress<O>>, what: &str) -> Vec<u8> {
    match progress {
        Ok(Progress::Send(frame)) => frame,
        Ok(Progress::Done(_)) => panic!("honest {what}: finished early"),
        Err(e) => panic!("honest {what}: {e}"),
    }
}

fn outcome<O>(result: &tandem_mpc::Result<Progress<O>>) -> String {
    match result {
        Ok(Progress::Done(_)) => "done".into(),
        Ok(Progress::Send(_)) => "wants another round".into(),
        Err(e) => e.to_string(),
    }
}

/// Runs an honest device/server pair to completion in lockstep. `on_frame` sees every frame
/// with its sender and round.
pub fn run_honest<C: Ceremony>(
    device: (C, Vec<u8>),
    server: (C, Vec<u8>),
    mut on_frame: impl FnMut(Role, u8, &[u8]),
) -> (C::Output, C::Output) {
    let ((mut device, mut to_server), (mut server, mut to_device)) = (device, server);
    let rounds = device.context().protocol.rounds();
    for round in 1..=rounds {
        on_frame(Role::Device, round, &to_server);
        on_frame(Role::Server, round, &to_device);
        let server_says = server.receive(&to_server);
        let device_says = device.receive(&to_device);
        if round < rounds {
            to_device = expect_send(server_says, "server");
            to_server = expect_send(device_says, "device");
        } else {
            match (device_says, server_says) {
                (Ok(Progress::Done(d)), Ok(Progress::Done(s))) => return (d, s),
                (d, s) => panic!(
                    "honest run did not finish: device {}, server {}",
                    outcome(&d),
                    outcome(&s)
                ),
            }
        }
    }
    unreachable!("a protocol has at least one round")
}

/// One honest keygen (context at epoch 0 for `protocol`), returning the device and server shares.
pub fn keygen_pair<S: Scheme>(protocol: Protocol) -> (KeyShare<S>, KeyShare<S>) {
    let start = |role| S::keygen(role, context(protocol, 0)).expect("keygen start");
    run_honest(start(Role::Device), start(Role::Server), |_, _, _| {})
}

pub fn ecdsa_shares() -> &'static (KeyShare<Secp256k1>, KeyShare<Secp256k1>) {
    static SHARES: OnceLock<(KeyShare<Secp256k1>, KeyShare<Secp256k1>)> = OnceLock::new();
    SHARES.get_or_init(|| keygen_pair::<Secp256k1>(Protocol::EcdsaKeygen))
}

pub fn ed25519_shares() -> &'static (KeyShare<Ed25519>, KeyShare<Ed25519>) {
    static SHARES: OnceLock<(KeyShare<Ed25519>, KeyShare<Ed25519>)> = OnceLock::new();
    SHARES.get_or_init(|| keygen_pair::<Ed25519>(Protocol::Ed25519Keygen))
}

pub fn share_of<S: Scheme>(shares: &(KeyShare<S>, KeyShare<S>), role: Role) -> &KeyShare<S> {
    match role {
        Role::Device => &shares.0,
        Role::Server => &shares.1,
    }
}

/// The first input byte of a ceremony target. Bit 0: the role of the ceremony under test
/// (0 device, 1 server). Bits 1..: how many honest rounds it has completed before the fuzzed
/// frame arrives, modulo the protocol's round count (0 = the fuzzed frame is round 1).
pub fn selector(me: Role, honest_rounds: u8) -> u8 {
    (honest_rounds << 1) | u8::from(me == Role::Server)
}

/// Starts a ceremony with `start(role)`, runs it honestly against a peer for the number of
/// rounds the selector byte asks for, then feeds it a frame whose header is exactly the one it
/// expects next and whose body is the rest of the input. The result is ignored: the target
/// only looks for panics, hangs, and runaway allocation.
pub fn fuzz_round<C: Ceremony>(data: &[u8], start: impl Fn(Role) -> (C, Vec<u8>)) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let me = if sel & 1 == 0 {
        Role::Device
    } else {
        Role::Server
    };
    let (mut mine, mut mine_frame) = start(me);
    let honest = (sel >> 1) % mine.context().protocol.rounds();
    if honest > 0 {
        let (mut peer, mut peer_frame) = start(me.peer());
        for round in 1..=honest {
            let peer_next =
                (round < honest).then(|| expect_send(peer.receive(&mine_frame), "peer"));
            mine_frame = expect_send(mine.receive(&peer_frame), "ceremony under test");
            if let Some(next) = peer_next {
                peer_frame = next;
            }
        }
    }
    let _ = mine_frame;
    let ctx = mine.context().clone();
    // `encode` refuses bodies over the frame size limit; such input cannot be a frame.
    let Ok(frame) = tandem_mpc::encode(&ctx, me.peer(), honest + 1, body) else {
        return;
    };
    let _ = mine.receive(&frame);
}
