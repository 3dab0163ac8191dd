//! Meta's Graph API node specs (`meta/*.json`) as contracts, for Facebook
//! (`graph.facebook.com/{version}/...`) and Instagram (`graph.instagram.com[/{version}]/...`).
//!
//! A call is `METHOD /{node}` (the node's `#get`/`#update`/`#delete`) or
//! `METHOD /{node}/{edge}` (the node's `apis` entry with that endpoint and method). The node's
//! type is known from the answers seen before, in order: `me` is the `User` (Facebook) or the
//! Instagram user (`IGUser`); the Pages of `/me/accounts` are `Page`s; an edge's answer ids are
//! of its return type (`POST /{page}/feed` → `PagePost`, `/photos` → `Photo` and its `post_id`
//! a `PagePost`, `/videos` → `AdVideo`, `POST /{ig-user}/media` → a container
//! (`ShadowIGMediaBuilder`), `media_publish` → `IGMedia`).
//!
//! Checked: the edge exists for the method; every parameter sent (query, form or JSON body) is
//! one of the edge's `params` or a parameter every Graph call takes (`access_token`,
//! `appsecret_proof`, `fields` on reads, cursor paging on lists); required params are present;
//! each field asked in `fields` exists on the node (or the edge's return type). Answers: a read's
//! members are fields of its type; a create answers an `id`; an error is Graph's error envelope.
//!
//! Where the specs are silent, Meta's documentation decides; each such rule below names its page.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{query_pairs, Report};

/// Parameters any Graph call takes
/// (<https://developers.facebook.com/docs/graph-api/overview#parameters>,
/// <https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof>).
const COMMON: [&str; 5] = [
    "access_token",
    "appsecret_proof",
    "format",
    "pretty",
    "suppress_http_code",
];

/// Cursor paging of list edges
/// (<https://developers.facebook.com/docs/graph-api/results#cursors>).
const PAGING: [&str; 3] = ["limit", "after", "before"];

/// Fields the specs lack and Meta's documentation has, by node type.
fn documented_fields(node: &str) -> &'static [&'static str] {
    match node {
        // The Instagram API with Instagram Login's user
        // (<https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/get-started#fields>,
        // <https://developers.facebook.com/docs/instagram-platform/reference/me>): the specs
        // describe the Facebook Login IG User, without these (README "Known gaps").
        "IGUser" => &[
            "user_id",
            "account_type",
            "profile_picture_url",
            "followers_count",
            "follows_count",
            "media_count",
            "username",
            "name",
            "id",
        ],
        // `tasks` of each Page of `/me/accounts`
        // (<https://developers.facebook.com/docs/graph-api/reference/user/accounts/>: "tasks:
        // the tasks the person can perform on the Page"), and the Page `access_token`.
        "Page" => &["tasks", "access_token"],
        // A container's fields (<https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container>).
        "ShadowIGMediaBuilder" => &["status", "status_code", "id"],
        _ => &[],
    }
}

/// Edges the specs lack, with the params Meta's documentation gives them.
fn documented_edge(node: &str, method: &str, edge: &str) -> Option<Value> {
    match (node, method, edge) {
        // Creating a container
        // (<https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media#creating>,
        // <https://developers.facebook.com/docs/instagram-platform/content-publishing>): the
        // IGUser spec has only `GET media`.
        ("IGUser", "POST", "media") => {
            let params: Vec<Value> = [
                "alt_text",
                "audio_name",
                "caption",
                "children",
                "collaborators",
                "cover_url",
                "image_url",
                "is_carousel_item",
                "location_id",
                "media_type",
                "product_tags",
                "share_to_feed",
                "thumb_offset",
                "trial_params",
                "upload_type",
                "user_tags",
                "video_url",
            ]
            .iter()
            .map(|n| serde_json::json!({"name": n, "required": false}))
            .collect();
            Some(serde_json::json!({
                "method": "POST", "endpoint": "media", "return": "ShadowIGMediaBuilder",
                "params": params,
            }))
        }
        _ => None,
    }
}

/// Insights metrics Meta retired (the specs list no metric names; README "Known gaps"): one
/// retired metric fails the whole call.
/// - Instagram media: <https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights>
///   ("deprecated for all versions on April 21, 2025": `plays`, `clips_replays_count`,
///   `ig_reels_aggregated_all_plays_count`, `impressions`; `video_views` deprecated).
/// - Facebook Pages and posts: <https://developers.facebook.com/blog/post/2025/08/15/page-insights-api-updates/>
///   (`impressions` metrics from November 15, 2025, replaced by `views`), and
///   <https://developers.facebook.com/docs/platforminsights/page> (`post_engaged_users` gone since v18).
fn retired_metric(platform: &str, metric: &str) -> Option<&'static str> {
    match platform {
        "instagram" => matches!(
            metric,
            "impressions" | "plays" | "clips_replays_count" | "ig_reels_aggregated_all_plays_count" | "video_views"
        )
        .then_some("https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights"),
        _ => (metric.contains("impressions") || metric == "post_engaged_users")
            .then_some("https://developers.facebook.com/blog/post/2025/08/15/page-insights-api-updates/"),
    }
}

