//! Webhook signing secrets, signatures, and queueing an event for the endpoints.
//!
//! Every delivery carries `Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is
//! the lowercase hex HMAC-SHA256, keyed with the endpoint's secret (the whole `whsec_...` string
//! as UTF-8 bytes), of `"<t>.<raw body>"`. A receiver recomputes it over the exact bytes it
//! received, compares in constant time, and rejects timestamps older than a few minutes
//! (README, "Webhooks").
//!
//! Where deliveries may go: unless `webhooks_allow_private_networks` is set, an endpoint must
//! lead to a public address ([`non_public`] lists what is refused). [`check_destination`] checks
//! it when the endpoint is added; at every delivery [`PublicResolver`] resolves the name again,
//! drops the non-public addresses and hands only checked ones to the HTTP client, which
//! connects to exactly those (and [`literal_address`] covers URLs naming an IP address, which
//! no resolver sees).

use std::time::Duration;

use switchboard_oauth::outbound::{OutboundPolicy, Refused};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;
use switchboard_store::Event;

/// Prefix of webhook signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// Header naming the event id.
pub const EVENT_ID_HEADER: &str = "Switchboard-Event-Id";
/// Header naming the event type.
pub const EVENT_TYPE_HEADER: &str = "Switchboard-Event-Type";
/// Header carrying the signature, `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Switchboard-Signature";

/// The vault context of an endpoint's secret: `webhook:<id>:secret`.
pub fn secret_context(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}:secret")
}

