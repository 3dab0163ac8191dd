//! OpenAPI 3.0 descriptions (X, Pinterest) as contracts.
//!
//! A recorded exchange is matched to an operation by method and path template (under the
//! document's server path, `/v5` for Pinterest), then:
//!
//! - the operation exists;
//! - every required parameter is present, no query parameter is unknown, and each value is
//!   valid against its schema (arrays as the parameter's `style`/`explode` say: comma-separated
//!   for `explode: false`, repeated otherwise);
//! - the JSON, url-encoded or multipart body is valid against the request schema for its
//!   content type (form values read as the schema's types; file parts as binary strings),
//!   and has no member the schema does not describe;
//! - the sandbox's JSON answer is valid against the response schema for its status (or
//!   `default`), and has no member the schema does not describe.
//!
//! OpenAPI 3.0 schemas are read as JSON Schema 2020-12 after three rewrites: `nullable: true`
//! adds `null` to the type, a boolean `exclusiveMinimum`/`exclusiveMaximum` becomes the number
//! form, and a `oneOf` of overlapping enums becomes `anyOf`. A `discriminator` picks the
//! schema of its `mapping` for the undocumented-member check.

use serde_json::{json, Value};

use super::{media_type, query_pairs, undocumented, validate, Report};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// One operation of the document.
struct Op {
    method: String,
    template: String,
    /// Path segments after the server path; `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    /// Parameters (path-level and operation-level, `$ref`s resolved).
    params: Vec<Value>,
    op: Value,
}

/// A loaded OpenAPI document.
pub struct OpenApi {
    pub platform: &'static str,
    hosts: &'static [&'static str],
    /// The server path the templates are under (`/v5`), or empty.
    base: String,
    /// The document with its schemas rewritten (`components` is what `$ref`s point into).
    root: Value,
    ops: Vec<Op>,
}

