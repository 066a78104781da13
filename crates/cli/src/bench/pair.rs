//! An in-memory two-party driver for the in-process baseline: the device's and the server's
//! state machines run against each other in one thread, frames handed over in lockstep.
//! (`tandem_mpc::testing` has one too, but that feature never goes into this binary.)

use std::time::{Duration, Instant};

use tandem_client::ClientError;
use tandem_mpc::{Ceremony, KeyShare, Operation, Progress, Role, SessionContext, WalletId};
use tandem_proto::scheme::ChainScheme;

/// Both ceremonies have at most three rounds; anything longer is a stall.
const MAX_ROUNDS: usize = 8;

/// CPU each party spent (its constructor and every `receive`), in one single-threaded run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartyTime {
    pub device: Duration,
    pub server: Duration,
}

/// Both parties' shares of one wallet, as an in-memory keygen left them.
pub struct SharePair<S: tandem_mpc::Scheme> {
    pub device: KeyShare<S>,
    pub server: KeyShare<S>,
}

fn failed(role: Role, e: tandem_mpc::Error) -> ClientError {
    ClientError::Mpc(format!("in-memory {role:?}: {e}"))
}

fn step<C: Ceremony>(
    party: &mut C,
    role: Role,
    frame: &[u8],
    spent: &mut Duration,
) -> Result<Progress<C::Output>, ClientError> {
    let started = Instant::now();
    let r = party.receive(frame);
    *spent += started.elapsed();
    r.map_err(|e| failed(role, e))
}

/// Delivers frames between two started ceremonies until both finish.
pub fn drive<D: Ceremony, S: Ceremony>(
    device: (D, Vec<u8>),
    server: (S, Vec<u8>),
    time: &mut PartyTime,
) -> Result<(D::Output, S::Output), ClientError> {
    let ((mut device, d0), (mut server, s0)) = (device, server);
    let (mut to_server, mut to_device) = (Some(d0), Some(s0));
    let (mut device_out, mut server_out) = (None, None);
    for _ in 0..MAX_ROUNDS {
        if device_out.is_some() && server_out.is_some() {
            break;
        }
        let (for_server, for_device) = (to_server.take(), to_device.take());
        if for_server.is_none() && for_device.is_none() {
            break;
        }
        if let Some(frame) = for_server {
            match step(&mut server, Role::Server, &frame, &mut time.server)? {
                Progress::Send(next) => to_device = Some(next),
                Progress::Done(out) => server_out = Some(out),
            }
        }
        if let Some(frame) = for_device {
            match step(&mut device, Role::Device, &frame, &mut time.device)? {
                Progress::Send(next) => to_server = Some(next),
                Progress::Done(out) => device_out = Some(out),
            }
        }
    }
    match (device_out, server_out) {
        (Some(d), Some(s)) => Ok((d, s)),
        _ => Err(ClientError::Mpc("in-memory ceremony stalled".into())),
    }
}

/// Runs `f`, adding its wall time to `spent`.
fn timed<T>(spent: &mut Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    *spent += started.elapsed();
    out
}

/// Distributed key generation for a wallet named `wallet`, both parties in memory.
pub fn keygen<S: ChainScheme>(wallet: &str) -> Result<SharePair<S>, ClientError> {
    let ctx = SessionContext::fresh(S::protocol(Operation::Keygen), WalletId::new(wallet)?, 0)?;
    let device = S::keygen(Role::Device, ctx.clone()).map_err(|e| failed(Role::Device, e))?;
    let server = S::keygen(Role::Server, ctx).map_err(|e| failed(Role::Server, e))?;
    let (device, server) = drive(device, server, &mut PartyTime::default())?;
    Ok(SharePair { device, server })
}

/// One joint signature over `message`, both parties in memory, with a fresh session each
/// time. Checks both parties output the same signature.
pub fn sign<S: ChainScheme>(
    pair: &SharePair<S>,
    message: &S::Message,
    time: &mut PartyTime,
) -> Result<S::Signature, ClientError> {
    let ctx = SessionContext::fresh(
        S::protocol(Operation::Sign),
        pair.device.wallet().clone(),
        pair.device.epoch(),
    )?;
    let device = timed(&mut time.device, || {
        S::sign(&pair.device, ctx.clone(), message)
    })
    .map_err(|e| failed(Role::Device, e))?;
    let server = timed(&mut time.server, || S::sign(&pair.server, ctx, message))
        .map_err(|e| failed(Role::Server, e))?;
    let (ours, theirs) = drive(device, server, time)?;
    if ours != theirs {
        return Err(ClientError::Mpc(
            "in-memory parties output different signatures".into(),
        ));
    }
    Ok(ours)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use ed25519_dalek::Verifier as _;
    use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use tandem_mpc::ecdsa::Secp256k1;
    use tandem_mpc::ed25519::Ed25519;

    use super::*;

    #[test]
    fn ecdsa_pair_signs_a_valid_signature() {
        let pair = keygen::<Secp256k1>("bench-test-evm").expect("keygen");
        assert_eq!(pair.device.public_key(), pair.server.public_key());
        let digest = [0x5au8; 32];
        let mut time = PartyTime::default();
        let sig = sign(&pair, &digest, &mut time).expect("sign");
        assert!(time.device > Duration::ZERO && time.server > Duration::ZERO);

        let key =
            k256::ecdsa::VerifyingKey::from_sec1_bytes(pair.device.public_key()).expect("SEC1 key");
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&sig.r);
        rs[32..].copy_from_slice(&sig.s);
        let signature = k256::ecdsa::Signature::from_slice(&rs).expect("r ‖ s");
        key.verify_prehash(&digest, &signature).expect("verifies");
        // A fresh session gives a fresh nonce.
        let again = sign(&pair, &digest, &mut time).expect("sign again");
        assert_ne!(again.r, sig.r);
    }

    #[test]
    fn ed25519_pair_signs_a_valid_signature() {
        let pair = keygen::<Ed25519>("bench-test-sol").expect("keygen");
        let message = b"tandem bench";
        let sig = sign(&pair, &message[..], &mut PartyTime::default()).expect("sign");
        let key_bytes: [u8; 32] = pair.device.public_key().try_into().expect("32 bytes");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).expect("key");
        let signature = ed25519_dalek::Signature::from_bytes(&sig.0);
        key.verify(message, &signature).expect("verifies");
        key.verify_strict(message, &signature)
            .expect("verifies strictly");
    }
}
