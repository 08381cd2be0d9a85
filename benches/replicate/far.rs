//! A source far away: cluster A behind a 50 ms-each-way link (scripts/far-link.py), read by
//! each replicator over one partition and over 16, against connect-mirror-maker on loopback.

use std::time::Duration;

use crate::data::{create_topic, delete_topics_containing, Backlog};
use crate::replicators::Replicator;
use crate::report::Row;

/// How long each run replicates over the link: Java MirrorMaker 2 may need hours for the
/// backlog, so every run is timed over what arrives in this window.
const WINDOW: Duration = Duration::from_secs(40);

impl crate::Bench {
    pub fn far(&mut self, far: &str) -> Vec<String> {
        let mut lines = vec![
            "| partitions | replicator | source | MB/s | MB/s per core | peak RSS MiB |\n|---|---|---|---|---|---|".to_string(),
        ];
        for (partitions, mb) in [(1, 256.0), (16, 512.0)] {
            let backlog = Backlog::of_mb(mb * self.scale, 1024, partitions, "none");
            let runs = [
                (Replicator::Ours, self.source.clone(), "loopback"),
                (Replicator::OursBatches, self.source.clone(), "loopback"),
                (Replicator::Floor, far.to_string(), "50 ms away"),
                (Replicator::JavaDefaults, far.to_string(), "50 ms away"),
                (Replicator::Ours, far.to_string(), "50 ms away"),
                (Replicator::OursBatches, far.to_string(), "50 ms away"),
            ];
            let mut loaded: Vec<(String, String)> = Vec::new();
            for (who, source, place) in runs {
                let topic = match loaded.iter().find(|(s, _)| *s == source) {
                    Some((_, t)) => t.clone(),
                    None => {
                        let t = create_topic(&source, "bench-far", partitions, &[]);
                        backlog.load(&source, &t);
                        loaded.push((source.clone(), t.clone()));
                        t
                    }
                };
                let flow = self.flow(&source, &topic, &backlog);
                let seen = self.replicate(who, &flow, backlog.count, WINDOW, |_| {});
                let row = Row::new("far", who, backlog.size, &seen);
                let line = format!(
                    "| {partitions} | {} | {place} | {:.1} | {:.1} | {:.0} |",
                    who.label(),
                    row.mb_per_s,
                    row.mb_per_core,
                    row.peak_rss_mib
                );
                println!("{line}");
                lines.push(line);
            }
            for (source, topic) in &loaded {
                delete_topics_containing(source, &[topic, "mm2-"]);
                delete_topics_containing(&self.target, &[topic, "mm2-"]);
            }
        }
        lines
    }
}
