//! The dashboard's page frame and shared pieces: [`page`] (header, navigation, workspace,
//! sign-out, main, footer), [`bare_page`] (no navigation: sign-in, errors), status badges that
//! say their status in words and an icon (never colour alone), and time formatting.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::{csrf_field, Session};

/// A navigation entry of the header: `(key, path, label)`. `nav_active` of [`page`] is one of
/// the keys.
pub const NAV: &[(&str, &str, &str)] = &[
    ("connections", "/", "Connections"),
    ("connect", "/connect", "Connect"),
    ("posts", "/posts", "Posts"),
    ("troubleshoot", "/troubleshoot", "Troubleshoot"),
];

fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light";
            @if let Some(c) = csrf { meta name="csrf-token" content=(c); }
            title { (title) " · Switchboard" }
            link rel="stylesheet" href=(super::CSS_PATH);
            link rel="icon" href="data:,";
            script src=(super::JS_PATH) defer {}
        }
    }
}

/// A full dashboard page: skip link, header with the navigation (`nav_active` marked with
/// `aria-current="page"`), the workspace (a picker for the admin), sign-out (a CSRF-protected
/// form), then `body` inside `<main id="main">` under an `<h1>` of `title`.
pub fn page(title: &str, nav_active: &str, session: &Session, body: Markup) -> Markup {
    page_with(title, nav_active, session, None, body)
}

