//! Connect schemas as JsonConverter carries them: parsed from the envelope's `schema` JSON
//! (Java's `asConnectSchema`) and written back in Java's field order (`asJsonSchema`).

use serde_json::Value;

use super::jackson::{int_value, write_str};
use super::json::{to_connect, write_connect};
use super::ConvertError;

/// Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
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
    pub(super) fn java_name(self) -> &'static str {
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
pub(super) enum Kind {
    Primitive(Type),
    Array(Box<Schema>),
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<(String, Schema)>),
}

/// A parsed Connect schema; rendering it gives the JSON Java's `asJsonSchema` writes.
#[derive(Debug, Clone)]
pub(super) struct Schema {
    pub(super) kind: Kind,
    pub(super) optional: bool,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Vec<(String, String)>,
    /// In Connect form (see [`to_connect`]); never `Value::Null`.
    pub(super) default: Option<Value>,
}

impl Schema {
    pub(super) fn ty(&self) -> Type {
        match &self.kind {
            Kind::Primitive(t) => *t,
            Kind::Array(_) => Type::Array,
            Kind::Map(..) => Type::Map,
            Kind::Struct(_) => Type::Struct,
        }
    }

    /// The schema JSON Java would write, as a value for [`super::SchemaAndValue::schema`].
    pub(super) fn to_value(&self) -> Result<Value, ConvertError> {
        let mut out = Vec::new();
        write_schema(&mut out, self, None)?;
        serde_json::from_slice(&out).map_err(ConvertError::Parse)
    }
}

pub(super) fn parse_schema_opt(json: Option<&Value>) -> Result<Option<Schema>, ConvertError> {
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
    let kind = parse_kind(json, ty)?;
    let text = |field: &str| json.get(field).and_then(Value::as_str).map(str::to_string);
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
        parameters: parse_parameters(json)?,
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

/// The nested schemas of an array, map or struct of type `ty`.
fn parse_kind(json: &Value, ty: Type) -> Result<Kind, ConvertError> {
    let nested = |field: &str, missing: &str| match json.get(field) {
        None | Some(Value::Null) => Err(ConvertError::Schema(missing.to_string())),
        Some(inner) => parse_schema(inner).map(Box::new),
    };
    Ok(match ty {
        Type::Array => Kind::Array(nested(
            "items",
            "Array schema did not specify the element type",
        )?),
        Type::Map => Kind::Map(
            nested("keys", "Map schema did not specify the key type")?,
            nested("values", "Map schema did not specify the value type")?,
        ),
        Type::Struct => Kind::Struct(parse_fields(json)?),
        primitive => Kind::Primitive(primitive),
    })
}

/// A struct schema's `fields`, in order, each named once.
fn parse_fields(json: &Value) -> Result<Vec<(String, Schema)>, ConvertError> {
    let fields = json
        .get("fields")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ConvertError::Schema("Struct schema's \"fields\" argument is not an array.".into())
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
    Ok(parsed)
}

/// A schema's `parameters` object, whose values must be strings.
fn parse_parameters(json: &Value) -> Result<Vec<(String, String)>, ConvertError> {
    let mut parameters = Vec::new();
    if let Some(Value::Object(params)) = json.get("parameters") {
        for (key, value) in params {
            let value = value.as_str().ok_or_else(|| {
                ConvertError::Schema("Schema parameters must have string values.".into())
            })?;
            parameters.push((key.clone(), value.to_string()));
        }
    }
    Ok(parameters)
}

/// Java's `asJsonSchema` field order: type, items/keys/values/fields, optional, name, version,
/// doc, parameters, default (and `field` last for a struct's field).
pub(super) fn write_schema(
    out: &mut Vec<u8>,
    schema: &Schema,
    field: Option<&str>,
) -> Result<(), ConvertError> {
    out.extend_from_slice(b"{\"type\":");
    write_str(out, schema.ty().json_name());
    write_nested(out, &schema.kind)?;
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
    write_parameters(out, &schema.parameters);
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

/// `items`, `keys`/`values` or `fields`: nothing for a primitive.
fn write_nested(out: &mut Vec<u8>, kind: &Kind) -> Result<(), ConvertError> {
    match kind {
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
    Ok(())
}

/// `parameters`, left out when there are none.
fn write_parameters(out: &mut Vec<u8>, parameters: &[(String, String)]) {
    if parameters.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"parameters\":{");
    for (i, (key, value)) in parameters.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Data;
    use serde_json::json;

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
