//! The dashboard over HTTP (real server and sandbox, `TestApp`): sign-in with an API key or the
//! admin password, the session cookie's flags, CSRF refusals, sign-out, the connections page's
//! badges for every status, the actions, connect through the sandbox's consent page back to the
//! result page, the troubleshooter and the sync widget.

mod common;

use std::collections::BTreeMap;

use common::{Setup, TestApp};
use reqwest::header::{ACCEPT, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

const ADMIN_PASSWORD: &str = "correct horse battery";

async fn app() -> TestApp {
    TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.admin_password = Some(secrecy::SecretString::from(ADMIN_PASSWORD.to_string()));
        }),
        ..Setup::default()
    })
    .await
}

/// A browser with a session cookie.
struct Browser<'a> {
    t: &'a TestApp,
    cookie: String,
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sb_session="))
        .map(str::to_string)
}

async fn sign_in_form(t: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    t.http
        .post(format!("{}/sign-in", t.api))
        .form(fields)
        .send()
        .await
        .expect("sign-in")
}

async fn sign_in(t: &TestApp) -> Browser<'_> {
    let r = sign_in_form(t, &[("api_key", &t.key), ("next", "/")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = session_cookie(&r).expect("a session cookie");
    let cookie = set.split(';').next().unwrap().to_string();
    Browser { t, cookie }
}

fn between<'s>(s: &'s str, start: &str, end: &str) -> Option<&'s str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

impl Browser<'_> {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .t
            .http
            .get(format!("{}{path}", self.t.api))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("get");
        let s = r.status();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        (s, loc.unwrap_or(body))
    }

    /// The page's CSRF token (from the `<meta>` the layout writes).
    async fn csrf(&self) -> String {
        let (s, html) = self.get("/").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        between(&html, r#"<meta name="csrf-token" content=""#, "\"")
            .expect("csrf meta")
            .to_string()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.t
            .http
            .post(format!("{}{path}", self.t.api))
            .header(COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .expect("post")
    }

    /// Posts with this session's token; returns status and Location (or the body).
    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self.post(path, &all).await;
        let s = r.status();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        (s, loc.unwrap_or(body))
    }
}

