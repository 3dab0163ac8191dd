//! The YouTube Data API discovery document as a contract.
//!
//! A recorded exchange is matched to a method by HTTP method and path: a method's `path`
//! under the root URL, or a path of its `mediaUpload.protocols` (`simple.path`, the one
//! Google's resumable upload guide uses with `uploadType=resumable`, and `resumable.path`).
//! Then: the method's required parameters are present, no query parameter is unknown (the
//! method's and the document's common ones, `uploadType` among them), values have the
//! parameter's type and enum, the JSON body is valid against the method's `request` schema,
//! the answer against its `response` schema (both with every described object closed: a
//! member the document does not describe is reported).
//!
//! The upload of the bytes, `PUT {session URI}` (the `Location` of the session request, the
//! same path with `upload_id`), is not a method of the document: Google's guide decides
//! (<https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol>): each
//! `PUT` carries `Content-Range: bytes a-b/N` (or `bytes */N` to ask the offset) and is
//! answered `308` with `Range` while incomplete, then `200`/`201` with the video resource.
//! Errors are Google's error envelope
//! (<https://developers.google.com/youtube/v3/docs/core_errors>):
//! `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`.

use serde_json::{json, Value};

use super::{media_type, query_pairs, validate, Report};

/// One method of the document.
struct Method {
    id: String,
    http: String,
    /// Paths under the root (`/youtube/v3/videos`, `/upload/youtube/v3/videos`).
    paths: Vec<String>,
    parameters: serde_json::Map<String, Value>,
    request: Option<String>,
    response: Option<String>,
}

/// The loaded discovery document.
pub struct Discovery {
    root: Value,
    methods: Vec<Method>,
    common: serde_json::Map<String, Value>,
}

const HOSTS: [&str; 2] = ["www.googleapis.com", "youtube.googleapis.com"];

impl Discovery {
    pub fn load() -> Discovery {
        let doc = super::load("youtube/youtube.v3.json");
        let mut methods = Vec::new();
        collect_methods(&doc["resources"], &mut methods);
        let mut defs = serde_json::Map::new();
        for (name, s) in doc["schemas"].as_object().expect("schemas") {
            let mut s = s.clone();
            to_json_schema(&mut s);
            defs.insert(name.clone(), s);
        }
        Discovery {
            root: json!({ "$defs": defs }),
            methods,
            common: doc["parameters"].as_object().cloned().unwrap_or_default(),
        }
    }

    pub fn serves(&self, host: &str) -> bool {
        HOSTS.contains(&host)
    }

    fn schema(name: &str) -> Value {
        json!({ "$ref": format!("#/$defs/{name}") })
    }

    pub fn check(&self, ex: &Value, report: &mut Report) {
        let method = ex["method"].as_str().unwrap_or_default();
        let host = ex["host"].as_str().unwrap_or_default();
        let path = ex["path"].as_str().unwrap_or_default();
        let query = query_pairs(ex);
        let call = format!("{method} {host}{path}");
        let upload_id = query.iter().any(|(k, _)| k == "upload_id");
        let m = self
            .methods
            .iter()
            .find(|m| m.http == method && m.paths.iter().any(|p| p == path));
        if method == "PUT" && upload_id {
            let m = self
                .methods
                .iter()
                .find(|m| m.paths.iter().any(|p| p == path) && m.http == "POST");
            return self.check_session_put(ex, m, &call, report);
        }
        let Some(m) = m else {
            report.call(
                "youtube",
                &call,
                vec![format!(
                    "no method {method} {path} in the discovery document"
                )],
            );
            return;
        };
        let call = format!("{method} {host}{path} ({})", m.id);
        let mut problems = Vec::new();
        for (name, p) in &m.parameters {
            if p["required"] == true && !query.iter().any(|(k, _)| k == name) {
                problems.push(format!("required parameter `{name}` is missing"));
            }
        }
        for (name, value) in &query {
            let Some(p) = m.parameters.get(name).or_else(|| self.common.get(name)) else {
                problems.push(format!("unknown query parameter `{name}`"));
                continue;
            };
            problems.extend(check_value(name, p, value));
        }
        match (&m.request, ex["request"]["json"].is_null()) {
            (Some(r), false) => {
                problems.extend(validate(
                    &self.root,
                    &Self::schema(r),
                    &ex["request"]["json"],
                ));
            }
            (None, false) => problems.push("a JSON body is sent; the method takes none".into()),
            _ => {}
        }
        report.call("youtube", &call, problems);

        let status = ex["response"]["status"].as_u64().unwrap_or(0);
        let mut problems = Vec::new();
        let resumable = query
            .iter()
            .any(|(k, v)| k == "uploadType" && v == "resumable");
        if resumable && (200..300).contains(&status) {
            // Opening a session: 200 with the session URI in `Location` (the guide).
            if status != 200 {
                problems.push(format!(
                    "status {status}: a session request is answered 200"
                ));
            }
            if ex["response"]["headers"]["location"].is_null() {
                problems.push("no `Location` (session URI) in the answer".into());
            }
        } else if (200..300).contains(&status) {
            if let Some(r) = &m.response {
                problems.extend(validate(
                    &self.root,
                    &Self::schema(r),
                    &ex["response"]["json"],
                ));
            }
        } else {
            problems.extend(google_error(&ex["response"]));
        }
        report.answer("youtube", &call, problems);
    }

