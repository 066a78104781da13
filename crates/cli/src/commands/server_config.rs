//! Loading the server configuration the way `tandem serve` does (file, environment, then
//! command-line overrides), shared by `serve` and the `vault` commands so that both always
//! agree on the database and the keys.

use std::path::PathBuf;

use tandem_client::ClientError;
use tandem_server::config::Config;

pub fn load(
    file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    listen: Option<String>,
) -> Result<Config, ClientError> {
    let local = |e: &dyn std::fmt::Display| ClientError::Local(e.to_string());
    let mut config = Config::load(file.as_deref()).map_err(|e| local(&e))?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .map_err(|_| ClientError::Local(format!("--listen: not an address: {listen}")))?;
    }
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config.validate().map_err(|e| local(&e))?;
    Ok(config)
}

/// Whether the server's configuration is named at all (a file, a data directory or a
/// database URL), rather than the development defaults under `./tandem-data`.
pub fn explicit(args: &crate::cli::ServerConfigArgs) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    args.config.is_some()
        || args.data_dir.is_some()
        || set("TANDEM_CONFIG")
        || set("TANDEM_DATA_DIR")
        || set("TANDEM_DATABASE_URL")
}

/// Logs to stderr. The filter is `TANDEM_LOG`, else `RUST_LOG`, else `default_filter`
/// (`tracing` directives: `info`, `warn,tandem::http=info`, ...). `TANDEM_LOG_FORMAT=json`
/// gives one JSON object per line (for log shippers), `text` (the default) human lines;
/// colour only when stderr is a terminal, so files and journald get no escape codes.
pub fn init_logging(default_filter: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let directives = ["TANDEM_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    let (filter, bad_filter) = match directives.as_deref().map(EnvFilter::try_new) {
        Some(Ok(f)) => (f, None),
        Some(Err(e)) => (EnvFilter::new(default_filter), Some(e.to_string())),
        None => (EnvFilter::new(default_filter), None),
    };
    let format = std::env::var("TANDEM_LOG_FORMAT").unwrap_or_default();
    let json = format.trim().eq_ignore_ascii_case("json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!json && std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if let Some(e) = bad_filter {
        tracing::warn!(error = %e, "log filter (TANDEM_LOG / RUST_LOG) not understood; using the default");
    }
    if !(format.is_empty() || json || format.trim().eq_ignore_ascii_case("text")) {
        tracing::warn!(format = %format, "TANDEM_LOG_FORMAT must be `json` or `text`; using text");
    }
}
