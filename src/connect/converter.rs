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

use std::collections::BTreeMap;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Number, Value};

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

// ---------------------------------------------------------------------------------------------
// Schemas

/// Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

const TYPES: [Type; 12] = [
    Type::Boolean,
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::String,
    Type::Bytes,
    Type::Array,
    Type::Map,
    Type::Struct,
];

impl Type {
    /// The enum constant's name, as Java's error messages print it.
    fn java_name(self) -> &'static str {
        match self {
            Type::Boolean => "BOOLEAN",
            Type::Int8 => "INT8",
            Type::Int16 => "INT16",
            Type::Int32 => "INT32",
            Type::Int64 => "INT64",
            Type::Float32 => "FLOAT32",
            Type::Float64 => "FLOAT64",
            Type::String => "STRING",
            Type::Bytes => "BYTES",
            Type::Array => "ARRAY",
            Type::Map => "MAP",
            Type::Struct => "STRUCT",
        }
    }

    /// The name in JsonConverter's schema JSON (note "float" and "double").
    fn json_name(self) -> &'static str {
        match self {
            Type::Boolean => "boolean",
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Primitive(Type),
    Array(Box<Schema>),
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<(String, Schema)>),
}

/// A parsed Connect schema; rendering it gives the JSON Java's `asJsonSchema` writes.
#[derive(Debug, Clone)]
struct Schema {
    kind: Kind,
    optional: bool,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Vec<(String, String)>,
    /// In Connect form (see [`to_connect`]); never `Value::Null`.
    default: Option<Value>,
}

impl Schema {
    fn ty(&self) -> Type {
        match &self.kind {
            Kind::Primitive(t) => *t,
            Kind::Array(_) => Type::Array,
            Kind::Map(..) => Type::Map,
            Kind::Struct(_) => Type::Struct,
        }
    }

    /// The schema JSON Java would write, as a value for [`SchemaAndValue::schema`].
    fn to_value(&self) -> Result<Value, ConvertError> {
        let mut out = Vec::new();
        write_schema(&mut out, self, None)?;
        serde_json::from_slice(&out).map_err(ConvertError::Parse)
    }
}

fn parse_schema_opt(json: Option<&Value>) -> Result<Option<Schema>, ConvertError> {
    match json {
        None | Some(Value::Null) => Ok(None),
        Some(json) => parse_schema(json).map(Some),
    }
}

/// Java's `asConnectSchema`, with its error texts.
fn parse_schema(json: &Value) -> Result<Schema, ConvertError> {
    let type_name = json
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::Schema("Schema must contain 'type' field".into()))?;
    let ty = TYPES
        .into_iter()
        .find(|t| t.json_name() == type_name)
        .ok_or_else(|| ConvertError::Schema(format!("Unknown schema type: {type_name}")))?;
    let nested = |field: &str, missing: &str| match json.get(field) {
        None | Some(Value::Null) => Err(ConvertError::Schema(missing.to_string())),
        Some(inner) => parse_schema(inner).map(Box::new),
    };
    let kind = match ty {
        Type::Array => Kind::Array(nested(
            "items",
            "Array schema did not specify the element type",
        )?),
        Type::Map => Kind::Map(
            nested("keys", "Map schema did not specify the key type")?,
            nested("values", "Map schema did not specify the value type")?,
        ),
        Type::Struct => {
            let fields = json
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    ConvertError::Schema(
                        "Struct schema's \"fields\" argument is not an array.".into(),
                    )
                })?;
            let mut parsed: Vec<(String, Schema)> = Vec::with_capacity(fields.len());
            for field in fields {
                let name = field.get("field").and_then(Value::as_str).ok_or_else(|| {
                    ConvertError::Schema("Struct schema's field name not specified properly".into())
                })?;
                if parsed.iter().any(|(n, _)| n == name) {
                    return Err(ConvertError::Schema(format!(
                        "Cannot create field because of field name duplication {name}"
                    )));
                }
                parsed.push((name.to_string(), parse_schema(field)?));
            }
            Kind::Struct(parsed)
        }
        primitive => Kind::Primitive(primitive),
    };
    let text = |field: &str| json.get(field).and_then(Value::as_str).map(str::to_string);
    let mut parameters = Vec::new();
    if let Some(Value::Object(params)) = json.get("parameters") {
        for (key, value) in params {
            let value = value.as_str().ok_or_else(|| {
                ConvertError::Schema("Schema parameters must have string values.".into())
            })?;
            parameters.push((key.clone(), value.to_string()));
        }
    }
    let mut schema = Schema {
        kind,
        optional: json
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name: text("name"),
        version: json
            .get("version")
            .filter(|v| v.is_i64() || v.is_u64())
            .map(int_value),
        doc: text("doc"),
        parameters,
        default: None,
    };
    if let Some(default) = json.get("default") {
        // Java converts the default with the schema built so far, so a null default on a
        // required schema fails like a null value would.
        let value = to_connect(Some(&schema), Some(default))?;
        schema.default = Some(value).filter(|v| !v.is_null());
    }
    Ok(schema)
}

