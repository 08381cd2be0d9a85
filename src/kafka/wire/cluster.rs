//! One cluster as the protocol client sees it: its brokers, the leaders of the partitions it
//! was asked about, and a connection per broker, opened when first needed and again after it
//! breaks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{Connection, Security, WireError};

/// How long a metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);
/// The highest Metadata version asked for (v12 names topics and carries their ids).
const METADATA_VERSION: i16 = 12;

/// Where a partition is led.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leader {
    pub node: i32,
    pub epoch: i32,
}

pub struct Cluster {
    security: Security,
    /// node id → `host:port`.
    brokers: HashMap<i32, String>,
    /// topic → leader by partition (`None` while it has none).
    topics: HashMap<String, Vec<Option<Leader>>>,
    connections: HashMap<i32, Arc<Connection>>,
    /// The connection made to a bootstrap server, before node ids are known.
    bootstrap: Option<Arc<Connection>>,
}

impl Cluster {
    pub fn new(security: Security) -> Cluster {
        Cluster {
            security,
            brokers: HashMap::new(),
            topics: HashMap::new(),
            connections: HashMap::new(),
            bootstrap: None,
        }
    }

    pub fn security(&self) -> &Security {
        &self.security
    }

    /// A live connection to some broker: a known one, else a bootstrap server.
    pub async fn any(&mut self) -> Result<Arc<Connection>, WireError> {
        if let Some(c) = self.connections.values().find(|c| !c.is_broken()) {
            return Ok(c.clone());
        }
        if let Some(c) = self.bootstrap.as_ref().filter(|c| !c.is_broken()) {
            return Ok(c.clone());
        }
        let mut last = None;
        let known: Vec<String> = self.brokers.values().cloned().collect();
        for server in self.security.bootstrap.clone().iter().chain(known.iter()) {
            match Connection::open(server, &self.security).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    self.bootstrap = Some(c.clone());
                    return Ok(c);
                }
                // A refused login will not change with another broker.
                Err(e @ WireError::Auth { .. }) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| WireError::Unreachable(self.security.bootstrap.join(","))))
    }

    /// A live connection to broker `node`.
    pub async fn node(&mut self, node: i32) -> Result<Arc<Connection>, WireError> {
        if let Some(c) = self.connections.get(&node).filter(|c| !c.is_broken()) {
            return Ok(c.clone());
        }
        let address = self
            .brokers
            .get(&node)
            .cloned()
            .ok_or_else(|| WireError::Unreachable(format!("broker {node}")))?;
        let c = Arc::new(Connection::open(&address, &self.security).await?);
        self.connections.insert(node, c.clone());
        Ok(c)
    }

    /// Forgets the connection to `node` (it broke, or its answers cannot be trusted).
    pub fn drop_node(&mut self, node: i32) {
        self.connections.remove(&node);
    }

    /// Asks for the leaders of `topics` (and learns every broker's address).
    pub async fn refresh(&mut self, topics: &[&str]) -> Result<(), WireError> {
        let c = self.any().await?;
        let version = c
            .version::<MetadataRequest>(METADATA_VERSION)
            .ok_or_else(|| WireError::Protocol {
                broker: c.broker().to_string(),
                api: "Metadata",
                reason: "no common version".into(),
            })?;
        let request = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.to_string()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false);
        let r = match c.call(&request, version, METADATA_TIMEOUT).await {
            Ok(r) => r,
            Err(e) => {
                self.bootstrap = None;
                self.connections.retain(|_, k| !Arc::ptr_eq(k, &c));
                return Err(e);
            }
        };
        self.brokers = r
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        // A broker that left is forgotten with its connection.
        self.connections
            .retain(|n, _| r.brokers.iter().any(|b| b.node_id.0 == *n));
        for t in &r.topics {
            let Some(name) = &t.name else { continue };
            if t.error_code != 0 {
                self.topics.remove(name.0.as_str());
                continue;
            }
            let n = t
                .partitions
                .iter()
                .map(|p| p.partition_index + 1)
                .max()
                .unwrap_or(0);
            let mut leaders = vec![None; n.max(0) as usize];
            for p in &t.partitions {
                if p.leader_id.0 >= 0 && p.partition_index >= 0 {
                    leaders[p.partition_index as usize] = Some(Leader {
                        node: p.leader_id.0,
                        epoch: p.leader_epoch,
                    });
                }
            }
            self.topics.insert(name.0.to_string(), leaders);
        }
        Ok(())
    }

    /// The leader of a partition, as last refreshed.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<Leader> {
        let leaders = self.topics.get(topic)?;
        *leaders.get(usize::try_from(partition).ok()?)?
    }

    /// How many partitions a topic has, as last refreshed.
    pub fn partitions(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(Vec::len)
    }
}