/// A new signing secret: `whsec_` and 256 random bits, base64url without padding (43
/// characters).
pub fn new_secret() -> SecretString {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    SecretString::from(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Switchboard-Signature` header value: `t=<timestamp>,v1=<signature>`.
pub fn signature_header(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// The JSON body sent for an event.
pub fn body(event: &Event) -> String {
    json!({
        "id": event.id,
        "type": event.kind,
        "created_at": event.created_at,
        "workspace_id": event.workspace_id,
        "connection_id": event.connection_id,
        "data": event.payload,
    })
    .to_string()
}

pub use switchboard_core::net::non_public;

/// Name of the setting that lets webhooks reach non-public addresses, as errors quote it.
pub const ALLOW_PRIVATE_SETTING: &str = "webhooks_allow_private_networks";

pub use switchboard_oauth::outbound::{refusal_in, PrivateAddress};

/// How a webhook refusal ends: the settings that allow it.
pub const ADVICE: &str = "set webhooks_allow_private_networks to allow";

/// The refusal for a URL whose host is an IP address that is not public; `None` for a public
/// address or a host name (names are checked by [`check_destination`] and the delivery
/// client's resolver). As [`switchboard_oauth::outbound::literal_address`].
pub fn literal_address(url: &url::Url) -> Option<PrivateAddress> {
    switchboard_oauth::outbound::literal_address(url, ADVICE)
}

/// How long adding an endpoint waits for its name to resolve.
pub const RESOLVE_TIMEOUT: Duration = switchboard_oauth::outbound::RESOLVE_TIMEOUT;

/// The outbound policy of webhook deliveries ([`switchboard_oauth::outbound`], the same
/// mechanism as media fetches): public addresses, and the private origins of `allowed`; no
/// proxy; redirects never followed (a delivery is a signed POST for one receiver).
pub fn policy(allowed: switchboard_oauth::outbound::AllowedOrigins) -> OutboundPolicy {
    OutboundPolicy::new(
        allowed,
        &switchboard_oauth::outbound::ClientSettings {
            timeout: crate::workers::webhooks::TIMEOUT,
            connect_timeout: crate::workers::webhooks::CONNECT_TIMEOUT,
            user_agent: concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")),
            follow_redirects: false,
            advice: ADVICE,
        },
    )
}

/// Where an endpoint URL leads, checked when it is added: an IP address must be public; a name
/// is resolved (at most [`RESOLVE_TIMEOUT`]) and every address it gives must be public. A name
/// that does not resolve now is let through: each delivery resolves and checks it again.
/// An origin of `outbound_allow_origins` passes.
///
/// # Errors
/// The first non-public address found.
pub async fn check_destination(
    policy: &OutboundPolicy,
    url: &url::Url,
) -> Result<(), PrivateAddress> {
    match policy.check(url.as_str()).await {
        Ok(_) | Err(Refused::NotHttp(_)) => Ok(()),
        Err(Refused::Private(p)) => Err(p),
    }
}

/// The delivery client's DNS resolver when private networks are not allowed
/// ([`switchboard_oauth::outbound::PublicResolver`] with the webhooks' advice).
pub fn public_resolver() -> switchboard_oauth::outbound::PublicResolver {
    switchboard_oauth::outbound::PublicResolver { advice: ADVICE }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn non_public_addresses_are_named() {
        let refused = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.5",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "::127.0.0.1",
            "64:ff9b::a00:5",
            "64:ff9b:1::1",
            "2002:a00:5::1",
            "2002:7f00:1::",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
        ];
        for a in refused {
            let ip: IpAddr = a.parse().unwrap();
            assert!(non_public(ip).is_some(), "{a} must be refused");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4007::200e",
        ];
        for a in public {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(non_public(ip), None, "{a} is public");
        }
        assert_eq!(
            non_public("10.1.2.3".parse().unwrap()),
            Some("private network (RFC 1918)")
        );
        assert_eq!(
            non_public("::ffff:169.254.169.254".parse().unwrap()),
            non_public("169.254.169.254".parse().unwrap()),
            "an IPv4-mapped address is judged as the IPv4 one"
        );
        assert_eq!(
            non_public("::ffff:8.8.8.8".parse().unwrap()),
            Some("IPv4-mapped (::ffff:0:0/96)"),
            "an IPv4-mapped address is never a destination, even of a public IPv4 address"
        );
        assert_eq!(
            non_public("::ffff:0:808:808".parse().unwrap()),
            Some("IPv4-translated (::ffff:0:0:0/96)")
        );
    }

    #[test]
    fn literal_addresses_in_urls_and_the_refusal_text() {
        for (u, host) in [
            ("http://127.0.0.1:5432/", "127.0.0.1"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://[::ffff:10.0.0.5]/x", "10.0.0.5"),
            // The URL parser normalises numeric forms; they cannot slip past.
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://[::1]:8080/", "::1"),
        ] {
            let url = url::Url::parse(u).unwrap();
            let r = literal_address(&url).unwrap_or_else(|| panic!("{u} must be refused"));
            assert_eq!(r.addr.to_string().replace("::ffff:", ""), host, "{u}");
        }
        assert!(literal_address(&url::Url::parse("https://8.8.8.8/").unwrap()).is_none());
        assert!(literal_address(&url::Url::parse("https://hooks.example/").unwrap()).is_none());

        let r = literal_address(&url::Url::parse("http://127.0.0.1/").unwrap()).unwrap();
        assert_eq!(
            r.to_string(),
            "127.0.0.1 is a private address (loopback); set webhooks_allow_private_networks to allow"
        );
        let r = PrivateAddress {
            host: "hooks.example".into(),
            addr: "10.0.0.5".parse().unwrap(),
            reason: "private network (RFC 1918)",
            advice: ADVICE,
        };
        assert_eq!(
            r.to_string(),
            "hooks.example resolves to a private address 10.0.0.5 (private network (RFC 1918)); \
             set webhooks_allow_private_networks to allow"
        );
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked() {
        // `localhost` resolves to loopback through the system resolver (/etc/hosts).
        let url = url::Url::parse("http://localhost:9/hook").unwrap();
        let p = policy(Default::default());
        let r = check_destination(&p, &url).await.unwrap_err();
        assert!(r.addr.is_loopback(), "{r}");
        assert!(
            r.to_string()
                .starts_with("localhost resolves to a private address"),
            "{r}"
        );
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = match public_resolver().resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let r = refusal_in(e.as_ref()).expect("a PrivateAddress");
        assert!(r.addr.is_loopback());
        // A name that does not resolve passes at registration (checked at each delivery).
        let url = url::Url::parse("https://does-not-exist.invalid/hook").unwrap();
        assert!(check_destination(&p, &url).await.is_ok());
        // An allowed origin passes, another port of the same host does not.
        let allowed = [url::Url::parse("http://localhost:9").unwrap()];
        let p = policy(switchboard_oauth::outbound::AllowedOrigins::new(&allowed));
        let url = url::Url::parse("http://localhost:9/hook").unwrap();
        assert!(check_destination(&p, &url).await.is_ok());
        let url = url::Url::parse("http://localhost:10/hook").unwrap();
        assert!(check_destination(&p, &url).await.is_err());
    }

    #[test]
    fn secrets_are_prefixed_256_bit_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.expose_secret().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose_secret().len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // Computed independently over the documented input "<t>.<body>".
        let secret = SecretString::from("whsec_test".to_string());
        let sig = signature(&secret, 1_700_000_000, br#"{"a":1}"#);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").unwrap();
        mac.update(br#"1700000000.{"a":1}"#);
        assert_eq!(sig, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sig.len(), 64);
        assert_eq!(
            signature_header(&secret, 1_700_000_000, br#"{"a":1}"#),
            format!("t=1700000000,v1={sig}")
        );
        assert_ne!(sig, signature(&secret, 1_700_000_001, br#"{"a":1}"#));
    }
}
