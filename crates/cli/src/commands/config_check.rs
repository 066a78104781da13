//! `tandem config check`: the effective server configuration and a test of what it points at.

use tandem_client::ClientError;
use tandem_server::config_check::{self, CheckReport};

use super::server_config;
use crate::cli::ConfigCommand;
use crate::output;

pub async fn run(json: bool, cmd: ConfigCommand) -> Result<(), ClientError> {
    let ConfigCommand::Check { server } = cmd;
    server_config::init_logging("error");
    let config = server_config::load(server.config, server.data_dir, None)?;
    let tls = config.tls_files();
    let report = config_check::run(&config, tls.as_ref()).await;
    output::print(json, &report, || describe(&report));
    if report.ok {
        Ok(())
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        Err(ClientError::Local(format!(
            "configuration check failed: {}",
            failed.join(", ")
        )))
    }
}

fn describe(report: &CheckReport) -> String {
    let mut text = String::from("Effective configuration (secrets hidden):\n");
    for line in config_check::flatten(&report.config) {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str("\nChecks:\n");
    for c in &report.checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        text.push_str(&format!("  {mark} {:<12} {}\n", c.name, c.detail));
    }
    text.push_str(if report.ok {
        "\nAll checks passed."
    } else {
        "\nSome checks failed: fix the items marked FAIL."
    });
    text
}
