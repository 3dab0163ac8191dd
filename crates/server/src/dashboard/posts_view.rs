//! Pieces of the posts pages rendered with `maud`: target status badges (an icon and a word,
//! never colour alone), failure diagnoses, times shown with their zone, and the live checks
//! panel of the compose form (per-target verdict, length meter, preview).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde_json::Value;
use switchboard_core::catalog::PlatformSpec;
use switchboard_core::diagnosis::Diagnosis;
use switchboard_core::post::PostContent;
use switchboard_core::post_rules::{platform_text, TargetVerdict, TextUnit, Violation};
use switchboard_store::Connection;

use crate::dashboard::connections::{account_label, diagnosis_block};

/// The people-facing tone (CSS), icon and word of a target or post status.
pub fn status_look(status: &str) -> (&'static str, &'static str, &'static str) {
    match status {
        "scheduled" => ("info", "◷", "Scheduled"),
        "publishing" => ("info", "⟳", "Publishing"),
        "published" => ("ok", "✓", "Published"),
        "failed" => ("bad", "✗", "Failed"),
        "cancelled" => ("muted", "⊘", "Cancelled"),
        "partially_published" => ("warn", "◐", "Partly published"),
        _ => ("warn", "?", "Outcome unknown"),
    }
}

/// A status badge: icon (hidden from screen readers) and word; the tone only adds colour.
/// `data-status` carries the raw status.
pub fn status_badge(status: &str) -> Markup {
    let (tone, icon, word) = status_look(status);
    html! {
        span class={"badge badge-" (tone)} data-status=(status) {
            span.icon aria-hidden="true" { (icon) }
            " " (word)
        }
    }
}

/// `21 Nov 2026, 09:30 CET` in `zone`, inside `<time datetime="...">`.
pub fn time_in(t: DateTime<Utc>, zone: Tz) -> Markup {
    let local = t.with_timezone(&zone);
    html! {
        time datetime=(t.to_rfc3339()) title=(format!("{} UTC", t.format("%Y-%m-%d %H:%M"))) {
            (local.format("%-d %b %Y, %H:%M %Z").to_string())
        }
    }
}

/// A diagnosis as stored on a target (`last_error`), shown as the connections page shows one
/// (cause, numbered fix, documentation, the platform's own words); anything that is not a
/// diagnosis is shown as text.
pub fn diagnosis(d: &Value) -> Markup {
    match serde_json::from_value::<Diagnosis>(d.clone()) {
        Ok(d) => diagnosis_block(&d),
        Err(_) => html! { div.diagnosis data-testid="diagnosis" { p { (d.to_string()) } } },
    }
}

/// One target of the live checks: the account, its platform, the verdict and what it sends.
pub struct TargetCheck<'a> {
    /// The account, when the id is one of the workspace's.
    pub connection: Option<&'a Connection>,
    /// Its platform, when configured.
    pub spec: Option<&'a PlatformSpec>,
    /// The verdict of `routes::posts::verdict`.
    pub verdict: &'a TargetVerdict,
}

/// What the live checks panel shows.
pub struct Checks<'a> {
    /// Problems of the form or request as a whole (time, zone, no account).
    pub problems: &'a [Violation],
    /// Per-target verdicts with previews.
    pub targets: Vec<TargetCheck<'a>>,
    /// The content checked.
    pub content: &'a PostContent,
    /// When it would publish, as words (`now`, `21 Nov 2026, 09:30 CET`), when known.
    pub due: Option<Markup>,
}

fn violation_item(v: &Violation) -> Markup {
    html! {
        li data-violation-field=(v.field) data-code=(v.code) {
            span aria-hidden="true" { "✕ " }
            (v.message)
        }
    }
}

fn length_meter(spec: &PlatformSpec, content: &PostContent) -> Markup {
    let rules = &spec.content;
    let text = platform_text(&spec.id, rules, content);
    let len = rules.text_unit.measure(&text.text);
    let Some(max) = rules.text_max else {
        return html! { p.meter-text { (len) " " (rules.text_unit.noun()) } };
    };
    let over = len > max;
    let unit = if rules.text_unit == TextUnit::TwitterWeighted {
        "weighted characters (links count 23, most CJK and emoji 2)"
    } else {
        rules.text_unit.noun()
    };
    html! {
        p.meter-text data-length=(len) data-max=(max) {
            @if over { span aria-hidden="true" { "✕ " } } @else { span aria-hidden="true" { "✓ " } }
            strong { (len) " / " (max) } " " (unit)
            @if over { " — " (len - max) " too many" } @else { " — " (max - len) " left" }
        }
        meter min="0" max=(max) value=(len.min(max)) high=(max * 9 / 10) optimum="0"
            aria-label=(format!("{} text length", spec.display_name)) {}
    }
}

