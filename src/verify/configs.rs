//! Topic config drift, judged by the connector's own rule (`TopicSelector::config_ops`): a
//! config differs exactly when the next config sync would change it on the remote topic.

use crate::kafka::admin::ConfigEntry;
use crate::kafka::admin_ffi::AlterKind;
use crate::mirror::topic_sync::TopicSelector;

/// One config the connector would change: `(name, source value, target value)`; a `None` source
/// value means the source uses its default, which the connector leaves to the target (a DELETE).
pub type Drift = (String, Option<String>, Option<String>);

/// The configs of a remote topic that the connector would change to follow its source.
pub fn drift(
    selector: &TopicSelector,
    source: &[ConfigEntry],
    target: &[ConfigEntry],
) -> Vec<Drift> {
    let find = |name: &str| target.iter().find(|e| e.name == name);
    let mut out = Vec::new();
    for op in selector.config_ops(source) {
        let remote = find(&op.name);
        match op.kind {
            AlterKind::Set => {
                let value = remote.and_then(|e| e.value.clone());
                if value != op.value {
                    out.push((op.name, op.value, value));
                }
            }
            // The target's default applies: only a value set on the remote topic itself (not a
            // default, nor the broker's file) is drift, and only if it differs from the source.
            AlterKind::Delete => {
                let Some(e) = remote else { continue };
                let source_value = source
                    .iter()
                    .find(|s| s.name == op.name)
                    .and_then(|s| s.value.clone());
                if !e.is_default && !e.is_static_broker && e.value != source_value {
                    out.push((op.name, None, e.value.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::topic_sync::tests::entry;

    #[test]
    fn drift_is_what_the_connector_would_change() {
        let text = "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\n";
        let cfg = crate::config::from_properties(
            crate::config::Properties::parse(text.as_bytes()).unwrap(),
            &[],
            &crate::config::Environment::Fixed(Default::default()),
        )
        .unwrap();
        let s = TopicSelector::new(&cfg.flow("A", "B").unwrap().settings, "A", "B");
        let source = vec![
            entry("retention.ms", "1000", false),
            entry("cleanup.policy", "delete", true),
            entry("segment.ms", "5", false),
        ];
        let same = vec![
            entry("retention.ms", "1000", false),
            entry("cleanup.policy", "delete", true),
            entry("segment.ms", "5", false),
        ];
        assert!(drift(&s, &source, &same).is_empty());
        let drifted = vec![
            entry("retention.ms", "2000", false),
            entry("cleanup.policy", "compact", false),
            entry("segment.ms", "5", false),
        ];
        assert_eq!(
            drift(&s, &source, &drifted),
            vec![
                (
                    "retention.ms".into(),
                    Some("1000".into()),
                    Some("2000".into())
                ),
                ("cleanup.policy".into(), None, Some("compact".into()))
            ]
        );
    }
}
