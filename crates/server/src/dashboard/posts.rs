//! The posts pages under `/posts`: compose once with live per-platform checks and previews,
//! pick accounts and a time in a shown time zone, schedule; the list and the month calendar of
//! posts with each target's status (icon and words), link when published, diagnosis when
//! failed; cancel, retry and publish now.
//!
//! - `GET /posts`: the list (`?status=`, `?platform=` filters), times in the viewer's zone.
//! - `GET /posts/calendar?month=YYYY-MM&tz=Zone`: the month grid.
//! - `GET /posts/new[?connection_id=]`: the compose form ([`super::posts_form`]).
//! - `POST /posts/validate`: the form → the checks panel as an HTML fragment (what
//!   `assets/posts.js` shows live): [`crate::routes::posts::verdict`], the very check of
//!   `POST /v1/posts/validate`, plus each platform's length meter (X: weighted) and a preview.
//! - `POST /posts`: the form → [`crate::routes::posts::store_post`] → 303 to the post's page, or
//!   422 with the form as typed and every problem listed.
//! - `GET /posts/{id}`, `POST /posts/{id}/{cancel,retry,publish}` (CSRF-protected): the same
//!   store calls as the API's.
//! - `GET /assets/posts.js`, `GET /assets/posts.css`: this module's script and styles.
//!
//! Times are shown in the viewer's zone: `?tz=`, else the `sb_tz` cookie the script sets to the
//! browser's zone, else UTC; the zone is always written next to the time.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;
use switchboard_core::post_rules::{TargetVerdict, Violation};
use switchboard_store::posts::{
    post_status, Post, PostFilter, PostKey, PostTarget, TARGET_STATUSES,
};
use switchboard_store::{Connection, ConnectionFilter};

use super::connections::{account_label, db_error, workspaces_for};
use super::layout::{avatar, flash, page_with, safe_colour};
use super::posts_calendar::Month;
use super::posts_form::{Draft, MediaRow};
use super::posts_view::{checks_panel, diagnosis, status_badge, time_in, Checks, TargetCheck};
use super::session::{cookie_value, csrf_field, Posted, Session};
use crate::error::ApiError;
use crate::routes::posts::{store_post, verdict};
use crate::AppState;

/// The script of the posts pages, embedded.
pub const JS: &str = include_str!("../../assets/posts.js");
/// The styles of the posts pages, embedded.
pub const CSS: &str = include_str!("../../assets/posts.css");
/// Path of the script (the version busts caches across upgrades).
pub const JS_PATH: &str = concat!("/assets/posts.js?v=", env!("CARGO_PKG_VERSION"));
/// Path of the styles.
pub const CSS_PATH: &str = concat!("/assets/posts.css?v=", env!("CARGO_PKG_VERSION"));
/// Cookie holding the viewer's IANA time zone (set by the script from the browser).
pub const ZONE_COOKIE: &str = "sb_tz";

/// The form fields of platform options shown per platform: `(platform, field, label, hint)`.
/// A `select` is used when the catalog lists `privacy_values`.
const OVERRIDES: &[(&str, &str, &str, &str)] = &[
    (
        "youtube",
        "title",
        "Video title",
        "Required by YouTube, at most 100 characters.",
    ),
    (
        "youtube",
        "description",
        "Description",
        "The text when empty; at most 5,000 bytes, no < or >.",
    ),
    ("youtube", "privacy_status", "Privacy", ""),
    (
        "pinterest",
        "board_id",
        "Board id",
        "The numeric id of the board to pin to (required).",
    ),
    ("pinterest", "title", "Pin title", "At most 100 characters."),
    (
        "pinterest",
        "link",
        "Destination link",
        "Where the pin leads.",
    ),
    ("tiktok", "title", "Photo post title", "For photo posts."),
    ("facebook", "link", "Link", "A link to share with the post."),
];

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The zone times are shown in: `tz` when it names one, else the cookie, else UTC.
fn viewer_zone(headers: &HeaderMap, tz: Option<&str>) -> Tz {
    tz.and_then(|z| z.parse::<Tz>().ok())
        .or_else(|| {
            cookie_value(headers, ZONE_COOKIE)
                .and_then(|z| urlencoding::decode(&z).ok().map(|z| z.into_owned()))
                .and_then(|z| z.parse::<Tz>().ok())
        })
        .unwrap_or(chrono_tz::UTC)
}

/// The frame of every posts page: the dashboard's, this module's styles and script, and the
/// sub-navigation (new post, list, calendar).
async fn frame(
    state: &AppState,
    session: &Session,
    title: &str,
    current: &str,
    zone: Tz,
    body: Markup,
) -> Response {
    let ws = workspaces_for(state, session).await;
    let tabs = [
        ("new", "/posts/new", "New post"),
        ("list", "/posts", "List"),
        ("calendar", "/posts/calendar", "Calendar"),
    ];
    let content = html! {
        link rel="stylesheet" href=(CSS_PATH);
        script src=(JS_PATH) defer {}
        nav.posts-tabs aria-label="Posts" data-view-zone=(zone.name()) {
            ul {
                @for (key, path, label) in tabs {
                    li {
                        @if key == current {
                            a href=(path) aria-current="page" data-testid={"posts-tab-" (key)} { (label) }
                        } @else {
                            a href=(path) data-testid={"posts-tab-" (key)} { (label) }
                        }
                    }
                }
            }
        }
        (body)
    };
    page_with(title, "posts", session, ws.as_deref(), content).into_response()
}

/// The workspace's connections by id.
async fn connections(
    state: &AppState,
    session: &Session,
) -> Result<BTreeMap<String, Connection>, Response> {
    state
        .store()
        .list_connections(&session.workspace_id, &ConnectionFilter::default())
        .await
        .map(|v| v.into_iter().map(|c| (c.id.clone(), c)).collect())
        .map_err(|e| db_error(&e))
}

fn platform_name(state: &AppState, id: &str) -> String {
    state
        .catalog()
        .get(id)
        .map_or_else(|| id.to_string(), |s| s.display_name.clone())
}

fn brand(state: &AppState, id: &str) -> String {
    state
        .catalog()
        .get(id)
        .map_or("#4b5563", |s| safe_colour(&s.brand_color))
        .to_string()
}