impl OpenApi {
    /// Loads `rel` (under the reference folder) for `platform`'s `hosts`.
    pub fn load(platform: &'static str, rel: &str, hosts: &'static [&'static str]) -> OpenApi {
        Self::load_with(platform, rel, hosts, |_| {})
    }

    /// As [`OpenApi::load`], with `amend` applied to the document first: where the platform's
    /// current documentation disagrees with the document, the documentation decides, and the
    /// amendment (with the page) says so.
    pub fn load_with(
        platform: &'static str,
        rel: &str,
        hosts: &'static [&'static str],
        amend: impl FnOnce(&mut Value),
    ) -> OpenApi {
        let mut doc = super::load(rel);
        amend(&mut doc);
        rewrite(&mut doc);
        let base = doc["servers"][0]["url"]
            .as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let mut ops = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            let shared: Vec<Value> = item["parameters"].as_array().cloned().unwrap_or_default();
            for m in METHODS {
                let Some(op) = item.get(m) else { continue };
                let mut params: Vec<Value> = shared.iter().map(|p| deref(&doc, p)).collect();
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let p = deref(&doc, p);
                    params.retain(|q| !(q["name"] == p["name"] && q["in"] == p["in"]));
                    params.push(p);
                }
                ops.push(Op {
                    method: m.to_uppercase(),
                    template: template.clone(),
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                        .collect(),
                    params,
                    op: op.clone(),
                });
            }
        }
        let root = json!({ "components": doc["components"].clone() });
        OpenApi {
            platform,
            hosts,
            base,
            root,
            ops,
        }
    }

    /// Whether this document describes calls to `host`.
    pub fn serves(&self, host: &str) -> bool {
        self.hosts.contains(&host)
    }

    fn resolve(&self, r: &str) -> Option<Value> {
        self.root.pointer(r.strip_prefix('#')?).cloned()
    }

    /// The operation for a method and real path, with the path parameters' values.
    fn find(&self, method: &str, path: &str) -> Option<(&Op, Vec<(String, String)>)> {
        let rest = path.strip_prefix(&self.base)?;
        let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        self.ops
            .iter()
            .filter(|o| o.method == method && o.segments.len() == segs.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.as_deref().is_none_or(|t| t == *s))
            })
            // The most literal template wins (`/media/upload/initialize` over `/{id}`).
            .max_by_key(|o| o.segments.iter().filter(|s| s.is_some()).count())
            .map(|o| {
                let names: Vec<String> = o
                    .template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| s.trim_matches(|c| c == '{' || c == '}').to_string())
                    .collect();
                let values = o
                    .segments
                    .iter()
                    .zip(names)
                    .zip(&segs)
                    .filter(|((t, _), _)| t.is_none())
                    .map(|((_, n), v)| (n, v.to_string()))
                    .collect();
                (o, values)
            })
    }

    /// Checks one exchange; returns false when no operation matches (recorded as a problem).
    pub fn check(&self, ex: &Value, report: &mut Report) {
        let method = ex["method"].as_str().unwrap_or_default();
        let host = ex["host"].as_str().unwrap_or_default();
        let path = ex["path"].as_str().unwrap_or_default();
        let Some((op, path_values)) = self.find(method, path) else {
            report.call(
                self.platform,
                &format!("{method} {host}{path}"),
                vec![format!(
                    "no operation {method} {path} in the description (server path `{}`)",
                    self.base
                )],
            );
            return;
        };
        let call = format!("{method} {host}{}{}", self.base, op.template);
        let mut problems = Vec::new();
        self.check_params(op, &path_values, &query_pairs(ex), &mut problems);
        self.check_body(op, &ex["request"], &mut problems);
        report.call(self.platform, &call, problems);

        let mut problems = Vec::new();
        self.check_answer(op, &ex["response"], &mut problems);
        report.answer(self.platform, &call, problems);
    }

    fn check_params(
        &self,
        op: &Op,
        path_values: &[(String, String)],
        query: &[(String, String)],
        problems: &mut Vec<String>,
    ) {
        for p in &op.params {
            let name = p["name"].as_str().unwrap_or_default();
            let values: Vec<&str> = match p["in"].as_str() {
                Some("path") => path_values
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect(),
                Some("query") => query
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect(),
                _ => continue,
            };
            if values.is_empty() {
                if p["required"] == true {
                    problems.push(format!("required parameter `{name}` is missing"));
                }
                continue;
            }
            let schema = &p["schema"];
            let value = self.param_value(schema, p, &values);
            for e in validate(&self.root, schema, &value) {
                problems.push(format!("parameter `{name}`={value}: {e}"));
            }
        }
        for (name, _) in query {
            let known = op
                .params
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == name.as_str());
            if !known && !problems.iter().any(|p| p.contains(&format!("`{name}`"))) {
                let names: Vec<&str> = op
                    .params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                problems.push(format!(
                    "unknown query parameter `{name}` (the operation takes: {})",
                    names.join(", ")
                ));
            }
        }
    }

    /// A parameter's values read as its schema's type.
    fn param_value(&self, schema: &Value, p: &Value, values: &[&str]) -> Value {
        let schema = self.deref_schema(schema);
        if schema["type"] == "array" {
            let explode = p["explode"].as_bool().unwrap_or(true);
            let items = self.deref_schema(&schema["items"]);
            let all: Vec<Value> = if explode {
                values.iter().map(|v| typed(&items, v)).collect()
            } else {
                values
                    .iter()
                    .flat_map(|v| v.split(','))
                    .map(|v| typed(&items, v))
                    .collect()
            };
            Value::Array(all)
        } else {
            typed(&schema, values[0])
        }
    }

    fn deref_schema(&self, s: &Value) -> Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r).unwrap_or(Value::Null),
            None => s.clone(),
        }
    }

    fn check_body(&self, op: &Op, request: &Value, problems: &mut Vec<String>) {
        let ct = request["content_type"]
            .as_str()
            .map(media_type)
            .unwrap_or_default();
        let has_json = !request["json"].is_null();
        let has_form = request["form"].as_object().is_some_and(|m| !m.is_empty())
            || request["files"].as_array().is_some_and(|a| !a.is_empty());
        let described = &op.op["requestBody"];
        if described.is_null() {
            if has_json || has_form {
                problems.push(format!(
                    "a {ct} body is sent; the operation takes no request body"
                ));
            }
            return;
        }
        if !has_json && !has_form {
            if described["required"] == true && request["size"].as_u64().unwrap_or(0) == 0 {
                problems.push("the required request body is missing".to_string());
            }
            return;
        }
        let content = &described["content"];
        let Some(schema) = content.get(&ct).map(|c| c["schema"].clone()) else {
            let offered: Vec<&String> = content
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            problems.push(format!(
                "body content type {ct} is not one the operation takes ({offered:?})"
            ));
            return;
        };
        let instance = if has_json {
            request["json"].clone()
        } else {
            self.form_instance(&schema, request)
        };
        problems.extend(validate(&self.root, &schema, &instance));
        let mut extra = Vec::new();
        undocumented(&schema, &instance, &|r| self.resolve(r), "", &mut extra);
        problems.extend(extra.into_iter().map(|e| format!("request body {e}")));
    }

    /// A form or multipart body as the JSON object its schema describes: text fields read as
    /// the property's type, file parts as a (binary) string.
    fn form_instance(&self, schema: &Value, request: &Value) -> Value {
        let schema = self.deref_schema(schema);
        let mut out = serde_json::Map::new();
        for (k, v) in request["form"].as_object().into_iter().flatten() {
            let prop = self.deref_schema(&schema["properties"][k]);
            let text = v.as_str().unwrap_or_default();
            out.insert(k.clone(), typed(&prop, text));
        }
        for f in request["files"].as_array().into_iter().flatten() {
            if let Some(name) = f["name"].as_str() {
                out.insert(
                    name.to_string(),
                    json!(format!("<{} bytes>", f["size"].as_u64().unwrap_or(0))),
                );
            }
        }
        Value::Object(out)
    }

    fn check_answer(&self, op: &Op, response: &Value, problems: &mut Vec<String>) {
        let status = response["status"].as_u64().unwrap_or(0).to_string();
        let responses = &op.op["responses"];
        let Some(described) = responses.get(&status).or_else(|| responses.get("default")) else {
            problems.push(format!("status {status} is not described"));
            return;
        };
        let ct = response["content_type"]
            .as_str()
            .map(media_type)
            .unwrap_or_default();
        let content = &described["content"];
        if content.is_null() {
            if response["size"].as_u64().unwrap_or(0) > 0 && !response["json"].is_null() {
                problems.push(format!("status {status} has no body in the description"));
            }
            return;
        }
        let Some(schema) = content.get(&ct).map(|c| c["schema"].clone()) else {
            problems.push(format!(
                "answer content type {ct:?} is not described for status {status}"
            ));
            return;
        };
        if response["json"].is_null() {
            problems.push(format!("the answer is not JSON ({ct})"));
            return;
        }
        problems.extend(validate(&self.root, &schema, &response["json"]));
        let mut extra = Vec::new();
        undocumented(
            &schema,
            &response["json"],
            &|r| self.resolve(r),
            "",
            &mut extra,
        );
        problems.extend(extra);
    }
}

