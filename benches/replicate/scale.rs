//! Scale: thousands of small topics and a thousand consumer groups, replicated with checkpoints
//! and group offset sync by Java MirrorMaker 2 (defaults) and connect-mirror-maker, one after
//! the other on the same source, each to its own aliases.
//!
//! Each run is timed from its process's start until every remote topic exists, every record is
//! copied (the target's end offsets add up to the source's) and every group's offsets are synced
//! on the target (equal to its source offsets: the backlog is copied whole and the groups are
//! committed at the end offsets, so translation is exact). Then a topic created afterwards is
//! timed from its creation until its records are on the target, and a group committed
//! afterwards from its commit until it is synced. Peak RSS and CPU seconds cover the whole run.
//!
//! Sizes: BENCH_SCALE_TOPICS (default 5,000), BENCH_SCALE_PARTITIONS per topic (2),
//! BENCH_SCALE_RECORDS per partition (10, of 100 bytes), BENCH_SCALE_GROUPS (1,000, each
//! committed at the end offsets of 5 topics). BENCH_SCALE_LIMIT: the seconds a phase may take
//! (600) before it is reported as not done and the phases that need it are skipped.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mm2::kafka::admin_ffi::{
    alter_consumer_group_offsets, list_consumer_group_offsets, GroupOffset,
};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::data::{admin, delete_topics_containing, json_value};
use crate::probe::{cpu_seconds, peak_rss_mib, TopicCount};
use crate::replicators::{start, FlowSpec, Replicator, Running};

const RECORD_SIZE: usize = 100;
/// The topics each group has committed on.
const GROUP_TOPICS: usize = 5;
/// Both runs' emit.checkpoints, sync.group.offsets, refresh.topics and refresh.groups
/// intervals. Java's defaults (60 s, 60 s, 10 min, 10 min) would time the waits, not the work.
const INTERVAL_SECONDS: u32 = 5;
/// Topics per CreateTopics request: one request for thousands of topics would outlast the
/// request timeout on a busy one-node controller.
const CREATE_BATCH: usize = 500;
/// Group requests (commit, list offsets) in flight at once: librdkafka sends one request per
/// group, so these overlap, without flooding the group coordinator the replicator also uses.
const IN_FLIGHT: usize = 32;
/// How often the target is looked at.
const LOOK: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type Admin = Arc<AdminClient<DefaultClientContext>>;

struct Sizes {
    topics: usize,
    partitions: i32,
    records: i64,
    groups: usize,
    limit: Duration,
}

impl Sizes {
    fn from_env() -> Sizes {
        fn var(name: &str, default: u64) -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        }
        Sizes {
            topics: var("BENCH_SCALE_TOPICS", 5000) as usize,
            partitions: var("BENCH_SCALE_PARTITIONS", 2) as i32,
            records: var("BENCH_SCALE_RECORDS", 10) as i64,
            groups: var("BENCH_SCALE_GROUPS", 1000) as usize,
            limit: Duration::from_secs(var("BENCH_SCALE_LIMIT", 600)),
        }
    }
}

/// A consumer group's committed offsets: (topic, partition, offset).
struct Group {
    name: String,
    offsets: Vec<(String, i32, i64)>,
}

/// The part's topics and groups on the source. Dropping it deletes them, so that the brokers
/// (shared with other runs) are left as light as they were found, even after a panic.
struct Source {
    bootstrap: String,
    /// Starts every topic and group name of this part: `bench-scale-<random>`.
    prefix: String,
    topics: Vec<String>,
    partitions: i32,
    groups: Vec<Group>,
    /// The records on the topics, by their end offsets.
    total: u64,
    ends: HashMap<(String, i32), i64>,
}

