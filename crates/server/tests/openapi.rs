//! The OpenAPI description (`GET /openapi.json`, `src/openapi.rs`) against the code:
//!
//! 1. it is an OpenAPI 3.1 document whose parts are well formed (paths, parameters, unique
//!    operation ids, resolvable `$ref`s, component schemas valid JSON Schema 2020-12);
//! 2. it is in step with the router: the routes the `routes()` functions register (read from the
//!    sources `router()` merges) are exactly the described operations, and each described
//!    operation is served (not the fallback's 404 nor a 405);
//! 3. real answers of a whole flow against the sandbox validate against the schema described for
//!    their path, method, status and content type, with every object schema closed
//!    (`additionalProperties: false`) so that an undocumented field fails; every operation is
//!    exercised at least once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use common::TestApp;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::to_value(switchboard_server::openapi::document()).expect("document serializes")
}

/// Every `(method, path)` operation of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`) in `doc`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.strip_prefix('#').expect("local ref"))
                .unwrap_or_else(|| panic!("unresolvable $ref {r}"));
            resolve(doc, target)
        }
        None => v,
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                }
                collect_refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

// ------------------------------------------------------------------------------------------
// 1. An OpenAPI 3.1 document.
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_served_document_is_openapi_3_1() {
    let app = TestApp::spawn().await;
    // Served without an API key.
    let r = app
        .http
        .get(format!("{}/openapi.json", app.api))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = r.json().await.expect("JSON");
    assert_eq!(doc, document(), "served document = generated document");
    if let Ok(path) = std::env::var("SWITCHBOARD_OPENAPI_DUMP") {
        // For tools that read the document from a file (schemathesis, client generators).
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("dump");
    }

    let version = doc["openapi"].as_str().expect("openapi field");
    assert!(version.starts_with("3.1."), "openapi is {version}");
    assert!(!doc["info"]["title"].as_str().unwrap_or_default().is_empty());
    assert!(!doc["info"]["version"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    let top: BTreeSet<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let allowed: BTreeSet<&str> = [
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    ]
    .into();
    assert!(top.is_subset(&allowed), "unknown top-level fields: {top:?}");

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();

    let mut operation_ids = BTreeSet::new();
    let ops = operations(&doc);
    assert!(ops.len() >= 40, "only {} operations", ops.len());
    for (method, path) in &ops {
        let at = format!("{} {path}", method.to_uppercase());
        assert!(path.starts_with('/'), "{at}: path must start with /");
        let item = &doc["paths"][path];
        let op = &item[method];
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{at}: no operationId");
        assert!(
            operation_ids.insert(id.to_string()),
            "{at}: operationId {id} repeated"
        );
        assert!(
            !op["summary"].as_str().unwrap_or_default().is_empty(),
            "{at}: no summary"
        );
        for t in op["tags"].as_array().expect("tags") {
            assert!(
                tags.contains(t.as_str().unwrap()),
                "{at}: undeclared tag {t}"
            );
        }
        // Every `{name}` of the template is a required path parameter, and vice versa.
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|a| a.iter().map(|p| resolve(&doc, p)).collect())
            .unwrap_or_default();
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(template, in_path, "{at}: path parameters");
        let mut seen = BTreeSet::new();
        for p in &params {
            let loc = p["in"].as_str().unwrap_or_default();
            assert!(
                ["path", "query", "header", "cookie"].contains(&loc),
                "{at}: parameter in {loc}"
            );
            assert!(
                p["schema"].is_object(),
                "{at}: parameter without schema: {p}"
            );
            assert!(
                seen.insert((loc.to_string(), p["name"].as_str().unwrap().to_string())),
                "{at}: parameter {p} repeated"
            );
            if loc == "path" {
                assert_eq!(p["required"], true, "{at}: path parameters are required");
            }
        }
        // Responses: each with a description; errors are problem documents.
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: no success answer"
        );
        for (status, r) in responses {
            let r = resolve(&doc, r);
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{at}: status {status}"));
            assert!((100..=599).contains(&code), "{at}: status {status}");
            assert!(
                r["description"].is_string(),
                "{at} {status}: no description"
            );
            if code >= 400 && !(path == "/readyz" && code == 503) {
                let content = r["content"].as_object().expect("error content");
                let problem = content
                    .get("application/problem+json")
                    .unwrap_or_else(|| panic!("{at} {status}: not problem+json"));
                assert_eq!(problem["schema"]["$ref"], "#/components/schemas/Problem");
            }
        }
        if let Some(sec) = op["security"].as_array() {
            for req in sec {
                for name in req.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{at}: unknown scheme {name}");
                }
            }
            if sec.iter().any(|r| r.get("api_key").is_some()) {
                assert!(responses.contains_key("401"), "{at}: secured without a 401");
            }
        }
        if let Some(body) = op.get("requestBody") {
            // JSON, or (file uploads) a multipart form whose parts are described.
            assert!(
                body["content"]["application/json"]["schema"].is_object()
                    || body["content"]["multipart/form-data"]["schema"].is_object(),
                "{at}: request body without a JSON (or multipart form) schema"
            );
        }
    }

    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(
            r.starts_with("#/components/") && doc.pointer(&r[1..]).is_some(),
            "unresolvable $ref {r}"
        );
    }
    // Every component schema is a valid JSON Schema 2020-12 (the 3.1 dialect).
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for (name, s) in schemas {
        let mut s = s.clone();
        s["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = jsonschema::meta::validate(&s) {
            panic!("components.schemas.{name} is not valid JSON Schema: {e}");
        }
    }
    for needed in ["Problem", "PostRequest", "Diagnosis", "ConnectionView"] {
        assert!(schemas.contains_key(needed), "schema {needed} missing");
    }
}

