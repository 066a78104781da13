//! A fresh SoftHSM2 token per test: its own token directory and `softhsm2.conf`, created with
//! `softhsm2-util`, reached by child processes through `SOFTHSM2_CONF` (the test process
//! itself never loads the module).

use std::path::{Path, PathBuf};
use std::process::Command;

use tandem_server::vault::testing::{self, SoftHsmConf};

pub const SO_PIN: &str = "so-pin-112233";
pub const USER_PIN: &str = "user-pin-445566";

pub struct SoftHsm {
    conf_dir: SoftHsmConf,
    pub conf: PathBuf,
    pub module: PathBuf,
    pub token: String,
}

fn util_available() -> bool {
    Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl SoftHsm {
    /// A fresh, initialised token (user PIN [`USER_PIN`]), or `None` with a printed reason
    /// when SoftHSM2 is not installed; with `TANDEM_REQUIRE_PEERS=1` that is a failure.
    pub fn new() -> Option<SoftHsm> {
        if !util_available() {
            testing::skip_or_fail();
            return None;
        }
        let conf_dir = SoftHsmConf::new()?;
        let (conf, module) = (conf_dir.conf.clone(), conf_dir.module.clone());
        let mut suffix = [0u8; 4];
        let _ = super::getrandom_fill(&mut suffix);
        let token = format!("tandem-{}", hex::encode(suffix));
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", &token])
            .args(["--so-pin", SO_PIN, "--pin", USER_PIN])
            .output()
            .expect("run softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(SoftHsm {
            conf_dir,
            conf,
            module,
            token,
        })
    }

    /// The environment reaching this token: SoftHSM's config, `[vault.pkcs11]` and the PIN.
    /// The provider is left as configured elsewhere.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SOFTHSM2_CONF".into(), self.conf.display().to_string()),
            (
                "TANDEM_VAULT__PKCS11__MODULE".into(),
                self.module.display().to_string(),
            ),
            (
                "TANDEM_VAULT__PKCS11__TOKEN_LABEL".into(),
                self.token.clone(),
            ),
            ("TANDEM_VAULT_PKCS11_PIN".into(), USER_PIN.into()),
        ]
    }

    /// [`env`](Self::env) plus `vault.provider = "pkcs11"`.
    pub fn provider_env(&self) -> Vec<(String, String)> {
        let mut env = self.env();
        env.push(("TANDEM_VAULT__PROVIDER".into(), "pkcs11".into()));
        env
    }

    pub fn kek_id(&self, label: &str) -> String {
        format!("pkcs11:{}:{label}", self.token)
    }

    pub fn conf_dir(&self) -> &Path {
        self.conf_dir.dir()
    }
}