fn preview(spec: &PlatformSpec, conn: Option<&Connection>, content: &PostContent) -> Markup {
    let rules = &spec.content;
    let text = platform_text(&spec.id, rules, content);
    let over = content.overrides.get(&spec.id);
    let title = over.and_then(|o| o.title.clone());
    html! {
        div.preview style=(format!("--brand:{}", spec.brand_color)) {
            div.preview-head {
                @if let Some(url) = conn.and_then(|c| c.avatar_url.as_deref()) {
                    img.avatar src=(url) alt="" width="32" height="32" loading="lazy";
                }
                span {
                    strong { (conn.map(account_label).unwrap_or_else(|| spec.display_name.clone())) }
                    " on " (spec.display_name)
                }
            }
            @if let Some(t) = &title { p.preview-title { (t) } }
            @if text.text.is_empty() {
                p.preview-text.muted { "(no text)" }
            } @else {
                p.preview-text { (text.text) }
            }
            @if !content.media.is_empty() {
                ul.preview-media {
                    @for m in &content.media {
                        li {
                            span aria-hidden="true" { (match m.kind.as_str() { "video" => "▶ ", "gif" => "◎ ", _ => "▣ " }) }
                            (m.kind.as_str()) ": "
                            // An upload by its id (stored posts carry no URL for it; a
                            // signed URL's last segment would be its token).
                            @if let Some(id) = &m.media_id {
                                "uploaded file " (id)
                            } @else {
                                (m.url.rsplit('/').next().unwrap_or(&m.url))
                            }
                            @if let Some(a) = &m.alt_text { " — alt: " (a) }
                        }
                    }
                }
            }
        }
    }
}

/// The checks panel: a summary line, the form's own problems, and per target the verdict, the
/// text length against the platform's limit (X: the weighted count) and a preview.
pub fn checks_panel(c: &Checks<'_>) -> Markup {
    let bad_targets = c.targets.iter().filter(|t| !t.verdict.valid).count();
    let ready = c.problems.is_empty() && bad_targets == 0 && !c.targets.is_empty();
    html! {
        p.checks-status role="status" data-ready=(ready) {
            @if ready {
                span aria-hidden="true" { "✓ " }
                "Ready to publish to " (c.targets.len()) " account" @if c.targets.len() != 1 { "s" }
                @if let Some(d) = &c.due { ", " (d) }
                "."
            } @else if c.targets.is_empty() && c.problems.is_empty() {
                "Choose at least one account to see each platform's checks and preview."
            } @else {
                span aria-hidden="true" { "✕ " }
                @let n = c.problems.len() + c.targets.iter().map(|t| t.verdict.violations.len()).sum::<usize>();
                (n) @if n == 1 { " problem" } @else { " problems" } " to fix before scheduling."
            }
        }
        @if !c.problems.is_empty() {
            ul.problems { @for v in c.problems { (violation_item(v)) } }
        }
        @for t in &c.targets {
            section.target-check data-platform=(t.verdict.platform.as_deref().unwrap_or("")) data-valid=(t.verdict.valid)
                aria-label=(format!("Checks for {}", t.spec.map_or("an account", |s| s.display_name.as_str()))) {
                h3 {
                    @if t.verdict.valid { (status_like("ok", "OK")) } @else { (status_like("bad", "Fix")) }
                    " "
                    (t.spec.map_or("Unknown account".to_string(), |s| s.display_name.clone()))
                    @if let Some(conn) = t.connection { span.muted { " · " (account_label(conn)) } }
                }
                @if let Some(spec) = t.spec { (length_meter(spec, c.content)) }
                @if !t.verdict.violations.is_empty() {
                    ul.violations { @for v in &t.verdict.violations { (violation_item(v)) } }
                }
                @if let Some(spec) = t.spec { (preview(spec, t.connection, c.content)) }
            }
        }
    }
}

fn status_like(kind: &str, word: &str) -> Markup {
    html! {
        span class=(format!("verdict verdict-{kind}")) {
            span aria-hidden="true" { @if kind == "ok" { "✓" } @else { "✕" } }
            " " (word)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_says_its_status_in_words() {
        for s in [
            "scheduled",
            "publishing",
            "published",
            "failed",
            "cancelled",
            "unknown",
        ] {
            let html = status_badge(s).into_string();
            let (_, _, word) = status_look(s);
            assert!(html.contains(word), "{html}");
            assert!(html.contains("aria-hidden=\"true\""), "{html}");
        }
    }

    #[test]
    fn a_diagnosis_shows_cause_fix_and_the_platform_words_escaped() {
        let d = serde_json::json!({
            "category": "token_revoked",
            "severity": "error",
            "retryable": false,
            "cause": "The token was revoked",
            "fix": ["Reconnect the account"],
            "docs_url": null,
            "platform": "twitter",
            "http_status": 401,
            "platform_code": "89",
            "platform_message": "<b>Invalid</b> token"
        });
        let html = diagnosis(&d).into_string();
        assert!(html.contains("The token was revoked"), "{html}");
        assert!(html.contains("<li>Reconnect the account</li>"), "{html}");
        assert!(html.contains("&lt;b&gt;Invalid"), "escaped: {html}");
        let other = diagnosis(&serde_json::json!("<oops>")).into_string();
        assert!(other.contains("&lt;oops&gt;"), "{other}");
    }
}