impl Source {
    /// Creates the topics, loads them and commits the groups, printing how long each took.
    fn load(rt: &Runtime, bootstrap: &str, sizes: &Sizes) -> Source {
        let prefix = format!("bench-scale-{:x}", rand::random::<u32>());
        let topics: Vec<String> = (0..sizes.topics)
            .map(|i| format!("{prefix}-t{i:05}"))
            .collect();
        let mut source = Source {
            bootstrap: bootstrap.to_string(),
            prefix,
            topics,
            partitions: sizes.partitions,
            groups: Vec::new(),
            total: 0,
            ends: HashMap::new(),
        };
        let admin = Arc::new(admin(bootstrap));
        let began = Instant::now();
        create_topics(rt, &admin, &source.topics, sizes.partitions);
        let created = began.elapsed();
        produce(bootstrap, &source.topics, sizes.partitions, sizes.records);
        let produced = began.elapsed() - created;
        // What is on the source, not what was meant to be: a group is committed at the end
        // offsets, and the target must hold exactly these.
        for (topic, p, end) in TopicCount::of(bootstrap, &source.topics, sizes.partitions).ends() {
            source.ends.insert((topic, p), end);
        }
        source.total = source.ends.values().map(|&n| n as u64).sum();
        let want = sizes.topics as u64 * sizes.partitions as u64 * sizes.records as u64;
        assert_eq!(
            source.total, want,
            "the source holds {} of the {want} records produced",
            source.total
        );
        // Group j is on topics 5j..5j+4 (wrapping), so 1,000 groups cover 5,000 topics once.
        for j in 0..sizes.groups {
            let name = format!("{}-g{j:05}", source.prefix);
            let topics = (0..GROUP_TOPICS).map(|k| (j * GROUP_TOPICS + k) % sizes.topics);
            let offsets = source.offsets_on(topics.map(|i| source.topics[i].as_str()));
            source.groups.push(Group { name, offsets });
        }
        commit_groups(rt, &admin, &source.groups);
        let committed = began.elapsed() - created - produced;
        println!(
            "source: {} topics × {} partitions created in {:.1} s, {} records of {RECORD_SIZE} B \
             produced in {:.1} s, {} groups committed in {:.1} s",
            source.topics.len(),
            source.partitions,
            created.as_secs_f64(),
            source.total,
            produced.as_secs_f64(),
            source.groups.len(),
            committed.as_secs_f64()
        );
        source
    }

    /// Every partition of `topics` at its end offset.
    fn offsets_on<'a>(&self, topics: impl Iterator<Item = &'a str>) -> Vec<(String, i32, i64)> {
        topics
            .flat_map(|t| {
                (0..self.partitions).map(move |p| {
                    let end = self.ends.get(&(t.to_string(), p)).copied().unwrap_or(0);
                    (t.to_string(), p, end)
                })
            })
            .collect()
    }

    /// The `topics` regex of the runs: this part's topics, and those created during a run.
    fn topics_regex(&self) -> String {
        format!("{}-.*", self.prefix)
    }

    /// The `groups` regex of the runs: this part's groups only, not other users' of the brokers.
    fn groups_regex(&self) -> String {
        format!("{}-g.*", self.prefix)
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        delete_topics_containing(&self.bootstrap, &[&self.prefix]);
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        delete_groups(&self.bootstrap, &names);
    }
}

fn create_topics(rt: &Runtime, admin: &Admin, topics: &[String], partitions: i32) {
    // The broker answers once the topics have leaders, so the producer finds them at once.
    let options = AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT * 4))
        .operation_timeout(Some(REQUEST_TIMEOUT * 4));
    for batch in topics.chunks(CREATE_BATCH) {
        let new: Vec<NewTopic> = batch
            .iter()
            .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
            .collect();
        let results = rt
            .block_on(admin.create_topics(&new, &options))
            .expect("create topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
        }
    }
}

/// `records` records of 100 bytes to every partition of `topics`, all in flight at once.
fn produce(bootstrap: &str, topics: &[String], partitions: i32, records: i64) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "50")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()
        .expect("scale producer");
    let mut rng = SmallRng::seed_from_u64(RECORD_SIZE as u64);
    let values: Vec<Vec<u8>> = (0..256)
        .map(|_| json_value(&mut rng, RECORD_SIZE))
        .collect();
    let mut n = 0usize;
    for topic in topics {
        for p in 0..partitions {
            for _ in 0..records {
                let value = &values[n % values.len()][..];
                n += 1;
                let mut record: BaseRecord<'_, [u8], [u8]> =
                    BaseRecord::to(topic).partition(p).payload(value);
                while let Err((_, r)) = producer.send(record) {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(600))
        .expect("scale producer flush");
}

/// Runs `jobs` on `rt`, at most [`IN_FLIGHT`] at a time; their outputs in order.
fn in_flight<T, F>(rt: &Runtime, jobs: impl IntoIterator<Item = F>) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    rt.block_on(async {
        let mut set = JoinSet::new();
        let mut out: Vec<Option<T>> = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            out.push(None);
            if set.len() >= IN_FLIGHT {
                let (j, v) = set.join_next().await.unwrap().expect("group request");
                out[j] = Some(v);
            }
            set.spawn(async move { (i, job.await) });
        }
        while let Some(done) = set.join_next().await {
            let (j, v) = done.expect("group request");
            out[j] = Some(v);
        }
        out.into_iter().map(Option::unwrap).collect()
    })
}

