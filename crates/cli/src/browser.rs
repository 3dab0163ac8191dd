//! A scripted browser for the demo and the benchmark: it follows the real redirect flow the way a
//! person's browser would (cookies, the platform's consent page, redirects back to the callback).

use anyhow::{anyhow, bail, Context};
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::StatusCode;
use scraper::{Html, Selector};
use url::Url;

/// A cookie-keeping HTTP client that does not follow redirects on its own, so each hop is seen.
pub struct Browser {
    client: reqwest::Client,
}

/// What the callback page said.
#[derive(Debug)]
pub struct Landing {
    /// HTTP status of the final page.
    pub status: StatusCode,
    /// The page.
    pub body: String,
}

impl Browser {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    /// Opens `authorization_url`, approves on the consent page (choosing the first account
    /// offered), and follows the redirects to the final page.
    pub async fn authorize(&self, authorization_url: &str) -> anyhow::Result<Landing> {
        let mut url = Url::parse(authorization_url)?;
        for _ in 0..10 {
            url.set_fragment(None);
            let resp = self
                .client
                .get(url.clone())
                .header(ACCEPT, "text/html")
                .send()
                .await
                .with_context(|| format!("GET {}", strip_query(&url)))?;
            let status = resp.status();
            if status.is_redirection() {
                url = next_location(&url, resp.headers())?;
                continue;
            }
            let body = resp.text().await?;
            if status == StatusCode::OK && body.contains("name=\"decision\"") {
                url = self.approve(&url, &body).await?;
                continue;
            }
            return Ok(Landing { status, body });
        }
        bail!("too many redirects")
    }

    /// Submits the consent form with `decision=allow`; returns where the platform redirects.
    async fn approve(&self, page_url: &Url, html: &str) -> anyhow::Result<Url> {
        let (action, fields) = parse_consent_form(html)?;
        let action = page_url.join(&action)?;
        let mut form = fields;
        form.push(("decision".into(), "allow".into()));
        let resp = self
            .client
            .post(action.clone())
            .form(&form)
            .send()
            .await
            .with_context(|| format!("POST {}", strip_query(&action)))?;
        if !resp.status().is_redirection() {
            bail!(
                "the consent page answered {} instead of redirecting",
                resp.status()
            );
        }
        next_location(&action, resp.headers())
    }
}

fn next_location(base: &Url, headers: &reqwest::header::HeaderMap) -> anyhow::Result<Url> {
    let loc = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("redirect without Location"))?;
    Ok(base.join(loc)?)
}

fn strip_query(u: &Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

/// The consent form's action and its fields (hidden inputs and the first option of each select).
fn parse_consent_form(html: &str) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let doc = Html::parse_document(html);
    let form_sel = Selector::parse("form").map_err(|e| anyhow!("{e}"))?;
    let input_sel = Selector::parse("input[name]").map_err(|e| anyhow!("{e}"))?;
    let select_sel = Selector::parse("select[name]").map_err(|e| anyhow!("{e}"))?;
    let option_sel = Selector::parse("option").map_err(|e| anyhow!("{e}"))?;
    let form = doc
        .select(&form_sel)
        .find(|f| f.html().contains("name=\"decision\""))
        .ok_or_else(|| anyhow!("no consent form on the page"))?;
    let action = form.value().attr("action").unwrap_or("").to_string();
    let mut fields = Vec::new();
    for input in form.select(&input_sel) {
        let v = input.value();
        let kind = v.attr("type").unwrap_or("text");
        if matches!(kind, "submit" | "button") {
            continue;
        }
        if let Some(name) = v.attr("name") {
            fields.push((name.to_string(), v.attr("value").unwrap_or("").to_string()));
        }
    }
    for select in form.select(&select_sel) {
        let name = select.value().attr("name").unwrap_or_default().to_string();
        let chosen = select
            .select(&option_sel)
            .find(|o| o.value().attr("selected").is_some())
            .or_else(|| select.select(&option_sel).next());
        if let Some(o) = chosen {
            let value = o
                .value()
                .attr("value")
                .map(str::to_string)
                .unwrap_or_else(|| o.text().collect());
            fields.push((name, value));
        }
    }
    Ok((action, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hidden_fields_and_first_option() {
        let html = r#"<form method="post" action="/x.com/i/oauth2/authorize">
            <input type="hidden" name="client_id" value="c">
            <select name="account"><option value="a1">A</option><option value="a2">B</option></select>
            <button type="submit" name="decision" value="allow">Allow</button>
            <button type="submit" name="decision" value="deny">Deny</button></form>"#;
        let (action, fields) = parse_consent_form(html).unwrap();
        assert_eq!(action, "/x.com/i/oauth2/authorize");
        assert!(fields.contains(&("client_id".into(), "c".into())));
        assert!(fields.contains(&("account".into(), "a1".into())));
        assert!(!fields.iter().any(|(k, _)| k == "decision"));
    }
}
