//! The vendored GHL OpenAPI specs and a validator for the subset of OpenAPI 3.0 they use.
//!
//! The specs are compiled in (`include_str!`) and parsed once per process. An operation is
//! looked up by method and path template exactly as the spec writes it
//! (`PUT /contacts/{contactId}`); a template that differs only by a trailing slash also
//! matches (`POST /contacts` finds the spec's `POST /contacts/`).

mod messages;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use serde_json::Value;

pub use validate::SchemaRef;

/// Spec documents, by the file name that `$ref`s use.
const DOCUMENTS: [(&str, &str); 4] = [
    (
        "contacts.json",
        include_str!("../openapi/apps/contacts.json"),
    ),
    (
        "locations.json",
        include_str!("../openapi/apps/locations.json"),
    ),
    (
        "calendars.json",
        include_str!("../openapi/apps/calendars.json"),
    ),
    (
        "common-schemas.json",
        include_str!("../openapi/common/common-schemas.json"),
    ),
];

static EMBEDDED: LazyLock<Result<Spec, String>> = LazyLock::new(Spec::parse_embedded);

/// One operation of the specs.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template as written in the spec, e.g. `/contacts/{contactId}/tags`.
    pub path: String,
    /// The spec's `operationId`, e.g. `add-tags`.
    pub operation_id: String,
    /// The allowed values of the required `Version` header (empty when the operation
    /// declares none).
    pub versions: Vec<String>,
    doc: usize,
    request_schema: Option<Value>,
}

/// The parsed specs: every operation plus the documents `$ref`s point into.
#[derive(Debug)]
pub struct Spec {
    docs: Vec<(&'static str, Value)>,
    operations: Vec<Operation>,
}

impl Spec {
    /// The specs embedded in this crate, parsed on first use.
    pub fn embedded() -> anyhow::Result<&'static Spec> {
        EMBEDDED
            .as_ref()
            .map_err(|e| anyhow::anyhow!("embedded OpenAPI spec is invalid: {e}"))
    }

    fn parse_embedded() -> Result<Spec, String> {
        let mut docs = Vec::with_capacity(DOCUMENTS.len());
        for (name, text) in DOCUMENTS {
            let value: Value = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
            docs.push((name, value));
        }
        Ok(Spec::from_documents(docs))
    }

    fn from_documents(docs: Vec<(&'static str, Value)>) -> Spec {
        let mut operations = Vec::new();
        for (doc, (_, value)) in docs.iter().enumerate() {
            let Some(paths) = value.get("paths").and_then(Value::as_object) else {
                continue;
            };
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    operations.push(Operation::from_spec(doc, method, path, op));
                }
            }
        }
        Spec { docs, operations }
    }

    /// The operation for `method` and `path_template`, if the specs define it.
    pub fn operation(&self, method: &str, path_template: &str) -> Option<&Operation> {
        let wanted = path_template.trim_end_matches('/');
        self.operations.iter().find(|op| {
            op.method.eq_ignore_ascii_case(method) && op.path.trim_end_matches('/') == wanted
        })
    }

    /// The operation whose path template matches a concrete request path, with the path
    /// parameters. A template with more literal segments wins (`/contacts/upsert` over
    /// `/contacts/{contactId}`); a trailing slash is ignored.
    pub fn match_request(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&Operation, Vec<(String, String)>)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter_map(|op| Some((op, match_template(&op.path, &segments)?)))
            .min_by_key(|(_, params)| params.len())
    }

    /// The JSON request-body schema of an operation (`None` when it takes no JSON body).
    pub fn request_schema(&self, method: &str, path_template: &str) -> Option<SchemaRef<'_>> {
        let op = self.operation(method, path_template)?;
        let schema = op.request_schema.as_ref()?;
        Some(SchemaRef::new(self, op.doc, schema))
    }

    /// The `Version` header values the operation accepts.
    pub fn version_enum(&self, method: &str, path_template: &str) -> Option<&[String]> {
        self.operation(method, path_template)
            .map(|op| op.versions.as_slice())
    }

    /// Validates a request body against the operation's schema. Errors are GHL-style
    /// messages (`"property gender should not exist"`, `"body must be a string"`). An
    /// operation without a JSON body schema accepts anything.
    pub fn validate_request_body(
        &self,
        method: &str,
        path_template: &str,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        match self.request_schema(method, path_template) {
            Some(schema) => schema.validate(body),
            None => Ok(()),
        }
    }

    /// A named schema of a document, e.g. `schema("contacts.json", "NotesDTO")`.
    pub fn schema(&self, document: &str, name: &str) -> Option<SchemaRef<'_>> {
        let doc = self.doc_index(document)?;
        let schema = self.docs[doc]
            .1
            .pointer(&format!("/components/schemas/{name}"))?;
        Some(SchemaRef::new(self, doc, schema))
    }

    fn doc_index(&self, file_name: &str) -> Option<usize> {
        self.docs.iter().position(|(name, _)| *name == file_name)
    }

    /// Resolves a `$ref` found in document `from`: `#/components/schemas/X` (same
    /// document) or `../common/common-schemas.json#/components/schemas/X`.
    fn resolve(&self, from: usize, reference: &str) -> Option<(usize, &Value)> {
        let (file, pointer) = reference.split_once('#')?;
        let doc = if file.is_empty() {
            from
        } else {
            self.doc_index(file.rsplit('/').next().unwrap_or(file))?
        };
        Some((doc, self.docs[doc].1.pointer(pointer)?))
    }
}

impl Operation {
    fn from_spec(doc: usize, method: &str, path: &str, op: &Value) -> Operation {
        let versions = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| {
                p.get("in") == Some(&"header".into()) && p.get("name") == Some(&"Version".into())
            })
            .and_then(|p| p.pointer("/schema/enum"))
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            operation_id: op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            versions,
            doc,
            request_schema: op
                .pointer("/requestBody/content/application~1json/schema")
                .cloned(),
        }
    }
}

/// The path parameters if `template` matches `segments` (a path split at `/`).
fn match_template(template: &str, segments: &[&str]) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => {
                params.push((name.to_owned(), (*segment).to_owned()))
            }
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    Some(params)
}
