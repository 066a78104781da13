//! Test support: a private SoftHSM2 configuration. Compiled only for tests or with the
//! `testing` feature, so other crates' tests use the same fixture.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialised, so each test gets its own
//! config file and token directory and hands them to the process that loads the module.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// Where distributions install the SoftHSM2 PKCS#11 module.
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The installed SoftHSM2 module, if any.
pub fn softhsm_module() -> Option<PathBuf> {
    MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A private `softhsm2.conf` and an empty token directory, removed on drop.
pub struct SoftHsmConf {
    dir: TempDir,
    pub conf: PathBuf,
    pub module: PathBuf,
}

impl SoftHsmConf {
    /// `None`, with a printed reason, when SoftHSM2 is not installed; with
    /// `TANDEM_REQUIRE_PEERS=1` that panics so the test fails instead.
    pub fn new() -> Option<SoftHsmConf> {
        let Some(module) = softhsm_module() else {
            skip_or_fail();
            return None;
        };
        let fail = |what: &str, e: std::io::Error| -> ! { panic!("SoftHSM2 fixture: {what}: {e}") };
        let dir = tempfile::tempdir().unwrap_or_else(|e| fail("temp dir", e));
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap_or_else(|e| fail("token dir", e));
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap_or_else(|e| fail("softhsm2.conf", e));
        Some(SoftHsmConf { dir, conf, module })
    }

    /// The directory holding the config and the tokens.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// What a test does when SoftHSM2 is missing: skip with a reason, or fail when peers are
/// required.
pub fn skip_or_fail() {
    if std::env::var("TANDEM_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("SoftHSM2 is not installed and TANDEM_REQUIRE_PEERS=1 (apt-get install softhsm2)");
    }
    println!("skipping: SoftHSM2 not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)");
}
