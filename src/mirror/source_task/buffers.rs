//! How much memory a MirrorSource task's clients may hold: the consumer's prefetch and the
//! replication producer's queue. A flow's budget is shared by its `tasks.max` tasks, so one
//! process running all of them stays within it however large the backlog, and however long
//! the target is away (the producer's queue fills, then the task stops polling, then the
//! consumer's prefetch fills, then nothing grows).
//!
//! Sizes measured with benches/replicate (tasks.max=4; the memory part adds a 60 s target
//! outage): at these budgets four tasks replicate at the brokers' speed on loopback, and a
//! source 50 ms away still gets two mebibytes per task per round trip.
//!
//! Operators size them with Java's names, which win over these defaults:
//! `<source>.consumer.fetch.max.bytes` (the prefetch of one task, of which one partition may
//! take all) and `<target>.producer.buffer.memory` (the producer's queue).

use crate::kafka::props::ClientProps;

/// The prefetch of all of a flow's tasks together.
const PREFETCH_BUDGET: u64 = 16 << 20;
/// The replication producers' queues of all of a flow's tasks together (half Java's
/// `buffer.memory` default for one producer: librdkafka also keeps a copy of what is in
/// flight in its produce requests, and at 32 MiB four tasks on 16 partitions peaked at
/// 134 MiB).
const PRODUCER_BUDGET: u64 = 16 << 20;
/// No task gets less: a fetch must hold a whole `message.max.bytes` (1,000,000) record.
const MIN_PREFETCH: u64 = 1 << 20;
const MIN_PRODUCER: u64 = 2 << 20;

/// A task's share of the flow's budgets, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Buffers {
    pub prefetch: u64,
    pub producer: u64,
}

impl Buffers {
    pub fn for_tasks(tasks_max: u32) -> Buffers {
        let tasks = u64::from(tasks_max.max(1));
        Buffers {
            prefetch: (PREFETCH_BUDGET / tasks).max(MIN_PREFETCH),
            producer: (PRODUCER_BUDGET / tasks).max(MIN_PRODUCER),
        }
    }

    /// The consumer's prefetch, where the operator did not size it: `fetch.max.bytes` bounds
    /// one fetch response, at half the share because librdkafka fetches again as soon as the
    /// queue is under its threshold (so a response lands on a queue still holding about one);
    /// one partition may fill a response (a lone partition far away needs the whole fetch per
    /// round trip). Decompressed and small records cost more than their bytes here: librdkafka
    /// keeps a few hundred bytes per message and decompresses a whole response at once.
    pub fn apply_to_consumer(self, props: &mut ClientProps) {
        let default_fetch = (self.prefetch / 2).max(MIN_PREFETCH);
        props.set_default("fetch.max.bytes", default_fetch.to_string());
        // The operator's value when set (librdkafka has already checked it is a number).
        let fetch: u64 = props
            .get("fetch.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_fetch);
        props.set_default("max.partition.fetch.bytes", fetch.to_string());
        props.set_default(
            "queued.max.messages.kbytes",
            (fetch / 1024).max(1).to_string(),
        );
        // A queue of about one fetch is over its threshold right after each fetch, and then
        // librdkafka waits `fetch.queue.backoff.ms` (1 s by default) before fetching that
        // partition again: one partition copied at 11 MB/s. 10 ms keeps the fetches coming,
        // at the cost of a wake-up per 10 ms only while the task is behind.
        props.set_default("fetch.queue.backoff.ms", "10");
    }

    /// The replication producer's queue (`buffer.memory` arrives here already translated), in
    /// bytes and in records: at 100-byte records the per-message overhead, not the bytes,
    /// filled memory (one record per 256 bytes of the share).
    pub fn apply_to_producer(self, props: &mut ClientProps) {
        props.set_default(
            "queue.buffering.max.kbytes",
            (self.producer / 1024).to_string(),
        );
        props.set_default(
            "queue.buffering.max.messages",
            (self.producer / 256).to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_by_the_tasks_with_a_floor() {
        assert_eq!(
            Buffers::for_tasks(1),
            Buffers {
                prefetch: 16 << 20,
                producer: 16 << 20
            }
        );
        assert_eq!(
            Buffers::for_tasks(4),
            Buffers {
                prefetch: 4 << 20,
                producer: 4 << 20
            }
        );
        assert_eq!(
            Buffers::for_tasks(64),
            Buffers {
                prefetch: 1 << 20,
                producer: 2 << 20
            }
        );
    }

    #[test]
    fn the_operators_fetch_size_sizes_the_whole_prefetch() {
        let mut props = ClientProps::default();
        props.set("fetch.max.bytes", "2097152", false);
        Buffers::for_tasks(1).apply_to_consumer(&mut props);
        assert_eq!(props.get("fetch.max.bytes"), Some("2097152"));
        assert_eq!(props.get("max.partition.fetch.bytes"), Some("2097152"));
        assert_eq!(props.get("queued.max.messages.kbytes"), Some("2048"));
    }

    #[test]
    fn defaults_follow_the_tasks_share() {
        let mut consumer = ClientProps::default();
        let mut producer = ClientProps::default();
        let buffers = Buffers::for_tasks(4);
        buffers.apply_to_consumer(&mut consumer);
        buffers.apply_to_producer(&mut producer);
        assert_eq!(consumer.get("fetch.max.bytes"), Some("2097152"));
        assert_eq!(consumer.get("max.partition.fetch.bytes"), Some("2097152"));
        assert_eq!(consumer.get("queued.max.messages.kbytes"), Some("2048"));
        assert_eq!(consumer.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(producer.get("queue.buffering.max.kbytes"), Some("4096"));
        assert_eq!(producer.get("queue.buffering.max.messages"), Some("16384"));
        // The operator's `buffer.memory`, translated, wins.
        let mut producer = ClientProps::default();
        producer.set("queue.buffering.max.kbytes", "1024", false);
        buffers.apply_to_producer(&mut producer);
        assert_eq!(producer.get("queue.buffering.max.kbytes"), Some("1024"));
    }
}
