//! class-validator's wording, which GHL's 422 messages use, and JSON kinds.

use serde_json::Value;

pub(super) fn has_type(value: &Value, declared: &str) -> bool {
    match declared {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn subject(path: &str) -> &str {
    if path.is_empty() {
        "request body"
    } else {
        path
    }
}

pub(super) fn type_message(path: &str, declared: &str) -> String {
    format!("{} {}", subject(path), type_phrase(declared))
}

/// class-validator's wording for `IsString`, `IsNumber`, `IsInt`, `IsBoolean`, ...
pub(super) fn type_phrase(declared: &str) -> String {
    match declared {
        "string" => "must be a string".to_owned(),
        "number" => "must be a number conforming to the specified constraints".to_owned(),
        "integer" => "must be an integer number".to_owned(),
        "boolean" => "must be a boolean value".to_owned(),
        "array" => "must be an array".to_owned(),
        "object" => "must be an object".to_owned(),
        other => format!("must be of type {other}"),
    }
}

pub(super) fn one_of_message(allowed: &[Value]) -> String {
    let values: Vec<String> = allowed
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    format!("must be one of the following values: {}", values.join(", "))
}
