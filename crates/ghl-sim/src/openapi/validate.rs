//! Validation of JSON values against the OpenAPI 3.0 subset the GHL specs use:
//! `$ref`, `type`, `nullable`, `required`, `properties`, `items`, `anyOf`/`oneOf`/`allOf`
//! and `enum`.
//!
//! GHL's servers are NestJS with class-validator and `forbidNonWhitelisted`, so the
//! messages imitate class-validator (`"title must be a string"`, `"property gender should
//! not exist"`, nested ones prefixed with their path: `"customFields.0.id should not be
//! empty"`). Two rules follow GHL rather than plain JSON Schema:
//!
//! - an object schema that lists `properties` rejects every other property (GHL answers
//!   422 `property X should not exist`);
//! - `type: object` *without* `properties` is how NestJS's Swagger plugin writes an
//!   untyped (`any`) property, e.g. `dateOfBirth` (example `"1990-09-25"`) or a numeric
//!   custom field's `field_value` (example `100`). Such a schema accepts any object, and
//!   also a value of the same JSON kind as its `example`.

use serde_json::Value;

use super::Spec;
use super::messages::{has_type, kind, one_of_message, subject, type_message, type_phrase};

/// Nesting deeper than this is treated as a cyclic schema.
const MAX_DEPTH: usize = 64;

/// A schema inside one of the spec documents, ready to validate values.
#[derive(Debug, Clone, Copy)]
pub struct SchemaRef<'a> {
    spec: &'a Spec,
    doc: usize,
    schema: &'a Value,
}

impl<'a> SchemaRef<'a> {
    pub(super) fn new(spec: &'a Spec, doc: usize, schema: &'a Value) -> Self {
        SchemaRef { spec, doc, schema }
    }