/// Commits each group's offsets as a non-member (the groups have no consumers).
fn commit_groups(rt: &Runtime, admin: &Admin, groups: &[Group]) {
    let jobs = groups.iter().map(|g| {
        let (admin, name) = (admin.clone(), g.name.clone());
        let offsets = g
            .offsets
            .iter()
            .map(|(t, p, o)| {
                let offset = GroupOffset {
                    offset: *o,
                    metadata: String::new(),
                };
                ((t.clone(), *p), offset)
            })
            .collect();
        async move {
            let results =
                alter_consumer_group_offsets(&admin, &name, &offsets, REQUEST_TIMEOUT).await;
            (
                name,
                results.map(|r| r.into_iter().find(|(_, r)| r.is_err())),
            )
        }
    });
    for (name, result) in in_flight(rt, jobs) {
        match result {
            Ok(None) => {}
            Ok(Some((tp, e))) => panic!("commit {name} on {tp:?}: {e:?}"),
            Err(e) => panic!("commit {name}: {e}"),
        }
    }
}

/// How far a group's offsets are synced on the target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Synced {
    /// Some of its partitions have no offset there.
    Missing,
    /// Every partition has one, not all equal to the source's.
    Other,
    /// Every partition has the source's offset.
    Exact,
}

/// How far each of `groups` is synced on the target, on the remote topics of `source_alias`.
fn synced(rt: &Runtime, admin: &Admin, groups: &[&Group], source_alias: &str) -> Vec<Synced> {
    let jobs = groups.iter().map(|g| {
        let (admin, name) = (admin.clone(), g.name.clone());
        async move { list_consumer_group_offsets(&admin, &name, REQUEST_TIMEOUT).await }
    });
    in_flight(rt, jobs)
        .into_iter()
        .zip(groups)
        .map(|(target, g)| {
            let Ok(target) = target else {
                return Synced::Missing;
            };
            let on_target = |t: &str, p: i32| {
                target
                    .get(&(format!("{source_alias}.{t}"), p))
                    .map(|o| o.offset)
            };
            if g.offsets.iter().any(|(t, p, _)| on_target(t, *p).is_none()) {
                Synced::Missing
            } else if g
                .offsets
                .iter()
                .all(|(t, p, o)| on_target(t, *p) == Some(*o))
            {
                Synced::Exact
            } else {
                Synced::Other
            }
        })
        .collect()
}

fn delete_groups(bootstrap: &str, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let rt = Runtime::new().unwrap();
    let _ = rt.block_on(admin(bootstrap).delete_groups(&refs, &AdminOptions::new()));
}

/// How a phase ended.
enum Outcome {
    /// Done this many seconds after its start.
    Done(f64),
    /// Not done within its limit, given up this many seconds after its start; how far it got.
    Late(f64, String),
    /// Not tried: a phase it needs did not complete.
    Skipped,
}

impl Outcome {
    fn seconds(&self) -> Option<f64> {
        match self {
            Outcome::Done(s) => Some(*s),
            _ => None,
        }
    }

    /// The seconds it took, or at least took (`false`).
    fn bound(&self) -> Option<(f64, bool)> {
        match self {
            Outcome::Done(s) => Some((*s, true)),
            Outcome::Late(s, _) => Some((*s, false)),
            Outcome::Skipped => None,
        }
    }

    fn cell(&self) -> String {
        match self {
            Outcome::Done(s) => format!("{s:.1} s"),
            Outcome::Late(after, progress) => format!("not done by {after:.0} s ({progress})"),
            Outcome::Skipped => "skipped".into(),
        }
    }
}

/// One replicator's run.
struct ScaleRun {
    who: Replicator,
    topics: Outcome,
    records: Outcome,
    groups_present: Outcome,
    groups: Outcome,
    new_topic: Outcome,
    new_group: Outcome,
    peak_rss_mib: f64,
    /// CPU seconds until every record was copied (when they were): the same work for both,
    /// where the whole run's length depends on how long its phases took.
    cpu_copied: Option<f64>,
    cpu_seconds: f64,
    run_seconds: f64,
}

