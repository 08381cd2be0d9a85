//! JsonConverter both ways: Connect data to the envelope (or bare payload) bytes Java writes,
//! and those bytes back to Connect data, coerced by the schema as Jackson's accessors coerce.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::jackson::{
    decode_base64, double_value, float32_value, int_value, java_class, java_double, java_float,
    long_value, node_type, number_long, write_plain, write_str,
};
use super::schema::{parse_schema_opt, write_schema, Kind, Schema, Type};
use super::{ConvertError, Data, SchemaAndValue};

pub(super) fn json_from_connect(
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

pub(super) fn json_to_connect(
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
pub(super) fn to_connect(
    schema: Option<&Schema>,
    node: Option<&Value>,
) -> Result<Value, ConvertError> {
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
    match &schema.kind {
        Kind::Primitive(ty) => primitive_to_connect(*ty, node),
        Kind::Array(items) => array_to_connect(items, node),
        Kind::Map(keys, values) if keys.ty() == Type::String => string_map_to_connect(values, node),
        Kind::Map(keys, values) => pair_map_to_connect(keys, values, node),
        Kind::Struct(fields) => struct_to_connect(fields, node),
    }
}

fn primitive_to_connect(ty: Type, node: &Value) -> Result<Value, ConvertError> {
    Ok(match ty {
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
    })
}

fn array_to_connect(items: &Schema, node: &Value) -> Result<Value, ConvertError> {
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
    Ok(Value::Array(converted))
}

/// A map with string keys: a JSON object.
fn string_map_to_connect(values: &Schema, node: &Value) -> Result<Value, ConvertError> {
    let Value::Object(entries) = node else {
        return Err(ConvertError::Payload(format!(
            "Maps with string fields should be encoded as JSON objects, but found {}",
            node_type(node)
        )));
    };
    let mut map = Map::new();
    for (key, value) in entries {
        map.insert(key.clone(), to_connect(Some(values), Some(value))?);
    }
    Ok(Value::Object(map))
}

/// A map with other keys: a JSON array of `[key, value]` pairs.
fn pair_map_to_connect(
    keys: &Schema,
    values: &Schema,
    node: &Value,
) -> Result<Value, ConvertError> {
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
    Ok(Value::Array(pairs))
}

fn struct_to_connect(fields: &[(String, Schema)], node: &Value) -> Result<Value, ConvertError> {
    let Value::Object(object) = node else {
        return Err(ConvertError::Payload(format!(
            "Structs should be encoded as JSON objects, but found {}",
            node_type(node)
        )));
    };
    let mut map = Map::new();
    for (name, field_schema) in fields {
        map.insert(
            name.clone(),
            to_connect(Some(field_schema), object.get(name))?,
        );
    }
    Ok(Value::Object(map))
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
pub(super) fn write_connect(
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
        (Kind::Primitive(ty), _) => write_primitive(out, *ty, value, mismatch),
        (Kind::Array(items), Value::Array(elements)) => write_array(out, items, elements),
        (Kind::Map(keys, values), Value::Object(entries)) if keys.ty() == Type::String => {
            write_string_map(out, values, entries)
        }
        (Kind::Map(keys, values), Value::Array(pairs)) if keys.ty() != Type::String => {
            write_pair_map(out, keys, values, pairs, mismatch)
        }
        (Kind::Struct(fields), Value::Object(object)) => write_struct(out, fields, object),
        _ => Err(mismatch()),
    }
}

/// A primitive value; `mismatch` is the error for a value that does not fit `ty`.
fn write_primitive(
    out: &mut Vec<u8>,
    ty: Type,
    value: &Value,
    mismatch: impl Fn() -> ConvertError,
) -> Result<(), ConvertError> {
    match (ty, value) {
        (Type::Boolean, Value::Bool(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64, Value::Number(n)) => {
            let i = n.as_i64().ok_or_else(&mismatch)?;
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
        (Type::Float32, Value::Number(n)) => {
            let f = n.as_f64().ok_or_else(&mismatch)? as f32;
            out.extend_from_slice(java_float(f).as_bytes());
        }
        (Type::Float64, Value::Number(n)) => {
            let f = n.as_f64().ok_or_else(&mismatch)?;
            out.extend_from_slice(java_double(f).as_bytes());
        }
        (Type::String, Value::String(s)) => write_str(out, s),
        (Type::Bytes, Value::String(s)) => {
            let bytes =
                decode_base64(s).map_err(|_| ConvertError::InvalidBytesType(java_class(value)))?;
            write_str(out, &STANDARD.encode(bytes));
        }
        (Type::Bytes, _) => return Err(ConvertError::InvalidBytesType(java_class(value))),
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn write_array(out: &mut Vec<u8>, items: &Schema, elements: &[Value]) -> Result<(), ConvertError> {
    out.push(b'[');
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_connect(out, Some(items), element)?;
    }
    out.push(b']');
    Ok(())
}

/// A map with string keys, as a JSON object.
fn write_string_map(
    out: &mut Vec<u8>,
    values: &Schema,
    entries: &Map<String, Value>,
) -> Result<(), ConvertError> {
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
    Ok(())
}

/// A map with other keys, as `[key, value]` pairs; `mismatch` for an entry that is not a pair.
fn write_pair_map(
    out: &mut Vec<u8>,
    keys: &Schema,
    values: &Schema,
    pairs: &[Value],
    mismatch: impl Fn() -> ConvertError,
) -> Result<(), ConvertError> {
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
    Ok(())
}

/// A struct's fields in schema order; a missing field is null (its default, if any).
fn write_struct(
    out: &mut Vec<u8>,
    fields: &[(String, Schema)],
    object: &Map<String, Value>,
) -> Result<(), ConvertError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{ConvertError, Data, SchemaAndValue};
    use serde_json::json;

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
}