    /// The raw schema (possibly just a `$ref`).
    pub fn raw(&self) -> &'a Value {
        self.schema
    }

    /// The name of the component this schema refers to, e.g. `UpdateContactDto`.
    pub fn name(&self) -> Option<&'a str> {
        self.schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
    }

    /// Checks `value`; on failure returns every violation, GHL-style.
    pub fn validate(&self, value: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        Checker { spec: self.spec }.check(self.doc, self.schema, value, "", 0, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

struct Checker<'a> {
    spec: &'a Spec,
}

impl<'a> Checker<'a> {
    /// `path` is the dotted location of `value` (`""` for the body itself).
    fn check(
        &self,
        doc: usize,
        schema: &'a Value,
        value: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        if depth > MAX_DEPTH {
            errors.push(format!("{} nests too deeply", subject(path)));
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match self.spec.resolve(doc, reference) {
                Some((doc, target)) => self.check(doc, target, value, path, depth + 1, errors),
                None => errors.push(format!("schema error: unresolved $ref {reference}")),
            }
            return;
        }
        if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        for sub in array(schema, "allOf") {
            self.check(doc, sub, value, path, depth + 1, errors);
        }
        for keyword in ["anyOf", "oneOf"] {
            let branches = array(schema, keyword);
            if !branches.is_empty() {
                self.check_alternatives(
                    doc,
                    branches,
                    keyword == "oneOf",
                    value,
                    path,
                    depth,
                    errors,
                );
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{} {}", subject(path), one_of_message(allowed)));
            return;
        }
        self.check_type(doc, schema, value, path, depth, errors);
    }

    #[allow(clippy::too_many_arguments)]
    fn check_alternatives(
        &self,
        doc: usize,
        branches: &'a [Value],
        exactly_one: bool,
        value: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let outcomes: Vec<Vec<String>> = branches
            .iter()
            .map(|branch| {
                let mut branch_errors = Vec::new();
                self.check(doc, branch, value, path, depth + 1, &mut branch_errors);
                branch_errors
            })
            .collect();
        let matching = outcomes.iter().filter(|e| e.is_empty()).count();
        if exactly_one && matching > 1 {
            errors.push(format!(
                "{} matches more than one allowed shape",
                subject(path)
            ));
        } else if matching == 0 {
            // Report the branch that came closest: its messages are the useful ones.
            if let Some(closest) = outcomes.into_iter().min_by_key(Vec::len) {
                errors.extend(closest);
            }
        }
    }

    fn check_type(
        &self,
        doc: usize,
        schema: &'a Value,
        value: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let declared = schema.get("type").and_then(Value::as_str);
        match declared.or(properties.map(|_| "object")) {
            Some("object") => match (value.as_object(), properties) {
                (Some(object), Some(properties)) => {
                    self.check_object(doc, schema, properties, object, path, depth, errors)
                }
                (Some(_), None) => {}
                (None, Some(_)) => errors.push(type_message(path, "object")),
                (None, None) => {
                    let example_kind = schema.get("example").map(kind);
                    if example_kind != Some(kind(value)) {
                        errors.push(type_message(path, "object"));
                    }
                }
            },
            Some("array") => match value.as_array() {
                Some(items) => self.check_items(doc, schema, items, path, depth, errors),
                None => errors.push(type_message(path, "array")),
            },
            Some(primitive) if !has_type(value, primitive) => {
                errors.push(type_message(path, primitive));
            }
            Some(_) | None => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_object(
        &self,
        doc: usize,
        schema: &'a Value,
        properties: &'a serde_json::Map<String, Value>,
        object: &serde_json::Map<String, Value>,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        for key in object.keys().filter(|key| !properties.contains_key(*key)) {
            errors.push(format!("{prefix}property {key} should not exist"));
        }
        for required in array(schema, "required").iter().filter_map(Value::as_str) {
            if !object.contains_key(required) {
                errors.push(format!("{prefix}{required} should not be empty"));
            }
        }
        for (key, value) in object {
            if let Some(property) = properties.get(key) {
                self.check(
                    doc,
                    property,
                    value,
                    &format!("{prefix}{key}"),
                    depth + 1,
                    errors,
                );
            }
        }
    }

    fn check_items(
        &self,
        doc: usize,
        schema: &'a Value,
        items: &[Value],
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let Some(item_schema) = schema.get("items") else {
            return;
        };
        let (item_doc, resolved) = self.resolve_shallow(doc, item_schema);
        if let Some(primitive) = primitive_type(resolved) {
            // class-validator words element errors of primitive arrays as one message.
            let each = format!("each value in {}", subject(path));
            if let Some(allowed) = resolved.get("enum").and_then(Value::as_array) {
                if items.iter().any(|item| !allowed.contains(item)) {
                    errors.push(format!("{each} {}", one_of_message(allowed)));
                }
            } else if items.iter().any(|item| !has_type(item, primitive)) {
                errors.push(format!("{each} {}", type_phrase(primitive)));
            }
            return;
        }
        for (index, item) in items.iter().enumerate() {
            let item_path = if path.is_empty() {
                index.to_string()
            } else {
                format!("{path}.{index}")
            };
            self.check(item_doc, resolved, item, &item_path, depth + 1, errors);
        }
    }

    /// Follows `$ref`s until a schema that is not a bare reference.
    fn resolve_shallow(&self, mut doc: usize, mut schema: &'a Value) -> (usize, &'a Value) {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match self.spec.resolve(doc, reference) {
                Some((next_doc, next)) => (doc, schema) = (next_doc, next),
                None => break,
            }
        }
        (doc, schema)
    }
}

fn array<'v>(schema: &'v Value, keyword: &str) -> &'v [Value] {
    schema
        .get(keyword)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The type of a schema that constrains nothing but a primitive type (and maybe an enum).
fn primitive_type(schema: &Value) -> Option<&str> {
    let composed = ["anyOf", "oneOf", "allOf", "$ref", "properties"]
        .iter()
        .any(|k| schema.get(*k).is_some());
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    match schema.get("type").and_then(Value::as_str) {
        Some(t @ ("string" | "number" | "integer" | "boolean")) if !composed && !nullable => {
            Some(t)
        }
        _ => None,
    }
}