/// The loaded node specs and the node types learnt from answers.
pub struct Graph {
    nodes: BTreeMap<String, Value>,
    types: RefCell<HashMap<String, String>>,
}

impl Graph {
    pub fn load() -> Graph {
        let mut nodes = BTreeMap::new();
        for n in [
            "Page",
            "PagePost",
            "Photo",
            "User",
            "IGUser",
            "IGMedia",
            "ShadowIGMediaBuilder",
            "AdVideo",
            "Business",
            "InstagramUser",
        ] {
            nodes.insert(n.to_string(), super::load(&format!("meta/{n}.json")));
        }
        Graph {
            nodes,
            types: RefCell::new(HashMap::new()),
        }
    }

    pub fn serves(&self, host: &str) -> bool {
        host == "graph.facebook.com" || host == "graph.instagram.com"
    }

    fn fields_of(&self, node: &str) -> Option<BTreeSet<String>> {
        let spec = self.nodes.get(node)?;
        let mut out: BTreeSet<String> = spec["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect();
        out.extend(documented_fields(node).iter().map(|s| s.to_string()));
        // Field expansion: a read edge can be asked for (and answered) as a field
        // (<https://developers.facebook.com/docs/graph-api/field-expansion>), e.g. `picture`.
        out.extend(
            spec["apis"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["method"] == "GET")
                .filter_map(|a| a["endpoint"].as_str().map(str::to_string)),
        );
        Some(out)
    }

    fn api(&self, node: &str, method: &str, edge: Option<&str>) -> Option<Value> {
        let spec = self.nodes.get(node)?;
        let found = spec["apis"].as_array().into_iter().flatten().find(|a| {
            a["method"] == method
                && match edge {
                    Some(e) => a["endpoint"] == e,
                    None => {
                        a["name"]
                            == match method {
                                "GET" => "#get",
                                "DELETE" => "#delete",
                                _ => "#update",
                            }
                    }
                }
        });
        found
            .cloned()
            .or_else(|| edge.and_then(|e| documented_edge(node, method, e)))
    }

    fn type_of(&self, platform: &str, id: &str) -> Option<String> {
        if id == "me" {
            return Some(
                if platform == "facebook" {
                    "User"
                } else {
                    "IGUser"
                }
                .into(),
            );
        }
        self.types.borrow().get(id).cloned()
    }

    fn learn(&self, id: Option<&str>, node: &str) {
        if let Some(id) = id {
            self.types
                .borrow_mut()
                .entry(id.to_string())
                .or_insert_with(|| node.to_string());
        }
    }

    pub fn check(&self, ex: &Value, report: &mut Report) {
        let host = ex["host"].as_str().unwrap_or_default();
        let platform = if host == "graph.facebook.com" {
            "facebook"
        } else {
            "instagram"
        };
        let method = ex["method"].as_str().unwrap_or_default();
        let path = ex["path"].as_str().unwrap_or_default();
        let mut segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if segs
            .first()
            .is_some_and(|s| s.starts_with('v') && s.contains('.'))
        {
            segs.remove(0);
        }
        match segs.as_slice() {
            ["oauth", "access_token"] | ["access_token"] | ["refresh_access_token"] => {
                report.uncovered(
                    ex,
                    "token endpoint; no node spec (Meta's access-token guides decide: \
                     https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived)",
                );
                return;
            }
            _ => {}
        }
        let (id, edge) = match segs.as_slice() {
            [id] => (*id, None),
            [id, edge] => (*id, Some(*edge)),
            _ => {
                report.call(
                    platform,
                    &format!("{method} {host}{path}"),
                    vec!["not a node or node/edge path".into()],
                );
                return;
            }
        };
        let Some(node) = self.type_of(platform, id) else {
            report.call(
                platform,
                &format!("{method} {host}/{{?}}/{}", edge.unwrap_or("")),
                vec![format!(
                    "id {id} was never returned as a node before this call: its type is unknown"
                )],
            );
            return;
        };
        let call = format!(
            "{method} {host}/{{{node}}}{}",
            edge.map(|e| format!("/{e}")).unwrap_or_default()
        );
        let Some(api) = self.api(&node, method, edge) else {
            report.call(
                platform,
                &call,
                vec![format!(
                    "{node} has no {method} {} in the specs",
                    edge.unwrap_or("(node)")
                )],
            );
            return;
        };
        let returns = api["return"].as_str().unwrap_or(&node).to_string();

        // The call.
        let mut problems = Vec::new();
        let mut given: Vec<(String, String)> = query_pairs(ex);
        for (k, v) in ex["request"]["form"].as_object().into_iter().flatten() {
            given.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
        }
        for (k, v) in ex["request"]["json"].as_object().into_iter().flatten() {
            given.push((k.clone(), v.to_string()));
        }
        for f in ex["request"]["files"].as_array().into_iter().flatten() {
            given.push((
                f["name"].as_str().unwrap_or_default().to_string(),
                String::new(),
            ));
        }
        let params: Vec<&Value> = api["params"].as_array().into_iter().flatten().collect();
        for p in &params {
            let name = p["name"].as_str().unwrap_or_default();
            if p["required"] == true && !given.iter().any(|(k, _)| k == name) {
                problems.push(format!("required param `{name}` is missing"));
            }
        }
        let list_edge = edge.is_some() && method == "GET";
        for (k, v) in &given {
            let known = params.iter().any(|p| p["name"] == k.as_str())
                || COMMON.contains(&k.as_str())
                || (method == "GET" && k == "fields")
                || (list_edge && PAGING.contains(&k.as_str()));
            if !known {
                problems.push(format!("param `{k}` is not one of {call}'s params"));
            }
            if k == "metric" && edge == Some("insights") {
                for m in v.split(',').map(str::trim) {
                    if let Some(src) = retired_metric(platform, m) {
                        problems.push(format!("insights metric `{m}` is retired ({src})"));
                    }
                }
            }
            if k == "fields" && method == "GET" {
                // A return type without a spec here (e.g. `Permission`) is not checked.
                if let Some(known) = self.fields_of(&returns) {
                    for f in top_level_fields(v) {
                        if !known.contains(&f) {
                            problems.push(format!("field `{f}` is not a field of {returns}"));
                        }
                    }
                }
            }
        }
        report.call(platform, &call, problems);

        // The answer.
        let status = ex["response"]["status"].as_u64().unwrap_or(0);
        let body = &ex["response"]["json"];
        let mut problems = Vec::new();
        if !(200..300).contains(&status) {
            let e = &body["error"];
            if !e["message"].is_string() || !e["type"].is_string() || !e["code"].is_number() {
                problems.push(format!(
                    "error answer is not Graph's envelope {{error:{{message,type,code,fbtrace_id}}}}: {body}"
                ));
            }
        } else if method == "GET" && edge == Some("insights") {
            for item in body["data"].as_array().into_iter().flatten() {
                if let Some(m) = item["name"].as_str() {
                    if let Some(src) = retired_metric(platform, m) {
                        problems.push(format!("serves the retired insights metric `{m}` ({src})"));
                    }
                }
            }
        } else if method == "GET" {
            let items: Vec<&Value> = if edge.is_some() {
                body["data"].as_array().into_iter().flatten().collect()
            } else {
                vec![body]
            };
            if edge.is_some() && !body["data"].is_array() && returns != "Object" {
                problems.push("a list edge answers `data`, an array".into());
            }
            if let Some(known) = self.fields_of(&returns) {
                for item in items {
                    for k in item.as_object().into_iter().flatten().map(|(k, _)| k) {
                        if !known.contains(k) {
                            problems.push(format!("member `{k}` is not a field of {returns}"));
                        }
                    }
                }
            }
        } else if method == "POST" && body["id"].is_null() && body["success"].is_null() {
            problems.push(format!("a create answers its `id`: {body}"));
        }
        report.answer(platform, &call, problems);

        // What the answer teaches about ids.
        if (200..300).contains(&status) {
            let learnt = match (node.as_str(), method, edge) {
                ("User", "GET", Some("accounts")) => Some("Page"),
                // Pages owned through a Business portfolio (`/me/businesses`, then the
                // business's `owned_pages` and `client_pages`).
                ("User", "GET", Some("businesses")) => Some("Business"),
                ("Business", "GET", Some("owned_pages" | "client_pages")) => Some("Page"),
                ("Page", "POST", Some("feed")) => Some("PagePost"),
                ("Page", "GET", Some("feed")) => Some("PagePost"),
                ("Page", "POST", Some("photos")) => Some("Photo"),
                ("Page", "POST", Some("videos")) => Some("AdVideo"),
                ("IGUser", "POST", Some("media")) => Some("ShadowIGMediaBuilder"),
                ("IGUser", "POST", Some("media_publish")) => Some("IGMedia"),
                ("IGUser", "GET", Some("media")) => Some("IGMedia"),
                ("User", "GET", None) => Some("User"),
                ("IGUser", "GET", None) => Some("IGUser"),
                _ => None,
            };
            if let Some(t) = learnt {
                self.learn(body["id"].as_str(), t);
                for item in body["data"].as_array().into_iter().flatten() {
                    self.learn(item["id"].as_str(), t);
                }
            }
            if node == "IGUser" && edge.is_none() {
                self.learn(body["user_id"].as_str(), "IGUser");
            }
            if node == "Page" && edge == Some("photos") {
                self.learn(body["post_id"].as_str(), "PagePost");
            }
            if node == "Page" && edge == Some("videos") {
                // The video's post is `{page}_{video}` (the Facebook publisher's rule).
                if let Some(v) = body["id"].as_str() {
                    self.learn(Some(&format!("{id}_{v}")), "PagePost");
                }
            }
        }
    }

    /// Declares the type of an id known from outside the recorded answers.
    pub fn declare(&self, id: &str, node: &str) {
        self.learn(Some(id), node);
    }
}

/// The top-level names of a `fields` value: `a,b{c,d},e.limit(2)` → a, b, e.
fn top_level_fields(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in v.chars() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        if depth == 0 && c != '}' && c != ')' {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|f| f.split('.').next().unwrap_or("").trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}
