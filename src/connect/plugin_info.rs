//! Plugin descriptions for `GET /connector-plugins` and config validation for
//! `PUT /connector-plugins/{plugin}/config/validate`, in Connect's `ConfigInfos` shape.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::connector::ConfigMap;
use super::status::ConnectorType;

/// `PluginInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    pub version: String,
}

/// One config key a plugin accepts.
#[derive(Debug, Clone)]
pub struct KeyDef {
    pub name: &'static str,
    /// Connect's type name: STRING, INT, BOOLEAN, LIST, CLASS, PASSWORD.
    pub kind: &'static str,
    pub default: Option<&'static str>,
    pub required: bool,
    pub importance: &'static str,
    pub group: &'static str,
    pub doc: &'static str,
}

impl KeyDef {
    pub const fn new(name: &'static str, kind: &'static str, doc: &'static str) -> Self {
        KeyDef {
            name,
            kind,
            default: None,
            required: false,
            importance: "MEDIUM",
            group: "Common",
            doc,
        }
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self.importance = "HIGH";
        self
    }

    pub const fn group(mut self, group: &'static str) -> Self {
        self.group = group;
        self
    }
}

/// The keys every connector accepts (Connect's `ConnectorConfig`).
pub const COMMON: &[KeyDef] = &[
    KeyDef::new("name", "STRING", "Globally unique name to use for this connector.").required(),
    KeyDef::new(
        "connector.class",
        "STRING",
        "Name or alias of the class for this connector.",
    )
    .required(),
    KeyDef::new("tasks.max", "INT", "Maximum number of tasks to use for this connector.")
        .default("1"),
    KeyDef::new(
        "key.converter",
        "CLASS",
        "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
    ),
    KeyDef::new(
        "value.converter",
        "CLASS",
        "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
    ),
    KeyDef::new(
        "header.converter",
        "CLASS",
        "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.",
    ),
];

/// The outcome of validating one config against a plugin's keys.
#[derive(Debug, Clone)]
pub struct Validation {
    pub class: String,
    pub defs: Vec<KeyDef>,
    /// Errors by key.
    pub errors: BTreeMap<String, Vec<String>>,
}

impl Validation {
    pub fn new(class: &str, plugin_keys: &[KeyDef]) -> Self {
        Validation {
            class: class.to_string(),
            defs: COMMON.iter().chain(plugin_keys).cloned().collect(),
            errors: BTreeMap::new(),
        }
    }

    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors
            .entry(key.to_string())
            .or_default()
            .push(message.into());
    }

    /// Checks required keys and integer and boolean values.
    pub fn check_types(&mut self, config: &ConfigMap) {
        for d in self.defs.clone() {
            match config.get(d.name) {
                None if d.required => self.error(
                    d.name,
                    format!("Missing required configuration \"{}\" which has no default value.", d.name),
                ),
                Some(v) if d.kind == "INT" && v.trim().parse::<i32>().is_err() => self.error(
                    d.name,
                    format!("Invalid value {v} for configuration {}: Not a number of type INT", d.name),
                ),
                Some(v) if d.kind == "BOOLEAN" && !matches!(v.trim().to_lowercase().as_str(), "true" | "false") => {
                    self.error(
                        d.name,
                        format!("Invalid value {v} for configuration {}: Expected value to be either true or false", d.name),
                    )
                }
                _ => {}
            }
        }
    }

    pub fn error_count(&self) -> usize {
        self.errors.values().map(Vec::len).sum()
    }

    /// Each error as `key: message`, for the message of a rejected create.
    pub fn messages(&self) -> Vec<String> {
        self.errors
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |m| format!("{k}: {m}")))
            .collect()
    }

    /// `ConfigKeyInfo` of every key, in order: what `GET /connector-plugins/{plugin}/config`
    /// lists and each `definition` of a validation.
    pub fn definitions(&self) -> Vec<Value> {
        self.defs
            .iter()
            .enumerate()
            .map(|(order, d)| {
                json!({
                    "name": d.name,
                    "type": d.kind,
                    "required": d.required,
                    "default_value": d.default,
                    "importance": d.importance,
                    "documentation": d.doc,
                    "group": d.group,
                    "width": "NONE",
                    "display_name": d.name,
                    "dependents": [],
                    "order": order + 1,
                })
            })
            .collect()
    }

    /// `ConfigInfos`.
    pub fn to_json(&self, config: &ConfigMap) -> Value {
        let mut groups: Vec<&str> = Vec::new();
        for d in &self.defs {
            if !groups.contains(&d.group) {
                groups.push(d.group);
            }
        }
        let mut configs: Vec<Value> = Vec::new();
        for (d, definition) in self.defs.iter().zip(self.definitions()) {
            configs.push(json!({
                "definition": definition,
                "value": {
                    "name": d.name,
                    "value": config.get(d.name).cloned().or(d.default.map(String::from)),
                    "recommended_values": [],
                    "errors": self.errors.get(d.name).cloned().unwrap_or_default(),
                    "visible": true,
                }
            }));
        }
        json!({
            "name": self.class,
            "error_count": self.error_count(),
            "groups": groups,
            "configs": configs,
        })
    }
}

/// Whether `name` names `class`: the full class name, the simple name, or the simple name
/// without its `Connector` suffix, as Connect's plugin aliases.
pub fn names_class(name: &str, class: &str) -> bool {
    let simple = class.rsplit('.').next().unwrap_or(class);
    name == class || name == simple || simple.strip_suffix("Connector") == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_simple_names_with_or_without_the_suffix() {
        let c = "org.apache.kafka.connect.file.FileStreamSourceConnector";
        assert!(names_class(c, c));
        assert!(names_class("FileStreamSourceConnector", c));
        assert!(names_class("FileStreamSource", c));
        assert!(!names_class("FileStreamSink", c));
    }

    #[test]
    fn validation_reports_missing_and_mistyped_keys() {
        let mut v = Validation::new("X", &[]);
        let config = ConfigMap::from([("tasks.max".to_string(), "many".to_string())]);
        v.check_types(&config);
        assert_eq!(v.error_count(), 3);
        let json = v.to_json(&config);
        assert_eq!(json["error_count"], 3);
        assert_eq!(json["configs"][2]["value"]["value"], "many");
        assert_eq!(json["groups"], json!(["Common"]));
    }
}