/// Java's `asJsonSchema` field order: type, items/keys/values/fields, optional, name, version,
/// doc, parameters, default (and `field` last for a struct's field).
fn write_schema(
    out: &mut Vec<u8>,
    schema: &Schema,
    field: Option<&str>,
) -> Result<(), ConvertError> {
    out.extend_from_slice(b"{\"type\":");
    write_str(out, schema.ty().json_name());
    match &schema.kind {
        Kind::Primitive(_) => {}
        Kind::Array(items) => {
            out.extend_from_slice(b",\"items\":");
            write_schema(out, items, None)?;
        }
        Kind::Map(keys, values) => {
            out.extend_from_slice(b",\"keys\":");
            write_schema(out, keys, None)?;
            out.extend_from_slice(b",\"values\":");
            write_schema(out, values, None)?;
        }
        Kind::Struct(fields) => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, (name, field_schema)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schema(out, field_schema, Some(name))?;
            }
            out.push(b']');
        }
    }
    out.extend_from_slice(b",\"optional\":");
    out.extend_from_slice(if schema.optional { b"true" } else { b"false" });
    if let Some(name) = &schema.name {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version {
        out.extend_from_slice(format!(",\"version\":{version}").as_bytes());
    }
    if let Some(doc) = &schema.doc {
        out.extend_from_slice(b",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (key, value)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            write_str(out, value);
        }
        out.push(b'}');
    }
    if let Some(default) = &schema.default {
        out.extend_from_slice(b",\"default\":");
        write_connect(out, Some(schema), default)?;
    }
    if let Some(field) = field {
        out.extend_from_slice(b",\"field\":");
        write_str(out, field);
    }
    out.push(b'}');
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JsonConverter

fn json_from_connect(
    schemas_enable: bool,
    data: &SchemaAndValue,
) -> Result<Option<Vec<u8>>, ConvertError> {
    let schema = parse_schema_opt(data.schema.as_ref())?;
    let is_null = matches!(data.value, Data::Null | Data::Json(Value::Null));
    if schema.is_none() && is_null {
        return Ok(None);
    }
    let mut out = Vec::new();
    if schemas_enable {
        out.extend_from_slice(b"{\"schema\":");
        match &schema {
            Some(schema) => write_schema(&mut out, schema, None)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"payload\":");
    }
    match (&data.value, &schema) {
        (Data::Bytes(bytes), None) => write_str(&mut out, &STANDARD.encode(bytes)),
        (Data::Bytes(bytes), Some(s)) if s.ty() == Type::Bytes => {
            write_str(&mut out, &STANDARD.encode(bytes))
        }
        (Data::Bytes(_), Some(s)) => {
            return Err(ConvertError::InvalidType {
                schema_type: s.ty().java_name(),
                found: "class [B",
            })
        }
        // At the top a Java String is not a byte[]; only nested bytes travel as base64 text.
        (Data::Json(v @ Value::String(_)), Some(s)) if s.ty() == Type::Bytes => {
            return Err(ConvertError::InvalidBytesType(java_class(v)))
        }
        (Data::Null, schema) => write_connect(&mut out, schema.as_ref(), &Value::Null)?,
        (Data::Json(value), schema) => write_connect(&mut out, schema.as_ref(), value)?,
    }
    if schemas_enable {
        out.push(b'}');
    }
    Ok(Some(out))
}

fn json_to_connect(
    schemas_enable: bool,
    bytes: Option<&[u8]>,
) -> Result<SchemaAndValue, ConvertError> {
    // A tombstone.
    let Some(bytes) = bytes else {
        return Ok(SchemaAndValue::NULL);
    };
    // Jackson skips a UTF-8 byte order mark, reads the first value and ignores what follows;
    // empty input is its MissingNode, which is not an envelope.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let node = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .next()
        .transpose()
        .map_err(ConvertError::Parse)?;
    if !schemas_enable {
        let value = to_connect(None, node.as_ref())?;
        return Ok(SchemaAndValue {
            schema: None,
            value: if value.is_null() {
                Data::Null
            } else {
                Data::Json(value)
            },
        });
    }
    let (schema, payload) = match &node {
        Some(Value::Object(envelope)) if envelope.len() == 2 => {
            match (envelope.get("schema"), envelope.get("payload")) {
                (Some(schema), Some(payload)) => (schema, payload),
                _ => return Err(ConvertError::Envelope),
            }
        }
        _ => return Err(ConvertError::Envelope),
    };
    let schema = parse_schema_opt(Some(schema))?;
    let value = to_connect(schema.as_ref(), Some(payload))?;
    let value = match (value, &schema) {
        (Value::Null, _) => Data::Null,
        (Value::String(b64), Some(s)) if s.ty() == Type::Bytes => {
            Data::Bytes(decode_base64(&b64).map_err(ConvertError::InvalidBytes)?)
        }
        (value, _) => Data::Json(value),
    };
    Ok(SchemaAndValue {
        schema: schema.as_ref().map(Schema::to_value).transpose()?,
        value,
    })
}

/// Java's `convertToConnect`: JSON as read to a Connect value, coerced by the schema with
/// Jackson's lenient accessors (a number where a string belongs reads as null, a string where
/// a number belongs as 0, ints narrow like Java casts). Bytes stay base64 text here.
fn to_connect(schema: Option<&Schema>, node: Option<&Value>) -> Result<Value, ConvertError> {
    let Some(schema) = schema else {
        return Ok(schemaless(node));
    };
    let node = match node {
        None | Some(Value::Null) => {
            if let Some(default) = &schema.default {
                return Ok(default.clone());
            }
            if schema.optional {
                return Ok(Value::Null);
            }
            return Err(ConvertError::NullForRequired(schema.ty().java_name()));
        }
        Some(node) => node,
    };
    Ok(match &schema.kind {
        Kind::Primitive(ty) => match ty {
            Type::Boolean => Value::Bool(node.as_bool().unwrap_or(false)),
            Type::Int8 => Value::from(int_value(node) as i8),
            Type::Int16 => Value::from(int_value(node) as i16),
            Type::Int32 => Value::from(int_value(node)),
            Type::Int64 => Value::from(long_value(node)),
            Type::Float32 => float32_value(double_value(node) as f32),
            Type::Float64 => Value::from(double_value(node)),
            Type::String => node.as_str().map_or(Value::Null, Value::from),
            Type::Bytes => match node.as_str() {
                Some(text) => {
                    let bytes = decode_base64(text).map_err(ConvertError::InvalidBytes)?;
                    Value::String(STANDARD.encode(bytes))
                }
                None => Value::Null,
            },
            // Composite types are never `Kind::Primitive`.
            Type::Array | Type::Map | Type::Struct => Value::Null,
        },
        Kind::Array(items) => {
            // Jackson iterates an object's values and a scalar as empty.
            let elements: Vec<&Value> = match node {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                _ => Vec::new(),
            };
            let converted = elements
                .into_iter()
                .map(|e| to_connect(Some(items), Some(e)))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(converted)
        }
        Kind::Map(keys, values) if keys.ty() == Type::String => {
            let Value::Object(entries) = node else {
                return Err(ConvertError::Payload(format!(
                    "Maps with string fields should be encoded as JSON objects, but found {}",
                    node_type(node)
                )));
            };
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                map.insert(key.clone(), to_connect(Some(values), Some(value))?);
            }
            Value::Object(map)
        }
        Kind::Map(keys, values) => {
            let Value::Array(entries) = node else {
                return Err(ConvertError::Payload(format!(
                    "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                    node_type(node)
                )));
            };
            let mut pairs = Vec::with_capacity(entries.len());
            for entry in entries {
                let Value::Array(pair) = entry else {
                    return Err(ConvertError::Payload(format!(
                        "Found invalid map entry instead of array tuple: {}",
                        node_type(entry)
                    )));
                };
                let [key, value] = pair.as_slice() else {
                    return Err(ConvertError::Payload(format!(
                        "Found invalid map entry, expected length 2 but found :{}",
                        pair.len()
                    )));
                };
                pairs.push(Value::Array(vec![
                    to_connect(Some(keys), Some(key))?,
                    to_connect(Some(values), Some(value))?,
                ]));
            }
            Value::Array(pairs)
        }
        Kind::Struct(fields) => {
            let Value::Object(object) = node else {
                return Err(ConvertError::Payload(format!(
                    "Structs should be encoded as JSON objects, but found {}",
                    node_type(node)
                )));
            };
            let mut map = serde_json::Map::new();
            for (name, field_schema) in fields {
                map.insert(
                    name.clone(),
                    to_connect(Some(field_schema), object.get(name))?,
                );
            }
            Value::Object(map)
        }
    })
}

