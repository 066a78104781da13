//! Prometheus metrics: one recorder per process, histograms (not summaries, so that the
//! buckets of several instances add up), and every series the server knows of registered at
//! start so that a scrape before the first request already shows them.

use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Seconds; from a fast HTTP answer to a slow HSM-backed refresh.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The git commit the binary was built from, when the build set `TANDEM_GIT_COMMIT`.
pub const GIT_COMMIT: &str = match option_env!("TANDEM_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

pub const HTTP_REQUESTS: &str = "tandem_http_requests_total";
pub const HTTP_SECONDS: &str = "tandem_http_request_duration_seconds";
pub const CEREMONY_SECONDS: &str = "tandem_ceremony_seconds";
pub const VAULT_CALLS: &str = "tandem_vault_calls_total";
pub const VAULT_SECONDS: &str = "tandem_vault_call_duration_seconds";

/// The process-wide recorder, installed on first use (tests start several servers in one
/// process only through the binary, but the library may be embedded).
pub fn handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // The bucket list is constant and valid; a failure would only lose buckets.
            let builder = match builder.set_buckets(BUCKETS) {
                Ok(b) => b,
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then this handle renders nothing,
            // which is better than refusing to start.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Registers the series that exist before anything happened: build info, one HTTP
/// histogram per route, ceremony and vault histograms.
pub fn register(routes: &[(String, String)]) {
    metrics::describe_histogram!(HTTP_SECONDS, "HTTP request duration by method and route");
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status");
    metrics::describe_histogram!(
        CEREMONY_SECONDS,
        "Ceremony duration by operation, chain and outcome"
    );
    metrics::describe_counter!(
        VAULT_CALLS,
        "Key-provider (file or HSM) calls by op and outcome"
    );
    metrics::describe_histogram!(VAULT_SECONDS, "Key-provider call duration by op");
    metrics::describe_gauge!("tandem_build_info", "Version and git commit of this binary");
    metrics::describe_gauge!(
        "tandem_db_pool_connections",
        "Database pool connections by state"
    );
    metrics::gauge!(
        "tandem_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => GIT_COMMIT
    )
    .set(1.0);
    for (method, route) in routes {
        // Registered, not recorded: the series exists with empty buckets.
        let _ =
            metrics::histogram!(HTTP_SECONDS, "method" => method.clone(), "route" => route.clone());
    }
    for operation in ["keygen", "sign", "refresh"] {
        for chain in ["evm", "solana"] {
            let _ = metrics::histogram!(
                CEREMONY_SECONDS,
                "operation" => operation,
                "chain" => chain,
                "outcome" => "ok"
            );
        }
    }
    for op in VAULT_OPS {
        let _ = metrics::histogram!(VAULT_SECONDS, "op" => *op);
        for outcome in ["ok", "error"] {
            metrics::counter!(VAULT_CALLS, "op" => *op, "outcome" => outcome).absolute(0);
        }
    }
    metrics::gauge!("tandem_ceremony_sockets_open").set(0.0);
}

const VAULT_OPS: &[&str] = &["seal", "open", "rewrap", "probe"];

/// Times one key-provider call and counts its outcome.
pub fn vault_call<T, E>(op: &'static str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let started = Instant::now();
    let r = f();
    let outcome = if r.is_ok() { "ok" } else { "error" };
    metrics::counter!(VAULT_CALLS, "op" => op, "outcome" => outcome).increment(1);
    metrics::histogram!(VAULT_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    r
}

/// The pool's state as gauges, refreshed at every scrape.
pub fn pool_gauges(pool: &sqlx::AnyPool) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("tandem_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("tandem_db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    metrics::gauge!("tandem_db_pool_max_connections")
        .set(f64::from(pool.options().get_max_connections()));
}
