//! Finding secrets in captured logs: the check behind "no access token, refresh token, client
//! secret or encryption key issued during the test suite appears in any log line".
//!
//! Every token and code the sandbox issues has one shape, `sbx-<platform>-<kind>-<43 base64url
//! characters>` (`kind`: `at` access, `rt` refresh, `page` Facebook Page token, `code`
//! authorization code), so [`find_leaks`] finds any of them, from any sandbox, by shape; other
//! secrets (client secrets, encryption keys, API keys) are looked for literally.

/// One secret found in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// 1-based line number.
    pub line: usize,
    /// What was found, with the secret shortened to its first 16 characters.
    pub what: String,
}

/// The kinds of sandbox token, by the label in their shape.
const KINDS: [(&str, &str); 4] = [
    ("at", "access token"),
    ("rt", "refresh token"),
    ("page", "Page token"),
    ("code", "authorization code"),
];

/// Every sandbox-issued token or code in `text` (by shape), and every occurrence of one of
/// `known` (literal secrets of at least 8 characters; shorter ones are ignored as too common).
pub fn find_leaks(text: &str, known: &[String]) -> Vec<Leak> {
    let known: Vec<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= 8 && !s.starts_with("sbx-"))
        .collect();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("sbx-") {
            let candidate = &rest[at..];
            if let Some(what) = token_shape(candidate) {
                out.push(Leak {
                    line: i + 1,
                    what: format!("{what} ({}…)", &candidate[..16.min(candidate.len())]),
                });
            }
            rest = &rest[at + 4..];
        }
        for k in &known {
            if line.contains(k) {
                out.push(Leak {
                    line: i + 1,
                    what: format!("a known secret ({}…)", &k[..6]),
                });
            }
        }
    }
    out
}

/// `Some(kind)` when `s` starts with a whole sandbox token: `sbx-<platform>-<kind>-` and at
/// least 20 base64url characters.
fn token_shape(s: &str) -> Option<&'static str> {
    let mut parts = s.splitn(4, '-');
    let (_, platform, kind, tail) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if platform.is_empty() || !platform.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let label = KINDS.iter().find(|(k, _)| *k == kind)?.1;
    let body = tail
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        .count();
    (body >= 20).then_some(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::random_token;

    #[test]
    fn finds_issued_tokens_by_shape_and_known_secrets_literally() {
        let at = random_token("twitter", "at");
        let rt = random_token("linkedin", "rt");
        let log = format!(
            "{{\"msg\":\"ok\"}}\n{{\"msg\":\"refreshed\",\"t\":\"{at}\"}}\nBearer {rt}\nclient sandbox-x-secret\n"
        );
        let leaks = find_leaks(&log, &["sandbox-x-secret".to_string()]);
        assert_eq!(leaks.len(), 3, "{leaks:?}");
        assert_eq!(leaks[0].line, 2);
        assert!(leaks[0].what.starts_with("access token"));
        assert!(leaks[1].what.starts_with("refresh token"));
        assert!(
            !leaks[0].what.contains(&at[20..]),
            "the report shortens the secret"
        );
        assert!(find_leaks(
            "sbx-twitter-at-short sbx- sbx-X-at-AAAAAAAAAAAAAAAAAAAAAAAAA",
            &[]
        )
        .is_empty());
    }
}