/// As [`page`], with the admin's workspace list for the picker in the header (`None` shows
/// the workspace name only).
pub fn page_with(
    title: &str,
    nav_active: &str,
    session: &Session,
    workspaces: Option<&[switchboard_store::Workspace]>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&session.csrf)))
            body {
                a .skip href="#main" { "Skip to content" }
                header .topbar {
                    a .brand href="/" { span aria-hidden="true" { "⇄" } " Switchboard" }
                    nav aria-label="Main" {
                        ul {
                            @for (key, path, label) in NAV {
                                li {
                                    @if *key == nav_active {
                                        a href=(path) aria-current="page" data-testid={"nav-" (key)} { (label) }
                                    } @else {
                                        a href=(path) data-testid={"nav-" (key)} { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div .who {
                        @match workspaces {
                            Some(list) if session.admin && list.len() > 1 => {
                                // A plain form: the select and a submit button post it (CSRF
                                // token included) without any script; `dashboard.js` then
                                // submits on change and hides the button.
                                form method="post" action="/workspace" .inline data-testid="workspace-switch" {
                                    (csrf_field(session))
                                    label for="workspace-picker" .sr-only { "Workspace" }
                                    select #workspace-picker name="workspace_id" data-autosubmit {
                                        @for w in list {
                                            option value=(w.id) selected[w.id == session.workspace_id] { (w.name) }
                                        }
                                    }
                                    button type="submit" .btn.btn-small data-autosubmit-fallback data-testid="workspace-switch-submit" { "Switch" }
                                }
                            }
                            _ => {
                                span .workspace data-testid="workspace-name" title="Workspace" { (session.workspace_name) }
                            }
                        }
                        @if session.admin { span .tag { "admin" } }
                        form method="post" action="/sign-out" .inline {
                            (csrf_field(session))
                            button type="submit" .btn.btn-small data-testid="sign-out" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer .footer {
                    "Switchboard " (env!("CARGO_PKG_VERSION")) " · "
                    a href="/readyz" { "readiness" }
                }
            }
        }
    }
}

/// A page without navigation (sign-in, refusals), centred.
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body .bare {
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A short page with a heading and one paragraph, and a link back to the dashboard.
pub fn message_page(title: &str, detail: &str) -> Markup {
    bare_page(
        title,
        html! {
            div .card {
                h1 { (title) }
                p { (detail) }
                p { a href="/" { "Back to the dashboard" } }
            }
        },
    )
}

/// How a status looks: CSS tone (`ok`, `warn`, `bad`, `info`, `muted`), icon, label.
pub fn status_look(status: &str) -> (&'static str, &'static str, String) {
    match status {
        "healthy" => ("ok", "✓", "Healthy".into()),
        "expiring_soon" => ("warn", "◔", "Expiring soon".into()),
        "refresh_failing" => ("warn", "⚠", "Refresh failing".into()),
        "needs_reauth" => ("bad", "✗", "Needs reconnect".into()),
        "expired" => ("bad", "✗", "Expired: reconnect".into()),
        "revoked" => ("bad", "✗", "Revoked: reconnect".into()),
        "pending_selection" => ("info", "☐", "Pending Page selection".into()),
        other => ("muted", "•", other.replace('_', " ")),
    }
}

/// A status badge: icon and words, coloured by tone, `data-status` carrying the raw value
/// (`data-testid="status-badge"`).
pub fn badge(status: &str) -> Markup {
    let (tone, icon, label) = status_look(status);
    html! {
        span class={"badge badge-" (tone)} data-testid="status-badge" data-status=(status) {
            span .icon aria-hidden="true" { (icon) } " " (label)
        }
    }
}

/// A badge in a tone with an icon and text (for statuses other than a connection's).
pub fn tone_badge(tone: &str, icon: &str, text: &str) -> Markup {
    html! {
        span class={"badge badge-" (tone)} {
            span .icon aria-hidden="true" { (icon) } " " (text)
        }
    }
}

/// "5 minutes ago" / "in 3 hours" relative to `now`, in words.
pub fn relative(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let future = secs > 0;
    let a = secs.unsigned_abs();
    let (n, unit) = if a < 45 {
        return if future {
            "in a few seconds".into()
        } else {
            "just now".into()
        };
    } else if a < 90 * 60 {
        (a.div_ceil(60).max(1), "minute")
    } else if a < 36 * 3600 {
        ((a + 1800) / 3600, "hour")
    } else {
        ((a + 43_200) / 86_400, "day")
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// A `<time>` element: the relative time as text, the exact UTC time as `datetime` and title.
pub fn time_el(now: DateTime<Utc>, t: DateTime<Utc>) -> Markup {
    let exact = t.format("%Y-%m-%d %H:%M UTC").to_string();
    html! {
        time datetime=(t.to_rfc3339()) title=(exact) { (relative(now, t)) }
    }
}

/// An inline SVG-free avatar: the image when there is one (with empty alt, the name is next to
/// it), otherwise the initial on the platform's colour.
pub fn avatar(url: Option<&str>, name: &str, colour: &str) -> Markup {
    let initial: String = name
        .trim_start_matches('@')
        .chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into());
    html! {
        @match url {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                img .avatar src=(u) alt="" width="40" height="40" loading="lazy" referrerpolicy="no-referrer";
            }
            _ => {
                span .avatar .avatar-initial style={"background:" (safe_colour(colour))} aria-hidden="true" { (initial) }
            }
        }
    }
}

/// `colour` when it is a `#rrggbb` hex colour, else a neutral grey (catalog values go into
/// `style` attributes).
pub fn safe_colour(colour: &str) -> &str {
    let ok = colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        colour
    } else {
        "#4b5563"
    }
}

/// A flash message after an action (`?done=` / `?error=` in the redirect), as an alert region.
pub fn flash(ok: Option<&str>, err: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = ok {
            div .alert.alert-ok role="status" data-testid="flash-ok" {
                span .icon aria-hidden="true" { "✓" } " " (m)
            }
        }
        @if let Some(m) = err {
            div .alert.alert-bad role="alert" data-testid="flash-error" {
                span .icon aria-hidden="true" { "✗" } " " (m)
            }
        }
    }
}

/// A JSON value embedded for the page's script, safe inside `<script>` (no `</`).
pub fn json_script(id: &str, value: &serde_json::Value) -> Markup {
    let text = value.to_string().replace("</", "<\\/");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(
            relative(now, now - chrono::Duration::seconds(10)),
            "just now"
        );
        assert_eq!(
            relative(now, now - chrono::Duration::minutes(5)),
            "5 minutes ago"
        );
        assert_eq!(
            relative(now, now - chrono::Duration::minutes(1)),
            "1 minute ago"
        );
        assert_eq!(
            relative(now, now + chrono::Duration::hours(3)),
            "in 3 hours"
        );
        assert_eq!(relative(now, now - chrono::Duration::days(4)), "4 days ago");
    }

    #[test]
    fn badges_say_their_status_in_words() {
        for s in [
            "healthy",
            "expiring_soon",
            "refresh_failing",
            "needs_reauth",
            "pending_selection",
        ] {
            let html = badge(s).into_string();
            let (_, icon, label) = status_look(s);
            assert!(html.contains(icon) && html.contains(&label), "{html}");
        }
    }

    #[test]
    fn only_hex_colours_reach_style() {
        assert_eq!(safe_colour("#1DA1F2"), "#1DA1F2");
        assert_eq!(safe_colour("red;background:url(x)"), "#4b5563");
    }
}