/// The replicator's process while phases are timed: its peak RSS is sampled at every look.
struct Watched {
    who: Replicator,
    running: Running,
    peak_rss_mib: f64,
}

impl Watched {
    /// Looks every [`LOOK`] until `check` is done (`Ok`) or `limit` has passed; the seconds
    /// from `since`. `check` says how far it got otherwise.
    fn until(
        &mut self,
        phase: &str,
        since: Instant,
        limit: Duration,
        mut check: impl FnMut() -> Result<(), String>,
    ) -> Outcome {
        let deadline = Instant::now() + limit;
        let outcome = loop {
            self.peak_rss_mib = self.peak_rss_mib.max(peak_rss_mib(self.running.pid()));
            let progress = match check() {
                Ok(()) => break Outcome::Done(since.elapsed().as_secs_f64()),
                Err(progress) => progress,
            };
            if let Ok(Some(status)) = self.running.child.try_wait() {
                let progress = format!("{progress}; the process exited: {status}");
                break Outcome::Late(since.elapsed().as_secs_f64(), progress);
            }
            if Instant::now() >= deadline {
                break Outcome::Late(since.elapsed().as_secs_f64(), progress);
            }
            std::thread::sleep(LOOK);
        };
        // As it happens: a run at the default size takes many minutes.
        println!("{}: {phase}: {}", self.who.label(), outcome.cell());
        outcome
    }
}

/// How many of the `remote` topics exist on the target with all their partitions.
fn remote_topics_present(admin: &Admin, remote: &[String], partitions: i32) -> usize {
    let Ok(metadata) = admin.inner().fetch_metadata(None, REQUEST_TIMEOUT) else {
        return 0;
    };
    let present: std::collections::HashSet<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && t.partitions().len() as i32 == partitions)
        .map(|t| t.name())
        .collect();
    remote
        .iter()
        .filter(|t| present.contains(t.as_str()))
        .count()
}

impl crate::Bench {
    pub fn scale(&mut self) -> Vec<String> {
        let sizes = Sizes::from_env();
        let rt = Runtime::new().unwrap();
        println!(
            "\n== scale: {} topics × {} partitions, {} records of {RECORD_SIZE} B each, \
             {} groups on {GROUP_TOPICS} topics each",
            sizes.topics, sizes.partitions, sizes.records, sizes.groups
        );
        let source = Source::load(&rt, &self.source.clone(), &sizes);
        let chosen = std::env::var("BENCH_REPLICATORS").unwrap_or_default();
        let mut runs = Vec::new();
        for who in [Replicator::JavaDefaults, Replicator::Ours]
            .into_iter()
            .filter(|w| w.label().contains(chosen.as_str()))
        {
            let run = self.scale_run(&rt, who, &source, &sizes);
            println!(
                "{}: peak RSS {:.0} MiB, CPU {:.1} s in {:.0} s",
                who.label(),
                run.peak_rss_mib,
                run.cpu_seconds,
                run.run_seconds
            );
            runs.push(run);
        }
        // Copies of this part's topics on the target: the runs' own are gone already, but a
        // brokers' other user replicating every topic of the source may have made more.
        let prefix = source.prefix.clone();
        drop(source);
        delete_topics_containing(&self.target, &[&prefix]);
        markdown(&sizes, &runs)
    }

