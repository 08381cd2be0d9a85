//! Kafka Connect's three stock converters (StringConverter, ByteArrayConverter, JsonConverter),
//! producing and accepting the same bytes as Apache Kafka's, so topics written by either
//! implementation read the same in the other.
//!
//! Connect values are modelled loosely ([`Data`]): JSON for everything but top-level bytes.
//! Inside JSON, bytes are base64 strings (as JsonConverter writes them), a map with non-string
//! keys is an array of `[key, value]` pairs (its JSON encoding), and logical types (Decimal,
//! Date, Time, Timestamp) are their underlying bytes or integers.
//!
//! JSON is written the way Jackson writes it, not the way serde_json does: doubles as Java's
//! `Double.toString` ("1.0E20"), control characters escaped with upper-case hex (`\u001F`),
//! schemas and struct payloads with their fields in Java's order.
//!
//! Layout: this file holds the data model, the converter choice and dispatch; `schema` parses
//! and writes Connect schemas, `json` is JsonConverter, `jackson` prints and reads JSON values
//! as Jackson does.

mod jackson;
mod json;
mod schema;

use std::collections::BTreeMap;

use serde_json::Value;

use jackson::{java_class, write_plain};
use json::{json_from_connect, json_to_connect};
use schema::{parse_schema_opt, Type};

/// Connect data as connectors see it (simplified Connect data model).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Bytes(Vec<u8>),
    /// Strings are `Json(Value::String)`.
    Json(Value),
}

/// A value with its optional Connect schema (the schema JSON as JsonConverter writes it, e.g.
/// `{"type":"string","optional":false}`).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<Value>,
    pub value: Data,
}

impl SchemaAndValue {
    /// Java's `SchemaAndValue.NULL`: no schema, no value.
    pub const NULL: SchemaAndValue = SchemaAndValue {
        schema: None,
        value: Data::Null,
    };
}

/// One of the converters Kafka Connect ships, as configured for a key or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    String,
    ByteArray,
    Json { schemas_enable: bool },
}

