//! Contract checkers: the clients' real calls and the sandbox's real answers, as the sandbox
//! recorded them (`GET /__sandbox/exchanges`), held against what each platform publishes about
//! its API (`../shared/reference/`, see its README):
//!
//! - [`openapi`]: X and Pinterest, OpenAPI 3.0;
//! - [`discovery`]: YouTube, the Google discovery document;
//! - [`graph`]: Facebook and Instagram, Meta's Graph API node specs;
//! - [`fixtures`]: LinkedIn and TikTok, which publish no description: request and response
//!   shapes copied from their documentation pages' examples (source next to each).
//!
//! Each checker fills a [`Report`]: how many calls (requests) and answers (responses) it
//! checked, which conformed, and every problem found. A problem that belongs to a finding
//! another change fixes, or where the description itself is wrong, is listed in `KNOWN` of
//! the test with the finding or the documentation page that decides.

#![allow(dead_code)]

pub mod discovery;
pub mod fixtures;
pub mod graph;
pub mod openapi;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

/// The folder of the platforms' descriptions: `SWITCHBOARD_REFERENCE_DIR`, else the first
/// `shared/reference` beside the repository or one of its parents (`../shared/reference` of a
/// checkout). Missing, the test fails: it never skips.
pub fn reference_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SWITCHBOARD_REFERENCE_DIR") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/reference"))
        .find(|d| d.join("README.md").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no shared/reference beside {} or its parents (set SWITCHBOARD_REFERENCE_DIR)",
                here.display()
            )
        })
}

/// Reads one description file as JSON.
pub fn load(rel: &str) -> Value {
    let path = reference_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Which half of an exchange a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The client's request.
    Call,
    /// The sandbox's answer.
    Answer,
}

/// One non-conformance.
#[derive(Debug, Clone)]
pub struct Problem {
    pub platform: String,
    /// `METHOD host/template`, e.g. `POST api.x.com/2/media/upload`.
    pub call: String,
    pub side: Side,
    pub what: String,
}

/// What the checkers found over a set of exchanges.
#[derive(Debug, Default)]
pub struct Report {
    /// Per platform: (calls checked, calls conforming, answers checked, answers conforming).
    pub counts: BTreeMap<String, [usize; 4]>,
    /// Per platform, the distinct calls checked (`METHOD host/template`).
    pub calls: BTreeMap<String, std::collections::BTreeSet<String>>,
    pub problems: Vec<Problem>,
    /// Exchanges no description covers, with why (browser pages, OAuth endpoints).
    pub uncovered: Vec<String>,
}

impl Report {
    /// Records the outcome of one request check.
    pub fn call(&mut self, platform: &str, call: &str, problems: Vec<String>) {
        let c = self.counts.entry(platform.to_string()).or_default();
        c[0] += 1;
        if problems.is_empty() {
            c[1] += 1;
        }
        self.calls
            .entry(platform.to_string())
            .or_default()
            .insert(call.to_string());
        for what in problems {
            self.problems.push(Problem {
                platform: platform.to_string(),
                call: call.to_string(),
                side: Side::Call,
                what,
            });
        }
    }

    /// Records the outcome of one answer check.
    pub fn answer(&mut self, platform: &str, call: &str, problems: Vec<String>) {
        let c = self.counts.entry(platform.to_string()).or_default();
        c[2] += 1;
        if problems.is_empty() {
            c[3] += 1;
        }
        for what in problems {
            self.problems.push(Problem {
                platform: platform.to_string(),
                call: call.to_string(),
                side: Side::Answer,
                what,
            });
        }
    }

    /// Records an exchange that no description covers.
    pub fn uncovered(&mut self, ex: &Value, why: &str) {
        self.uncovered.push(format!(
            "{} {}{}: {why}",
            ex["method"].as_str().unwrap_or_default(),
            ex["host"].as_str().unwrap_or_default(),
            ex["path"].as_str().unwrap_or_default()
        ));
    }
}