    fn scale_run(
        &mut self,
        rt: &Runtime,
        who: Replicator,
        source: &Source,
        sizes: &Sizes,
    ) -> ScaleRun {
        let (s, t) = self.aliases();
        // The part's random suffix too: the brokers may be shared, and deleting a run's topics
        // by alias must not reach anyone else's.
        let suffix = &source.prefix["bench-scale-".len()..];
        let (s, t) = (format!("{s}-{suffix}"), format!("{t}-{suffix}"));
        let extra = format!(
            "emit.checkpoints.interval.seconds = {INTERVAL_SECONDS}\n\
             sync.group.offsets.interval.seconds = {INTERVAL_SECONDS}\n\
             refresh.topics.interval.seconds = {INTERVAL_SECONDS}\n\
             refresh.groups.interval.seconds = {INTERVAL_SECONDS}\n"
        );
        let topics_regex = source.topics_regex();
        let flow = FlowSpec {
            source: &source.bootstrap,
            target: self.target.clone(),
            source_alias: s.clone(),
            target_alias: t.clone(),
            topic: &topics_regex,
            partitions: source.partitions,
            tasks_max: crate::TASKS_MAX,
            compression: "none",
            groups: Some(source.groups_regex()),
            extra,
        };
        let remote: Vec<String> = source.topics.iter().map(|t| format!("{s}.{t}")).collect();
        let target = Arc::new(admin(&self.target));
        let source_admin = Arc::new(admin(&source.bootstrap));
        let (n_topics, total, n_groups) = (remote.len(), source.total, source.groups.len());
        let limit = sizes.limit;

        let started = Instant::now();
        let mut watched = Watched {
            who,
            running: start(who, &flow),
            peak_rss_mib: 0.0,
        };
        let topics = watched.until(
            "remote topics",
            started,
            limit,
            || match remote_topics_present(&target, &remote, source.partitions) {
                n if n >= n_topics => Ok(()),
                n => Err(format!("{n} of {n_topics} topics")),
            },
        );
        let records = if topics.seconds().is_some() {
            let count = TopicCount::of(&self.target, &remote, source.partitions);
            watched.until("records", started, limit, || match count.now() {
                n if n >= total => Ok(()),
                n => Err(format!("{n} of {total} records")),
            })
        } else {
            Outcome::Skipped
        };
        let cpu_copied = records
            .seconds()
            .map(|_| cpu_seconds(watched.running.pid()));
        // Looked at once the records are copied: a group's offsets cannot be synced before its
        // topics are copied, and 1,000 offset lookups per look would load the target meanwhile.
        let (groups_present, groups) = if records.seconds().is_some() {
            let mut pending: Vec<&Group> = source.groups.iter().collect();
            // When every group first had offsets on every partition, whatever their values:
            // Java's translation may stay below the source's offsets for long.
            let (mut present, mut n_present) = (None, 0);
            let exact = watched.until("groups synced", started, limit, || {
                let states = synced(rt, &target, &pending, &s);
                let missing = states.iter().filter(|&&s| s == Synced::Missing).count();
                n_present = n_groups - missing;
                if missing == 0 && present.is_none() {
                    present = Some(started.elapsed().as_secs_f64());
                }
                let mut states = states.into_iter();
                pending.retain(|_| states.next() != Some(Synced::Exact));
                match n_groups - pending.len() {
                    n if n >= n_groups => Ok(()),
                    n => Err(format!("{n} of {n_groups} groups")),
                }
            });
            let present = match (present, &exact) {
                (Some(at), _) => Outcome::Done(at),
                (None, Outcome::Late(after, _)) => {
                    Outcome::Late(*after, format!("{n_present} of {n_groups} groups"))
                }
                _ => Outcome::Skipped,
            };
            println!("{}: groups with offsets: {}", who.label(), present.cell());
            (present, exact)
        } else {
            (Outcome::Skipped, Outcome::Skipped)
        };

        // Taking up what is new: a topic, then a group, each timed from its own creation.
        let new_topic_name = format!("{}-new{}", source.prefix, self.runs);
        let new_topic = if records.seconds().is_some() {
            let created = Instant::now();
            let new = [new_topic_name.clone()];
            create_topics(rt, &source_admin, &new, source.partitions);
            produce(&source.bootstrap, &new, source.partitions, sizes.records);
            let want = source.partitions as u64 * sizes.records as u64;
            let count = TopicCount::of(
                &self.target,
                &[format!("{s}.{}", new[0])],
                source.partitions,
            );
            watched.until("new topic", created, limit, || match count.now() {
                n if n >= want => Ok(()),
                n => Err(format!("{n} of {want} records")),
            })
        } else {
            Outcome::Skipped
        };
        let new_group = Group {
            name: format!("{}-gnew{}", source.prefix, self.runs),
            offsets: source.offsets_on(source.topics.iter().take(GROUP_TOPICS).map(String::as_str)),
        };
        let new_group_outcome = if records.seconds().is_some() {
            let committed = Instant::now();
            commit_groups(rt, &source_admin, std::slice::from_ref(&new_group));
            watched.until("new group", committed, limit, || {
                if synced(rt, &target, &[&new_group], &s)[0] == Synced::Exact {
                    Ok(())
                } else {
                    Err("not synced".into())
                }
            })
        } else {
            Outcome::Skipped
        };

        let pid = watched.running.pid();
        let cpu = cpu_seconds(pid);
        let peak = watched.peak_rss_mib.max(peak_rss_mib(pid));
        let run_seconds = started.elapsed().as_secs_f64();
        drop(watched);
        // The run's remote and internal topics and its groups on the target; the new topic and
        // group on the source, which the next run would otherwise take for part of the backlog.
        delete_topics_containing(&self.target, &[&format!("{s}.")]);
        delete_topics_containing(&source.bootstrap, &[&format!("{t}."), &new_topic_name]);
        let mut names: Vec<String> = source.groups.iter().map(|g| g.name.clone()).collect();
        names.push(new_group.name.clone());
        // The Connect worker group of both MirrorMaker 2s (while its killed members' sessions
        // last, the broker refuses, and drops the group itself later).
        names.push(format!("{s}-mm2"));
        delete_groups(&self.target, &names);
        delete_groups(&source.bootstrap, &[new_group.name]);
        ScaleRun {
            who,
            topics,
            records,
            groups_present,
            groups,
            new_topic,
            new_group: new_group_outcome,
            peak_rss_mib: peak,
            cpu_copied,
            cpu_seconds: cpu,
            run_seconds,
        }
    }
}