// ------------------------------------------------------------------------------------------
// 2. In step with the router.
// ------------------------------------------------------------------------------------------

/// Source without `//` comments.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text inside the parentheses opened just before `s`.
fn inside_parens(s: &str) -> &str {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {s}")
}

/// The `(method, path)` pairs of every `.route("path", get(h).post(h2))` in `code`.
fn routes_in(code: &str, file: &str) -> BTreeSet<(String, String)> {
    assert!(
        !code.contains(".nest(")
            && !code.contains(".route_service(")
            && !code.contains(".nest_service("),
        "{file}: nest/route_service are not understood by this test; extend it"
    );
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(".route(") {
        let args = inside_parens(&code[i + ".route(".len()..]);
        let mut parts = args.splitn(3, '"');
        let (_, path, handlers) = (parts.next(), parts.next(), parts.next());
        let (path, handlers) = (
            path.unwrap_or_else(|| panic!("{file}: route without a literal path: {args}")),
            handlers.unwrap_or_default(),
        );
        let mut found = false;
        for m in METHODS {
            let call = format!("{m}(");
            for (j, _) in handlers.match_indices(&call) {
                let before = handlers[..j].chars().last();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    out.insert((m.to_string(), path.to_string()));
                    found = true;
                }
            }
        }
        assert!(
            found,
            "{file}: no method router understood in .route({args})"
        );
    }
    out
}

/// Every route the API's `routes()` functions register, read from the modules `router()` merges.
/// The HTML dashboard (`dashboard::routes()`) is the one merged module that is not REST API.
fn registered_routes() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = code_of(&src.join("lib.rs"));
    let start = lib.find("pub fn router(").expect("router() in lib.rs");
    let body = &lib[start..];
    let body = &body[..body.find("\n}").expect("end of router()")];
    assert!(
        !body.contains(".route(") && !body.contains(".nest("),
        "router() registers a route itself: move it into a routes module (and describe it)"
    );
    let mut files = Vec::new();
    for (i, _) in body.match_indices(".merge(") {
        let arg = inside_parens(&body[i + ".merge(".len()..]).trim();
        if arg == "dashboard::routes()" {
            continue; // HTML pages for people, not the REST API.
        }
        let module = arg
            .strip_suffix("::routes()")
            .unwrap_or_else(|| panic!("router() merges {arg}: not a module's routes()"));
        let file = match module.strip_prefix("routes::") {
            Some(m) => src.join("routes").join(format!("{m}.rs")),
            None => src.join(format!("{module}.rs")),
        };
        assert!(
            file.exists(),
            "router() merges {arg}, no {}",
            file.display()
        );
        files.push(file);
    }
    // A routes module nobody merges would serve nothing: flag it.
    for entry in std::fs::read_dir(src.join("routes")).unwrap() {
        let p = entry.unwrap().path();
        if code_of(&p).contains("pub fn routes()") {
            assert!(
                files.contains(&p),
                "{} has routes() but router() does not merge it",
                p.display()
            );
        }
    }
    let mut out = BTreeSet::new();
    for f in files {
        let name = f.display().to_string();
        for r in routes_in(&code_of(&f), &name) {
            assert!(out.insert(r.clone()), "{r:?} registered twice");
        }
    }
    out
}

/// A concrete request path for a template.
fn sample_path(template: &str) -> String {
    template
        .replace("{platform}", "twitter")
        .replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{page_id}", "1")
}

/// True when the server routes `method path` to a handler: not the fallback's `no-such-route`
/// 404 and not a 405.
async fn served(app: &TestApp, method: &str, path: &str) -> bool {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let r = app
        .http
        .request(m, format!("{}{path}", app.api))
        .header(AUTHORIZATION, format!("Bearer {}", app.key))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    status != 405 && body["type"] != "https://switchboard.dev/problems/no-such-route"
}

