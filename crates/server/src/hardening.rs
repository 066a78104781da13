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

/// Raises the soft limit on open files to the hard limit: each connection is a descriptor,
/// and a low default (often 1024) would let a few hundred slow clients make `accept` fail
/// for everyone. Returns the soft limit in effect afterwards, if known.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let current = getrlimit(Resource::Nofile);
        if current.current.is_some() && current.current == current.maximum {
            return current.current;
        }
        let raised = Rlimit {
            current: current.maximum,
            maximum: current.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => getrlimit(Resource::Nofile).current,
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit");
                current.current
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
