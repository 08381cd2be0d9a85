//! Topic administration in domain terms: list topics with their partition counts, describe topic
//! configs, create topics and partitions. Blocking librdkafka calls run off the async threads.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::admin_ffi::{self, AclBinding, TopicConfigChanges};
use super::client::{create, LogContext};
use super::events::EventPump;
use super::props::ClientProps;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{what} on cluster `{cluster}` failed: {source}")]
    Kafka {
        what: &'static str,
        cluster: String,
        #[source]
        source: KafkaError,
    },
    #[error("{what} on cluster `{cluster}` failed: {message}")]
    Other {
        what: &'static str,
        cluster: String,
        message: String,
    },
}

/// One topic config entry as described by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// The broker's built-in default (`DEFAULT_CONFIG`).
    pub is_default: bool,
    pub is_read_only: bool,
    pub is_sensitive: bool,
    /// Set in the broker's static configuration file (`STATIC_BROKER_CONFIG`).
    pub is_static_broker: bool,
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopicSpec {
    pub name: String,
    pub partitions: i32,
    /// -1 for the broker's default.
    pub replication_factor: i32,
    pub configs: Vec<(String, String)>,
}

/// The topic administration MirrorSourceConnector needs, so that its decisions can be unit-tested
/// against a fake.
pub trait TopicAdmin: Send + Sync + 'static {
    /// The cluster's alias, for messages.
    fn cluster(&self) -> &str;
    /// Every topic with its partition count.
    fn topics(&self) -> impl Future<Output = Result<BTreeMap<String, i32>, AdminError>> + Send;
    /// The config entries of each topic.
    fn describe_topic_configs(
        &self,
        topics: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<ConfigEntry>>, AdminError>> + Send;
    /// Creates topics; one that exists already counts as created.
    fn create_topics(&self, topics: &[NewTopicSpec]) -> impl Future<Output = TopicResults> + Send;
    /// Raises partition counts.
    fn create_partitions(
        &self,
        increases: &[(String, usize)],
    ) -> impl Future<Output = TopicResults> + Send;
    /// SET and DELETE topic config entries.
    fn incremental_alter_topic_configs(
        &self,
        changes: &[TopicConfigChanges],
    ) -> impl Future<Output = TopicResults> + Send;
    /// Topic ACLs; `None` when the cluster has no authorizer.
    fn describe_topic_acls(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<AclBinding>>, AdminError>> + Send;
    /// Creates ACL bindings.
    fn create_acls(
        &self,
        acls: &[AclBinding],
    ) -> impl Future<Output = Result<Vec<Result<(), String>>, AdminError>> + Send;
}

/// Per-topic outcomes of a request.
pub type TopicResults = Result<Vec<(String, Result<(), String>)>, AdminError>;

/// An admin client of one cluster.
#[derive(Clone)]
pub struct Admin {
    client: Arc<AdminClient<LogContext>>,
    /// Serves the client's logs and errors; dropped (and joined) after `client`.
    _events: Arc<EventPump>,
    cluster: String,
    timeout: Duration,
}

impl Admin {
    pub fn new(
        props: &ClientProps,
        cluster: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Self, AdminError> {
        let client: AdminClient<LogContext> =
            create(props, name, LogContext::new(name)).map_err(|source| AdminError::Kafka {
                what: "creating an admin client",
                cluster: cluster.to_string(),
                source,
            })?;
        let client = Arc::new(client);
        let events = EventPump::start(client.inner(), client.clone(), name.to_string());
        Ok(Admin {
            client,
            _events: Arc::new(events),
            cluster: cluster.to_string(),
            timeout,
        })
    }

    /// The raw client, for the C-API wrappers.
    pub fn client(&self) -> &AdminClient<LogContext> {
        &self.client
    }

    /// How long each call waits.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn kafka(&self, what: &'static str) -> impl FnOnce(KafkaError) -> AdminError + '_ {
        move |source| AdminError::Kafka {
            what,
            cluster: self.cluster.clone(),
            source,
        }
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }
}

impl TopicAdmin for Admin {
    fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Every topic with its partition count.
    async fn topics(&self) -> Result<BTreeMap<String, i32>, AdminError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let md = tokio::task::spawn_blocking(move || client.inner().fetch_metadata(None, timeout))
            .await
            .expect("metadata thread")
            .map_err(self.kafka("listing topics"))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect())
    }

    /// The config entries of each topic; topics that cannot be described are left out.
    async fn describe_topic_configs(
        &self,
        topics: &[String],
    ) -> Result<BTreeMap<String, Vec<ConfigEntry>>, AdminError> {
        let specs: Vec<ResourceSpecifier<'_>> =
            topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
        let results = self
            .client
            .describe_configs(&specs, &self.options())
            .await
            .map_err(self.kafka("describing topic configs"))?;
        let mut out = BTreeMap::new();
        for (topic, result) in topics.iter().zip(results) {
            let Ok(resource) = result else { continue };
            let entries = resource
                .entries
                .into_iter()
                .map(|e| ConfigEntry {
                    is_default: e.is_default || matches!(e.source, ConfigSource::Default),
                    is_static_broker: matches!(e.source, ConfigSource::StaticBroker),
                    name: e.name,
                    value: e.value,
                    is_read_only: e.is_read_only,
                    is_sensitive: e.is_sensitive,
                })
                .collect();
            out.insert(topic.clone(), entries);
        }
        Ok(out)
    }

    /// Creates topics; one that already exists counts as created. Sent in requests of at most
    /// `CREATE_RECORDS_PER_REQUEST` metadata records: a KRaft controller applies one request
    /// as one batch and refuses the whole of it (as a policy violation) past 10,000 records,
    /// which a first start against a cluster of thousands of topics reaches.
    async fn create_topics(&self, topics: &[NewTopicSpec]) -> TopicResults {
        let mut out = Vec::with_capacity(topics.len());
        for chunk in create_requests(topics) {
            let new: Vec<NewTopic<'_>> = chunk
                .iter()
                .map(|t| {
                    t.configs.iter().fold(
                        NewTopic::new(
                            &t.name,
                            t.partitions,
                            TopicReplication::Fixed(t.replication_factor),
                        ),
                        |n, (k, v)| n.set(k, v),
                    )
                })
                .collect();
            let results = self
                .client
                .create_topics(&new, &self.options())
                .await
                .map_err(self.kafka("creating topics"))?;
            out.extend(results.into_iter().map(|r| match r {
                Ok(t) => (t, Ok(())),
                Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => (t, Ok(())),
                Err((t, e)) => (t, Err(e.to_string())),
            }));
        }
        Ok(out)
    }

    /// Raises partition counts.
    async fn create_partitions(&self, increases: &[(String, usize)]) -> TopicResults {
        let new: Vec<NewPartitions<'_>> = increases
            .iter()
            .map(|(t, n)| NewPartitions::new(t, *n))
            .collect();
        let results = self
            .client
            .create_partitions(&new, &self.options())
            .await
            .map_err(self.kafka("creating partitions"))?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                Ok(t) => (t, Ok(())),
                Err((t, e)) => (t, Err(e.to_string())),
            })
            .collect())
    }

    /// SET and DELETE topic config entries (IncrementalAlterConfigs).
    async fn incremental_alter_topic_configs(
        &self,
        changes: &[TopicConfigChanges],
    ) -> TopicResults {
        let results =
            admin_ffi::incremental_alter_topic_configs(&self.client, changes, self.timeout)
                .await
                .map_err(|e| AdminError::Other {
                    what: "altering topic configs",
                    cluster: self.cluster.clone(),
                    message: e.to_string(),
                })?;
        Ok(results
            .into_iter()
            .map(|(t, r)| (t, r.map_err(|e| e.to_string())))
            .collect())
    }

    /// The topic ACLs; `Ok(None)` when the cluster has no authorizer.
    async fn describe_topic_acls(&self) -> Result<Option<Vec<AclBinding>>, AdminError> {
        match admin_ffi::describe_topic_acls(&self.client, self.timeout).await {
            Ok(acls) => Ok(Some(acls)),
            Err(admin_ffi::AdminError::SecurityDisabled) => Ok(None),
            Err(e) => Err(AdminError::Other {
                what: "describing ACLs",
                cluster: self.cluster.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Creates ACL bindings.
    async fn create_acls(
        &self,
        acls: &[AclBinding],
    ) -> Result<Vec<Result<(), String>>, AdminError> {
        let results = admin_ffi::create_acls(&self.client, acls, self.timeout)
            .await
            .map_err(|e| AdminError::Other {
                what: "creating ACLs",
                cluster: self.cluster.clone(),
                message: e.to_string(),
            })?;
        Ok(results
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect())
    }
}

/// The cluster id, asked of the cluster with a short timeout by a client named `name`; `None`
/// if unreachable. Blocking.
pub fn cluster_id(props: &ClientProps, name: &str) -> Option<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut props = props.clone();
    props.set_default("group.id", "mm2-cluster-id");
    let consumer: BaseConsumer<LogContext> = create(&props, name, LogContext::new(name)).ok()?;
    consumer.client().fetch_cluster_id(Duration::from_secs(10))
}

/// Metadata records one CreateTopics request may cost: half of the 10,000 a KRaft controller
/// accepts in one batch, leaving room for the records it adds itself.
const CREATE_RECORDS_PER_REQUEST: usize = 5_000;

/// `topics` split into consecutive requests of at most `CREATE_RECORDS_PER_REQUEST` records
/// each (one per topic, one per partition, one per config); a topic larger than that goes alone.
fn create_requests(topics: &[NewTopicSpec]) -> Vec<&[NewTopicSpec]> {
    let mut requests = Vec::new();
    let (mut start, mut records) = (0, 0);
    for (i, t) in topics.iter().enumerate() {
        let cost = 1 + t.partitions.max(0) as usize + t.configs.len();
        if i > start && records + cost > CREATE_RECORDS_PER_REQUEST {
            requests.push(&topics[start..i]);
            (start, records) = (i, 0);
        }
        records += cost;
    }
    if start < topics.len() {
        requests.push(&topics[start..]);
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(partitions: i32, configs: usize) -> NewTopicSpec {
        NewTopicSpec {
            name: "t".into(),
            partitions,
            replication_factor: 1,
            configs: vec![("k".into(), "v".into()); configs],
        }
    }

    #[test]
    fn topic_creation_is_split_below_the_controllers_batch_limit() {
        assert!(create_requests(&[]).is_empty());
        // 3,000 topics of one partition and one config: 3 records each.
        let many = vec![topic(1, 1); 3_000];
        let sizes: Vec<usize> = create_requests(&many).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![1_666, 1_334]);
        // A topic above the limit on its own still goes, alone.
        let big = [topic(1, 0), topic(6_000, 0), topic(1, 0)];
        let sizes: Vec<usize> = create_requests(&big).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![1, 1, 1]);
    }
}