/// A value the converter cannot translate; the texts are those of Java's `DataException`s.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{converter} is not compatible with objects of type {found}")]
    Incompatible {
        converter: &'static str,
        found: &'static str,
    },
    /// Java would write `[B@<identity hash>`; refusing beats replicating garbage.
    #[error(
        "StringConverter cannot serialize a byte[] value (Java would write the array's identity \
         hash, not its content); use ByteArrayConverter or JsonConverter"
    )]
    StringFromBytes,
    #[error("Invalid schema type for ByteArrayConverter: {0}")]
    ByteArraySchema(&'static str),
    #[error("Invalid type for {schema_type}: {found}")]
    InvalidType {
        schema_type: &'static str,
        found: &'static str,
    },
    #[error("Invalid type for bytes type: {0}")]
    InvalidBytesType(&'static str),
    #[error("Conversion error: null value for field that is required and has no default value")]
    RequiredNull,
    #[error("Invalid null value for required {0} field")]
    NullForRequired(&'static str),
    #[error("{0} is not a valid field name")]
    UnknownField(String),
    #[error(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not \
         contain additional fields. If you are trying to deserialize plain JSON data, set \
         schemas.enable=false in your converter configuration."
    )]
    Envelope,
    #[error("Converting byte[] to Kafka Connect data failed due to serialization error: {0}")]
    Parse(#[source] serde_json::Error),
    #[error("Invalid bytes field: {0}")]
    InvalidBytes(#[source] base64::DecodeError),
    /// A schema JsonConverter cannot read ("Schema must contain 'type' field", ...).
    #[error("{0}")]
    Schema(String),
    /// A payload whose shape does not fit its map or struct schema.
    #[error("{0}")]
    Payload(String),
}

const STRING_CLASS: &str = "org.apache.kafka.connect.storage.StringConverter";
const BYTE_ARRAY_CLASS: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
const JSON_CLASS: &str = "org.apache.kafka.connect.json.JsonConverter";

impl Converter {
    /// From a converter class name (full Java name or simple name) and its settings with the
    /// `key.converter.`/`value.converter.` prefix already stripped. Settings this
    /// implementation cannot honour are refused rather than silently ignored.
    pub fn from_config(
        class: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<Converter, String> {
        let class = class.trim();
        let simple = class.rsplit('.').next().unwrap_or(class);
        let known = [STRING_CLASS, BYTE_ARRAY_CLASS, JSON_CLASS];
        if class.contains('.') && !known.contains(&class) {
            return Err(format!(
                "unknown converter class {class} (supported: {})",
                known.join(", ")
            ));
        }
        match simple {
            "StringConverter" => {
                if let Some(encoding) = settings.get("converter.encoding") {
                    let e = encoding.trim().to_ascii_uppercase();
                    if e != "UTF8" && e != "UTF-8" {
                        return Err(format!(
                            "{STRING_CLASS}: converter.encoding={encoding} is not supported (only UTF-8)"
                        ));
                    }
                }
                Ok(Converter::String)
            }
            "ByteArrayConverter" => Ok(Converter::ByteArray),
            "JsonConverter" => {
                let schemas_enable = match settings.get("schemas.enable") {
                    None => true,
                    Some(v) => java_bool("schemas.enable", v)?,
                };
                if let Some(v) = settings.get("replace.null.with.default") {
                    if !java_bool("replace.null.with.default", v)? {
                        return Err(format!(
                            "{JSON_CLASS}: replace.null.with.default=false is not supported"
                        ));
                    }
                }
                if let Some(v) = settings.get("decimal.format") {
                    if !v.trim().eq_ignore_ascii_case("BASE64") {
                        return Err(format!(
                            "{JSON_CLASS}: decimal.format={v} is not supported (only BASE64)"
                        ));
                    }
                }
                Ok(Converter::Json { schemas_enable })
            }
            _ => Err(format!(
                "unknown converter class {class} (supported: {})",
                known.join(", ")
            )),
        }
    }

    /// Serialize (fromConnectData): `None` means a null record value.
    pub fn serialize(&self, data: &SchemaAndValue) -> Result<Option<Vec<u8>>, ConvertError> {
        match self {
            Converter::String => match &data.value {
                Data::Null | Data::Json(Value::Null) => Ok(None),
                Data::Bytes(_) => Err(ConvertError::StringFromBytes),
                value => Ok(Some(display(value).into_bytes())),
            },
            Converter::ByteArray => {
                if let Some(schema) = parse_schema_opt(data.schema.as_ref())? {
                    if schema.ty() != Type::Bytes {
                        return Err(ConvertError::ByteArraySchema(schema.ty().java_name()));
                    }
                }
                match &data.value {
                    Data::Null | Data::Json(Value::Null) => Ok(None),
                    Data::Bytes(bytes) => Ok(Some(bytes.clone())),
                    Data::Json(value) => Err(ConvertError::Incompatible {
                        converter: "ByteArrayConverter",
                        found: java_class(value),
                    }),
                }
            }
            Converter::Json { schemas_enable } => json_from_connect(*schemas_enable, data),
        }
    }

    /// Deserialize (toConnectData).
    pub fn deserialize(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue, ConvertError> {
        match self {
            // Java decodes with `new String(bytes, UTF_8)`, which replaces malformed input.
            Converter::String => Ok(SchemaAndValue {
                schema: Some(optional_schema("string")),
                value: match bytes {
                    None => Data::Null,
                    Some(b) => Data::Json(Value::String(String::from_utf8_lossy(b).into_owned())),
                },
            }),
            Converter::ByteArray => Ok(SchemaAndValue {
                schema: Some(optional_schema("bytes")),
                value: bytes.map_or(Data::Null, |b| Data::Bytes(b.to_vec())),
            }),
            Converter::Json { schemas_enable } => json_to_connect(*schemas_enable, bytes),
        }
    }

    /// Java class name, for display.
    pub fn class_name(&self) -> &'static str {
        match self {
            Converter::String => STRING_CLASS,
            Converter::ByteArray => BYTE_ARRAY_CLASS,
            Converter::Json { .. } => JSON_CLASS,
        }
    }
}

/// Renders a value as Java's `toString()` would for FileStreamSink: strings as-is, numbers and
/// booleans as text (doubles as `Double.toString`), JSON objects and arrays compactly, bytes as
/// lossy UTF-8, null as "null".
pub fn display(data: &Data) -> String {
    match data {
        Data::Null => "null".to_string(),
        Data::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Data::Json(Value::String(s)) => s.clone(),
        Data::Json(value) => {
            let mut out = Vec::new();
            write_plain(&mut out, value);
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// ConfigDef's BOOLEAN parsing: trimmed, case-insensitive `true`/`false`.
fn java_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!(
            "Invalid value {value} for configuration {key}: Expected value to be either true or false"
        )),
    }
}

fn optional_schema(json_type: &str) -> Value {
    serde_json::json!({"type": json_type, "optional": true})
}

#[cfg(test)]
mod test_support {
    use super::{Converter, Data, SchemaAndValue};
    use serde_json::Value;

    pub(super) fn json_conv(schemas_enable: bool) -> Converter {
        Converter::Json { schemas_enable }
    }

    pub(super) fn sv(schema: Option<Value>, value: Data) -> SchemaAndValue {
        SchemaAndValue { schema, value }
    }

    pub(super) fn text(s: &str) -> Data {
        Data::Json(Value::String(s.into()))
    }

    pub(super) fn ser(c: Converter, data: SchemaAndValue) -> String {
        let bytes = c.serialize(&data).expect("serializes").expect("not null");
        String::from_utf8(bytes).expect("utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn from_config_names_and_settings() {
        let none = BTreeMap::new();
        for (class, expected) in [
            (STRING_CLASS, Converter::String),
            ("StringConverter", Converter::String),
            (BYTE_ARRAY_CLASS, Converter::ByteArray),
            (" ByteArrayConverter ", Converter::ByteArray),
            (JSON_CLASS, json_conv(true)),
            ("JsonConverter", json_conv(true)),
        ] {
            assert_eq!(
                Converter::from_config(class, &none),
                Ok(expected),
                "{class}"
            );
        }
        let off = BTreeMap::from([("schemas.enable".to_string(), " FALSE".to_string())]);
        assert_eq!(
            Converter::from_config("JsonConverter", &off),
            Ok(json_conv(false))
        );

        let bad = BTreeMap::from([("schemas.enable".to_string(), "yes".to_string())]);
        let err = Converter::from_config(JSON_CLASS, &bad).unwrap_err();
        assert!(
            err.contains("Invalid value yes for configuration schemas.enable"),
            "{err}"
        );

        let err =
            Converter::from_config("io.confluent.connect.avro.AvroConverter", &none).unwrap_err();
        assert!(
            err.contains("io.confluent.connect.avro.AvroConverter"),
            "{err}"
        );
        let err = Converter::from_config("org.example.StringConverter", &none).unwrap_err();
        assert!(err.contains("org.example.StringConverter"), "{err}");

        let latin = BTreeMap::from([("converter.encoding".to_string(), "ISO-8859-1".to_string())]);
        assert!(Converter::from_config("StringConverter", &latin).is_err());
        let utf8 = BTreeMap::from([("converter.encoding".to_string(), "utf8".to_string())]);
        assert_eq!(
            Converter::from_config("StringConverter", &utf8),
            Ok(Converter::String)
        );

        assert_eq!(Converter::String.class_name(), STRING_CLASS);
        assert_eq!(Converter::ByteArray.class_name(), BYTE_ARRAY_CLASS);
        assert_eq!(json_conv(false).class_name(), JSON_CLASS);
    }

    #[test]
    fn string_converter_both_ways() {
        let c = Converter::String;
        assert_eq!(ser(c, sv(None, text("héllo"))), "héllo");
        assert_eq!(ser(c, sv(None, Data::Json(json!(42)))), "42");
        assert_eq!(ser(c, sv(None, Data::Json(json!(1.5)))), "1.5");
        assert_eq!(ser(c, sv(None, Data::Json(json!(true)))), "true");
        assert_eq!(c.serialize(&sv(None, Data::Null)).expect("null"), None);
        assert!(matches!(
            c.serialize(&sv(None, Data::Bytes(vec![1]))),
            Err(ConvertError::StringFromBytes)
        ));

        let back = c.deserialize(Some("héllo".as_bytes())).expect("string");
        assert_eq!(
            back,
            sv(
                Some(json!({"type":"string","optional":true})),
                text("héllo")
            )
        );
        let null = c.deserialize(None).expect("null");
        assert_eq!(
            null,
            sv(Some(json!({"type":"string","optional":true})), Data::Null)
        );
        let lossy = c.deserialize(Some(b"a\xFFb")).expect("lossy");
        assert_eq!(lossy.value, text("a\u{FFFD}b"));
    }

    #[test]
    fn byte_array_converter_both_ways() {
        let c = Converter::ByteArray;
        let bytes = sv(
            Some(json!({"type":"bytes","optional":false})),
            Data::Bytes(vec![0, 255]),
        );
        assert_eq!(c.serialize(&bytes).expect("bytes"), Some(vec![0, 255]));
        assert_eq!(
            c.serialize(&sv(None, Data::Bytes(vec![7]))).expect("bytes"),
            Some(vec![7])
        );
        assert_eq!(c.serialize(&sv(None, Data::Null)).expect("null"), None);

        let err = c.serialize(&sv(None, text("x"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type class java.lang.String"
        );
        let err = c
            .serialize(&sv(
                Some(json!({"type":"string","optional":false})),
                Data::Bytes(vec![]),
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: STRING"
        );

        let back = c.deserialize(Some(&[1, 2, 3])).expect("bytes");
        assert_eq!(
            back,
            sv(
                Some(json!({"type":"bytes","optional":true})),
                Data::Bytes(vec![1, 2, 3])
            )
        );
        let null = c.deserialize(None).expect("null");
        assert_eq!(
            null,
            sv(Some(json!({"type":"bytes","optional":true})), Data::Null)
        );
    }

    #[test]
    fn display_is_java_to_string() {
        assert_eq!(display(&Data::Null), "null");
        assert_eq!(display(&Data::Json(Value::Null)), "null");
        assert_eq!(display(&text("line one")), "line one");
        assert_eq!(display(&Data::Json(json!(7))), "7");
        assert_eq!(display(&Data::Json(json!(1e20))), "1.0E20");
        assert_eq!(display(&Data::Json(json!(false))), "false");
        assert_eq!(
            display(&Data::Json(json!({"a":[1,"x"]}))),
            r#"{"a":[1,"x"]}"#
        );
        assert_eq!(display(&Data::Bytes(b"ok\xFF".to_vec())), "ok\u{FFFD}");
    }

    #[test]
    fn round_trips() {
        let cases = [
            (
                json_conv(true),
                sv(
                    Some(json!({"type":"int64","optional":false})),
                    Data::Json(json!(-9)),
                ),
            ),
            (
                json_conv(true),
                sv(
                    Some(json!({"type":"boolean","optional":true})),
                    Data::Json(json!(true)),
                ),
            ),
            (
                json_conv(true),
                sv(
                    Some(json!({"type":"bytes","optional":true})),
                    Data::Bytes(vec![0, 1, 254]),
                ),
            ),
            (
                json_conv(true),
                sv(None, Data::Json(json!([1, "two", {"three": 3.5}]))),
            ),
            (json_conv(false), sv(None, Data::Json(json!({"k": "v"})))),
            (
                Converter::String,
                sv(
                    Some(json!({"type":"string","optional":true})),
                    text("a line"),
                ),
            ),
            (
                Converter::ByteArray,
                sv(
                    Some(json!({"type":"bytes","optional":true})),
                    Data::Bytes(vec![9; 3]),
                ),
            ),
        ];
        for (c, data) in cases {
            let bytes = c.serialize(&data).expect("serializes");
            let back = c.deserialize(bytes.as_deref()).expect("deserializes");
            assert_eq!(back, data, "{c:?}");
        }
    }
}