/// A text value read as the JSON type its schema gives (left a string when it does not
/// parse, so validation reports it).
fn typed(schema: &Value, text: &str) -> Value {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"integer") {
        if let Ok(n) = text.parse::<i64>() {
            return json!(n);
        }
    }
    if types.contains(&"number") {
        if let Ok(n) = text.parse::<f64>() {
            return json!(n);
        }
    }
    if types.contains(&"boolean") && (text == "true" || text == "false") {
        return json!(text == "true");
    }
    json!(text)
}

fn deref(doc: &Value, v: &Value) -> Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .cloned()
            .unwrap_or(Value::Null),
        None => v.clone(),
    }
}

/// OpenAPI 3.0 schema keywords in their JSON Schema 2020-12 form.
fn rewrite(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("nullable") == Some(&Value::Bool(true)) {
                m.remove("nullable");
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = m.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            for (kw, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(b)) = m.get(kw).cloned() {
                    m.remove(kw);
                    if b {
                        if let Some(n) = m.remove(bound) {
                            m.insert(kw.into(), n);
                        }
                    }
                }
            }
            // A `oneOf` of string enums that share values (Pinterest's `metric_types` items
            // list IMPRESSION in two of them) makes every shared value invalid; the document
            // means "any of these lists".
            let enum_branches = m
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|b| b.iter().all(|x| x.get("enum").is_some()));
            if enum_branches {
                if let Some(b) = m.remove("oneOf") {
                    m.insert("anyOf".into(), b);
                }
            }
            m.values_mut().for_each(rewrite);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite),
        _ => {}
    }
}

/// Where X's current documentation and its OpenAPI document (xdk 2.167) disagree, the
/// documentation decides:
///
/// - the fields parameter of Posts is `tweet.fields`
///   (<https://docs.x.com/x-api/fundamentals/fields>: "Post (Tweet) — tweet.fields"; every
///   example of <https://docs.x.com/x-api/fundamentals/metrics> reads
///   `GET /2/tweets/{id}?tweet.fields=public_metrics`); the document calls it `post.fields`.
///   Both are accepted;
/// - reposts are counted in `public_metrics.retweet_count` (the metrics page's table and the
///   fields page's example answer, with `bookmark_count`); the document has `repost_count`.
///   Either is accepted, one is required; the other five are required as the document says.
pub fn x_documentation_decides(doc: &mut Value) {
    if let Some(p) = doc["components"]["parameters"]["PostFieldsParameter"]
        .as_object()
        .cloned()
    {
        let mut tweet = p;
        tweet.insert("name".into(), json!("tweet.fields"));
        doc["components"]["parameters"]["TweetFieldsParameter"] = Value::Object(tweet);
        let post_ref = json!({"$ref": "#/components/parameters/PostFieldsParameter"});
        let tweet_ref = json!({"$ref": "#/components/parameters/TweetFieldsParameter"});
        for (_, item) in doc["paths"].as_object_mut().into_iter().flatten() {
            for (_, op) in item.as_object_mut().into_iter().flatten() {
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    if params.contains(&post_ref) {
                        params.push(tweet_ref.clone());
                    }
                }
            }
        }
    }
    let m = &mut doc["components"]["schemas"]["PostPublicMetrics"];
    if m.is_object() {
        m["properties"]["retweet_count"] = json!({"type": "integer", "format": "int64"});
        m["required"] = json!([
            "reply_count",
            "like_count",
            "quote_count",
            "bookmark_count",
            "impression_count"
        ]);
        m["anyOf"] = json!([{"required": ["repost_count"]}, {"required": ["retweet_count"]}]);
    }
}
