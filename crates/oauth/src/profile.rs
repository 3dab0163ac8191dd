//! The profile call that identifies a connected account, read through the catalog's JSON
//! pointers (`[profile]` in each catalog file).

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use switchboard_core::PlatformSpec;

use crate::{OAuthClient, OAuthError};

/// The connected account as the platform describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Stable account id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Handle.
    pub username: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// The whole answer, for platform-specific data (never contains tokens).
    pub raw: Value,
}

fn text_at(v: &Value, ptr: Option<&String>) -> Option<String> {
    let x = v.pointer(ptr?)?;
    match x {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a profile answer through the catalog pointers.
///
/// # Errors
/// `None` when the id is missing.
pub fn from_json(spec: &PlatformSpec, v: Value) -> Option<Profile> {
    let p = &spec.profile;
    let id = text_at(&v, Some(&p.id))?;
    Some(Profile {
        id,
        name: text_at(&v, p.name.as_ref()),
        username: text_at(&v, p.username.as_ref()),
        avatar_url: text_at(&v, p.avatar.as_ref()),
        raw: v,
    })
}

pub(crate) async fn fetch(
    oc: &OAuthClient,
    spec: &PlatformSpec,
    access_token: &SecretString,
) -> Result<Profile, OAuthError> {
    let Some(url) = &spec.endpoints.profile_url else {
        return Err(OAuthError::Config(format!(
            "{} has no profile (userinfo) URL configured",
            spec.id
        )));
    };
    let req = oc
        .http
        .request(Method::GET, url)
        .bearer_auth(access_token.expose_secret());
    let raw = oc.http.send(spec, "profile", req).await?;
    if !raw.status.is_success() {
        return Err(raw.error(spec));
    }
    let v = raw.json(spec)?;
    // TikTok answers 200 with an error envelope when something is wrong.
    if v.pointer("/error/code")
        .and_then(Value::as_str)
        .is_some_and(|c| c != "ok")
    {
        return Err(raw.error(spec));
    }
    from_json(spec, v).ok_or_else(|| {
        let mut d = switchboard_core::Diagnosis::new(switchboard_core::Category::Unknown);
        d.cause = format!(
            "{} answered the profile call without an account id at {}",
            spec.display_name, spec.profile.id
        );
        d.platform = Some(spec.id.clone());
        OAuthError::Platform(Box::new(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Catalog;

    #[test]
    fn reads_nested_pointers() {
        let c = Catalog::builtin().unwrap();
        let p = from_json(
            c.get("tiktok").unwrap(),
            serde_json::json!({"data":{"user":{"open_id":"o-1","display_name":"Tik","avatar_url":"http://a"}},"error":{"code":"ok"}}),
        )
        .unwrap();
        assert_eq!(p.id, "o-1");
        assert_eq!(p.name.as_deref(), Some("Tik"));
        let fb = from_json(
            c.get("facebook").unwrap(),
            serde_json::json!({"id":"10","name":"F","picture":{"data":{"url":"http://p"}}}),
        )
        .unwrap();
        assert_eq!(fb.avatar_url.as_deref(), Some("http://p"));
        assert!(from_json(c.get("twitter").unwrap(), serde_json::json!({"data":{}})).is_none());
    }
}