/// The post's text (or its first override's), for lists.
fn post_text(p: &Post) -> String {
    let text = p.content.get("text").and_then(|t| t.as_str()).unwrap_or("");
    if !text.trim().is_empty() {
        return text.to_string();
    }
    p.content
        .get("overrides")
        .and_then(|o| o.as_object())
        .and_then(|o| {
            o.values()
                .find_map(|v| v.get("text").or(v.get("title")).and_then(|t| t.as_str()))
        })
        .unwrap_or("(no text)")
        .to_string()
}

fn excerpt(s: &str, n: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

// ---------------------------------------------------------------------------------------------
// Compose
// ---------------------------------------------------------------------------------------------

/// Query of `GET /posts/new`.
#[derive(Debug, Default, Deserialize)]
pub struct ComposeQuery {
    /// Accounts to preselect.
    #[serde(default)]
    pub connection_id: Option<String>,
}

/// `GET /posts/new`: the compose form.
pub async fn compose(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<ComposeQuery>,
) -> Response {
    let zone = viewer_zone(&headers, None);
    let zone_known = cookie_value(&headers, ZONE_COOKIE).is_some();
    let draft = Draft {
        connection_ids: q.connection_id.into_iter().collect(),
        when: "now".into(),
        time_zone: zone.name().to_string(),
        media: vec![MediaRow::default()],
        ..Draft::default()
    };
    let conns = match connections(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let panel = checks_for(&state, &session, &draft, &conns).await;
    let tiktok = tiktok_creators(&state, &session, &conns).await;
    let body = compose_body(
        &state, &session, &draft, &conns, &panel, zone_known, None, &tiktok,
    );
    frame(&state, &session, "New post", "new", zone, body).await
}

/// Most TikTok accounts whose creator info the compose page reads live (one platform call each).
const MAX_TIKTOK_CREATORS: usize = 10;

/// A TikTok account on the compose page with what TikTok says it may do now (or why that could
/// not be read).
struct TikTokCreator {
    label: String,
    info: Result<crate::routes::tiktok::CreatorInfoAnswer, String>,
}

/// The creator info of the workspace's TikTok accounts, read live: TikTok's posting rules want
/// the posting screen built from it (<https://developers.tiktok.com/doc/content-sharing-guidelines>).
async fn tiktok_creators(
    state: &AppState,
    session: &Session,
    conns: &BTreeMap<String, Connection>,
) -> Vec<TikTokCreator> {
    let mut out = Vec::new();
    for c in conns
        .values()
        .filter(|c| c.platform == "tiktok")
        .take(MAX_TIKTOK_CREATORS)
    {
        let info = crate::routes::tiktok::creator_info_of(state, &session.workspace_id, &c.id)
            .await
            .map_err(|e| e.detail.clone());
        out.push(TikTokCreator {
            label: account_label(c),
            info,
        });
    }
    out
}

/// TikTok's privacy levels in words, as its posting screen names them.
fn tiktok_privacy_label(level: &str) -> &str {
    match level {
        "PUBLIC_TO_EVERYONE" => "Everyone",
        "MUTUAL_FOLLOW_FRIENDS" => "Friends",
        "FOLLOWER_OF_CREATOR" => "Followers",
        "SELF_ONLY" => "Only me",
        other => other,
    }
}

/// The TikTok options of the compose page, as TikTok's posting rules require them: the
/// creator's nickname; the privacy levels every chosen creator offers, none chosen in advance;
/// comment, Duet and Stitch off until turned on (and not offered where the creator's settings
/// turn them off); the commercial content disclosure (your brand, branded content).
fn tiktok_options(
    d: &Draft,
    spec: &switchboard_core::PlatformSpec,
    creators: &[TikTokCreator],
) -> Markup {
    let known: Vec<&crate::routes::tiktok::CreatorInfoAnswer> = creators
        .iter()
        .filter_map(|c| c.info.as_ref().ok())
        .collect();
    // Levels every creator offers (the catalog's when none could be read).
    let levels: Vec<String> = if known.is_empty() {
        spec.content.privacy_values.clone()
    } else {
        known[0]
            .privacy_level_options
            .iter()
            .filter(|l| known.iter().all(|k| k.privacy_level_options.contains(l)))
            .cloned()
            .collect()
    };
    let chosen = d.override_value("tiktok", "privacy_level");
    let off = |f: fn(&crate::routes::tiktok::CreatorInfoAnswer) -> bool| known.iter().any(|k| f(k));
    let toggles: [(&str, &str, bool); 3] = [
        (
            "allow_comment",
            "Allow comments",
            off(|k| k.comment_disabled),
        ),
        ("allow_duet", "Allow Duet", off(|k| k.duet_disabled)),
        ("allow_stitch", "Allow Stitch", off(|k| k.stitch_disabled)),
    ];
    let max_secs = known
        .iter()
        .filter_map(|k| k.max_video_post_duration_sec)
        .min();
    html! {
        div.tiktok-creators data-testid="tiktok-creators" {
            @for c in creators {
                @match &c.info {
                    Ok(i) => {
                        p {
                            "Posting to TikTok as "
                            strong { (i.creator_nickname.as_deref().unwrap_or(&c.label)) }
                            @if let Some(u) = &i.creator_username { " (@" (u) ")" }
                            @if let Some(m) = i.max_video_post_duration_sec { span.muted { " · videos up to " (m) " s" } }
                        }
                    }
                    Err(e) => {
                        p.hint { "TikTok did not tell what " (c.label) " may post: " (e) }
                    }
                }
            }
        }
        div.field-row {
            div.field {
                label for="override-tiktok-privacy_level" { "Who can see this post" }
                select id="override-tiktok-privacy_level" name="override.tiktok.privacy_level"
                    data-field="content.overrides.tiktok.privacy_level" aria-describedby="tiktok-privacy-hint" {
                    option value="" selected[chosen.is_empty()] { "Choose…" }
                    @for l in &levels {
                        option value=(l) selected[chosen == l] { (tiktok_privacy_label(l)) }
                    }
                }
                p.hint #tiktok-privacy-hint { "Required: TikTok wants you to choose for every post. Only the levels your TikTok account offers are listed." }
            }
        }
        fieldset.tiktok-interactions {
            legend { "Interactions" }
            @for (field, label, creator_off) in toggles {
                @let id = format!("override-tiktok-{field}");
                span.checkbox-choice {
                    input type="checkbox" id=(id) name={"override.tiktok." (field)} value="true"
                        checked[!creator_off && d.override_value("tiktok", field) == "true"]
                        disabled[creator_off];
                    label for=(id) .inline-label { (label) }
                    @if creator_off { span.muted { " (turned off in the account's TikTok settings)" } }
                }
            }
        }
        fieldset.tiktok-commercial data-field="content.overrides.tiktok.brand_content_toggle" {
            legend { "Commercial content disclosure" }
            span.checkbox-choice {
                input type="checkbox" id="override-tiktok-brand_organic_toggle" name="override.tiktok.brand_organic_toggle" value="true"
                    checked[d.override_value("tiktok", "brand_organic_toggle") == "true"];
                label for="override-tiktok-brand_organic_toggle" .inline-label { "Your brand: you promote yourself or your own business" }
            }
            span.checkbox-choice {
                input type="checkbox" id="override-tiktok-brand_content_toggle" name="override.tiktok.brand_content_toggle" value="true"
                    checked[d.override_value("tiktok", "brand_content_toggle") == "true"];
                label for="override-tiktok-brand_content_toggle" .inline-label { "Branded content: a paid partnership promoting a third party" }
            }
            p.hint { "Branded content cannot be private (Only me)." }
            @if let Some(m) = max_secs { p.hint { "Videos may last at most " (m) " seconds on these accounts." } }
        }
    }
}

/// The checks panel for a draft: the form's own problems, the request-level ones, and per
/// target the verdict of [`verdict`] with its meter and preview.
async fn checks_for(
    state: &AppState,
    session: &Session,
    draft: &Draft,
    conns: &BTreeMap<String, Connection>,
) -> Markup {
    let (req, mut problems) = draft.read();
    // Uploaded files (`media_id`) are checked as the URL media they become; an unknown one is
    // a problem, and left out of the platform checks.
    let req =
        match crate::routes::media::resolve_post_media(state, &session.workspace_id, &req).await {
            Ok(r) => r,
            Err(e) => {
                problems.extend(violations_of(&e));
                let mut r = req.clone();
                r.content.media.retain(|m| m.media_id.is_none());
                r
            }
        };
    let mut targets: Vec<TargetVerdict> = Vec::new();
    if !req.connection_ids.is_empty() {
        match verdict(state, &session.workspace_id, &req).await {
            Ok(v) => targets = v.targets,
            Err(e) => {
                problems.extend(violations_of(&e));
                // Still show each platform's checks: the request without what is at fault.
                let mut lenient = req.clone();
                lenient.publish_at = None;
                lenient.time_zone = None;
                lenient.content.hashtags.retain(|t| {
                    let bare = t.trim().trim_start_matches('#');
                    !bare.is_empty() && !bare.contains(|c: char| c.is_whitespace() || c == '#')
                });
                if let Ok(v) = verdict(state, &session.workspace_id, &lenient).await {
                    targets = v.targets;
                }
            }
        }
    }
    let due = if problems
        .iter()
        .any(|p| p.field == "publish_at" || p.field == "time_zone")
    {
        None
    } else {
        match (req.publish_at, req.time_zone) {
            (Some(_), Some(z)) => req.due_at(state.now()).ok().map(|t| {
                html! {
                    "publishing at " (time_in(t, z.0)) " (" (z.0.name()) ")"
                    @if t <= state.now() { " — that time has passed, so it publishes at once" }
                }
            }),
            _ => Some(html! { "publishing now" }),
        }
    };
    let checks = Checks {
        problems: &problems,
        targets: targets
            .iter()
            .map(|v| {
                let connection = conns.get(&v.connection_id);
                TargetCheck {
                    connection,
                    spec: v.platform.as_deref().and_then(|p| state.catalog().get(p)),
                    verdict: v,
                }
            })
            .collect(),
        content: &req.content,
        due,
    };
    checks_panel(&checks)
}

/// The violations an [`ApiError`] of [`verdict`] or `store_post` carries (`violations`, or the
/// `targets`' ones, or its own field and detail).
fn violations_of(e: &ApiError) -> Vec<Violation> {
    if let Some(v) = e
        .extra
        .get("violations")
        .and_then(|v| serde_json::from_value::<Vec<Violation>>(v.clone()).ok())
    {
        return v;
    }
    if let Some(t) = e
        .extra
        .get("targets")
        .and_then(|v| serde_json::from_value::<Vec<TargetVerdict>>(v.clone()).ok())
    {
        return t.into_iter().flat_map(|t| t.violations).collect();
    }
    let field = e
        .extra
        .get("field")
        .and_then(|f| f.as_str())
        .unwrap_or("connection_ids");
    vec![Violation::new(field, "invalid_value", e.detail.clone())]
}

fn field_id(field: &str) -> String {
    match field {
        "content.text" => "post-text".into(),
        "content.hashtags" => "post-hashtags".into(),
        "publish_at" => "post-publish-at".into(),
        "time_zone" => "post-time-zone".into(),
        f if f.starts_with("connection_ids") => "accounts".into(),
        f if f.starts_with("content.media") => "media".into(),
        f => match f.strip_prefix("content.overrides.") {
            Some(rest) => format!("override-{}", rest.replace('.', "-")),
            None => "compose".into(),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn compose_body(
    state: &AppState,
    session: &Session,
    d: &Draft,
    conns: &BTreeMap<String, Connection>,
    panel: &Markup,
    zone_known: bool,
    refused: Option<&[Violation]>,
    tiktok: &[TikTokCreator],
) -> Markup {
    let mut accounts: Vec<&Connection> = conns.values().collect();
    accounts.sort_by(|a, b| {
        (a.platform.as_str(), account_label(a)).cmp(&(b.platform.as_str(), account_label(b)))
    });
    let zones: Vec<&str> = {
        let mut z: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
        z.sort_unstable();
        z
    };
    let platforms_chosen: Vec<String> = d
        .connection_ids
        .iter()
        .filter_map(|id| conns.get(id).map(|c| c.platform.clone()))
        .collect();
    let later = d.when == "at";
    html! {
        @if let Some(problems) = refused {
            div.alert.alert-bad role="alert" tabindex="-1" id="refused" data-testid="compose-refused" {
                p { span.icon aria-hidden="true" { "✗" } " The post was not scheduled: fix "
                    @if problems.len() == 1 { "this problem" } @else { "these " (problems.len()) " problems" } "." }
                ul { @for v in problems { li { a href={"#" (field_id(&v.field))} { (v.message) } } } }
            }
        }
        div.compose-layout {
            form #compose method="post" action="/posts" data-validate-url="/posts/validate" .card.compose-form {
                (csrf_field(session))
                fieldset #accounts data-field="connection_ids" {
                    legend { "Accounts" }
                    @if accounts.is_empty() {
                        p { "No account is connected yet. " a href="/connect" { "Connect one" } " first." }
                    }
                    ul.account-list {
                        @for c in &accounts {
                            @let id = format!("acct-{}", c.id);
                            @let label = account_label(c);
                            li {
                                input type="checkbox" name="connection_id" value=(c.id) id=(id)
                                    data-platform=(c.platform) checked[d.connection_ids.contains(&c.id)];
                                label for=(id) .account-choice {
                                    (avatar(c.avatar_url.as_deref(), &label, &brand(state, &c.platform)))
                                    span {
                                        (label) span.muted { " · " (platform_name(state, &c.platform)) }
                                        @if c.status != "healthy" {
                                            " " (super::layout::badge(&c.status))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                div.field {
                    label for="post-text" { "Text" }
                    textarea #post-text name="text" rows="6" data-field="content.text"
                        aria-describedby="post-text-hint" { (d.text) }
                    p.hint #post-text-hint { "The same text goes to every account unless a platform's options replace it. Each platform's count and limit are shown beside the form." }
                }
                div.field {
                    label for="post-hashtags" { "Hashtags" }
                    input #post-hashtags type="text" name="hashtags" value=(d.hashtags) data-field="content.hashtags"
                        aria-describedby="post-hashtags-hint" autocomplete="off";
                    p.hint #post-hashtags-hint { "Words separated by spaces or commas, with or without #. Platforms that carry hashtags in the text get them appended (and counted)." }
                }
                fieldset #media data-field="content.media" {
                    legend { "Media" }
                    p.hint { "Public URLs the platforms fetch the files from. Instagram, TikTok, YouTube and Pinterest need media." }
                    div #media-rows {
                        @for (i, row) in d.media.iter().enumerate() { (media_row(Some(i), row)) }
                    }
                    template #media-row-template { (media_row(None, &MediaRow::default())) }
                    button type="button" #add-media .btn hidden { "Add media" }
                }
                @for platform in ["youtube", "pinterest", "tiktok", "facebook"] {
                    @if let Some(spec) = state.catalog().get(platform) {
                        fieldset.overrides data-override-platform=(platform) hidden[!platforms_chosen.iter().any(|p| p == platform)] {
                            legend { (spec.display_name) " options" }
                            @if platform == "tiktok" { (tiktok_options(d, spec, tiktok)) }
                            div.field-row {
                                @for (p, field, label, hint) in OVERRIDES.iter().filter(|o| o.0 == platform) {
                                    @let id = format!("override-{p}-{field}");
                                    @let value = d.override_value(p, field);
                                    @let json_path = format!("content.overrides.{p}.{field}");
                                    div.field {
                                        label for=(id) { (label) }
                                        @if (*field == "privacy_status" || *field == "privacy_level") && !spec.content.privacy_values.is_empty() {
                                            select id=(id) name={"override." (p) "." (field)} data-field=(json_path) {
                                                option value="" selected[value.is_empty()] { "Platform default" }
                                                @for v in &spec.content.privacy_values {
                                                    option value=(v) selected[value == v] { (v) }
                                                }
                                            }
                                        } @else if *field == "description" {
                                            textarea id=(id) name={"override." (p) "." (field)} rows="3" data-field=(json_path) { (value) }
                                        } @else {
                                            input type="text" id=(id) name={"override." (p) "." (field)} value=(value) data-field=(json_path);
                                        }
                                        @if !hint.is_empty() { p.hint { (hint) } }
                                    }
                                }
                            }
                        }
                    }
                }
                fieldset.when {
                    legend { "When" }
                    div.radio-row {
                        span.radio-choice {
                            input type="radio" name="when" value="now" id="when-now" checked[!later];
                            label for="when-now" .inline-label { "Publish now" }
                        }
                        span.radio-choice {
                            input type="radio" name="when" value="at" id="when-at" checked[later];
                            label for="when-at" .inline-label { "Schedule for later" }
                        }
                    }
                    div.field-row {
                        div.field {
                            label for="post-publish-at" { "Date and time" }
                            input #post-publish-at type="datetime-local" name="publish_at" value=(d.publish_at)
                                data-field="publish_at" aria-describedby="post-time-zone-hint";
                        }
                        div.field {
                            label for="post-time-zone" { "Time zone" }
                            select #post-time-zone name="time_zone" data-field="time_zone"
                                data-default=(if zone_known { "server" } else { "browser" }) {
                                @for z in &zones {
                                    option value=(z) selected[*z == d.time_zone] { (z) }
                                }
                            }
                        }
                    }
                    p.hint #post-time-zone-hint { "The date and time are read in the time zone chosen beside them (your browser's by default)." }
                }
                div.actions {
                    button type="submit" .btn.btn-primary data-now-label="Publish now" data-later-label="Schedule" {
                        @if later { "Schedule" } @else { "Publish now" }
                    }
                    a.btn href="/posts" { "Back to posts" }
                }
            }
            aside.checks-panel aria-labelledby="checks-title" {
                h2 #checks-title { "Checks and previews" }
                div #checks aria-live="polite" { (panel) }
            }
        }
    }
}

fn media_row(index: Option<usize>, row: &MediaRow) -> Markup {
    // The template row (no index) gets its ids suffixed by the script.
    let n = index.map_or("new".to_string(), |i| i.to_string());
    let field = |name: &str| {
        index.map_or_else(
            || format!("content.media[{{i}}].{name}"),
            |i| format!("content.media[{i}].{name}"),
        )
    };
    html! {
        fieldset.media-row {
            legend.sr-only { "Media item " span.media-number { (index.map_or(0, |i| i + 1)) } }
            div.field-row {
                div.field.media-url {
                    label for={"media-url-" (n)} { "File URL" }
                    input type="url" id={"media-url-" (n)} name="media_url" value=(row.url) placeholder="https://…"
                        data-field=(field("url")) data-field-template="content.media[{i}].url";
                }
                // Shown by the script (uploads need it); without it, media are given by URL.
                div.field.media-file hidden {
                    label for={"media-file-" (n)} { "Or upload a file" }
                    input type="file" id={"media-file-" (n)} .media-file-input
                        accept="image/jpeg,image/png,image/webp,image/gif,video/mp4,video/quicktime"
                        data-field=(field("media_id")) data-field-template="content.media[{i}].media_id";
                    input type="hidden" name="media_id" value=(row.media_id);
                    p.media-file-status.hint role="status" aria-live="polite" {
                        @if !row.media_id.is_empty() { "Uploaded file " code { (row.media_id) } }
                    }
                }
                div.field.media-kind {
                    label for={"media-kind-" (n)} { "Kind" }
                    select id={"media-kind-" (n)} name="media_kind" data-field=(field("kind")) data-field-template="content.media[{i}].kind" {
                        @for (v, l) in [("image", "Image"), ("video", "Video"), ("gif", "GIF")] {
                            option value=(v) selected[row.kind == v] { (l) }
                        }
                    }
                }
                div.field.media-alt {
                    label for={"media-alt-" (n)} { "Alt text" }
                    input type="text" id={"media-alt-" (n)} name="media_alt" value=(row.alt)
                        data-field=(field("alt_text")) data-field-template="content.media[{i}].alt_text";
                }
                div.media-remove {
                    button type="button" .btn.btn-small.remove-media { "Remove" span.sr-only { " this media item" } }
                }
            }
        }
    }
}

/// `POST /posts/validate`: the compose form → the checks panel (HTML fragment). Stores nothing
/// and calls no platform.
pub async fn validate(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let session = posted.session;
    let draft = Draft::from_pairs(posted.form);
    let conns = match connections(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let panel = checks_for(&state, &session, &draft, &conns).await;
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        panel.into_string(),
    )
        .into_response()
}

/// `POST /posts`: schedules the composed post; 303 to its page, or 422 with the form as typed.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<Vec<(String, String)>>,
) -> Response {
    let session = posted.session;
    let draft = Draft::from_pairs(posted.form);
    let zone = viewer_zone(&headers, None);
    let conns = match connections(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let problems = match draft.to_request() {
        Ok(req) => match store_post(&state, &session.workspace_id, &req).await {
            Ok((post, targets)) => {
                let n = targets.len();
                let plural = if n == 1 { "" } else { "s" };
                let msg = if req.publish_at.is_some() {
                    format!("Post scheduled for {n} target{plural}.")
                } else {
                    format!("Post sent to the publisher for {n} target{plural}: it goes out within seconds.")
                };
                return Redirect::to(&format!(
                    "/posts/{}?done={}",
                    post.id,
                    urlencoding::encode(&msg)
                ))
                .into_response();
            }
            Err(e)
                if e.status == StatusCode::UNPROCESSABLE_ENTITY
                    || e.status == StatusCode::NOT_FOUND =>
            {
                violations_of(&e)
            }
            Err(e) => return e.into_response(),
        },
        Err(p) => p,
    };
    let panel = checks_for(&state, &session, &draft, &conns).await;
    let tiktok = tiktok_creators(&state, &session, &conns).await;
    let body = compose_body(
        &state,
        &session,
        &draft,
        &conns,
        &panel,
        true,
        Some(&problems),
        &tiktok,
    );
    let mut r = frame(&state, &session, "New post", "new", zone, body).await;
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

// ---------------------------------------------------------------------------------------------
// List, calendar, one post
// ---------------------------------------------------------------------------------------------

/// Query of `GET /posts`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Only posts with a target in this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only posts with a target on this platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// The zone to show times in.
    #[serde(default)]
    pub tz: Option<String>,
    /// Flash after an action.
    #[serde(default)]
    pub done: Option<String>,
    /// Flash error after an action.
    #[serde(default)]
    pub error: Option<String>,
    /// The page after this cursor (the "Older posts" link; a `next_cursor` of the API).
    #[serde(default)]
    pub after: Option<String>,
    /// The page before this cursor (the "Newer posts" link).
    #[serde(default)]
    pub before: Option<String>,
}

/// Posts per page of the dashboard's list.
const LIST_PAGE: u32 = 50;

/// One target as a line: badge, account, link when published, diagnosis when failed.
fn target_line(
    state: &AppState,
    t: &PostTarget,
    conns: &BTreeMap<String, Connection>,
    zone: Tz,
    full: bool,
) -> Markup {
    let account = conns
        .get(&t.connection_id)
        .map_or_else(|| "a disconnected account".to_string(), account_label);
    let pname = platform_name(state, &t.platform);
    html! {
        li.target data-testid="post-target" data-platform=(t.platform) data-status=(t.status) {
            div.target-head {
                (status_badge(&t.status))
                " "
                span.target-who { strong { (pname) } " · " (account)
                    @if let Some(p) = &t.page_id { " · Page " (p) } }
                @if let Some(u) = &t.url {
                    " " a href=(u) rel="noopener noreferrer" target="_blank" data-testid="published-link" {
                        "View on " (pname) span.sr-only { " (opens in a new tab)" }
                    }
                }
            }
            @if full {
                p.small.muted {
                    @match t.status.as_str() {
                        "published" => { @if let Some(at) = t.published_at { "Published " (time_in(at, zone)) "." } }
                        "scheduled" if t.attempts > 0 => { "Tried " (t.attempts) " time(s); next try " (time_in(t.next_attempt_at, zone)) "." }
                        "scheduled" => { "Due " (time_in(t.due_at, zone)) "." }
                        "publishing" => { "The platform is processing it; checked again " (time_in(t.next_attempt_at, zone)) "." }
                        "unknown" => { "It was sent but no answer came: the platform may have published it. Check the account before posting again; Switchboard never retries it blindly." }
                        "cancelled" => { "Cancelled before publication." }
                        _ => { "After " (t.attempts) " attempt(s)." }
                    }
                }
            }
            @if let Some(d) = &t.last_error {
                @if t.status == "failed" || t.status == "unknown" {
                    @if full { (diagnosis(d)) } @else {
                        details.target-why {
                            summary { "Why it failed" }
                            (diagnosis(d))
                        }
                    }
                } @else if t.status == "published" {
                    // Published, but not as asked (a YouTube upload kept private).
                    details.target-why {
                        summary { "Published, with a warning" }
                        (diagnosis(d))
                    }
                }
            }
        }
    }
}

fn actions(session: &Session, post: &Post, targets: &[PostTarget], back: &str) -> Markup {
    let any = |s: &str| targets.iter().any(|t| t.status == s);
    if !any("scheduled") && !any("failed") {
        return html! {};
    }
    html! {
        div.actions {
            @if any("scheduled") {
                form method="post" action={"/posts/" (post.id) "/publish"} .inline {
                    (csrf_field(session))
                    input type="hidden" name="back" value=(back);
                    button type="submit" .btn data-testid="action-publish-now" { "Publish now" }
                }
                form method="post" action={"/posts/" (post.id) "/cancel"} .inline
                    data-confirm="Cancel the targets that are not published yet? Published ones stay published." {
                    (csrf_field(session))
                    input type="hidden" name="back" value=(back);
                    button type="submit" .btn.btn-danger data-testid="action-cancel" { "Cancel" }
                }
            }
            @if any("failed") {
                form method="post" action={"/posts/" (post.id) "/retry"} .inline
                    data-confirm="Retry the failed targets? Published ones are never published again." {
                    (csrf_field(session))
                    input type="hidden" name="back" value=(back);
                    button type="submit" .btn.btn-primary data-testid="action-retry" { "Retry failed" }
                }
            }
        }
    }
}

/// Which page of the list a query asks for, read from its `after` / `before` cursors (the
/// API's, `routes::posts::encode_cursor`); a cursor that does not read falls back to the first
/// page with a message.
enum ListPage {
    First,
    After(PostKey),
    Before(PostKey),
}

/// `GET /posts`: the posts, latest due first, each with its targets, [`LIST_PAGE`] at a time
/// with "Newer posts" / "Older posts" links (plain links: keyset cursors, filters kept).
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let zone = viewer_zone(&headers, q.tz.as_deref());
    let status = q.status.filter(|s| TARGET_STATUSES.contains(&s.as_str()));
    let platform = q.platform.filter(|p| !p.is_empty());
    let read = |c: &Option<String>| {
        c.as_deref()
            .filter(|c| !c.is_empty())
            .map(crate::routes::posts::decode_cursor)
    };
    let mut page_error = None;
    let page = match (read(&q.after), read(&q.before)) {
        (Some(Ok(k)), _) => ListPage::After(k),
        (None, Some(Ok(k))) => ListPage::Before(k),
        (None, None) => ListPage::First,
        _ => {
            page_error = Some("That page link is not valid any more; here are the latest posts.");
            ListPage::First
        }
    };
    // One more than shown tells whether a page follows in that direction.
    let filter = PostFilter {
        status: status.clone(),
        platform: platform.clone(),
        after: match &page {
            ListPage::After(k) => Some(k.clone()),
            _ => None,
        },
        before: match &page {
            ListPage::Before(k) => Some(k.clone()),
            _ => None,
        },
        limit: LIST_PAGE + 1,
        ..PostFilter::default()
    };
    let conns = match connections(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut rows = match load_posts(&state, &session, &filter).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let more = rows.len() > LIST_PAGE as usize;
    let (has_newer, has_older) = match page {
        ListPage::Before(_) => {
            if more {
                rows.remove(0);
            }
            (more, true)
        }
        ListPage::After(_) => {
            rows.truncate(LIST_PAGE as usize);
            (true, more)
        }
        ListPage::First => {
            rows.truncate(LIST_PAGE as usize);
            (false, more)
        }
    };
    let page_link = |dir: &str, key: PostKey| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &status {
            qs.append_pair("status", s);
        }
        if let Some(p) = &platform {
            qs.append_pair("platform", p);
        }
        if let Some(tz) = &q.tz {
            qs.append_pair("tz", tz);
        }
        qs.append_pair(dir, &crate::routes::posts::encode_cursor(&key));
        format!("/posts?{}", qs.finish())
    };
    let newer = has_newer
        .then(|| rows.first().map(|r| page_link("before", PostKey::of(&r.0))))
        .flatten();
    let older = has_older
        .then(|| rows.last().map(|r| page_link("after", PostKey::of(&r.0))))
        .flatten();
    let paged = newer.is_some() || older.is_some();
    let platforms: Vec<String> = state.catalog().ids();
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref().or(page_error)))
        div.section-head {
            p.summary { (rows.len()) " post" @if rows.len() != 1 { "s" } @if paged { " on this page" }
                " · times in " strong { (zone.name()) } }
            a.btn.btn-primary href="/posts/new" { "New post" }
        }
        form method="get" action="/posts" .filters.card {
            div.field-row {
                div.field {
                    label for="filter-status" { "Status" }
                    select #filter-status name="status" {
                        option value="" { "Any" }
                        @for s in TARGET_STATUSES {
                            option value=(s) selected[status.as_deref() == Some(*s)] { (super::posts_view::status_look(s).2) }
                        }
                    }
                }
                div.field {
                    label for="filter-platform" { "Platform" }
                    select #filter-platform name="platform" {
                        option value="" { "Any" }
                        @for p in &platforms {
                            option value=(p) selected[platform.as_deref() == Some(p.as_str())] { (platform_name(&state, p)) }
                        }
                    }
                }
                div.field.filter-submit { button type="submit" .btn { "Filter" } }
            }
        }
        @if rows.is_empty() {
            div.card.empty {
                p { "No post yet" @if status.is_some() || platform.is_some() { " matches these filters" } "." }
                p { a.btn.btn-primary href="/posts/new" { "Write the first one" } }
            }
        } @else {
            ul.post-list {
                @for (p, targets) in &rows {
                    @let st = post_status(targets.iter().map(|t| t.status.as_str()));
                    li.card.post-card data-testid="post-row" data-post-id=(p.id) data-status=(st) {
                        div.post-head {
                            div {
                                h2.h3 { a href={"/posts/" (p.id)} { (excerpt(&post_text(p), 90)) } }
                                p.small.muted {
                                    (time_in(p.publish_at, zone))
                                    @if let Some(z) = &p.time_zone { @if z != zone.name() { " · written for " (z) } }
                                    @if let Some(c) = &p.campaign_id { " · campaign " code { (c) } }
                                }
                            }
                            (status_badge(st))
                        }
                        ul.targets { @for t in targets { (target_line(&state, t, &conns, zone, false)) } }
                        (actions(&session, p, targets, "/posts"))
                    }
                }
            }
        }
        @if paged {
            nav.pager aria-label="Pages of posts" {
                @if let Some(href) = &newer {
                    a.btn href=(href) rel="prev" data-testid="posts-newer" { span aria-hidden="true" { "← " } "Newer posts" }
                }
                @if let Some(href) = &older {
                    a.btn href=(href) rel="next" data-testid="posts-older" { "Older posts" span aria-hidden="true" { " →" } }
                }
            }
        }
    };
    frame(&state, &session, "Posts", "list", zone, body).await
}

async fn load_posts(
    state: &AppState,
    session: &Session,
    filter: &PostFilter,
) -> Result<Vec<(Post, Vec<PostTarget>)>, Response> {
    let posts = state
        .store()
        .list_posts(&session.workspace_id, filter)
        .await
        .map_err(|e| db_error(&e))?;
    let mut rows = Vec::with_capacity(posts.len());
    for p in posts {
        let targets = state
            .store()
            .list_targets(&p.id)
            .await
            .map_err(|e| db_error(&e))?;
        rows.push((p, targets));
    }
    Ok(rows)
}

/// Query of `GET /posts/calendar`.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// `YYYY-MM`; the current month when absent or not a month.
    #[serde(default)]
    pub month: Option<String>,
    /// The zone days are read in.
    #[serde(default)]
    pub tz: Option<String>,
}

/// Posts read per store call while filling a calendar month.
const CALENDAR_PAGE: u32 = 500;

/// `GET /posts/calendar`: every post due in a month, Monday first, each post at its time with its
/// targets' statuses.
pub async fn calendar(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<CalendarQuery>,
) -> Response {
    let zone = viewer_zone(&headers, q.tz.as_deref());
    let now = state.now();
    let today = now.with_timezone(&zone).date_naive();
    let month = q
        .month
        .as_deref()
        .and_then(Month::parse)
        .unwrap_or_else(|| Month::of(today));
    let (from, to) = month.range(zone);
    // Every post due in the displayed month (by time range, not the latest N), read in keyset
    // pages so a busy month is never cut short.
    let mut filter = PostFilter {
        from: Some(from),
        to: Some(to),
        limit: CALENDAR_PAGE,
        ..PostFilter::default()
    };
    let mut rows = Vec::new();
    loop {
        let page = match load_posts(&state, &session, &filter).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        let full = page.len() == CALENDAR_PAGE as usize;
        filter.after = page.last().map(|r| PostKey::of(&r.0));
        rows.extend(page);
        if !full {
            break;
        }
    }
    let mut by_day: HashMap<chrono::NaiveDate, Vec<&(Post, Vec<PostTarget>)>> = HashMap::new();
    for row in &rows {
        by_day
            .entry(row.0.publish_at.with_timezone(&zone).date_naive())
            .or_default()
            .push(row);
    }
    for v in by_day.values_mut() {
        v.sort_by_key(|r| r.0.publish_at);
    }
    let link = |m: Month| {
        format!(
            "/posts/calendar?month={}&tz={}",
            m.key(),
            urlencoding::encode(zone.name())
        )
    };
    let zones: Vec<&str> = {
        let mut z: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
        z.sort_unstable();
        z
    };
    let body = html! {
        div.section-head.calendar-head {
            h2 #month-title { (month.label()) }
            nav aria-label="Months" .month-nav {
                a.btn href=(link(month.prev())) { span aria-hidden="true" { "← " } (month.prev().label()) }
                a.btn href=(link(Month::of(today))) { "This month" }
                a.btn href=(link(month.next())) { (month.next().label()) span aria-hidden="true" { " →" } }
            }
        }
        form method="get" action="/posts/calendar" .zone-form {
            input type="hidden" name="month" value=(month.key());
            label for="calendar-zone" .inline-label { "Days and times in" }
            select #calendar-zone name="tz" data-autosubmit {
                @for z in &zones { option value=(z) selected[*z == zone.name()] { (z) } }
            }
            button type="submit" .btn.btn-small data-autosubmit-fallback { "Show" }
        }
        table.calendar aria-labelledby="month-title" {
            thead { tr { @for d in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] {
                th scope="col" { abbr title=(d) { (&d[..3]) } }
            } } }
            tbody {
                @for week in month.weeks() {
                    tr {
                        @for day in week {
                            @let in_month = Month::of(day) == month;
                            @let posts = by_day.get(&day);
                            td class={ @if in_month { "day" } @else { "day other-month" } @if day == today { " today" } }
                                data-date=(day.format("%Y-%m-%d").to_string())
                                aria-current=[(day == today).then_some("date")] {
                                div.day-number {
                                    span aria-hidden="true" { (day.format("%-d").to_string()) }
                                    span.sr-only { (day.format("%A %-d %B").to_string()) @if posts.is_none() { ", no posts" } }
                                }
                                @if let Some(posts) = posts {
                                    ul.day-posts {
                                        @for (p, targets) in posts.iter().map(|r| (&r.0, &r.1)) {
                                            @let st = post_status(targets.iter().map(|t| t.status.as_str()));
                                            li data-status=(st) {
                                                a href={"/posts/" (p.id)} {
                                                    (p.publish_at.with_timezone(&zone).format("%H:%M").to_string()) " "
                                                    (excerpt(&post_text(p), 40))
                                                }
                                                div.day-targets {
                                                    @for t in targets.iter() {
                                                        @let (_, icon, word) = super::posts_view::status_look(&t.status);
                                                        span class={"mini-status mini-" (super::posts_view::status_look(&t.status).0)} data-status=(t.status) {
                                                            span aria-hidden="true" { (icon) } " " (platform_name(&state, &t.platform)) ": " (word)
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.small.muted { (rows.len()) " post" @if rows.len() != 1 { "s" } " shown. Times in " (zone.name()) "." }
    };
    frame(&state, &session, "Posts calendar", "calendar", zone, body).await
}

/// Query of `GET /posts/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    /// Flash after an action.
    #[serde(default)]
    pub done: Option<String>,
    /// Flash error after an action.
    #[serde(default)]
    pub error: Option<String>,
    /// The zone to show times in.
    #[serde(default)]
    pub tz: Option<String>,
}

async fn load_post(state: &AppState, session: &Session, id: &str) -> Result<Post, Response> {
    match state.store().get_post(&session.workspace_id, id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err((
            StatusCode::NOT_FOUND,
            super::layout::message_page(
                "No such post",
                "It may belong to another workspace, or the link is wrong.",
            ),
        )
            .into_response()),
        Err(e) => Err(db_error(&e)),
    }
}

/// `GET /posts/{id}`: the post, its content and every target with status, link, diagnosis.
pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let zone = viewer_zone(&headers, q.tz.as_deref());
    let post = match load_post(&state, &session, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let targets = match state.store().list_targets(&post.id).await {
        Ok(t) => t,
        Err(e) => return db_error(&e),
    };
    let conns = match connections(&state, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let st = post_status(targets.iter().map(|t| t.status.as_str()));
    let content: PostRequestContent =
        serde_json::from_value(post.content.clone()).unwrap_or_default();
    let busy = targets.iter().any(|t| t.status == "publishing")
        || targets.iter().any(|t| {
            t.status == "scheduled" && t.next_attempt_at <= state.now() + Duration::minutes(2)
        });
    let written_zone = post.time_zone.as_deref().and_then(|z| z.parse::<Tz>().ok());
    let body = html! {
        (flash(q.done.as_deref(), q.error.as_deref()))
        div #post-live data-auto-refresh=[busy.then_some("3")] {
            div.card {
                div.post-head {
                    div {
                        p { "Due " (time_in(post.publish_at, zone)) " (" (zone.name()) ")"
                            @if let Some(w) = written_zone { @if w != zone { " · " (time_in(post.publish_at, w)) " where it was written (" (w.name()) ")" } } }
                        @if let Some(c) = &post.campaign_id { p.small { "Campaign " code { (c) } } }
                    }
                    (status_badge(st))
                }
                h2 { "Content" }
                @if content.text.is_empty() { p.muted { "(no shared text)" } } @else { p.post-text { (content.text) } }
                @if !content.hashtags.is_empty() {
                    p.small { "Hashtags: " @for h in &content.hashtags { code { "#" (h.trim_start_matches('#')) } " " } }
                }
                @if !content.media.is_empty() {
                    ul.small { @for m in &content.media {
                        li { (m.get("kind").and_then(|k| k.as_str()).unwrap_or("media")) ": "
                            code { (m.get("url").and_then(|u| u.as_str()).unwrap_or("")) } }
                    } }
                }
                @for (p, o) in &content.overrides {
                    p.small { strong { (platform_name(&state, p)) ": " }
                        @for (k, v) in o.as_object().into_iter().flatten() {
                            (k.replace('_', " ")) " " code { (v.as_str().map_or_else(|| v.to_string(), str::to_string)) } " "
                        }
                    }
                }
            }
            section.card aria-labelledby="targets-title" {
                h2 #targets-title { "Where it goes" }
                ul.targets { @for t in &targets { (target_line(&state, t, &conns, zone, true)) } }
                (actions(&session, &post, &targets, &format!("/posts/{}", post.id)))
            }
        }
        p { a href="/posts" { "All posts" } " · " a href="/posts/new" { "New post" } }
    };
    let title = format!("Post: {}", excerpt(&post_text(&post), 40));
    frame(&state, &session, &title, "list", zone, body).await
}

/// The stored content, read loosely for display.
#[derive(Debug, Default, Deserialize)]
struct PostRequestContent {
    #[serde(default)]
    text: String,
    #[serde(default)]
    hashtags: Vec<String>,
    #[serde(default)]
    media: Vec<serde_json::Value>,
    #[serde(default)]
    overrides: BTreeMap<String, serde_json::Value>,
}

fn back_path(form: &HashMap<String, String>, post: &Post) -> String {
    match form.get("back").map(String::as_str) {
        Some("/posts") => "/posts".to_string(),
        _ => format!("/posts/{}", post.id),
    }
}

fn changed(n: u64, what: &str, none: &str) -> Result<String, String> {
    if n == 0 {
        Err(none.to_string())
    } else {
        Ok(format!(
            "{n} target{} {what}.",
            if n == 1 { "" } else { "s" }
        ))
    }
}

/// `POST /posts/{id}/cancel`: its scheduled targets cancelled (published ones untouched).
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<HashMap<String, String>>,
) -> Response {
    let post = match load_post(&state, &posted.session, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.store().cancel_targets(&post.id, state.now()).await {
        Ok(n) => super::connections::back(
            &back_path(&posted.form, &post),
            changed(
                n,
                "cancelled",
                "Nothing to cancel: no target is still scheduled.",
            ),
        ),
        Err(e) => db_error(&e),
    }
}

/// `POST /posts/{id}/retry`: its failed targets scheduled again, due now (never the published,
/// cancelled or unknown ones).
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<HashMap<String, String>>,
) -> Response {
    let post = match load_post(&state, &posted.session, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.store().retry_targets(&post.id, state.now()).await {
        Ok(n) => super::connections::back(
            &back_path(&posted.form, &post),
            changed(
                n,
                "scheduled again",
                "Nothing to retry: no target has failed.",
            ),
        ),
        Err(e) => db_error(&e),
    }
}

/// `POST /posts/{id}/publish`: its scheduled targets due now.
pub async fn publish_now(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<HashMap<String, String>>,
) -> Response {
    let post = match load_post(&state, &posted.session, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state
        .store()
        .publish_targets_now(&post.id, state.now())
        .await
    {
        Ok(n) => super::connections::back(
            &back_path(&posted.form, &post),
            changed(
                n,
                "due now",
                "Nothing to publish: no target is still scheduled.",
            ),
        ),
        Err(e) => db_error(&e),
    }
}

/// Routes of this module (merged by [`super::routes`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/posts", get(list).post(create))
        .route("/posts/new", get(compose))
        .route("/posts/validate", post(validate))
        .route("/posts/calendar", get(calendar))
        .route("/posts/{id}", get(detail))
        .route("/posts/{id}/cancel", post(cancel))
        .route("/posts/{id}/retry", post(retry))
        .route("/posts/{id}/publish", post(publish_now))
        .route("/assets/posts.js", get(js))
        .route("/assets/posts.css", get(css))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ids_point_at_the_form() {
        assert_eq!(field_id("content.text"), "post-text");
        assert_eq!(field_id("connection_ids[1]"), "accounts");
        assert_eq!(field_id("content.media[0].url"), "media");
        assert_eq!(
            field_id("content.overrides.youtube.title"),
            "override-youtube-title"
        );
        assert_eq!(field_id("publish_at"), "post-publish-at");
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt("a\n b", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
