//! How long a platform asks to wait, read from its answer's headers.
//!
//! - `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date.
//! - X: `x-rate-limit-reset`, epoch seconds when the window resets (PLATFORMS.md §1).
//! - TikTok (as Nango reads it): `x-ratelimit-reset` [C/?]; epoch seconds, or seconds when small.
//! - Meta: `X-Business-Use-Case-Usage`, JSON whose entries carry `estimated_time_to_regain_access`
//!   in minutes (PLATFORMS.md §3).

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Values above this are epoch seconds, below it a number of seconds.
const EPOCH_THRESHOLD: i64 = 1_000_000_000;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn seconds_or_epoch(v: &str, now: DateTime<Utc>) -> Option<u64> {
    let n: i64 = v.parse().ok()?;
    let secs = if n > EPOCH_THRESHOLD {
        n - now.timestamp()
    } else {
        n
    };
    u64::try_from(secs.max(0)).ok()
}

/// Seconds to wait before the next call, when the answer says; the longest of the signals.
pub fn retry_after_secs(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let mut waits = Vec::new();
    if let Some(v) = header(headers, "retry-after") {
        if let Ok(n) = v.parse::<u64>() {
            waits.push(n);
        } else if let Ok(at) = DateTime::parse_from_rfc2822(v) {
            waits.push(
                u64::try_from((at.with_timezone(&Utc) - now).num_seconds().max(0)).unwrap_or(0),
            );
        }
    }
    for name in ["x-rate-limit-reset", "x-ratelimit-reset"] {
        if let Some(s) = header(headers, name).and_then(|v| seconds_or_epoch(v, now)) {
            waits.push(s);
        }
    }
    if let Some(v) = header(headers, "x-business-use-case-usage") {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(v) {
            let minutes = m
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|e| {
                    e.get("estimated_time_to_regain_access")
                        .and_then(Value::as_u64)
                })
                .max();
            if let Some(min) = minutes.filter(|m| *m > 0) {
                waits.push(min * 60);
            }
        }
    }
    waits.into_iter().max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn reads_each_signal() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after_secs(&h(&[("retry-after", "7")]), now), Some(7));
        assert_eq!(
            retry_after_secs(&h(&[("retry-after", "Sat, 21 Nov 2026 10:01:00 GMT")]), now),
            Some(60)
        );
        let reset = (now.timestamp() + 900).to_string();
        assert_eq!(
            retry_after_secs(&h(&[("x-rate-limit-reset", &reset)]), now),
            Some(900)
        );
        let buc = r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":5}]}"#;
        assert_eq!(
            retry_after_secs(&h(&[("x-business-use-case-usage", buc)]), now),
            Some(300)
        );
        assert_eq!(retry_after_secs(&h(&[]), now), None);
        assert_eq!(retry_after_secs(&h(&[("retry-after", "soon")]), now), None);
    }
}
