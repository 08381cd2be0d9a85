//! The memory bound: connect-mirror-maker with tasks.max=4 and default settings on a large
//! backlog over 16 partitions, the target stopped for 60 s once a fifth has arrived. Its peak
//! RSS must stay at most 128 MiB; on the batch path with zstd batches, at most 64 MiB.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::data::{create_topic, delete_topics_containing, Backlog};
use crate::replicators::Replicator;

const OUTAGE: Duration = Duration::from_secs(60);
const BOUND_MIB: f64 = 128.0;
/// The batch path's bound on zstd data: it holds compressed bytes only.
const BATCH_BOUND_MIB: f64 = 64.0;

fn signal(pid: &str, sig: &str) {
    let _ = Command::new("kill").args([sig, pid]).status();
}

impl crate::Bench {
    /// `target_pid`: the target broker's JVM, stopped (SIGSTOP) for the outage. One run on the
    /// record path (uncompressed), one on the batch path (zstd).
    pub fn memory(&mut self, target_pid: Option<String>) -> Vec<String> {
        vec![
            self.memory_run(&target_pid, Replicator::Ours, "none", BOUND_MIB),
            self.memory_run(
                &target_pid,
                Replicator::OursBatches,
                "zstd",
                BATCH_BOUND_MIB,
            ),
        ]
    }

    fn memory_run(
        &mut self,
        target_pid: &Option<String>,
        who: Replicator,
        compression: &'static str,
        bound: f64,
    ) -> String {
        let backlog = Backlog::of_mb(1024.0 * self.scale, 1024, 16, compression);
        let topic = create_topic(&self.source, "bench-memory", backlog.partitions, &[]);
        backlog.load(&self.source, &topic);
        let source = self.source.clone();
        let flow = self.flow(&source, &topic, &backlog);
        let mut outage: Option<Instant> = None;
        let mut resumed = false;
        let seen = self.replicate(who, &flow, backlog.count, Duration::from_secs(900), |n| {
            let Some(pid) = &target_pid else { return };
            match outage {
                None if n >= backlog.count / 5 => {
                    signal(pid, "-STOP");
                    outage = Some(Instant::now());
                }
                Some(at) if !resumed && at.elapsed() >= OUTAGE => {
                    signal(pid, "-CONT");
                    resumed = true;
                }
                _ => {}
            }
        });
        if let Some(pid) = &target_pid {
            signal(pid, "-CONT");
        }
        delete_topics_containing(&self.source, &[&topic, "mm2-"]);
        delete_topics_containing(&self.target, &[&topic, "mm2-"]);
        let outage = if target_pid.is_some() {
            "with a 60 s target outage"
        } else {
            "no outage (BENCH_TARGET_PID unset)"
        };
        let verdict = if seen.peak_rss_mib <= bound {
            "within"
        } else {
            "OVER"
        };
        format!(
            "memory: {}, tasks.max=4, {:.0} MB backlog ({compression}) over 16 partitions, {outage}: peak RSS {:.0} MiB, {verdict} the {bound:.0} MiB bound",
            who.label(),
            backlog.bytes() as f64 / 1e6,
            seen.peak_rss_mib
        )
    }
}