/// Without a schema JSON maps to Connect's natural types: integers are longs, other numbers
/// doubles, objects maps.
fn schemaless(node: Option<&Value>) -> Value {
    match node {
        None => Value::Null,
        Some(Value::Number(n)) if n.is_f64() => Value::from(n.as_f64().unwrap_or(0.0)),
        Some(Value::Number(n)) => Value::from(number_long(n)),
        Some(Value::Array(a)) => Value::Array(a.iter().map(|e| schemaless(Some(e))).collect()),
        Some(Value::Object(o)) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), schemaless(Some(v))))
                .collect(),
        ),
        Some(other) => other.clone(),
    }
}

/// Java's `convertToJson`, written straight out as Jackson would print the tree.
fn write_connect(
    out: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: &Value,
) -> Result<(), ConvertError> {
    let Some(schema) = schema else {
        write_plain(out, value);
        return Ok(());
    };
    if value.is_null() {
        if let Some(default) = &schema.default {
            return write_connect(out, Some(schema), default);
        }
        if schema.optional {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        return Err(ConvertError::RequiredNull);
    }
    let mismatch = || ConvertError::InvalidType {
        schema_type: schema.ty().java_name(),
        found: java_class(value),
    };
    match (&schema.kind, value) {
        (Kind::Primitive(Type::Boolean), Value::Bool(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (
            Kind::Primitive(ty @ (Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64)),
            Value::Number(n),
        ) => {
            let i = n.as_i64().ok_or_else(mismatch)?;
            let fits = match ty {
                Type::Int8 => i8::try_from(i).is_ok(),
                Type::Int16 => i16::try_from(i).is_ok(),
                Type::Int32 => i32::try_from(i).is_ok(),
                _ => true,
            };
            if !fits {
                return Err(mismatch());
            }
            out.extend_from_slice(i.to_string().as_bytes());
        }
        (Kind::Primitive(Type::Float32), Value::Number(n)) => {
            let f = n.as_f64().ok_or_else(mismatch)? as f32;
            out.extend_from_slice(java_float(f).as_bytes());
        }
        (Kind::Primitive(Type::Float64), Value::Number(n)) => {
            let f = n.as_f64().ok_or_else(mismatch)?;
            out.extend_from_slice(java_double(f).as_bytes());
        }
        (Kind::Primitive(Type::String), Value::String(s)) => write_str(out, s),
        (Kind::Primitive(Type::Bytes), Value::String(s)) => {
            let bytes =
                decode_base64(s).map_err(|_| ConvertError::InvalidBytesType(java_class(value)))?;
            write_str(out, &STANDARD.encode(bytes));
        }
        (Kind::Primitive(Type::Bytes), _) => {
            return Err(ConvertError::InvalidBytesType(java_class(value)))
        }
        (Kind::Array(items), Value::Array(elements)) => {
            out.push(b'[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_connect(out, Some(items), element)?;
            }
            out.push(b']');
        }
        (Kind::Map(keys, values), Value::Object(entries)) if keys.ty() == Type::String => {
            out.push(b'{');
            for (i, (key, entry)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_connect(out, Some(values), entry)?;
            }
            out.push(b'}');
        }
        (Kind::Map(keys, values), Value::Array(pairs)) if keys.ty() != Type::String => {
            out.push(b'[');
            for (i, pair) in pairs.iter().enumerate() {
                let Some([key, entry]) = pair.as_array().map(Vec::as_slice) else {
                    return Err(mismatch());
                };
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                write_connect(out, Some(keys), key)?;
                out.push(b',');
                write_connect(out, Some(values), entry)?;
                out.push(b']');
            }
            out.push(b']');
        }
        (Kind::Struct(fields), Value::Object(object)) => {
            if let Some(unknown) = object.keys().find(|k| !fields.iter().any(|(n, _)| n == *k)) {
                return Err(ConvertError::UnknownField(unknown.clone()));
            }
            out.push(b'{');
            for (i, (name, field_schema)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, name);
                out.push(b':');
                write_connect(
                    out,
                    Some(field_schema),
                    object.get(name).unwrap_or(&Value::Null),
                )?;
            }
            out.push(b'}');
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Jackson's accessors and printing

/// The class of the Java value a schemaless JsonConverter would have made of `value`.
fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "class java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "class java.lang.Double",
        Value::Number(_) => "class java.lang.Long",
        Value::String(_) => "class java.lang.String",
        Value::Array(_) => "class java.util.ArrayList",
        Value::Object(_) => "class java.util.HashMap",
    }
}

/// Jackson's `JsonNodeType` name.
fn node_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

/// `JsonNode.longValue()`: 0 for non-numbers; floats (Jackson's BigDecimal) truncate.
fn long_value(node: &Value) -> i64 {
    match node {
        Value::Number(n) => number_long(n),
        _ => 0,
    }
}

fn number_long(n: &Number) -> i64 {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i,
        (None, Some(u), _) => u as i64,
        (None, None, Some(f)) => f as i64,
        (None, None, None) => 0,
    }
}

/// `JsonNode.intValue()`: the low 32 bits of the long value, as Java's narrowing does.
fn int_value(node: &Value) -> i32 {
    long_value(node) as i32
}

/// `JsonNode.doubleValue()`: 0.0 for non-numbers.
fn double_value(node: &Value) -> f64 {
    node.as_f64().unwrap_or(0.0)
}

/// A Java float as a JSON number that prints back as `Float.toString` would print it.
fn float32_value(f: f32) -> Value {
    format!("{f}")
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Jackson's base64 reading: standard alphabet, padding required, stray trailing bits and
/// whitespace tolerated.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    if text.bytes().any(|b| b <= b' ') {
        let compact: Vec<u8> = text.bytes().filter(|b| *b > b' ').collect();
        return LENIENT.decode(compact);
    }
    LENIENT.decode(text)
}

/// A schemaless Connect value printed by Jackson.
fn write_plain(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(elements) => {
            out.push(b'[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_plain(out, element);
            }
            out.push(b']');
        }
        Value::Object(entries) => {
            out.push(b'{');
            for (i, (key, entry)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_plain(out, entry);
            }
            out.push(b'}');
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => out.extend_from_slice(i.to_string().as_bytes()),
        (None, Some(u), _) => out.extend_from_slice(u.to_string().as_bytes()),
        (None, None, Some(f)) => out.extend_from_slice(java_double(f).as_bytes()),
        (None, None, None) => out.extend_from_slice(n.to_string().as_bytes()),
    }
}

/// A JSON string as Jackson escapes it: `"` and `\`, the short forms `\b \t \n \f \r`, other
/// control characters as `\u00XX` with upper-case hex; everything else raw UTF-8.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0A => b'n',
            0x0C => b'f',
            0x0D => b'r',
            0x00..=0x1F => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Java's `Double.toString` (JDK 19+: shortest digits that read back to the same double).
fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return non_finite(f.is_nan(), f.is_sign_negative());
    }
    java_decimal(&format!("{f:e}"), (1e-3..1e7).contains(&f.abs()))
}