#[tokio::test]
async fn every_route_is_described_and_every_operation_is_served() {
    let registered = registered_routes();
    let described = operations(&document());
    let undescribed: Vec<_> = registered.difference(&described).collect();
    let unregistered: Vec<_> = described.difference(&registered).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a #[utoipa::path] listed in ApiDoc: {undescribed:?}"
    );
    assert!(
        unregistered.is_empty(),
        "described operations no routes() registers: {unregistered:?}"
    );

    let app = TestApp::spawn().await;
    // The probe tells a missing route from a served one.
    assert!(!served(&app, "get", "/v1/no-such-thing").await);
    assert!(!served(&app, "delete", "/v1/platforms").await);
    assert!(served(&app, "get", "/v1/platforms").await);
    for (method, path) in &described {
        assert!(
            served(&app, method, &sample_path(path)).await,
            "{} {path} is described but not served",
            method.to_uppercase()
        );
    }
}

// ------------------------------------------------------------------------------------------
// 3. Real answers validate against the described schemas.
// ------------------------------------------------------------------------------------------

/// Folds each `allOf` whose members are all object schemas (inline or `$ref`s into
/// `components`, as `#[serde(flatten)]` gives) into one object schema with every member's
/// properties and required names, so that [`strict`] can close it as a whole.
fn merge_all_of(v: &mut Value, components: &Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(|x| merge_all_of(x, components));
            let Some(Value::Array(members)) = m.get("allOf") else {
                return;
            };
            let members: Vec<&Value> = members
                .iter()
                .map(|x| match x["$ref"].as_str() {
                    Some(r) => &components[r.trim_start_matches("#/components/schemas/")],
                    None => x,
                })
                .collect();
            if members.len() < 2 || members.iter().any(|x| !x["properties"].is_object()) {
                return;
            }
            let (mut properties, mut required) = (serde_json::Map::new(), Vec::new());
            for x in members {
                properties.extend(x["properties"].as_object().unwrap().clone());
                required.extend(x["required"].as_array().cloned().unwrap_or_default());
            }
            m.remove("allOf");
            m.insert("type".into(), json!("object"));
            m.insert("properties".into(), Value::Object(properties));
            m.insert("required".into(), Value::Array(required));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| merge_all_of(x, components)),
        _ => {}
    }
}

/// Closes every object schema that lists its properties (`additionalProperties: false`) and
/// points component references at `$defs`.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                *r = r.replace("#/components/schemas/", "#/$defs/");
            }
            m.values_mut().for_each(strict);
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

/// The spec, and a driver that validates every answer against it and records what it saw.
struct Checked {
    app: TestApp,
    doc: Value,
    defs: Value,
    seen: Mutex<BTreeMap<(String, String), BTreeSet<u16>>>,
}

/// One answer.
struct Answer {
    status: u16,
    body: Value,
}

impl Checked {
    async fn new() -> Checked {
        Checked::with(common::Setup::default()).await
    }

