//! Process hardening at start: the server holds decrypted shares in memory during
//! ceremonies, so it must not leave them in a core file or let a same-user process attach.

/// Disables core dumps (RLIMIT_CORE = 0) and ptrace attachment by unprivileged processes
/// (PR_SET_DUMPABLE = 0). Failures are logged, not fatal: a container may forbid prctl.
pub fn harden_process() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{
            DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit,
        };
        let zero = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, zero) {
            tracing::warn!(error = %e, "could not disable core dumps");
        }
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            tracing::warn!(error = %e, "could not disable ptrace attachment");
        }
    }
}