/// The query of an exchange as (name, value) pairs.
pub fn query_pairs(ex: &Value) -> Vec<(String, String)> {
    ex["query"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
        .collect()
}

/// The media type of a content type, lower case, without parameters.
pub fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Validates `instance` against `schema` (JSON Schema 2020-12, formats not asserted), whose
/// `$ref`s point into `root` (a document holding the referenced definitions). Returns the
/// errors, each with the instance path. Compiled validators are kept per root and schema.
pub fn validate(root: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    type Compiled = std::rc::Rc<Result<jsonschema::Validator, String>>;
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<(usize, String), Compiled>> =
            Default::default();
    }
    let key = (root as *const Value as usize, schema.to_string());
    let compiled = CACHE.with(|c| c.borrow().get(&key).cloned());
    let compiled = match compiled {
        Some(v) => v,
        None => {
            let mut doc = root.clone();
            doc["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            doc["allOf"] = json!([schema]);
            let v = std::rc::Rc::new(
                jsonschema::draft202012::options()
                    .should_validate_formats(false)
                    .build(&doc)
                    .map_err(|e| e.to_string()),
            );
            CACHE.with(|c| c.borrow_mut().insert(key, v.clone()));
            v
        }
    };
    let validator = match compiled.as_ref() {
        Ok(v) => v,
        Err(e) => return vec![format!("the description's schema does not compile: {e}")],
    };
    validator
        .iter_errors(instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            let mut msg = e.to_string();
            if msg.len() > 300 {
                let mut cut = 300;
                while !msg.is_char_boundary(cut) {
                    cut -= 1;
                }
                msg.truncate(cut);
                msg.push('…');
            }
            format!("at `{}`: {msg}", if at.is_empty() { "/" } else { &at })
        })
        .collect()
}

/// Names of object members `instance` has and its schema does not describe (a schema object
/// with `properties`, through `$ref`, `allOf`, `anyOf`, `oneOf`; `additionalProperties`
/// other than `false` is not a description of a name). `resolve` follows one `$ref`.
pub fn undocumented(
    schema: &Value,
    instance: &Value,
    resolve: &dyn Fn(&str) -> Option<Value>,
    at: &str,
    out: &mut Vec<String>,
) {
    // A discriminator (OpenAPI) names the schema of this instance by one of its members.
    let base = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(r).unwrap_or(Value::Null),
        None => schema.clone(),
    };
    if let (Some(prop), Some(mapping)) = (
        base["discriminator"]["propertyName"].as_str(),
        base["discriminator"]["mapping"].as_object(),
    ) {
        if let Some(target) = instance[prop]
            .as_str()
            .and_then(|v| mapping.get(v))
            .and_then(Value::as_str)
        {
            let chosen = serde_json::json!({ "$ref": target });
            if chosen != *schema {
                return undocumented(&chosen, instance, resolve, at, out);
            }
        }
    }
    let mut props = serde_json::Map::new();
    let mut items = Vec::new();
    let mut open = false;
    collect(schema, resolve, &mut props, &mut items, &mut open, 0);
    match instance {
        Value::Object(m) if !props.is_empty() && !open => {
            for (k, v) in m {
                // `sandbox_*` members are the sandbox's declared test aids (e.g. X's
                // `sandbox_sha256`), never read by the clients.
                if k.starts_with("sandbox_") {
                    continue;
                }
                match props.get(k) {
                    Some(s) => undocumented(s, v, resolve, &format!("{at}/{k}"), out),
                    None => out.push(format!(
                        "at `{}`: member `{k}` is not in the description",
                        if at.is_empty() { "/" } else { at }
                    )),
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                if let Some(s) = props.get(k) {
                    undocumented(s, v, resolve, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                for s in &items {
                    undocumented(s, v, resolve, &format!("{at}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

fn collect(
    schema: &Value,
    resolve: &dyn Fn(&str) -> Option<Value>,
    props: &mut serde_json::Map<String, Value>,
    items: &mut Vec<Value>,
    open: &mut bool,
    depth: usize,
) {
    if depth > 20 {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(s) = resolve(r) {
            collect(&s, resolve, props, items, open, depth + 1);
        }
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            props.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    match schema.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        Some(_) => *open = true,
    }
    if let Some(i) = schema.get("items") {
        items.push(i.clone());
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for s in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect(s, resolve, props, items, open, depth + 1);
        }
    }
}