/// Java's `Float.toString`.
fn java_float(f: f32) -> String {
    if !f.is_finite() {
        return non_finite(f.is_nan(), f.is_sign_negative());
    }
    java_decimal(&format!("{f:e}"), (1e-3..1e7).contains(&f.abs()))
}

fn non_finite(nan: bool, negative: bool) -> String {
    match (nan, negative) {
        (true, _) => "NaN",
        (false, false) => "Infinity",
        (false, true) => "-Infinity",
    }
    .to_string()
}

/// Reformats Rust's shortest scientific form (`-1.2345e-5`) the Java way: plain notation with
/// at least one fractional digit for magnitudes in [10^-3, 10^7), else `d.dddE±n`.
fn java_decimal(scientific: &str, plain: bool) -> String {
    let (sign, unsigned) = match scientific.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", scientific),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if digits.bytes().all(|d| d == b'0') {
        return format!("{sign}0.0");
    }
    if !plain {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        return format!("{sign}{first}.{rest}E{exponent}");
    }
    if exponent < 0 {
        let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = usize::try_from(exponent).unwrap_or(0) + 1;
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_conv(schemas_enable: bool) -> Converter {
        Converter::Json { schemas_enable }
    }

    fn sv(schema: Option<Value>, value: Data) -> SchemaAndValue {
        SchemaAndValue { schema, value }
    }

    fn text(s: &str) -> Data {
        Data::Json(Value::String(s.into()))
    }

    fn ser(c: Converter, data: SchemaAndValue) -> String {
        let bytes = c.serialize(&data).expect("serializes").expect("not null");
        String::from_utf8(bytes).expect("utf-8")
    }

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
    fn json_string_with_schema_golden() {
        let golden = r#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#;
        let data = sv(
            Some(json!({"type":"string","optional":false})),
            text("hello"),
        );
        assert_eq!(ser(json_conv(true), data.clone()), golden);
        assert_eq!(
            json_conv(true)
                .deserialize(Some(golden.as_bytes()))
                .expect("reads"),
            data
        );
        // A schema without "optional" is required, and comes back complete.
        let terse = r#"{"schema":{"type":"string"},"payload":"hello"}"#;
        assert_eq!(
            json_conv(true)
                .deserialize(Some(terse.as_bytes()))
                .expect("reads"),
            data
        );
    }

    #[test]
    fn json_envelope_without_schema_and_nulls() {
        let c = json_conv(true);
        assert_eq!(
            ser(c, sv(None, text("hi"))),
            r#"{"schema":null,"payload":"hi"}"#
        );
        assert_eq!(
            ser(c, sv(None, Data::Json(json!({"b":[1,2.5],"a":null})))),
            r#"{"schema":null,"payload":{"a":null,"b":[1,2.5]}}"#
        );
        // Java returns null only when both schema and value are null.
        assert_eq!(c.serialize(&sv(None, Data::Null)).expect("null"), None);
        let optional = json!({"type":"string","optional":true});
        assert_eq!(
            ser(c, sv(Some(optional.clone()), Data::Null)),
            r#"{"schema":{"type":"string","optional":true},"payload":null}"#
        );
        let err = c
            .serialize(&sv(Some(json!({"type":"string"})), Data::Null))
            .unwrap_err();
        assert!(matches!(err, ConvertError::RequiredNull), "{err}");

        let back = c
            .deserialize(Some(
                br#"{"schema":{"type":"string","optional":true},"payload":null}"#,
            ))
            .expect("reads");
        assert_eq!(back, sv(Some(optional), Data::Null));
        let back = c
            .deserialize(Some(br#"{"schema":null,"payload":{"k":1}}"#))
            .expect("reads");
        assert_eq!(back, sv(None, Data::Json(json!({"k":1}))));
        assert_eq!(
            c.deserialize(None).expect("tombstone"),
            SchemaAndValue::NULL
        );
        let err = c
            .deserialize(Some(br#"{"schema":{"type":"int32"},"payload":null}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid null value for required INT32 field"
        );
    }

    #[test]
    fn json_envelope_errors() {
        let c = json_conv(true);
        let expected = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and \
            may not contain additional fields. If you are trying to deserialize plain JSON data, set \
            schemas.enable=false in your converter configuration.";
        for bad in [
            &br#"{"hello":"world"}"#[..],
            br#"{"schema":null,"payload":1,"extra":2}"#,
            br#"{"schema":null}"#,
            br#"[1,2]"#,
            b"\"plain\"",
            b"",
            b"  ",
        ] {
            let err = c.deserialize(Some(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                expected,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let err = c.deserialize(Some(b"{not json")).unwrap_err();
        assert!(err.to_string().starts_with(
            "Converting byte[] to Kafka Connect data failed due to serialization error: "
        ));
        let err = c
            .deserialize(Some(br#"{"schema":{"type":"uuid"},"payload":1}"#))
            .unwrap_err();
        assert_eq!(err.to_string(), "Unknown schema type: uuid");
        let err = c
            .deserialize(Some(br#"{"schema":{"optional":true},"payload":1}"#))
            .unwrap_err();
        assert_eq!(err.to_string(), "Schema must contain 'type' field");
    }

    #[test]
    fn json_schemaless() {
        let c = json_conv(false);
        assert_eq!(ser(c, sv(None, text("hello"))), r#""hello""#);
        assert_eq!(
            ser(c, sv(None, Data::Json(json!({"n":1,"f":1e20})))),
            r#"{"f":1.0E20,"n":1}"#
        );
        assert_eq!(
            ser(c, sv(Some(json!({"type":"int64"})), Data::Json(json!(5)))),
            "5"
        );
        assert_eq!(
            ser(
                c,
                sv(Some(json!({"type":"string","optional":true})), Data::Null)
            ),
            "null"
        );
        assert_eq!(c.serialize(&sv(None, Data::Null)).expect("null"), None);

        // Plain JSON needs no envelope; empty input reads as null (Java's MissingNode).
        let back = c
            .deserialize(Some(br#"{"hello":"world","n":[1,2.0]}"#))
            .expect("reads");
        assert_eq!(
            back,
            sv(None, Data::Json(json!({"hello":"world","n":[1,2.0]})))
        );
        assert_eq!(
            c.deserialize(Some(b"")).expect("empty"),
            SchemaAndValue::NULL
        );
        assert_eq!(
            c.deserialize(Some(b"null")).expect("null"),
            SchemaAndValue::NULL
        );
        assert_eq!(
            c.deserialize(None).expect("tombstone"),
            SchemaAndValue::NULL
        );
        // An envelope is just an object here.
        let back = c
            .deserialize(Some(br#"{"schema":null,"payload":1}"#))
            .expect("reads");
        assert_eq!(back.value, Data::Json(json!({"schema":null,"payload":1})));
        // Jackson reads the first value and ignores what follows.
        assert_eq!(
            c.deserialize(Some(b"1 2")).expect("reads").value,
            Data::Json(json!(1))
        );
    }

    #[test]
    fn json_bytes_are_base64() {
        let schema = json!({"type":"bytes","optional":false});
        let data = sv(Some(schema.clone()), Data::Bytes(b"hello".to_vec()));
        let golden = r#"{"schema":{"type":"bytes","optional":false},"payload":"aGVsbG8="}"#;
        assert_eq!(ser(json_conv(true), data.clone()), golden);
        assert_eq!(
            json_conv(true)
                .deserialize(Some(golden.as_bytes()))
                .expect("reads"),
            data
        );
        assert_eq!(ser(json_conv(false), data), r#""aGVsbG8=""#);
        assert_eq!(
            ser(json_conv(true), sv(None, Data::Bytes(vec![0xFF]))),
            r#"{"schema":null,"payload":"/w=="}"#
        );

        let err = json_conv(true)
            .deserialize(Some(br#"{"schema":{"type":"bytes"},"payload":"!!"}"#))
            .unwrap_err();
        assert!(err.to_string().starts_with("Invalid bytes field"), "{err}");
        let err = json_conv(true)
            .serialize(&sv(Some(schema), text("aGVsbG8=")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid type for bytes type: class java.lang.String"
        );
        let err = json_conv(true)
            .serialize(&sv(Some(json!({"type":"string"})), Data::Bytes(vec![1])))
            .unwrap_err();
        assert_eq!(err.to_string(), "Invalid type for STRING: class [B");
    }

    #[test]
    fn json_struct_schema_in_java_order() {
        let schema = json!({
            "type": "struct", "name": "com.example.User", "version": 2, "optional": false,
            "fields": [
                {"field": "name", "type": "string", "optional": false},
                {"field": "age", "type": "int32", "optional": true, "default": 7},
                {"field": "tags", "type": "array", "items": {"type": "string"}, "optional": true},
                {"field": "score", "type": "double", "optional": true},
                {"field": "ratio", "type": "float", "optional": true},
                {"field": "attrs", "type": "map", "keys": {"type": "string"},
                    "values": {"type": "int64", "optional": true}, "optional": true},
                {"field": "blob", "type": "bytes", "optional": true, "parameters": {"p": "v"}}
            ]
        });
        let value = json!({"name":"ann","tags":["a"],"score":1e7,"ratio":0.1,"attrs":{"x":1},"blob":"AQI="});
        let golden = concat!(
            r#"{"schema":{"type":"struct","fields":["#,
            r#"{"type":"string","optional":false,"field":"name"},"#,
            r#"{"type":"int32","optional":true,"default":7,"field":"age"},"#,
            r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},"#,
            r#"{"type":"double","optional":true,"field":"score"},"#,
            r#"{"type":"float","optional":true,"field":"ratio"},"#,
            r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int64","optional":true},"optional":true,"field":"attrs"},"#,
            r#"{"type":"bytes","optional":true,"parameters":{"p":"v"},"field":"blob"}"#,
            r#"],"optional":false,"name":"com.example.User","version":2},"#,
            r#""payload":{"name":"ann","age":7,"tags":["a"],"score":1.0E7,"ratio":0.1,"attrs":{"x":1},"blob":"AQI="}}"#
        );
        let written = ser(json_conv(true), sv(Some(schema), Data::Json(value)));
        assert_eq!(written, golden);

        // Reading it back and writing again is stable.
        let back = json_conv(true)
            .deserialize(Some(golden.as_bytes()))
            .expect("reads");
        assert_eq!(
            back.value,
            Data::Json(
                json!({"name":"ann","age":7,"tags":["a"],"score":1e7,"ratio":0.1,"attrs":{"x":1},"blob":"AQI="})
            )
        );
        assert_eq!(ser(json_conv(true), back), golden);

        let err = json_conv(true)
            .serialize(&sv(
                Some(json!({"type":"struct","fields":[]})),
                Data::Json(json!({"x":1})),
            ))
            .unwrap_err();
        assert_eq!(err.to_string(), "x is not a valid field name");
        let err = json_conv(true)
            .deserialize(Some(
                br#"{"schema":{"type":"struct","fields":[]},"payload":[1]}"#,
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Structs should be encoded as JSON objects, but found ARRAY"
        );
    }

    #[test]
    fn json_map_with_non_string_keys_is_pairs() {
        let schema = json!({"type":"map","keys":{"type":"int32"},"values":{"type":"string"}});
        let golden = r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":false},"optional":false},"payload":[[1,"a"],[2,"b"]]}"#;
        let data = sv(Some(schema), Data::Json(json!([[1, "a"], [2, "b"]])));
        assert_eq!(ser(json_conv(true), data), golden);
        let back = json_conv(true)
            .deserialize(Some(golden.as_bytes()))
            .expect("reads");
        assert_eq!(back.value, Data::Json(json!([[1, "a"], [2, "b"]])));
        let err = json_conv(true)
            .deserialize(Some(br#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1]]}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Found invalid map entry, expected length 2 but found :1"
        );
    }

    #[test]
    fn json_coerces_like_jackson() {
        let read = |schema: &str, payload: &str| {
            let envelope = format!(
                r#"{{"schema":{{"type":"{schema}","optional":true}},"payload":{payload}}}"#
            );
            json_conv(true)
                .deserialize(Some(envelope.as_bytes()))
                .expect("reads")
                .value
        };
        assert_eq!(read("int8", "300"), Data::Json(json!(44)));
        assert_eq!(read("int32", "\"12\""), Data::Json(json!(0)));
        assert_eq!(read("int64", "2.9"), Data::Json(json!(2)));
        assert_eq!(read("double", "3"), Data::Json(json!(3.0)));
        assert_eq!(read("string", "5"), Data::Null);
        assert_eq!(read("boolean", "1"), Data::Json(json!(false)));
        assert_eq!(read("float", "1.23456789012"), Data::Json(json!(1.2345679)));

        let err = json_conv(true)
            .serialize(&sv(Some(json!({"type":"int8"})), Data::Json(json!(300))))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid type for INT8: class java.lang.Long"
        );
        let err = json_conv(true)
            .serialize(&sv(Some(json!({"type":"string"})), Data::Json(json!(1.5))))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid type for STRING: class java.lang.Double"
        );
        // Any number fits a double schema, printed as Java prints a Double.
        assert_eq!(
            ser(
                json_conv(false),
                sv(Some(json!({"type":"double"})), Data::Json(json!(2)))
            ),
            "2.0"
        );
    }

    #[test]
    fn json_escapes_like_jackson() {
        let data = sv(None, text("q\"b\\\n\t\u{1}\u{1f}/é\u{7f}"));
        assert_eq!(
            ser(json_conv(false), data.clone()),
            "\"q\\\"b\\\\\\n\\t\\u0001\\u001F/é\u{7f}\""
        );
        let bytes = json_conv(false)
            .serialize(&data)
            .expect("ok")
            .expect("some");
        assert_eq!(
            json_conv(false)
                .deserialize(Some(&bytes))
                .expect("reads")
                .value,
            data.value
        );
    }

    #[test]
    fn java_number_formatting() {
        for (f, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (-1.5e-7, "-1.5E-7"),
            (1e20, "1.0E20"),
            (1.2345e21, "1.2345E21"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        ] {
            assert_eq!(java_double(f), java, "{f}");
        }
        assert_eq!(java_float(0.1), "0.1");
        assert_eq!(java_float(1e10), "1.0E10");
        assert_eq!(java_float(f32::NAN), "NaN");
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

    #[test]
    fn schema_defaults_fill_nulls() {
        let schema = json!({"type":"string","optional":false,"default":"dflt"});
        let written = ser(json_conv(true), sv(Some(schema), Data::Null));
        assert_eq!(
            written,
            r#"{"schema":{"type":"string","optional":false,"default":"dflt"},"payload":"dflt"}"#
        );
        let back = json_conv(true)
            .deserialize(Some(
                br#"{"schema":{"type":"string","default":"dflt"},"payload":null}"#,
            ))
            .expect("reads");
        assert_eq!(back.value, text("dflt"));
        let err = json_conv(true)
            .deserialize(Some(
                br#"{"schema":{"type":"string","default":null},"payload":"x"}"#,
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid null value for required STRING field"
        );
    }
}
