//! An independent TOTP generator: Python's `pyotp`, which `.ci/run` installs in the peers'
//! venv (`TANDEM_PEER_PYTHON`). Codes are made for the server's injected time.

use std::process::Command;

fn python() -> Option<String> {
    super::peer_python("pyotp")
}

/// pyotp, or `None` after printing why (a panic under `TANDEM_REQUIRE_PEERS=1`).
pub struct PyOtp(String);

impl PyOtp {
    pub fn find() -> Option<PyOtp> {
        if let Some(py) = python() {
            return Some(PyOtp(py));
        }
        if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!(
                "pyotp is not installed (TANDEM_REQUIRE_PEERS=1): run .ci/run or pip install pyotp==2.9.0"
            );
        }
        println!("skipping: pyotp not installed (set TANDEM_REQUIRE_PEERS=1 to fail instead)");
        None
    }

    /// The code of the `otpauth://` URI at Unix time `ms`, as pyotp computes it from the URI
    /// alone (issuer, digits, period and algorithm included).
    pub fn code_at(&self, uri: &str, ms: i64) -> String {
        let out = Command::new(&self.0)
            .args([
                "-c",
                "import sys, pyotp; print(pyotp.parse_uri(sys.argv[1]).at(int(sys.argv[2])))",
                uri,
                &(ms / 1000).to_string(),
            ])
            .output()
            .expect("run pyotp");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// What pyotp reads from the URI: issuer, account name, digits and period.
    pub fn describe(&self, uri: &str) -> String {
        let out = Command::new(&self.0)
            .args([
                "-c",
                "import sys, pyotp; t = pyotp.parse_uri(sys.argv[1]); print(t.issuer, t.name, t.digits, t.interval)",
                uri,
            ])
            .output()
            .expect("run pyotp");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}
