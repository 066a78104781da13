//! Writes a seed corpus from honest runs into `fuzz/corpus/<target>/` (git-ignored):
//! every frame of every ceremony (for `envelope` and, as selector byte + body, for the
//! ceremony targets) and every kind of share (for the share targets).
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/Cargo.toml --example seeds
//! ```
#![allow(clippy::expect_used)]

#[path = "../fuzz_targets/common.rs"]
mod common;

use std::path::{Path, PathBuf};

use tandem_mpc::ecdsa::Secp256k1;
use tandem_mpc::ed25519::Ed25519;
use tandem_mpc::{Ceremony, ExportedShare, KeyShare, Protocol, Role, Scheme, WalletId};

struct Corpus(PathBuf);

impl Corpus {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.0.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    }

    /// Runs an honest pair and records each frame twice: whole, for `envelope`, and as the
    /// input of `target` that delivers its body to the receiving party.
    fn ceremony<C: Ceremony>(&self, target: &str, start: impl Fn(Role) -> (C, Vec<u8>)) {
        common::run_honest(
            start(Role::Device),
            start(Role::Server),
            |sender, round, frame| {
                let name = format!("{target}-{sender:?}-r{round}").to_lowercase();
                self.put("envelope", &name, frame);
                let body = tandem_mpc::decode(frame).expect("honest frame").body;
                let mut input = vec![common::selector(sender.peer(), round - 1)];
                input.extend_from_slice(body);
                self.put(target, &name, &input);
            },
        );
    }

    fn shares<S: Scheme>(&self, target: &str, pair: (KeyShare<S>, KeyShare<S>), secret: &[u8]) {
        let (device, server) = pair;
        self.put(target, "device", &device.to_bytes().expect("encode"));
        self.put(target, "server", &server.to_bytes().expect("encode"));
        let export = ExportedShare::from_server_share(server).expect("export");
        self.put(target, "export", &export.to_bytes().expect("encode"));
        let wallet = WalletId::new(common::WALLET).expect("wallet id");
        let imported = S::import(secret, wallet).expect("import");
        self.put(
            target,
            "imported-device",
            &imported.device.to_bytes().expect("encode"),
        );
        self.put(
            target,
            "imported-server",
            &imported.server.to_bytes().expect("encode"),
        );
    }
}

fn main() {
    let corpus = Corpus(Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let ctx = common::context;

    corpus.ceremony("ecdsa_keygen", |role| {
        Secp256k1::keygen(role, ctx(Protocol::EcdsaKeygen, 0)).expect("start")
    });
    corpus.ceremony("ed25519_keygen", |role| {
        Ed25519::keygen(role, ctx(Protocol::Ed25519Keygen, 0)).expect("start")
    });
    let ecdsa = common::ecdsa_shares();
    corpus.ceremony("ecdsa_sign", |role| {
        let share = common::share_of(ecdsa, role);
        Secp256k1::sign(share, ctx(Protocol::EcdsaSign, 0), &common::ECDSA_DIGEST).expect("start")
    });
    let ed25519 = common::ed25519_shares();
    corpus.ceremony("ed25519_sign", |role| {
        let share = common::share_of(ed25519, role);
        Ed25519::sign(
            share,
            ctx(Protocol::Ed25519Sign, 0),
            common::ED25519_MESSAGE,
        )
        .expect("start")
    });

    corpus.shares(
        "share_ecdsa",
        common::keygen_pair::<Secp256k1>(Protocol::EcdsaKeygen),
        &[0x11; 32],
    );
    corpus.shares(
        "share_ed25519",
        common::keygen_pair::<Ed25519>(Protocol::Ed25519Keygen),
        &[0x22; 32],
    );
    println!("seeds written under {}", corpus.0.display());
}