    async fn with(setup: common::Setup) -> Checked {
        let app = TestApp::spawn_with(setup).await;
        let doc = document();
        let mut defs = doc["components"]["schemas"].clone();
        merge_all_of(&mut defs, &doc["components"]["schemas"]);
        strict(&mut defs);
        Checked {
            app,
            doc,
            defs,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sends `method path` (`template` is the described path), with the API key unless
    /// `anonymous`, and validates the answer. Panics on an undocumented status or content type,
    /// or a body that does not match its schema.
    async fn send(
        &self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
        anonymous: bool,
        accept: &str,
    ) -> Answer {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self
            .app
            .http
            .request(m, format!("{}{path}", self.app.api))
            .header(ACCEPT, accept);
        if !anonymous {
            req = req.header(AUTHORIZATION, format!("Bearer {}", self.app.key));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        self.check(method, template, r).await
    }

    async fn check(&self, method: &str, template: &str, r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let ct = r.headers().get(CONTENT_TYPE).map(|v| {
            v.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_string()
        });
        assert!(r.headers().contains_key("x-request-id"), "no X-Request-ID");
        let text = r.text().await.unwrap_or_default();
        let at = format!("{} {template} → {status}", method.to_uppercase());
        let op = self.doc["paths"][template]
            .get(method)
            .unwrap_or_else(|| panic!("{at}: operation not described"));
        let described = op["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{at}: status not described; body {text}"));
        let described = resolve(&self.doc, described);
        let body = match (&ct, described.get("content")) {
            (None, None) => Value::Null,
            (Some(ct), Some(content)) => {
                let media = content
                    .get(ct)
                    .unwrap_or_else(|| panic!("{at}: content type {ct} not described"));
                if ct.ends_with("json") {
                    let body: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {text}"));
                    self.validate(&at, &media["schema"], &body);
                    body
                } else {
                    assert_eq!(media["schema"]["type"], "string", "{at}: {ct}");
                    Value::String(text)
                }
            }
            (Some(ct), None) if text.is_empty() => {
                let _ = ct;
                Value::Null
            }
            (ct, content) => panic!("{at}: content type {ct:?}, described {content:?}: {text}"),
        };
        self.seen
            .lock()
            .unwrap()
            .entry((method.to_string(), template.to_string()))
            .or_default()
            .insert(status);
        Answer { status, body }
    }

    fn validate(&self, at: &str, schema: &Value, body: &Value) {
        if let Err(errors) = self.errors(at, schema, body) {
            panic!(
                "{at}: the answer does not match the described schema:\n  {}\nbody: {body:#}",
                errors.join("\n  ")
            );
        }
    }

    /// Why `body` does not match `schema` (closed), if it does not.
    fn errors(&self, at: &str, schema: &Value, body: &Value) -> Result<(), Vec<String>> {
        let mut schema = schema.clone();
        strict(&mut schema);
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.defs,
            "allOf": [schema],
        });
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{at}: schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The schema described for a JSON answer.
    fn schema_of(&self, method: &str, template: &str, status: u16, ct: &str) -> Value {
        let r = &self.doc["paths"][template][method]["responses"][status.to_string()];
        resolve(&self.doc, r)["content"][ct]["schema"].clone()
    }

    async fn get(&self, template: &str, path: &str) -> Answer {
        self.send("get", template, path, None, false, "application/json")
            .await
    }
    async fn post(&self, template: &str, path: &str, body: Value) -> Answer {
        self.send(
            "post",
            template,
            path,
            Some(body),
            false,
            "application/json",
        )
        .await
    }
    async fn delete(&self, template: &str, path: &str) -> Answer {
        self.send("delete", template, path, None, false, "application/json")
            .await
    }

    /// Starts a connect session for `platform` with `body`, answers the sandbox's consent page
    /// with `decision` (`allow` or `deny`) and gives the callback URL it redirects to.
    async fn consented(&self, platform: &str, body: Value, decision: &str) -> String {
        let start = self
            .post(
                "/v1/connect/{platform}",
                &format!("/v1/connect/{platform}"),
                body,
            )
            .await;
        assert_eq!(start.status, 201, "{}", start.body);
        self.app
            .consent(
                start.body["authorization_url"].as_str().unwrap(),
                decision,
                None,
            )
            .await
    }

    /// Follows the callback URL `cb` asking for `accept`, and validates the answer.
    async fn callback(&self, cb: &str, accept: &str) -> Answer {
        let r = self
            .app
            .http
            .get(cb)
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        self.check("get", "/v1/oauth/callback/{platform}", r).await
    }

    /// Posts `body` as `content_type` to `/v1/connect/twitter`, with the key, and validates
    /// the answer.
    async fn post_connect_raw(&self, content_type: &str, body: &'static str) -> Answer {
        let r = self
            .app
            .http
            .post(format!("{}/v1/connect/twitter", self.app.api))
            .header(AUTHORIZATION, format!("Bearer {}", self.app.key))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.check("post", "/v1/connect/{platform}", r).await
    }

    /// Connects `platform` through the sandbox's consent page; the callback asks for JSON.
    async fn connect(&self, platform: &str) -> Value {
        let cb = self
            .consented(platform, json!({"owner": "user-1"}), "allow")
            .await;
        let a = self.callback(&cb, "application/json").await;
        assert!(a.status == 201 || a.status == 200, "{}", a.body);
        a.body
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn real_answers_match_the_described_schemas() {
    let c = Checked::new().await;

    // Probes and catalog, without a key.
    c.send("get", "/healthz", "/healthz", None, true, "*/*")
        .await;
    let ready = c.send("get", "/readyz", "/readyz", None, true, "*/*").await;
    assert_eq!(ready.status, 200);
    c.send("get", "/openapi.json", "/openapi.json", None, true, "*/*")
        .await;
    let platforms = c
        .send("get", "/v1/platforms", "/v1/platforms", None, true, "*/*")
        .await;
    assert!(platforms.body["data"].as_array().unwrap().len() >= 7);
    c.send(
        "get",
        "/v1/platforms/{platform}",
        "/v1/platforms/twitter",
        None,
        true,
        "*/*",
    )
    .await;
    let unknown = c
        .send(
            "get",
            "/v1/platforms/{platform}",
            "/v1/platforms/myspace",
            None,
            true,
            "*/*",
        )
        .await;
    assert_eq!(unknown.status, 404);
    c.send(
        "get",
        "/v1/platforms/{platform}/prerequisites",
        "/v1/platforms/twitter/prerequisites",
        None,
        true,
        "*/*",
    )
    .await;
    let guide = "/v1/platforms/{platform}/reconnect-guide";
    c.send(
        "get",
        guide,
        "/v1/platforms/linkedin/reconnect-guide",
        None,
        true,
        "*/*",
    )
    .await;

    // Errors every client meets.
    let a = c
        .send(
            "get",
            "/v1/connections",
            "/v1/connections",
            None,
            true,
            "*/*",
        )
        .await;
    assert_eq!(a.status, 401);
    let a = c
        .get("/v1/connections/{id}", "/v1/connections/no-such-connection")
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(
        c.post_connect_raw("application/json", "{not json")
            .await
            .status,
        400
    );
    assert_eq!(
        c.post_connect_raw("text/plain", "owner=me").await.status,
        415
    );
    let a = c
        .post(
            "/v1/connect/{platform}",
            "/v1/connect/twitter",
            json!({"owner": ""}),
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["field"], "owner");

    // Connect: JSON callbacks (new and reconnect), the HTML page, a replay and a forged state.
    let twitter = c.connect("twitter").await;
    assert_eq!(twitter["created"], true);
    let tw = id(&twitter);
    let again = c.connect("twitter").await;
    assert_eq!(again["created"], false);
    let cb = c
        .consented("linkedin", json!({"owner": "user-2"}), "allow")
        .await;
    let page = c.callback(&cb, "text/html").await;
    assert_eq!(page.status, 200, "the page of a new connection");
    assert_eq!(c.callback(&cb, "application/json").await.status, 409);
    let callback = "/v1/oauth/callback/{platform}";
    let forged = c
        .send(
            "get",
            callback,
            "/v1/oauth/callback/twitter?state=forged&code=x",
            None,
            true,
            "application/json",
        )
        .await;
    assert_eq!(forged.status, 400);
    let cb = c
        .consented(
            "youtube",
            json!({"owner": "user-3", "return_to": "http://app.test/after-connect/done"}),
            "deny",
        )
        .await;
    let r = c.app.http.get(&cb).send().await.unwrap();
    assert_eq!(c.check("get", callback, r).await.status, 303);

    // Bulk connect.
    let bulk = c
        .post(
            "/v1/connect/bulk",
            "/v1/connect/bulk",
            json!({"owner": "user-4", "platforms": ["pinterest", "tiktok"]}),
        )
        .await;
    assert_eq!(bulk.status, 201, "{}", bulk.body);
    let batch = bulk.body["batch_id"].as_str().unwrap();
    c.get(
        "/v1/connect/bulk/{id}",
        &format!("/v1/connect/bulk/{batch}"),
    )
    .await;
    let a = c
        .post(
            "/v1/connect/bulk",
            "/v1/connect/bulk",
            json!({"owner": "user-4", "platforms": []}),
        )
        .await;
    assert_eq!(a.status, 422);

    // Connections.
    let list = c.get("/v1/connections", "/v1/connections").await;
    assert!(list.body["data"].as_array().unwrap().len() >= 2);
    let a = c
        .get("/v1/connections", "/v1/connections?status=sleepy")
        .await;
    assert_eq!(a.status, 422);
    c.get("/v1/connections/{id}", &format!("/v1/connections/{tw}"))
        .await;
    let token = c
        .get(
            "/v1/connections/{id}/token",
            &format!("/v1/connections/{tw}/token"),
        )
        .await;
    assert_eq!(token.status, 200);
    let refreshed = c
        .post(
            "/v1/connections/{id}/refresh",
            &format!("/v1/connections/{tw}/refresh"),
            json!({}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    c.get(
        "/v1/connections/{id}/permissions",
        &format!("/v1/connections/{tw}/permissions"),
    )
    .await;
    c.get(
        "/v1/connections/{id}/health",
        &format!("/v1/connections/{tw}/health"),
    )
    .await;
    c.post(
        "/v1/connections/{id}/validate",
        &format!("/v1/connections/{tw}/validate"),
        json!({}),
    )
    .await;
    c.send(
        "get",
        guide,
        &format!("/v1/platforms/twitter/reconnect-guide?connection_id={tw}"),
        None,
        false,
        "*/*",
    )
    .await;

    // Facebook Pages.
    let fb = id(&c.connect("facebook").await);
    let pages = c
        .get(
            "/v1/connections/{id}/pages",
            &format!("/v1/connections/{fb}/pages"),
        )
        .await;
    let page = pages.body["data"][0]["id"].as_str().unwrap().to_string();
    let a = c
        .post(
            "/v1/connections/{id}/pages",
            &format!("/v1/connections/{fb}/pages"),
            json!({"page_ids": ["nope"]}),
        )
        .await;
    assert_eq!(a.status, 422);
    let sel = c
        .post(
            "/v1/connections/{id}/pages",
            &format!("/v1/connections/{fb}/pages"),
            json!({"page_ids": [page]}),
        )
        .await;
    assert_eq!(sel.status, 200, "{}", sel.body);
    let pt = "/v1/connections/{id}/pages/{page_id}/token";
    assert_eq!(
        c.get(pt, &format!("/v1/connections/{fb}/pages/{page}/token"))
            .await
            .status,
        200
    );
    let a = c
        .get(
            "/v1/connections/{id}/pages",
            &format!("/v1/connections/{tw}/pages"),
        )
        .await;
    assert_eq!(a.status, 409);

    // TikTok creator info (and the 409 of another platform's connection).
    let tt = id(&c.connect("tiktok").await);
    let ci = "/v1/connections/{id}/tiktok/creator-info";
    let info = c
        .get(ci, &format!("/v1/connections/{tt}/tiktok/creator-info"))
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    let a = c
        .get(ci, &format!("/v1/connections/{tw}/tiktok/creator-info"))
        .await;
    assert_eq!(a.status, 409, "{}", a.body);

    // Posts.
    let long = "x".repeat(300);
    let v = c
        .post(
            "/v1/posts/validate",
            "/v1/posts/validate",
            json!({"content": {"text": long}, "connection_ids": [tw, "nope"]}),
        )
        .await;
    assert_eq!(v.body["valid"], false);
    let a = c
        .post(
            "/v1/posts/validate",
            "/v1/posts/validate",
            json!({"content": {"text": "hi"}, "connection_ids": [], "colour": 1}),
        )
        .await;
    assert_eq!(a.status, 422);
    let a = c
        .post(
            "/v1/posts",
            "/v1/posts",
            json!({"content": {"text": long}, "connection_ids": [tw]}),
        )
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body["targets"].is_array(), "{}", a.body);
    let a = c
        .post("/v1/posts", "/v1/posts", json!({"posts": [{"content": {"text": "ok"}, "connection_ids": [tw]}, {"content": {"text": long}, "connection_ids": [tw]}]}))
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body["posts"].is_array(), "{}", a.body);
    let later = "2030-01-01T09:00:00";
    let post = c
        .post("/v1/posts", "/v1/posts", json!({"content": {"text": "Hello", "hashtags": ["rust"]}, "connection_ids": [tw, fb], "publish_at": later, "time_zone": "Europe/Paris", "campaign_id": "launch"}))
        .await;
    assert_eq!(post.status, 201, "{}", post.body);
    let pid = id(&post.body);
    let batch = c
        .post("/v1/posts", "/v1/posts", json!({"posts": [{"content": {"text": "one"}, "connection_ids": [tw]}, {"content": {"text": "two"}, "connection_ids": [tw]}], "scheduling_options": {"interval_hours": 2, "start_time": later, "time_zone": "UTC"}}))
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    c.get("/v1/posts", "/v1/posts?campaign_id=launch&limit=10")
        .await;
    // A page with a next one (`next_cursor` a string), then the last page (`null`).
    let first = c.get("/v1/posts", "/v1/posts?limit=1").await;
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let last = c
        .get("/v1/posts", &format!("/v1/posts?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(last.body["next_cursor"], Value::Null, "{}", last.body);
    for bad in ["/v1/posts?limit=0", "/v1/posts?cursor=bm9wZQ"] {
        assert_eq!(c.get("/v1/posts", bad).await.status, 422);
    }
    assert_eq!(
        c.get("/v1/posts", "/v1/posts?status=lost").await.status,
        422
    );
    c.get("/v1/posts/summary", "/v1/posts/summary").await;
    c.get("/v1/posts/{id}", &format!("/v1/posts/{pid}")).await;
    assert_eq!(c.get("/v1/posts/{id}", "/v1/posts/nope").await.status, 404);
    let cancel = c
        .post(
            "/v1/posts/{id}/cancel",
            &format!("/v1/posts/{pid}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(cancel.body["changed"], 2, "{}", cancel.body);
    c.post(
        "/v1/posts/{id}/retry",
        &format!("/v1/posts/{pid}/retry"),
        json!({}),
    )
    .await;
    let second = id(&batch.body["data"][1]);
    c.post(
        "/v1/posts/{id}/publish",
        &format!("/v1/posts/{second}/publish"),
        json!({}),
    )
    .await;

    // Troubleshooting.
    let d = c
        .post("/v1/troubleshoot", "/v1/troubleshoot", json!({"platform": "twitter", "http_status": 401, "error": "{\"error\":\"invalid_grant\"}", "call": "token"}))
        .await;
    assert_eq!(d.status, 200);
    let a = c
        .post(
            "/v1/troubleshoot",
            "/v1/troubleshoot",
            json!({"platform": "twitter", "error": ""}),
        )
        .await;
    assert_eq!(a.status, 422);
    let a = c
        .post(
            "/v1/troubleshoot",
            "/v1/troubleshoot",
            json!({"platform": "orkut", "error": "x"}),
        )
        .await;
    assert_eq!(a.status, 404);

    // Sync.
    let job = c.post("/v1/sync", "/v1/sync", json!({})).await;
    assert_eq!(job.status, 202);
    let again = c.post("/v1/sync", "/v1/sync", json!({})).await;
    assert_eq!(again.body["existing"], true);
    c.get("/v1/sync/status", "/v1/sync/status").await;
    c.get("/v1/sync/history", "/v1/sync/history?limit=5").await;
    assert_eq!(
        c.get("/v1/sync/history", "/v1/sync/history?limit=0")
            .await
            .status,
        422
    );
    let job_id = id(&job.body);
    c.get("/v1/sync/jobs/{id}", &format!("/v1/sync/jobs/{job_id}"))
        .await;
    assert_eq!(
        c.get("/v1/sync/jobs/{id}", "/v1/sync/jobs/nope")
            .await
            .status,
        404
    );

    // Webhooks.
    let hook = c
        .post("/v1/webhooks", "/v1/webhooks", json!({"url": "http://127.0.0.1:9/hook", "events": ["connection.created"], "description": "test"}))
        .await;
    assert_eq!(hook.status, 201);
    let a = c
        .post(
            "/v1/webhooks",
            "/v1/webhooks",
            json!({"url": "ftp://example.com"}),
        )
        .await;
    assert_eq!(a.status, 422);
    c.get("/v1/webhooks", "/v1/webhooks").await;
    let wh = id(&hook.body);
    c.get(
        "/v1/webhooks/{id}/deliveries",
        &format!("/v1/webhooks/{wh}/deliveries?limit=10"),
    )
    .await;
    assert_eq!(
        c.delete("/v1/webhooks/{id}", &format!("/v1/webhooks/{wh}"))
            .await
            .status,
        200
    );
    assert_eq!(
        c.delete("/v1/webhooks/{id}", &format!("/v1/webhooks/{wh}"))
            .await
            .status,
        404
    );

    // Logs.
    c.get("/v1/events", "/v1/events?limit=100").await;
    assert_eq!(c.get("/v1/events", "/v1/events?limit=0").await.status, 422);
    c.get("/v1/audit", "/v1/audit").await;
    // Query strings that do not parse are problems naming the parameter.
    let a = c.get("/v1/events", "/v1/events?limit=many").await;
    assert_eq!((a.status, a.body["field"].as_str()), (422, Some("limit")));
    let a = c.get("/v1/audit", "/v1/audit?colour=red").await;
    assert_eq!((a.status, a.body["field"].as_str()), (422, Some("colour")));

    // Disconnect.
    let gone = c
        .delete("/v1/connections/{id}", &format!("/v1/connections/{tw}"))
        .await;
    assert_eq!(gone.body["deleted"], true);

    // Media: raw and multipart uploads, refused types, metadata, the list, the public file
    // (whole and a range), a bad token, and delete.
    let png = media_png();
    let raw = c
        .app
        .http
        .post(format!("{}/v1/media?filename=dot.png", c.app.api))
        .header(AUTHORIZATION, format!("Bearer {}", c.app.key))
        .header(CONTENT_TYPE, "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    let up = c.check("post", "/v1/media", raw).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png.clone())
            .file_name("dot.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let multi = c
        .app
        .http
        .post(format!("{}/v1/media", c.app.api))
        .header(AUTHORIZATION, format!("Bearer {}", c.app.key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/v1/media", multi).await.status, 201);
    for (ct, status) in [("image/jpeg", 422), ("image/tiff", 415)] {
        let r = c
            .app
            .http
            .post(format!("{}/v1/media", c.app.api))
            .header(AUTHORIZATION, format!("Bearer {}", c.app.key))
            .header(CONTENT_TYPE, ct)
            .body(png.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(c.check("post", "/v1/media", r).await.status, status, "{ct}");
    }
    let media_id = up.body["id"].as_str().unwrap().to_string();
    let url = up.body["url"].as_str().unwrap().to_string();
    c.get("/v1/media/{id}", &format!("/v1/media/{media_id}"))
        .await;
    let listed = c.get("/v1/media", "/v1/media?limit=5").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let path = url.strip_prefix(&c.app.api).unwrap().to_string();
    let file = c
        .send("get", "/media/{id}/{token}", &path, None, true, "*/*")
        .await;
    assert_eq!(file.status, 200);
    let part = c
        .app
        .http
        .get(&url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.check("get", "/media/{id}/{token}", part).await.status,
        206
    );
    let forged = c
        .send(
            "get",
            "/media/{id}/{token}",
            &format!("{path}x"),
            None,
            true,
            "*/*",
        )
        .await;
    assert_eq!(forged.status, 404);
    assert_eq!(
        c.delete("/v1/media/{id}", &format!("/v1/media/{media_id}"))
            .await
            .status,
        204
    );

    // Meta's callbacks, signed as Meta signs them (with the sandbox app's secret), for a person
    // with no connection here; then a signature that does not verify.
    let sr = switchboard_server::meta_callbacks::sign(
        &json!({"algorithm": "HMAC-SHA256", "issued_at": 1, "user_id": "nobody"}),
        b"sandbox-instagram-secret",
    );
    let meta = |path: &str, body: String| {
        c.app
            .http
            .post(format!("{}/v1/meta/instagram/{path}", c.app.api))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = meta("deauthorize", format!("signed_request={sr}"))
        .await
        .unwrap();
    let a = c.check("post", "/v1/meta/{platform}/deauthorize", r).await;
    assert_eq!((a.status, &a.body["revoked"]), (200, &json!(0)));
    let r = meta("deauthorize", "signed_request=x.y".into())
        .await
        .unwrap();
    let a = c.check("post", "/v1/meta/{platform}/deauthorize", r).await;
    assert_eq!(a.status, 400);
    let r = meta("data-deletion", format!("signed_request={sr}"))
        .await
        .unwrap();
    let a = c
        .check("post", "/v1/meta/{platform}/data-deletion", r)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let code = a.body["confirmation_code"].as_str().unwrap().to_string();
    let status_path = format!("/v1/meta/instagram/data-deletion/{code}");
    let template = "/v1/meta/{platform}/data-deletion/{confirmation_code}";
    let a = c
        .send(
            "get",
            template,
            &status_path,
            None,
            true,
            "application/json",
        )
        .await;
    assert_eq!(a.body["status"], "completed");
    let a = c
        .send("get", template, &status_path, None, true, "text/html")
        .await;
    assert_eq!(a.status, 200);

    // The check can fail: an undocumented field, a value outside its enum and a missing
    // required field are each caught.
    let schema = c.schema_of("get", "/v1/connections/{id}", 200, "application/json");
    let at = "negative control";
    let fine = c
        .get("/v1/connections/{id}", &format!("/v1/connections/{fb}"))
        .await
        .body;
    assert!(c.errors(at, &schema, &fine).is_ok());
    let mut extra = fine.clone();
    extra["access_token"] = json!("leaked");
    assert!(
        c.errors(at, &schema, &extra).is_err(),
        "undocumented field accepted"
    );
    let mut bad = fine.clone();
    bad["status"] = json!("sleepy");
    assert!(
        c.errors(at, &schema, &bad).is_err(),
        "unknown status accepted"
    );
    let mut short = fine.clone();
    short.as_object_mut().unwrap().remove("platform");
    assert!(
        c.errors(at, &schema, &short).is_err(),
        "missing field accepted"
    );
    assert!(c.doc["paths"]["/v1/connections/{id}"]["get"]["responses"]
        .get("418")
        .is_none());

    // Every described operation answered at least once with a success.
    let seen = c.seen.lock().unwrap().clone();
    let mut missing = Vec::new();
    for (method, path) in operations(&c.doc) {
        let statuses = seen.get(&(method.clone(), path.clone()));
        if !statuses.is_some_and(|s| s.iter().any(|s| (200..400).contains(s))) {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "operations never answered with success: {missing:?}"
    );
    let checked: usize = seen.values().map(BTreeSet::len).sum();
    eprintln!(
        "validated {checked} (operation, status) pairs over {} operations",
        seen.len()
    );
}

/// A real 1×1 PNG.
fn media_png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
        .unwrap()
}

#[tokio::test]
async fn limits_answer_with_described_problems() {
    let c = Checked::with(common::Setup {
        config: Box::new(|c| {
            c.max_body_bytes = 4096;
            c.rate_limits.api_per_workspace = 3;
        }),
        ..Default::default()
    })
    .await;
    let big = json!({"platform": "twitter", "error": "x".repeat(10_000)});
    let a = c.post("/v1/troubleshoot", "/v1/troubleshoot", big).await;
    assert_eq!(a.status, 413, "{}", a.body);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(c.get("/v1/connections", "/v1/connections").await.status);
    }
    assert!(statuses.contains(&429), "no 429 in {statuses:?}");
}