#[tokio::test]
async fn pages_need_a_session_and_an_api_key_opens_one_with_safe_cookie_flags() {
    let t = app().await;
    let r = t.http.get(format!("{}/", t.api)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/sign-in");
    let r = t
        .http
        .get(format!("{}/connect", t.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/sign-in?next=%2Fconnect");

    let page = t
        .http
        .get(format!("{}/sign-in", t.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"name="api_key""#) && html.contains(r#"name="password""#));

    let r = sign_in_form(&t, &[("api_key", &t.key), ("next", "/connect")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/connect");
    let set = session_cookie(&r).expect("cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(flag), "{flag} missing in {set}");
    }
    assert!(!set.contains("Secure"), "plain-HTTP public_url: {set}");
    assert!(!set.contains(&t.key), "the key never goes into the cookie");

    let b = Browser {
        t: &t,
        cookie: set.split(';').next().unwrap().to_string(),
    };
    let (s, html) = b.get("/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-testid=\"workspace-name\""), "{html}");
    assert!(html.contains(">Test<"));
    assert!(
        html.contains("href=\"/posts\""),
        "the navigation links the posts pages"
    );
    // An open redirect through `next` is refused.
    let r = sign_in_form(&t, &[("api_key", &t.key), ("next", "//evil.test/")]).await;
    assert_eq!(r.headers()[LOCATION], "/");
}

#[tokio::test]
async fn a_wrong_key_or_password_is_refused_without_a_cookie() {
    let t = app().await;
    for fields in [
        vec![("api_key", "sbk_not-a-key")],
        vec![("password", "wrong password")],
        vec![("api_key", ""), ("password", "")],
    ] {
        let r = sign_in_form(&t, &fields).await;
        assert!(
            r.status() == StatusCode::UNAUTHORIZED
                || r.status() == StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}: {}",
            r.status()
        );
        assert!(session_cookie(&r).is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("data-testid=\"sign-in-error\""), "{html}");
    }
    // A forged cookie is no session.
    let r = t
        .http
        .get(format!("{}/", t.api))
        .header(COOKIE, "sb_session=sbv1.abc.def")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_admin_password_signs_in_to_the_oldest_workspace() {
    admin_signs_in(app().await).await;
}

#[tokio::test]
async fn the_admin_password_signs_in_to_the_oldest_workspace_on_postgres() {
    let t = TestApp::spawn_with(Setup {
        db: common::Db::Postgres,
        config: Box::new(|c| {
            c.admin_password = Some(secrecy::SecretString::from(ADMIN_PASSWORD.to_string()));
        }),
        ..Setup::default()
    })
    .await;
    let b = sign_in(&t).await;
    assert_eq!(b.get("/").await.0, StatusCode::OK);
    admin_signs_in(t).await;
}

async fn admin_signs_in(t: TestApp) {
    switchboard_server::create_workspace(t.state.store().as_ref(), "Second", chrono::Utc::now())
        .await
        .unwrap();
    let r = sign_in_form(&t, &[("password", ADMIN_PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = session_cookie(&r).expect("cookie");
    let b = Browser {
        t: &t,
        cookie: set.split(';').next().unwrap().to_string(),
    };
    let (s, html) = b.get("/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("workspace-picker"),
        "the admin may switch: {html}"
    );
    assert!(html.contains(">admin<"));
    let test_ws = format!(
        r#"<option value="{}" selected>Test</option>"#,
        t.workspace_id
    );
    assert!(
        html.contains(&test_ws),
        "the oldest workspace first: {html}"
    );
    let at = html
        .find(">Second<")
        .expect("the other workspace is listed");
    let v = html[..at].rfind("value=\"").unwrap() + 7;
    let second = html[v..v + html[v..].find('"').unwrap()].to_string();
    let csrf = b.csrf().await;
    let r = b
        .post("/workspace", &[("csrf", &csrf), ("workspace_id", &second)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let switched = Browser {
        t: &t,
        cookie: session_cookie(&r)
            .expect("a cookie for the other workspace")
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    };
    let (_, html) = switched.get("/").await;
    assert!(
        html.contains(&format!(
            r#"<option value="{second}" selected>Second</option>"#
        )),
        "{html}"
    );
    // Switching workspace needs the token too, and then shows the other one.
    let (s, _) = b.submit("/workspace", &[("workspace_id", "nope")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_an_admin_password_configured_only_keys_sign_in() {
    let t = TestApp::spawn().await;
    let page = t
        .http
        .get(format!("{}/sign-in", t.api))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains(r#"name="password""#));
    let r = sign_in_form(&t, &[("password", "anything at all")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&r).is_none());
}

#[tokio::test]
async fn the_cookie_is_secure_when_public_url_is_https() {
    let t = TestApp::spawn_with(Setup {
        config: Box::new(|c| c.public_url = "https://switchboard.example".into()),
        ..Setup::default()
    })
    .await;
    let r = sign_in_form(&t, &[("api_key", &t.key)]).await;
    let set = session_cookie(&r).expect("cookie");
    assert!(set.contains("; Secure"), "{set}");
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let t = app().await;
    let conn = t.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    let b = sign_in(&t).await;
    let path = format!("/connections/{id}/refresh");
    let before = t.sandbox_stats().await;
    for fields in [vec![], vec![("csrf", "forged-token")]] {
        let r = b.post(&path, &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    // Also the header form of the token, and other forms.
    let r = t
        .http
        .post(format!("{}/sync", t.api))
        .header(COOKIE, &b.cookie)
        .header("X-CSRF-Token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b.post(&format!("/connections/{id}/disconnect"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b.post("/sign-out", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&r).is_none());
    // Nothing happened: no refresh at the sandbox, the connection is still there.
    assert_eq!(t.sandbox_stats().await, before);
    assert_eq!(t.connection_count().await, 1);
    // A sign-in posted from another site is refused.
    let r = t
        .http
        .post(format!("{}/sign-in", t.api))
        .header(ORIGIN, "http://evil.test")
        .form(&[("api_key", t.key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&r).is_none());
    // Without a session a form goes to the sign-in page, whatever it carries.
    let r = t
        .http
        .post(format!("{}{path}", t.api))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/sign-in"));
}

#[tokio::test]
async fn sign_out_ends_the_session_even_for_a_copied_cookie() {
    let t = app().await;
    let b = sign_in(&t).await;
    let csrf = b.csrf().await;
    let r = b.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/sign-in"));
    let set = session_cookie(&r).expect("a removing cookie");
    assert!(
        set.starts_with("sb_session=;") && set.contains("Max-Age=0"),
        "{set}"
    );
    // The browser has no cookie any more: the dashboard asks to sign in.
    let r = t.http.get(format!("{}/", t.api)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A copy of the old cookie is no session either.
    let (s, loc) = b.get("/").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{loc}");
    assert!(loc.starts_with("/sign-in"));
    // Signing in again opens a new session.
    let again = sign_in(&t).await;
    assert_eq!(again.get("/").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_session_ends_after_twelve_hours() {
    let t = app().await;
    let b = sign_in(&t).await;
    assert_eq!(b.get("/").await.0, StatusCode::OK);
    // Twelve hours later the session is over.
    t.clock
        .advance(chrono::Duration::hours(12) + chrono::Duration::seconds(1));
    let (s, loc) = b.get("/").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{loc}");
}

#[tokio::test]
async fn each_status_has_its_badge_in_words_and_a_diagnosis_when_wrong() {
    let t = app().await;
    let mut ids = Vec::new();
    for p in ["twitter", "linkedin", "tiktok", "pinterest", "youtube"] {
        ids.push(t.connect(p).await["id"].as_str().unwrap().to_string());
    }
    let fb = t.connect("facebook").await;
    assert_eq!(fb["status"], "pending_selection");
    let store = t.state.store();
    let now = chrono::Utc::now();
    store
        .set_connection_status(&ids[1], "expiring_soon", now)
        .await
        .unwrap();
    let revoked = json!({
        "category": "token_revoked", "severity": "error", "retryable": false,
        "cause": "The person revoked Switchboard's access at TikTok.",
        "fix": ["Reconnect the account."], "docs_url": null, "platform": "tiktok",
        "http_status": 401, "platform_code": "access_token_invalid", "platform_message": null
    });
    store
        .record_connection_error(&ids[2], "needs_reauth", &revoked, now)
        .await
        .unwrap();
    let failing = json!({
        "category": "platform_unavailable", "severity": "warning", "retryable": true,
        "cause": "Pinterest answered 503.", "fix": ["Nothing to do: Switchboard retries."],
        "docs_url": null, "platform": "pinterest", "http_status": 503, "platform_code": null,
        "platform_message": null
    });
    store
        .record_connection_error(&ids[3], "refresh_failing", &failing, now)
        .await
        .unwrap();

    let b = sign_in(&t).await;
    let (s, html) = b.get("/").await;
    assert_eq!(s, StatusCode::OK);
    for (status, words, icon) in [
        ("healthy", "Healthy", "✓"),
        ("expiring_soon", "Expiring soon", "◔"),
        ("needs_reauth", "Needs reconnect", "✗"),
        ("refresh_failing", "Refresh failing", "⚠"),
        ("pending_selection", "Pending Page selection", "☐"),
    ] {
        let badge = format!(r#"data-testid="status-badge" data-status="{status}""#);
        assert!(html.contains(&badge), "{status} badge missing");
        assert!(
            html.contains(words) && html.contains(icon),
            "{status} in words"
        );
    }
    assert!(html.contains(r#"data-category="token_revoked""#));
    assert!(
        html.contains("The person revoked Switchboard&#39;s access at TikTok.")
            || html.contains("The person revoked Switchboard's access at TikTok.")
    );
    assert!(html.contains("Reconnect the account."));
    assert!(html.contains(r#"data-category="platform_unavailable""#));
    assert!(
        html.contains("/connect/pages/"),
        "Facebook asks to choose Pages"
    );
    // Needing a person comes first.
    let first_card = html.find("data-testid=\"connection-card\"").unwrap();
    assert!(
        html[first_card..].starts_with(r#"data-testid="connection-card" data-platform="tiktok""#)
    );
    assert!(html.contains("6 connections"));
}

#[tokio::test]
async fn refresh_validate_permissions_and_disconnect_work_from_the_page() {
    let t = app().await;
    let conn = t.connect("twitter").await;
    let id = conn["id"].as_str().unwrap();
    let b = sign_in(&t).await;

    let before = t.sandbox_stats().await;
    let (s, loc) = b.submit(&format!("/connections/{id}/refresh"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("done=Refreshed"), "{loc}");
    let after = t.sandbox_stats().await;
    assert_ne!(before, after, "the sandbox saw a refresh");
    let (_, html) = b.get(&loc.replace(&t.api, "")).await;
    assert!(html.contains("data-testid=\"flash-ok\""));

    // A refused refresh shows the diagnosis summary and the new status.
    t.fault(json!({"platform": "twitter", "endpoint": "refresh", "status": 400,
        "body": "{\"error\":\"invalid_grant\",\"error_description\":\"Value passed for the token was invalid.\"}", "times": 1}))
        .await;
    let (s, loc) = b.submit(&format!("/connections/{id}/refresh"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("error="), "{loc}");
    let (_, html) = b.get("/").await;
    assert!(html.contains(r#"data-status="needs_reauth""#), "{html}");

    let (s, loc) = b.submit(&format!("/connections/{id}/validate"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("run=validate"));
    let (s, html) = b.get(&format!("/connections/{id}?run=validate")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-testid=\"check-report\""));
    assert!(html.contains("data-testid=\"permissions\""));
    assert!(html.contains(r#"data-capability="publish_text""#));

    let (s, html) = b.get(&format!("/connections/{id}/disconnect")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("confirm-disconnect-submit"));
    assert_eq!(
        t.connection_count().await,
        1,
        "the confirmation page changes nothing"
    );
    let (s, loc) = b
        .submit(&format!("/connections/{id}/disconnect"), &[])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("done=Disconnected"), "{loc}");
    assert_eq!(t.connection_count().await, 0);
    // Another workspace's (or a gone) connection is a 404 page.
    let (s, _) = b.get(&format!("/connections/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn connect_goes_through_the_consent_page_and_back_to_a_result_view() {
    let t = app().await;
    let b = sign_in(&t).await;
    let (s, html) = b.get("/connect").await;
    assert_eq!(s, StatusCode::OK);
    for p in switchboard_core::catalog::BUILTIN_IDS {
        assert!(
            html.contains(&format!(
                r#"data-testid="platform-card" data-platform="{p}""#
            )),
            "{p} card"
        );
        assert!(html.contains(&format!(r#"data-testid="connect-{p}""#)));
    }
    assert!(html.contains("setup"), "difficulty shown");
    assert!(html.contains("Configured"));

    let (s, consent) = b.submit("/connect/linkedin", &[("mode", "redirect")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(consent.starts_with(&t.sandbox), "{consent}");
    let callback = t.consent(&consent, "allow", None).await;
    let r = t
        .http
        .get(&callback)
        .header(COOKIE, &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let done = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        done.contains("/connect/done?") && done.contains("switchboard_status=connected"),
        "{done}"
    );
    let (s, html) = b.get(&done.replace(&t.api, "")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"data-connect-result="connected""#));
    assert!(html.contains("Connected to LinkedIn"));

    // A refusal at the consent page comes back as a failure view with the fix.
    let (_, consent) = b.submit("/connect/twitter", &[]).await;
    let callback = t.consent(&consent, "deny", None).await;
    let r = t.http.get(&callback).send().await.unwrap();
    let done = r.headers()[LOCATION].to_str().unwrap().to_string();
    let (s, html) = b.get(&done.replace(&t.api, "")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"data-connect-result="failed""#), "{html}");
    assert!(html.contains("Could not connect X") || html.contains("Could not connect"));
    assert!(html.contains("data-testid=\"diagnosis\""));
}

#[tokio::test]
async fn facebook_pages_are_chosen_on_the_dashboard() {
    let t = app().await;
    let fb = t.connect("facebook").await;
    let id = fb["id"].as_str().unwrap();
    let b = sign_in(&t).await;
    let (s, html) = b.get(&format!("/connect/pages/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let page_id = between(&html, r#"name="page_id" value=""#, "\"")
        .expect("a page")
        .to_string();
    let (s, loc) = b.submit(&format!("/connect/pages/{id}"), &[]).await;
    assert!(loc.contains("error="), "nothing ticked: {s} {loc}");
    let (s, loc) = b
        .submit(&format!("/connect/pages/{id}"), &[("page_id", &page_id)])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("done="), "{loc}");
    let (_, v) = t.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(v["status"], "healthy");
}

#[tokio::test]
async fn the_reconnect_wizard_and_bulk_connect() {
    let t = app().await;
    let conn = t.connect("tiktok").await;
    let id = conn["id"].as_str().unwrap();
    let b = sign_in(&t).await;
    let (s, html) = b.get(&format!("/connect/reconnect/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    for part in [
        "wizard-why",
        "wizard-permissions",
        "wizard-steps",
        "wizard-go",
        "connect-tiktok",
    ] {
        assert!(html.contains(part), "{part}");
    }

    let csrf = b.csrf().await;
    let r = b
        .post(
            "/connect/bulk",
            &[
                ("csrf", &csrf),
                ("platform", "twitter"),
                ("platform", "pinterest"),
                ("owner", "me"),
            ],
        )
        .await;
    // Post, then redirect to the batch's own page: its address shows the links again later.
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(page.starts_with("/connect/bulk/"), "{page}");
    let (s, html) = b.get(&page).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-bulk-progress"));
    assert!(
        html.contains(r#"data-testid="bulk-link-pinterest""#),
        "{html}"
    );
    let at = html
        .find(r#"data-testid="bulk-link-twitter""#)
        .expect("a link to the consent page");
    let href = html[..at].rfind("href=\"").unwrap() + 6;
    let url = html[href..href + html[href..].find('"').unwrap()].replace("&amp;", "&");
    let batch = between(&html, r#"data-poll-url="/connect/bulk/"#, "?")
        .unwrap()
        .to_string();
    let callback = t.consent(&url, "allow", None).await;
    t.http.get(&callback).send().await.unwrap();
    let (s, frag) = b.get(&format!("/connect/bulk/{batch}?fragment=1")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(frag.contains(r#"data-status="connected""#), "{frag}");
    assert!(frag.contains("50%"), "{frag}");
    // After consent the used link is gone; the other one is still offered, until it expires.
    let (_, html) = b.get(&page).await;
    assert!(
        !html.contains(r#"data-testid="bulk-link-twitter""#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-testid="bulk-link-pinterest""#),
        "{html}"
    );
    t.clock.advance(chrono::Duration::hours(2));
    let (_, html) = b.get(&page).await;
    assert!(!html.contains("data-testid=\"bulk-link-"), "{html}");
    assert!(html.contains(r#"data-status="expired""#), "{html}");
    assert!(html.contains("Expired"), "{html}");
    // Another workspace's session cannot see the batch.
    let (other, other_key) =
        switchboard_server::create_workspace(t.state.store().as_ref(), "Other", chrono::Utc::now())
            .await
            .unwrap();
    let _ = other;
    let r = t
        .http
        .post(format!("{}/sign-in", t.api))
        .form(&[("api_key", other_key.as_str()), ("next", "/")])
        .send()
        .await
        .unwrap();
    let o = Browser {
        t: &t,
        cookie: session_cookie(&r)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    };
    let (s, _) = o.get(&page).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_troubleshooter_explains_a_pasted_error() {
    let t = app().await;
    let b = sign_in(&t).await;
    let (s, html) = b.get("/troubleshoot").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("troubleshoot-form"));
    let meta = r#"{"error":{"message":"Error validating access token: The session has been invalidated because the user changed their password.","type":"OAuthException","code":190,"error_subcode":460}}"#;
    let (s, html) = b
        .submit(
            "/troubleshoot",
            &[
                ("platform", "facebook"),
                ("http_status", "400"),
                ("call", "api"),
                ("error", meta),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains(r#"data-category="token_revoked""#)
            || html.contains(r#"data-category="token_expired""#),
        "{html}"
    );
    let (s, html) = b
        .submit(
            "/troubleshoot",
            &[("platform", "facebook"), ("error", "  ")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("troubleshoot-error"));
}

#[tokio::test]
async fn the_sync_widget_shows_the_status_and_sync_now_queues_a_job() {
    let t = app().await;
    t.connect("twitter").await;
    let b = sign_in(&t).await;
    let (s, html) = b.get("/sync/widget").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"data-sync-status="never""#), "{html}");
    assert!(html.contains("Never synced"));
    let csrf = b.csrf().await;
    let r = t
        .http
        .post(format!("{}/sync", t.api))
        .header(COOKIE, &b.cookie)
        .header("X-CSRF-Token", &csrf)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let (_, html) = b.get("/sync/widget").await;
    assert!(html.contains(r#"data-sync-status="queued""#), "{html}");
    assert!(html.contains("sync-progress"));
    let (_, html) = b.get("/").await;
    assert!(html.contains(r#"data-testid="sync-widget""#));
}

#[tokio::test]
async fn assets_are_embedded_and_pages_carry_security_headers() {
    let t = app().await;
    for (path, ct) in [
        ("/assets/dashboard.css", "text/css"),
        ("/assets/dashboard.js", "text/javascript"),
    ] {
        let r = t.http.get(format!("{}{path}", t.api)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ct));
    }
    let r = t
        .http
        .get(format!("{}/sign-in", t.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let html = r.text().await.unwrap();
    assert!(!html.contains("https://cdn"), "no CDN");
}

#[test]
fn admin_password_comes_from_the_environment_or_a_file_and_must_be_long_enough() {
    use switchboard_server::config::Config;
    let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let c = Config::load(None, &env(&[("SWITCHBOARD_ADMIN_PASSWORD", "long enough")])).unwrap();
    assert!(c.admin_password.is_some());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("pw");
    std::fs::write(&f, "from a file\n").unwrap();
    let c = Config::load(
        None,
        &env(&[("SWITCHBOARD_ADMIN_PASSWORD_FILE", f.to_str().unwrap())]),
    )
    .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(c.admin_password.unwrap().expose_secret(), "from a file");
    let e = Config::load(None, &env(&[("SWITCHBOARD_ADMIN_PASSWORD", "short")])).unwrap_err();
    assert!(e.to_string().contains("admin_password"), "{e}");
    assert!(Config::load(None, &env(&[]))
        .unwrap()
        .admin_password
        .is_none());
}

#[tokio::test]
async fn an_unconfigured_platform_says_what_is_missing() {
    let t = TestApp::spawn_with(Setup {
        config: Box::new(|c| {
            c.sandbox_url = None;
            c.platforms.entry("linkedin".into()).or_default().client_id = Some("li-id".into());
            c.platforms
                .entry("linkedin".into())
                .or_default()
                .client_secret = Some("li-secret".into());
        }),
        ..Setup::default()
    })
    .await;
    let b = sign_in(&t).await;
    let (s, html) = b.get("/connect").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains(r#"data-platform="twitter" data-configured="false""#),
        "{html}"
    );
    assert!(html.contains(r#"data-platform="linkedin" data-configured="true""#));
    assert!(
        html.contains("SWITCHBOARD_TWITTER_CLIENT_ID"),
        "the fix names the setting"
    );
    assert!(html.contains("Not configured"));
    // Starting anyway ends on the failure view, not at the platform.
    let (s, html) = b.submit("/connect/twitter", &[]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(html.contains(r#"data-connect-result="failed""#), "{html}");
    assert!(html.contains("no client credentials"));
}

/// The admin's workspace switch is a plain form: read from the page as a browser without
/// script would (its action, its hidden CSRF field, the select's name, a real submit button),
/// posted as such, it switches and comes back to the page it was on.
#[tokio::test]
async fn the_admin_switches_workspace_with_a_plain_form_post() {
    let t = app().await;
    let (second_ws, _) = switchboard_server::create_workspace(
        t.state.store().as_ref(),
        "Second",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let r = sign_in_form(&t, &[("password", ADMIN_PASSWORD)]).await;
    let set = session_cookie(&r).expect("cookie");
    let b = Browser {
        t: &t,
        cookie: set.split(';').next().unwrap().to_string(),
    };
    let (s, html) = b.get("/posts").await;
    assert_eq!(s, StatusCode::OK);
    let form = between(&html, r#"data-testid="workspace-switch""#, "</form>")
        .expect("the workspace switch form");
    let tag_start = html.find(r#"data-testid="workspace-switch""#).unwrap();
    let open = &html[html[..tag_start].rfind("<form").unwrap()..tag_start];
    assert!(open.contains(r#"method="post""#), "{open}");
    assert!(open.contains(r#"action="/workspace""#), "{open}");
    let csrf = between(form, r#"name="csrf" value=""#, "\"").expect("the CSRF field in the form");
    assert!(
        form.contains(r#"<select id="workspace-picker" name="workspace_id""#),
        "{form}"
    );
    assert!(
        form.contains(&format!(
            r#"<option value="{}">Second</option>"#,
            second_ws.id
        )),
        "{form}"
    );
    let button = between(form, "<button", "</button>").expect("a submit button");
    assert!(button.contains(r#"type="submit""#), "{button}");
    assert!(
        !form.contains("<noscript"),
        "the button is there without script: {form}"
    );

    // Submitting it as a plain form: back to the page it came from, on the other workspace.
    let r = t
        .http
        .post(format!("{}/workspace", t.api))
        .header(COOKIE, &b.cookie)
        .header(
            reqwest::header::REFERER,
            format!("{}/posts?status=failed", t.api),
        )
        .form(&[("csrf", csrf), ("workspace_id", second_ws.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/posts");
    let switched = Browser {
        t: &t,
        cookie: session_cookie(&r)
            .expect("a session for the other workspace")
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    };
    let (_, html) = switched.get("/posts").await;
    assert!(
        html.contains(&format!(
            r#"<option value="{}" selected>Second</option>"#,
            second_ws.id
        )),
        "{html}"
    );

    // The same form without its token, or naming no real workspace, changes nothing.
    let r = b
        .post("/workspace", &[("workspace_id", second_ws.id.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&r).is_none());
    let r = b
        .post("/workspace", &[("csrf", csrf), ("workspace_id", "nope")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(session_cookie(&r).is_none());

    // A workspace key's session has no switch, and the post is refused.
    let k = sign_in(&t).await;
    let (_, html) = k.get("/posts").await;
    assert!(!html.contains("workspace-switch"), "{html}");
    let (s, _) = k
        .submit("/workspace", &[("workspace_id", second_ws.id.as_str())])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_next_never_leaves_the_origin() {
    let t = app().await;
    let b = sign_in(&t).await;
    // Raw query strings as an attacker writes them; each must land on this dashboard.
    for (raw, want) in [
        ("%2F%09%2Fevil.com", "/"),
        ("/%09/evil.com", "/"),
        ("/%0a/evil.com", "/"),
        ("/%0d%0a/evil.com", "/"),
        ("/%0a", "/"),
        ("/%5Cevil.com", "/"),
        ("/%5C%5Cevil.com", "/"),
        ("%5C%5Cevil.com", "/"),
        ("//evil.com", "/"),
        ("/%2F%2Fevil.com", "/"),
        ("/x%252f..%252fevil", "/"),
        ("https://evil.com/", "/"),
        ("/%20/evil.com", "/"),
        ("/posts/../connect?tab=1", "/connect?tab=1"),
        ("/posts", "/posts"),
    ] {
        for signed_in in [true, false] {
            let mut req = t.http.get(format!("{}/sign-in?next={raw}", t.api));
            if signed_in {
                req = req.header(COOKIE, &b.cookie);
            }
            let r = req.send().await.unwrap();
            assert!(
                r.status().is_success() || r.status().is_redirection(),
                "{raw}: {}",
                r.status()
            );
            let got = if signed_in {
                r.headers()[LOCATION].to_str().unwrap().to_string()
            } else {
                let body = r.text().await.unwrap();
                between(&body, "name=\"next\" value=\"", "\"")
                    .expect("the form carries next")
                    .to_string()
            };
            assert_eq!(got, want, "{raw} (signed in: {signed_in})");
        }
    }
    // The sign-in form itself, posted with a hostile next.
    let r = sign_in_form(&t, &[("api_key", &t.key), ("next", "/\t/evil.com")]).await;
    assert_eq!(r.headers()[LOCATION], "/");
}
