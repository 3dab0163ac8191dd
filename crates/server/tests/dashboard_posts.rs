//! The dashboard's posts pages over HTTP, as a browser uses them (session cookie, CSRF token,
//! form posts): live validation answers each platform's verdict with X's weighted count, a
//! refused form stores nothing and comes back as typed, a post scheduled in a time zone is due
//! at the right instant and shows in the list and the calendar with its zone, cancel and retry
//! change only the targets they may, a failed target shows its diagnosis and a published one
//! its link; another workspace's post is 404 and forms without the CSRF token are refused.

mod common;

use common::TestApp;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::workers::publish::tick;

/// A browser: a cookie jar, no automatic redirects, signed in with the app's API key.
struct Browser {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(app: &TestApp) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .post(format!("{}/sign-in", app.api))
            .form(&[("api_key", app.key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in redirects");
        let mut b = Browser {
            http,
            base: app.api.clone(),
            csrf: String::new(),
        };
        let (s, html) = b.get("/posts/new").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        b.csrf = between(&html, "name=\"csrf-token\" content=\"", "\"")
            .expect("csrf meta")
            .to_string();
        b
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form with the CSRF token; returns status, `Location` and body.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status(), loc, r.text().await.unwrap())
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// The `<section class="target-check" ...>` of `platform` in a checks panel.
fn check_of<'a>(panel: &'a str, platform: &str) -> &'a str {
    let start = panel
        .find(&format!("data-platform=\"{platform}\""))
        .unwrap_or_else(|| panic!("no {platform} check in {panel}"));
    let rest = &panel[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}

async fn api_post(app: &TestApp, id: &str) -> Value {
    let (s, v) = app.get(&format!("/v1/posts/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn post_count(app: &TestApp) -> usize {
    let (_, v) = app.get("/v1/posts").await;
    v["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn live_checks_count_x_weighted_and_list_every_platform_problem() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let yt = app.connect("youtube").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;

    // The compose page lists the accounts and the zone picker.
    let (_, page) = b.get("/posts/new").await;
    assert!(page.contains(&format!("value=\"{x}\"")), "{page}");
    assert!(page.contains(&format!("value=\"{yt}\"")));
    assert!(page.contains("<option value=\"Europe/Paris\""));
    assert!(page.contains("/assets/posts.js"));

    // A URL counts 23 on X, whatever its length (twitter-text).
    let text = "Hello https://example.com/a/very/long/path/that/is/much/longer/than/23";
    let (s, _, panel) = b
        .post(
            "/posts/validate",
            &[("text", text), ("connection_id", &x), ("when", "now")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let xc = check_of(&panel, "twitter");
    assert!(xc.contains("data-valid=\"true\""), "{xc}");
    assert!(xc.contains("data-length=\"29\""), "6 + 23: {xc}");
    assert!(xc.contains("data-max=\"280\""), "{xc}");
    assert!(panel.contains("data-ready=\"true\""), "{panel}");
    assert!(
        xc.contains("Hello https://example.com"),
        "the preview shows the text: {xc}"
    );

    // Past 280 on X, and YouTube without a video or title: every problem at once, per target.
    let long = "é".repeat(281);
    let (_, _, panel) = b
        .post(
            "/posts/validate",
            &[
                ("text", &long),
                ("connection_id", &x),
                ("connection_id", &yt),
                ("when", "now"),
            ],
        )
        .await;
    let xc = check_of(&panel, "twitter");
    assert!(xc.contains("data-valid=\"false\""), "{xc}");
    assert!(xc.contains("data-code=\"too_long\""), "{xc}");
    assert!(xc.contains("1 too many"), "{xc}");
    let yc = check_of(&panel, "youtube");
    assert!(yc.contains("data-valid=\"false\""), "{yc}");
    assert!(
        yc.contains("data-violation-field=\"content.media\""),
        "{yc}"
    );
    assert!(panel.contains("data-ready=\"false\""));

    // The form's own problems (time, zone) are listed, and the platforms still checked.
    let (_, _, panel) = b
        .post(
            "/posts/validate",
            &[
                ("text", "ok"),
                ("connection_id", &x),
                ("when", "at"),
                ("publish_at", "2030-03-31T02:30"),
                ("time_zone", "Europe/Paris"),
            ],
        )
        .await;
    assert!(
        panel.contains("data-violation-field=\"publish_at\""),
        "02:30 does not exist in Paris that night: {panel}"
    );
    assert!(check_of(&panel, "twitter").contains("data-valid=\"true\""));

    // Nothing was stored by any of it.
    assert_eq!(post_count(&app).await, 0);

    // The script is served from this origin (the CSP allows no other), and a calendar of a
    // month that is not one shows the current month rather than failing.
    let r = b
        .http
        .get(format!("{}/assets/posts.js", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let (s, cal) = b.get("/posts/calendar?month=2026-13&tz=Nowhere/Else").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        cal.contains("Times in UTC"),
        "an unknown zone reads as UTC: {cal}"
    );
}

#[tokio::test]
async fn a_refused_form_stores_nothing_and_comes_back_as_typed() {
    let app = TestApp::spawn().await;
    let yt = app.connect("youtube").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;
    let (s, _, page) = b
        .post(
            "/posts",
            &[
                ("text", "My <b>video</b> description"),
                ("hashtags", "launch"),
                ("connection_id", &yt),
                ("override.youtube.title", "A title"),
                ("when", "now"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("data-testid=\"compose-refused\""), "{page}");
    assert!(
        page.contains("My &lt;b&gt;video&lt;/b&gt; description"),
        "the text is kept, escaped: {page}"
    );
    assert!(page.contains("value=\"A title\""), "the override is kept");
    assert!(page.contains("value=\"launch\""));
    assert!(
        page.contains(&format!(
            "value=\"{yt}\" id=\"acct-{yt}\" data-platform=\"youtube\" checked"
        )),
        "the account stays chosen"
    );
    assert_eq!(post_count(&app).await, 0);

    // A time without a zone's sense, an unknown zone: refused, nothing stored.
    let (s, _, page) = b
        .post(
            "/posts",
            &[
                ("text", "x"),
                ("connection_id", &yt),
                ("when", "at"),
                ("publish_at", "2030-01-01T10:00"),
                ("time_zone", "Mars/Olympus_Mons"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("is not an IANA time zone name"), "{page}");
    assert_eq!(post_count(&app).await, 0);
}

#[tokio::test]
async fn a_post_scheduled_in_a_zone_shows_in_list_and_calendar_and_cancels() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;
    let (s, loc, body) = b
        .post(
            "/posts",
            &[
                ("text", "Summer launch"),
                ("connection_id", &x),
                ("when", "at"),
                ("publish_at", "2030-07-01T09:30"),
                ("time_zone", "Europe/Paris"),
                ("campaign_id", "summer"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let id = between(&loc, "/posts/", "?")
        .expect("post page")
        .to_string();

    // 09:30 in Paris in July (CEST, UTC+2) is 07:30 UTC.
    let p = api_post(&app, &id).await;
    assert_eq!(p["publish_at"], "2030-07-01T07:30:00Z", "{p}");
    assert_eq!(p["time_zone"], "Europe/Paris");
    assert_eq!(p["campaign_id"], "summer");
    assert_eq!(p["targets"][0]["status"], "scheduled");

    // Its page, in Paris time with the zone named, then in New York time.
    let (s, page) = b.get(&format!("/posts/{id}?tz=Europe/Paris")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("1 Jul 2030, 09:30 CEST"), "{page}");
    assert!(page.contains("data-status=\"scheduled\""));
    assert!(
        page.contains(">Scheduled<") || page.contains(" Scheduled"),
        "status in words"
    );
    assert!(page.contains("data-testid=\"action-cancel\""));
    assert!(
        !page.contains("data-testid=\"action-retry\""),
        "nothing failed"
    );
    let (_, page) = b.get(&format!("/posts/{id}?tz=America/New_York")).await;
    assert!(page.contains("1 Jul 2030, 03:30 EDT"), "{page}");
    assert!(
        page.contains("where it was written (Europe/Paris)"),
        "{page}"
    );

    // The list and the calendar of July 2030.
    let (_, list) = b.get("/posts?tz=Europe/Paris").await;
    assert!(
        list.contains("Summer launch") && list.contains(&id),
        "{list}"
    );
    let (_, list) = b.get("/posts?status=published").await;
    assert!(!list.contains("Summer launch"), "filtered out: {list}");
    let (_, cal) = b.get("/posts/calendar?month=2030-07&tz=Europe/Paris").await;
    let day = between(&cal, "data-date=\"2030-07-01\"", "</td>").expect("1 July");
    assert!(day.contains("09:30 Summer launch"), "{day}");
    let other = between(&cal, "data-date=\"2030-07-02\"", "</td>").unwrap();
    assert!(!other.contains("Summer launch"));
    // Read from Tokyo it is 16:30 the same day; from Honolulu 21:30 the day before.
    let (_, cal) = b
        .get("/posts/calendar?month=2030-06&tz=Pacific/Honolulu")
        .await;
    let day = between(&cal, "data-date=\"2030-06-30\"", "</td>").expect("30 June");
    assert!(day.contains("21:30 Summer launch"), "{day}");

    // Cancel: the scheduled target is cancelled; cancelling again changes nothing.
    let (s, loc, _) = b.post(&format!("/posts/{id}/cancel"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.contains("done="), "{loc}");
    assert_eq!(
        api_post(&app, &id).await["targets"][0]["status"],
        "cancelled"
    );
    let (_, loc, _) = b.post(&format!("/posts/{id}/cancel"), &[]).await;
    assert!(loc.contains("error="), "nothing left to cancel: {loc}");
    let (_, page) = b.get(&format!("/posts/{id}")).await;
    assert!(page.contains("data-status=\"cancelled\""));
    assert!(!page.contains("data-testid=\"action-cancel\""));
}

#[tokio::test]
async fn a_failed_target_shows_its_diagnosis_and_retry_publishes_it_with_a_link() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;
    app.fault(json!({
        "platform": "twitter", "endpoint": "publish", "status": 403, "times": 1,
        "body": json!({"title": "Forbidden", "type": "https://api.x.com/2/problems/invalid-request",
                 "detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403}).to_string()
    }))
    .await;
    let (s, loc, _) = b
        .post(
            "/posts",
            &[("text", "Now"), ("connection_id", &x), ("when", "now")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let id = between(&loc, "/posts/", "?").unwrap().to_string();
    assert_eq!(tick(&app.state).await.unwrap(), 1);

    let (_, page) = b.get(&format!("/posts/{id}")).await;
    assert!(page.contains("data-status=\"failed\""), "{page}");
    assert!(page.contains("data-testid=\"diagnosis\""), "{page}");
    assert!(
        page.contains("duplicate content"),
        "the platform's words: {page}"
    );
    assert!(page.contains("data-testid=\"action-retry\""));
    let (_, list) = b.get("/posts").await;
    assert!(list.contains("Why it failed"), "{list}");

    // Retry: only the failed target, then it publishes and links to the post.
    let (s, loc, _) = b
        .post(&format!("/posts/{id}/retry"), &[("back", "/posts")])
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.starts_with("/posts?done="), "{loc}");
    assert_eq!(tick(&app.state).await.unwrap(), 1);
    let (_, page) = b.get(&format!("/posts/{id}")).await;
    assert!(page.contains("data-status=\"published\""), "{page}");
    let link = between(&page, "data-testid=\"published-link\"", "</a>").map(|_| ());
    assert!(link.is_some(), "{page}");
    let p = api_post(&app, &id).await;
    let url = p["targets"][0]["url"].as_str().unwrap();
    assert!(page.contains(&format!("href=\"{url}\"")), "{page}");
    // A published target is never retried.
    let (_, loc, _) = b.post(&format!("/posts/{id}/retry"), &[]).await;
    assert!(loc.contains("error="), "{loc}");
}

#[tokio::test]
async fn forms_need_a_session_and_its_csrf_token_and_stay_in_their_workspace() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;

    // No session: to sign-in, nothing stored.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/posts", "/posts/new", "/posts/calendar"] {
        let r = anon.get(format!("{}{path}", app.api)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let r = anon
        .post(format!("{}/posts", app.api))
        .form(&[
            ("text", "x"),
            ("connection_id", x.as_str()),
            ("when", "now"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // A session without the token: refused.
    let (s, _, _) = b
        .post_raw(
            "/posts",
            &[("text", "x"), ("connection_id", &x), ("when", "now")],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = b
        .post_raw("/posts/validate", &[("csrf", "forged"), ("text", "x")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(post_count(&app).await, 0);

    // Another workspace's post and connection are not this session's.
    let (other_ws, other_key) = switchboard_server::create_workspace(
        app.state.store().as_ref(),
        "Other",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let r = app
        .http
        .post(format!("{}/v1/posts", app.api))
        .bearer_auth(&other_key)
        .json(&json!({"content": {"text": "theirs"}, "connection_ids": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no such connection there"
    );
    let mine = b
        .post(
            "/posts",
            &[
                ("text", "mine"),
                ("connection_id", &x),
                ("when", "at"),
                ("publish_at", "2031-01-01T10:00"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    let id = between(&mine.1, "/posts/", "?").unwrap().to_string();
    let theirs = Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: app.api.clone(),
        csrf: String::new(),
    };
    let r = theirs
        .http
        .post(format!("{}/sign-in", app.api))
        .form(&[("api_key", other_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, page) = theirs.get(&format!("/posts/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{page}");
    let (_, list) = theirs.get("/posts").await;
    assert!(!list.contains("mine"), "{list}");
    let csrf = between(&list, "name=\"csrf-token\" content=\"", "\"")
        .unwrap()
        .to_string();
    let (s, _, _) = theirs
        .post_raw(&format!("/posts/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        api_post(&app, &id).await["targets"][0]["status"],
        "scheduled"
    );
    // Choosing this workspace's account from the other one is refused by the same check.
    let (s, _, page) = theirs
        .post_raw(
            "/posts",
            &[
                ("csrf", &csrf),
                ("text", "x"),
                ("connection_id", &x),
                ("when", "now"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("there is no connection"), "{page}");
    let _ = other_ws;
}

/// Stores `n` posts of the app's workspace due at `due` (one X target each), straight through
/// the store; returns their ids.
async fn stored_posts(
    app: &TestApp,
    connection_id: &str,
    due: chrono::DateTime<chrono::Utc>,
    n: usize,
    label: &str,
) -> Vec<String> {
    use switchboard_store::posts::{NewTarget, Post};
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let p = Post {
            id: uuid::Uuid::now_v7().to_string(),
            workspace_id: app.workspace_id.clone(),
            campaign_id: None,
            content: json!({"text": format!("{label} {i}")}),
            publish_at: due,
            time_zone: None,
            created_at: app.state.now(),
        };
        let t = NewTarget {
            id: uuid::Uuid::now_v7().to_string(),
            connection_id: connection_id.to_string(),
            page_id: None,
            platform: "twitter".into(),
        };
        app.state.store().create_post(&p, &[t]).await.unwrap();
        ids.push(p.id);
    }
    ids
}

/// The post ids of a list page, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.split("data-testid=\"post-row\" data-post-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

/// The `href` of the link with `data-testid=testid`, unescaped.
fn link(html: &str, testid: &str) -> Option<String> {
    let at = html.find(&format!("data-testid=\"{testid}\""))?;
    let start = html[..at].rfind("<a ")?;
    let href = between(&html[start..], "href=\"", "\"")?;
    Some(href.replace("&amp;", "&"))
}

#[tokio::test]
async fn the_list_pages_with_older_and_newer_links_without_script() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // 57 posts at the very same instant, 3 an hour later: 60 in all, pages of 50.
    let due = app.state.now() + chrono::Duration::days(1);
    let mut tied = stored_posts(&app, &x, due, 57, "Tied").await;
    let mut later = stored_posts(&app, &x, due + chrono::Duration::hours(1), 3, "Later").await;
    // Latest due first, posts due at the same instant by id, latest first.
    later.sort_by(|a, b| b.cmp(a));
    tied.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = later.iter().chain(tied.iter()).cloned().collect();
    let b = Browser::sign_in(&app).await;

    let (s, first) = b.get("/posts?tz=Europe/Paris").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let page1 = row_ids(&first);
    assert_eq!(page1.len(), 50);
    assert!(first.contains("50 posts on this page"), "{first}");
    assert_eq!(
        link(&first, "posts-newer"),
        None,
        "the first page has no newer one"
    );
    let older = link(&first, "posts-older").expect("an Older posts link");
    assert!(older.contains("tz=Europe%2FParis"), "{older}");
    let (s, second) = b.get(&older).await;
    assert_eq!(s, StatusCode::OK);
    let page2 = row_ids(&second);
    assert_eq!(page2.len(), 10);
    assert_eq!(link(&second, "posts-older"), None, "the last page");
    let mut seen = page1.clone();
    seen.extend(page2.clone());
    assert_eq!(seen, expected, "no duplicate, no gap");
    // Newer goes back to exactly the first page, and it has no newer one itself.
    let newer = link(&second, "posts-newer").expect("a Newer posts link");
    let (_, back) = b.get(&newer).await;
    assert_eq!(row_ids(&back), page1);
    assert_eq!(link(&back, "posts-newer"), None);
    assert!(link(&back, "posts-older").is_some());

    // Filters stay on the links; a filter with few posts shows no pager.
    let (_, filtered) = b.get("/posts?platform=twitter&status=scheduled").await;
    let older = link(&filtered, "posts-older").unwrap();
    assert!(
        older.contains("platform=twitter") && older.contains("status=scheduled"),
        "{older}"
    );
    let (_, none) = b.get("/posts?status=published").await;
    assert!(!none.contains("posts-older") && !none.contains("posts-newer"));

    // A link that is not a cursor shows the first page with a message, not an error.
    let (s, bad) = b.get("/posts?after=not-a-cursor").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(row_ids(&bad), page1);
    assert!(bad.contains("That page link is not valid"), "{bad}");
}

#[tokio::test]
async fn the_calendar_shows_every_post_of_its_month() {
    let app = TestApp::spawn().await;
    let x = app.connect_as("twitter", Some("x-ada")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    use chrono::TimeZone;
    // 520 posts on 10 March 2031 (more than one store page of the calendar), one on 31 March,
    // one on 2 April (shown: the grid's last week runs to Sunday 6 April), and 120 later ones
    // (20 April, outside the grid) that a "latest N" listing would have shown instead.
    let march = chrono::Utc.with_ymd_and_hms(2031, 3, 10, 12, 0, 0).unwrap();
    stored_posts(&app, &x, march, 520, "March").await;
    stored_posts(
        &app,
        &x,
        chrono::Utc.with_ymd_and_hms(2031, 3, 31, 20, 0, 0).unwrap(),
        1,
        "Month end",
    )
    .await;
    stored_posts(
        &app,
        &x,
        chrono::Utc.with_ymd_and_hms(2031, 4, 2, 9, 0, 0).unwrap(),
        1,
        "Early April",
    )
    .await;
    stored_posts(
        &app,
        &x,
        chrono::Utc.with_ymd_and_hms(2031, 4, 20, 9, 0, 0).unwrap(),
        120,
        "Late April",
    )
    .await;
    let b = Browser::sign_in(&app).await;
    let (s, cal) = b.get("/posts/calendar?month=2031-03&tz=UTC").await;
    assert_eq!(s, StatusCode::OK);
    let day = between(&cal, "data-date=\"2031-03-10\"", "</td>").expect("10 March");
    assert_eq!(day.matches("<li data-status=").count(), 520);
    let end = between(&cal, "data-date=\"2031-03-31\"", "</td>").expect("31 March");
    assert!(end.contains("20:00 Month end 0"), "{end}");
    let april = between(&cal, "data-date=\"2031-04-02\"", "</td>").expect("2 April");
    assert!(april.contains("09:00 Early April 0"), "{april}");
    assert!(cal.contains("522 posts shown"), "the grid's posts only");
    assert!(!cal.contains("Late April"));
}

/// TikTok's posting rules on the compose page (content sharing guidelines): the creator's
/// nickname from creator_info, only the privacy levels the account offers with none chosen,
/// interactions off until ticked and not offered where the creator's settings turn them off,
/// the commercial content disclosure; a post without a privacy level is refused, and the
/// choices made reach the stored post.
#[tokio::test]
async fn compose_offers_tiktoks_choices_with_no_default() {
    let app = TestApp::spawn().await;
    let tt = app.connect("tiktok").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = Browser::sign_in(&app).await;
    let (_, page) = b.get("/posts/new").await;
    assert!(
        page.contains("Posting to TikTok as <strong>Ada Lovelace</strong> (@ada.sandbox)"),
        "{page}"
    );
    let select = between(&page, "id=\"override-tiktok-privacy_level\"", "</select>")
        .expect("privacy select");
    assert!(
        select.contains("<option value=\"\" selected>Choose…</option>"),
        "{select}"
    );
    for level in [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "FOLLOWER_OF_CREATOR",
        "SELF_ONLY",
    ] {
        assert!(
            select.contains(&format!("<option value=\"{level}\">")),
            "{level}: {select}"
        );
    }
    assert!(!select.contains("Platform default"), "{select}");
    // Stitch is off in this creator's settings: offered disabled; the others unticked.
    let stitch = between(&page, "id=\"override-tiktok-allow_stitch\"", ">").unwrap();
    assert!(stitch.contains("disabled"), "{stitch}");
    let comment = between(&page, "id=\"override-tiktok-allow_comment\"", ">").unwrap();
    assert!(
        !comment.contains("checked") && !comment.contains("disabled"),
        "{comment}"
    );
    assert!(page.contains("Commercial content disclosure"), "{page}");
    assert!(page.contains("id=\"override-tiktok-brand_content_toggle\""));

    let video = "https://cdn.example.com/clip.mp4";
    let (s, _, page) = b
        .post(
            "/posts",
            &[
                ("text", "A dance"),
                ("connection_id", &tt),
                ("media_url", video),
                ("media_kind", "video"),
                ("when", "now"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("href=\"#override-tiktok-privacy_level\""),
        "{page}"
    );
    assert_eq!(post_count(&app).await, 0);

    let (s, loc, body) = b
        .post(
            "/posts",
            &[
                ("text", "A dance"),
                ("connection_id", &tt),
                ("media_url", video),
                ("media_kind", "video"),
                ("override.tiktok.privacy_level", "FOLLOWER_OF_CREATOR"),
                ("override.tiktok.allow_comment", "true"),
                ("override.tiktok.brand_organic_toggle", "true"),
                ("when", "now"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let id = between(&loc, "/posts/", "?")
        .expect("post page")
        .to_string();
    let p = api_post(&app, &id).await;
    assert_eq!(
        p["content"]["overrides"]["tiktok"],
        json!({"privacy_level": "FOLLOWER_OF_CREATOR", "disable_comment": false, "brand_organic_toggle": true}),
        "{p}"
    );
}