    /// `PUT {session URI}`: the resumable upload guide's rules.
    fn check_session_put(&self, ex: &Value, m: Option<&Method>, call: &str, report: &mut Report) {
        let call = format!("{call} (resumable upload: PUT session URI)");
        let mut problems = Vec::new();
        if m.is_none() {
            problems.push("the session path is no method's upload path".into());
        }
        let range = ex["request"]["headers"]["content-range"].as_str();
        let ok_range = range.is_some_and(|r| {
            let r = r.trim();
            r.starts_with("bytes ") && r.contains('/')
        });
        if !ok_range && ex["request"]["size"].as_u64().unwrap_or(0) > 0 {
            problems.push(format!(
                "a chunk without `Content-Range: bytes a-b/N` ({range:?})"
            ));
        }
        report.call("youtube", &call, problems);
        let status = ex["response"]["status"].as_u64().unwrap_or(0);
        let mut problems = Vec::new();
        match status {
            308 => {
                let r = ex["response"]["headers"]["range"].as_str();
                // No `Range` means no byte was received yet (the guide).
                if r.is_some_and(|r| !r.starts_with("bytes=0-")) {
                    problems.push(format!("308 with `Range` {r:?}, not `bytes=0-k`"));
                }
            }
            200 | 201 => {
                if let Some(r) = m.and_then(|m| m.response.as_deref()) {
                    problems.extend(validate(
                        &self.root,
                        &Self::schema(r),
                        &ex["response"]["json"],
                    ));
                }
            }
            404 | 410 => {}
            _ => problems.extend(google_error(&ex["response"])),
        }
        report.answer("youtube", &call, problems);
    }
}

/// Google's error envelope (<https://developers.google.com/youtube/v3/docs/core_errors>).
fn google_error(response: &Value) -> Vec<String> {
    let ct = response["content_type"]
        .as_str()
        .map(media_type)
        .unwrap_or_default();
    let e = &response["json"]["error"];
    let mut out = Vec::new();
    if ct != "application/json" {
        out.push(format!("error answer of type {ct:?}, not JSON"));
    }
    if !e["code"].is_u64() || !e["message"].is_string() || !e["errors"].is_array() {
        out.push(format!(
            "error answer is not Google's envelope {{error:{{code,message,errors}}}}: {}",
            response["json"]
        ));
    }
    out
}

fn check_value(name: &str, p: &Value, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ok = match p["type"].as_str() {
        Some("integer") => value.parse::<i64>().is_ok(),
        Some("boolean") => value == "true" || value == "false",
        _ => true,
    };
    if !ok {
        out.push(format!(
            "parameter `{name}`={value:?} is not a {}",
            p["type"]
        ));
    }
    if let Some(e) = p["enum"].as_array() {
        if !e.iter().any(|x| x == value) {
            out.push(format!("parameter `{name}`={value:?} is not one of {e:?}"));
        }
    }
    out
}

fn collect_methods(resources: &Value, out: &mut Vec<Method>) {
    for (_, r) in resources.as_object().into_iter().flatten() {
        for (_, m) in r["methods"].as_object().into_iter().flatten() {
            let mut paths = vec![format!("/{}", m["path"].as_str().unwrap_or_default())];
            for proto in ["simple", "resumable"] {
                if let Some(p) = m["mediaUpload"]["protocols"][proto]["path"].as_str() {
                    paths.push(p.to_string());
                }
            }
            if m["mediaUpload"].is_object() {
                // The upload paths first: a POST to them is the upload, not the metadata call.
                paths.rotate_left(1);
            }
            out.push(Method {
                id: m["id"].as_str().unwrap_or_default().to_string(),
                http: m["httpMethod"].as_str().unwrap_or_default().to_string(),
                paths,
                parameters: m["parameters"].as_object().cloned().unwrap_or_default(),
                request: m["request"]["$ref"].as_str().map(str::to_string),
                response: m["response"]["$ref"].as_str().map(str::to_string),
            });
        }
        collect_methods(&r["resources"], out);
    }
}

/// A discovery schema as JSON Schema 2020-12: `$ref: "Name"` → `#/$defs/Name`; the
/// discovery-only `required: true`, `type: any` and string `format`s dropped; every object
/// with `properties` closed, so a member the document does not describe fails.
fn to_json_schema(v: &mut Value) {
    if let Value::Object(m) = v {
        if let Some(Value::String(r)) = m.get_mut("$ref") {
            *r = format!("#/$defs/{r}");
        }
        if m.get("required").is_some_and(Value::is_boolean) {
            m.remove("required");
        }
        if m.get("type") == Some(&json!("any")) {
            m.remove("type");
        }
        m.remove("format");
        m.remove("id");
        if m.contains_key("properties") && !m.contains_key("additionalProperties") {
            m.insert("additionalProperties".into(), Value::Bool(false));
        }
        if let Some(Value::Object(props)) = m.get_mut("properties") {
            props.values_mut().for_each(to_json_schema);
        }
        for k in ["items", "additionalProperties"] {
            if let Some(x) = m.get_mut(k) {
                to_json_schema(x);
            }
        }
    }
}
