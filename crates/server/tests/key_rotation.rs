//! Key rotation racing real refreshes: accounts connected through the sandbox under an old key,
//! then a server with the old and new keys (new active) refreshes them over and over
//! (`POST /v1/connections/{id}/refresh`; X and TikTok rotate refresh tokens) while `rotate_keys` re-seals
//! the same rows in batches of one. Afterwards nothing is left on the old key, every token
//! opens, and one more refresh of each connection succeeds at the sandbox: the stored refresh
//! token is the newest one, none was overwritten by the rotation.

mod common;

use common::*;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use switchboard_store::maintenance::{rotate_keys, RotateOptions, SealedColumn, SealedRow};

const OLD: &str = "kold1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW: &str = "knew2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// The contexts the server seals with (as `switchboard keys rotate` maps them).
fn context(row: &SealedRow) -> String {
    use switchboard_server::vaulted;
    match row.column {
        SealedColumn::ConnectionAccessToken => vaulted::access_context(&row.id),
        SealedColumn::ConnectionRefreshToken => vaulted::refresh_context(&row.id),
        SealedColumn::PageAccessToken => switchboard_server::routes::facebook_pages::page_context(
            &row.id,
            row.page_id.as_deref().unwrap_or_default(),
        ),
        SealedColumn::OAuthStateCodeVerifier => vaulted::verifier_context(&row.id),
        SealedColumn::WebhookSecret => switchboard_server::webhooks::secret_context(&row.id),
        SealedColumn::BulkSessionAuthorizationUrl => vaulted::bulk_url_context(&row.id),
    }
}

async fn rotation_races_refreshes(db: Db) {
    let old = TestApp::spawn_with(Setup {
        db,
        config: Box::new(|c| c.keys = Some(secrecy::SecretString::from(OLD.to_string()))),
        ..Setup::default()
    })
    .await;
    let mut ids = Vec::new();
    for (platform, account) in [
        ("twitter", Some("x-ada")),
        ("twitter", Some("x-grace")),
        ("tiktok", None),
    ] {
        let c = old.connect_as(platform, account).await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    // The same database and sandbox, served with both keys, the new one active.
    let app = TestApp::spawn_with(Setup {
        db: Db::Url(old.database_url.clone()),
        sandbox_url: Some((old.sandbox.clone(), old.clock.clone())),
        config: Box::new(|c| {
            c.keys = Some(secrecy::SecretString::from(format!("{OLD},{NEW}")));
            c.active_key = Some("knew2".into());
        }),
        ..Setup::default()
    })
    .await;
    let keyring = app.state.keyring();
    assert_eq!(keyring.active_id(), "knew2");

    let refresher = {
        let http = app.http.clone();
        let api = app.api.clone();
        let key = old.key.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut ok = 0;
            for round in 0..4 {
                for id in &ids {
                    let r = http
                        .post(format!("{api}/v1/connections/{id}/refresh"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    let body = r.text().await.unwrap();
                    assert_eq!(status, StatusCode::OK, "round {round}, {id}: {body}");
                    ok += 1;
                }
            }
            ok
        })
    };
    let mut rotated = 0;
    let mut changed = 0;
    // Small batches, several passes, while the refreshes run.
    for _ in 0..20 {
        let report = rotate_keys(
            app.state.store().as_ref(),
            "knew2",
            RotateOptions {
                batch_size: 1,
                limit: None,
            },
            |row| {
                keyring
                    .reseal(&context(row), &row.sealed)
                    .map(|r| r.unwrap_or_else(|| row.sealed.clone()))
                    .map_err(|e| e.to_string())
            },
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(report.failed(), 0, "{report:?}");
        rotated += report.rotated();
        changed += report
            .columns
            .iter()
            .map(|c| c.changed_meanwhile)
            .sum::<u64>();
        tokio::task::yield_now().await;
    }
    assert_eq!(refresher.await.unwrap(), 4 * ids.len());
    let final_pass = rotate_keys(
        app.state.store().as_ref(),
        "knew2",
        RotateOptions::default(),
        |row| {
            keyring
                .reseal(&context(row), &row.sealed)
                .map(|r| r.unwrap_or_else(|| row.sealed.clone()))
                .map_err(|e| e.to_string())
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(final_pass.remaining, 0, "{final_pass:?}");
    eprintln!(
        "rotated {rotated} + {} in the final pass, {changed} changed meanwhile",
        final_pass.rotated()
    );
    assert!(rotated + final_pass.rotated() > 0 || changed > 0);

    // Every token opens; one more refresh each succeeds at the sandbox (a lost rotated refresh
    // token would be refused there as invalid_grant).
    for id in &ids {
        let conn = app
            .state
            .store()
            .get_connection_by_id(id)
            .await
            .unwrap()
            .unwrap();
        assert!(conn.access_token_sealed.starts_with("sbv1.knew2."));
        let refresh = switchboard_server::vaulted::open_refresh(keyring, &conn)
            .unwrap()
            .expect("a refresh token");
        assert!(!refresh.expose_secret().is_empty());
        // Through the new server, with the workspace's key.
        let r = app
            .http
            .post(format!("{}/v1/connections/{id}/refresh", app.api))
            .bearer_auth(&old.key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{id}: {}",
            r.text().await.unwrap()
        );
        let r = app
            .http
            .get(format!("{}/v1/connections/{id}/token", app.api))
            .bearer_auth(&old.key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{id}: {}",
            r.text().await.unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_rotation_races_refreshes() {
    rotation_races_refreshes(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_rotation_races_refreshes() {
    rotation_races_refreshes(Db::Postgres).await;
}
