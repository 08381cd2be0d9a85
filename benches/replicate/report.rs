//! The table the benchmark prints: one row per workload and replicator, and the ratios of
//! connect-mirror-maker to Java MirrorMaker 2 and to the bare copy loop.

use crate::probe::Observed;
use crate::replicators::Replicator;

pub struct Row {
    pub workload: &'static str,
    pub who: Replicator,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    pub cpu_s_per_gb: f64,
    pub mb_per_core: f64,
    pub peak_rss_mib: f64,
    /// The target broker's CPU seconds per GB copied (the whole run's), when measured.
    pub target_cpu_s_per_gb: Option<f64>,
}

impl Row {
    pub fn new(workload: &'static str, who: Replicator, size: usize, seen: &Observed) -> Row {
        let mb = seen.records as f64 * size as f64 / 1e6;
        Row {
            workload,
            who,
            records_per_s: seen.records as f64 / seen.seconds,
            mb_per_s: mb / seen.seconds,
            cpu_s_per_gb: seen.cpu_seconds / (mb / 1e3),
            mb_per_core: mb / seen.cpu_seconds,
            peak_rss_mib: seen.peak_rss_mib,
            target_cpu_s_per_gb: seen.target_cpu_seconds.map(|c| c / (mb / 1e3)),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {:.1} | {:.2} | {:.1} | {:.0} | {} |",
            self.workload,
            self.who.label(),
            self.records_per_s,
            self.mb_per_s,
            self.cpu_s_per_gb,
            self.mb_per_core,
            self.peak_rss_mib,
            self.target_cpu_s_per_gb
                .map_or("-".into(), |c| format!("{c:.2}"))
        )
    }
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn find(&self, workload: &str, who: Replicator) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.workload == workload && r.who == who)
    }

    /// The rows, then per workload: ours in MB/s per core over each Java's, and our CPU per GB
    /// over the copy loop's.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| workload | replicator | records/s | MB/s | CPU s/GB | MB/s per core | peak RSS MiB | target broker CPU s/GB |\n|---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            out.push_str(&row.line());
            out.push('\n');
        }
        out.push_str("\n| workload | ours/Java defaults (per core) | ours/Java tuned (per core) | ours/floor (CPU per GB) | batch path/Java defaults (per core) | batch path/Java tuned (per core) |\n|---|---|---|---|---|---|\n");
        let mut seen: Vec<&str> = Vec::new();
        for row in &self.rows {
            if seen.contains(&row.workload) {
                continue;
            }
            seen.push(row.workload);
            let get = |who| self.find(row.workload, who);
            let ratio = |mine: Replicator, theirs: Replicator| match (get(mine), get(theirs)) {
                (Some(m), Some(j)) => format!("{:.1}×", m.mb_per_core / j.mb_per_core),
                _ => "-".into(),
            };
            let per_core = |who| ratio(Replicator::Ours, who);
            let Some(ours) = get(Replicator::Ours).or(get(Replicator::OursBatches)) else {
                continue;
            };
            let floor = get(Replicator::Floor).map_or("-".into(), |f| {
                format!("{:.2}×", ours.cpu_s_per_gb / f.cpu_s_per_gb)
            });
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                row.workload,
                per_core(Replicator::JavaDefaults),
                per_core(Replicator::JavaTuned),
                floor,
                ratio(Replicator::OursBatches, Replicator::JavaDefaults),
                ratio(Replicator::OursBatches, Replicator::JavaTuned),
            ));
        }
        out
    }
}
