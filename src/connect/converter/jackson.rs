//! Jackson's side of JsonConverter: its lenient `JsonNode` accessors, its base64 reading, and
//! its printing of JSON values (Java's `Double.toString`, upper-case `\u00XX` escapes).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Number, Value};

/// The class of the Java value a schemaless JsonConverter would have made of `value`.
pub(super) fn java_class(value: &Value) -> &'static str {
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
pub(super) fn node_type(value: &Value) -> &'static str {
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
pub(super) fn long_value(node: &Value) -> i64 {
    match node {
        Value::Number(n) => number_long(n),
        _ => 0,
    }
}

pub(super) fn number_long(n: &Number) -> i64 {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i,
        (None, Some(u), _) => u as i64,
        (None, None, Some(f)) => f as i64,
        (None, None, None) => 0,
    }
}

/// `JsonNode.intValue()`: the low 32 bits of the long value, as Java's narrowing does.
pub(super) fn int_value(node: &Value) -> i32 {
    long_value(node) as i32
}

/// `JsonNode.doubleValue()`: 0.0 for non-numbers.
pub(super) fn double_value(node: &Value) -> f64 {
    node.as_f64().unwrap_or(0.0)
}

/// A Java float as a JSON number that prints back as `Float.toString` would print it.
pub(super) fn float32_value(f: f32) -> Value {
    format!("{f}")
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Jackson's base64 reading: standard alphabet, padding required, stray trailing bits and
/// whitespace tolerated.
pub(super) fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
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
pub(super) fn write_plain(out: &mut Vec<u8>, value: &Value) {
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
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
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
pub(super) fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return non_finite(f.is_nan(), f.is_sign_negative());
    }
    java_decimal(&format!("{f:e}"), (1e-3..1e7).contains(&f.abs()))
}

/// Java's `Float.toString`.
pub(super) fn java_float(f: f32) -> String {
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
    use super::super::test_support::*;
    use super::super::Data;
    use super::*;
    use serde_json::json;

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
}
