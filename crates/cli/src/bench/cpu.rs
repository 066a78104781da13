//! Who used the CPU during a measurement (Linux `/proc`): this process, the Tandem server
//! processes on this machine (`tandem serve`), and everything else. On a shared machine the
//! last share tells whether a point was disturbed.

use std::time::Instant;

use serde::Serialize;

/// Cumulative CPU ticks at one instant.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    at: Instant,
    /// CPUs in `/proc/stat`.
    cpus: usize,
    /// All CPUs, all states.
    total: u64,
    /// All CPUs, busy (not idle, not waiting for I/O).
    busy: u64,
    /// This process (user + system).
    own: u64,
    /// Every local `tandem serve` process.
    server: u64,
}

/// CPU used over an interval: seconds, and shares of the machine's capacity in percent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Wall time of the interval.
    pub wall_s: f64,
    pub load_generator_s: f64,
    pub server_s: f64,
    pub others_s: f64,
    pub load_generator_pct: f64,
    pub server_pct: f64,
    pub others_pct: f64,
}

impl Snapshot {
    pub fn take() -> Snapshot {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let (total, busy) = machine_ticks(&stat).unwrap_or_default();
        Snapshot {
            at: Instant::now(),
            cpus: stat
                .lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .count(),
            total,
            busy,
            own: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| process_ticks(&s))
                .unwrap_or_default(),
            server: server_ticks(),
        }
    }

    /// How the machine was used between `self` and `later`.
    pub fn usage_until(&self, later: &Snapshot) -> Usage {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return Usage::default();
        }
        let pct = |v: u64| 100.0 * v as f64 / total as f64;
        let wall_s = (later.at - self.at).as_secs_f64();
        // The machine's capacity is cpus × wall time: that gives the length of a tick.
        let capacity_s = wall_s * later.cpus as f64;
        let secs = |v: u64| capacity_s * v as f64 / total as f64;
        let busy = later.busy.saturating_sub(self.busy);
        let own = later.own.saturating_sub(self.own);
        let server = later.server.saturating_sub(self.server);
        let others = busy.saturating_sub(own + server);
        Usage {
            wall_s,
            load_generator_s: secs(own),
            server_s: secs(server),
            others_s: secs(others),
            load_generator_pct: pct(own),
            server_pct: pct(server),
            others_pct: pct(others),
        }
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;

    /// Two intervals together: seconds add up, shares are weighted by wall time.
    fn add(self, other: Usage) -> Usage {
        let wall_s = self.wall_s + other.wall_s;
        let share = |a: f64, b: f64| {
            if wall_s > 0.0 {
                (a * self.wall_s + b * other.wall_s) / wall_s
            } else {
                0.0
            }
        };
        Usage {
            wall_s,
            load_generator_s: self.load_generator_s + other.load_generator_s,
            server_s: self.server_s + other.server_s,
            others_s: self.others_s + other.others_s,
            load_generator_pct: share(self.load_generator_pct, other.load_generator_pct),
            server_pct: share(self.server_pct, other.server_pct),
            others_pct: share(self.others_pct, other.others_pct),
        }
    }
}

/// (total, busy) ticks from the `cpu` line of `/proc/stat`.
fn machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total, total.saturating_sub(idle)))
}

/// utime + stime of a `/proc/<pid>/stat` line (the command name may hold spaces).
fn process_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn is_tandem_server(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    // `…/tandem serve …` (or a renamed copy such as `tandem-old`).
    let exe_is_tandem = args.next().is_some_and(|a| {
        let name = a.rsplit(|&b| b == b'/').next().unwrap_or(a);
        name.starts_with(b"tandem")
    });
    exe_is_tandem && args.any(|a| a == b"serve")
}

fn server_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut ticks = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        if is_tandem_server(&cmdline)
            && let Some(t) = std::fs::read_to_string(path.join("stat"))
                .ok()
                .and_then(|s| process_ticks(&s))
        {
            ticks += t;
        }
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc() {
        let stat = "cpu  100 10 50 800 20 0 5 15 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(machine_ticks(stat), Some((1000, 180)));
        let pid = "42 (tandem (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 700 300 0 0 20 0 8 0";
        assert_eq!(process_ticks(pid), Some(1000));
        assert!(is_tandem_server(b"/tmp/bin/tandem\0serve\0--listen\0x\0"));
        assert!(is_tandem_server(b"tandem-old\0serve\0"));
        assert!(!is_tandem_server(b"/tandem/bin/other\0serve\0"));
        assert!(!is_tandem_server(b"/tmp/bin/tandem\0bench\0--server\0x\0"));
        assert!(!is_tandem_server(b"cargo\0run\0-p\0tandem\0--\0serve\0"));
    }

    #[test]
    fn shares_add_up() {
        let at = Instant::now();
        let a = Snapshot {
            at,
            cpus: 2,
            total: 1000,
            busy: 400,
            own: 100,
            server: 200,
        };
        let b = Snapshot {
            at: at + std::time::Duration::from_secs(5),
            cpus: 2,
            total: 2000,
            busy: 1300,
            own: 400,
            server: 600,
        };
        let u = a.usage_until(&b);
        assert_eq!(u.load_generator_pct, 30.0);
        assert_eq!(u.server_pct, 40.0);
        assert_eq!(u.others_pct, 20.0);
        assert!((u.load_generator_s - 3.0).abs() < 1e-9);
        assert!((u.server_s - 4.0).abs() < 1e-9);
        assert!((u.others_s - 2.0).abs() < 1e-9);
        let twice = u + u;
        assert!((twice.wall_s - 10.0).abs() < 1e-9);
        assert!((twice.server_s - 8.0).abs() < 1e-9);
        assert!((twice.server_pct - 40.0).abs() < 1e-9);
        assert_eq!(Usage::default() + u, u);
    }
}