/// The runs side by side, one row per measure, and Java's figure over ours (above 1: ours is
/// faster, or uses less).
fn markdown(sizes: &Sizes, runs: &[ScaleRun]) -> Vec<String> {
    let mut header = format!(
        "| {} topics × {} partitions, {} groups |",
        sizes.topics, sizes.partitions, sizes.groups
    );
    let mut rule = String::from("|---|");
    for run in runs {
        header.push_str(&format!(" {} |", run.who.label()));
        rule.push_str("---|");
    }
    header.push_str(" Java / ours |");
    rule.push_str("---|");
    let records = sizes.topics as u64 * sizes.partitions as u64 * sizes.records as u64;
    let phase = |o: &Outcome| (o.cell(), o.bound());
    // A cell, and its figure with whether it is exact (`false`: a lower bound).
    let measure = |run: &ScaleRun, row: usize| -> (String, Option<(f64, bool)>) {
        match row {
            0 => phase(&run.topics),
            1 => phase(&run.records),
            2 => phase(&run.groups_present),
            3 => phase(&run.groups),
            4 => phase(&run.new_topic),
            5 => phase(&run.new_group),
            6 => (
                format!("{:.0} MiB", run.peak_rss_mib),
                Some((run.peak_rss_mib, true)),
            ),
            7 => (
                run.cpu_copied.map_or("-".into(), |c| format!("{c:.1} s")),
                run.cpu_copied.map(|c| (c, true)),
            ),
            _ => (
                format!("{:.1} s in {:.0} s", run.cpu_seconds, run.run_seconds),
                Some((run.cpu_seconds, true)),
            ),
        }
    };
    let names = [
        format!("all {} remote topics exist, s from start", sizes.topics),
        format!("all {records} records copied, s from start"),
        format!(
            "all {} groups have offsets on the target, s from start",
            sizes.groups
        ),
        format!(
            "all {} groups synced to the source's offsets, s from start",
            sizes.groups
        ),
        "a new topic's records copied, s from its creation".to_string(),
        "a new group synced, s from its commit".to_string(),
        "peak RSS, whole run".to_string(),
        "CPU until all records copied".to_string(),
        "CPU, whole run (its length)".to_string(),
    ];
    let mut lines = vec![header, rule];
    for (row, name) in names.iter().enumerate() {
        let mut line = format!("| {name} |");
        for run in runs {
            line.push_str(&format!(" {} |", measure(run, row).0));
        }
        let value = |who| {
            runs.iter()
                .find(|r| r.who == who)
                .and_then(|r| measure(r, row).1)
        };
        let ratio = match (value(Replicator::JavaDefaults), value(Replicator::Ours)) {
            (Some((java, true)), Some((ours, true))) => format!("{:.1}×", java / ours),
            // Java not done by then: ours is at least this much faster.
            (Some((java, false)), Some((ours, true))) => format!("> {:.1}×", java / ours),
            (Some((java, true)), Some((ours, false))) => format!("< {:.1}×", java / ours),
            _ => "-".into(),
        };
        line.push_str(&format!(" {ratio} |"));
        lines.push(line);
    }
    lines
}
