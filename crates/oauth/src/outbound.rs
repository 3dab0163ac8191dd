//! Fetching a URL someone else chose (a post's media URL, a webhook endpoint, anything added
//! later): one mechanism, so that nothing user-given makes this server reach its own network.
//!
//! - [`OutboundPolicy::check`] refuses, before any request, a URL that is not `http(s)`, carries
//!   userinfo, names a non-public IP address ([`literal_address`]: the URL parser already turned
//!   decimal, hex and octal forms such as `http://2130706433/` or `http://0x7f.1/` into
//!   `127.0.0.1`), or whose name resolves to one ([`switchboard_core::net::non_public`]).
//! - [`OutboundPolicy::request`] builds the request on a client that cannot reach a non-public
//!   address whatever DNS answers later ([`PublicResolver`]: it drops non-public addresses and the
//!   client connects only to what it returned), with no proxy (a proxy would resolve and connect
//!   on our behalf) and redirects checked hop by hop (at most [`MAX_REDIRECTS`], each hop's URL
//!   through [`literal_address`], each hop's name through the resolver).
//! - The only way to a private address is the operator's allow-list of exact origins (scheme,
//!   host, port; never a range): a URL of an allowed origin goes through a plain client with
//!   redirects off, so it cannot bounce elsewhere.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::net::non_public;

/// The most redirects followed for one fetch through the public client.
pub const MAX_REDIRECTS: usize = 5;

/// How long [`OutboundPolicy::check`] waits for a name to resolve.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A destination refused because it is, or resolves to, a non-public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateAddress {
    /// The URL's host as written (a name, or the address itself).
    pub host: String,
    /// The refused address.
    pub addr: IpAddr,
    /// What kind of address it is ([`non_public`]).
    pub reason: &'static str,
    /// What the operator can do about it (the setting to change), ending the message.
    pub advice: &'static str,
}

/// The advice given with a refusal: the allow-list setting.
pub const ALLOW_ORIGINS_ADVICE: &str =
    "add its origin (scheme://host:port) to outbound_allow_origins to allow";

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host == self.addr.to_string() {
            write!(f, "{} is a private address", self.addr)?;
        } else {
            write!(
                f,
                "{} resolves to a private address {}",
                self.host, self.addr
            )?;
        }
        write!(f, " ({}); {}", self.reason, self.advice)
    }
}

impl std::error::Error for PrivateAddress {}

/// Why a user-given URL is not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an absolute `http`/`https` URL, or one with userinfo.
    #[error("{0}")]
    NotHttp(String),
    /// It leads to a non-public address.
    #[error("{0}")]
    Private(PrivateAddress),
}

/// The refusal for a URL whose host is an IP address that is not public; `None` for a public
/// address or a host name (names are checked by [`OutboundPolicy::check`] and
/// [`PublicResolver`]). `advice` ends the refusal's message.
pub fn literal_address(url: &url::Url, advice: &'static str) -> Option<PrivateAddress> {
    let addr = match url.host()? {
        url::Host::Ipv4(a) => IpAddr::V4(a),
        url::Host::Ipv6(a) => IpAddr::V6(a),
        url::Host::Domain(_) => return None,
    };
    non_public(addr).map(|reason| PrivateAddress {
        host: addr.to_string(),
        addr,
        reason,
        advice,
    })
}

/// The [`PrivateAddress`] refusal behind an error, if any (walks `source()`).
pub fn refusal_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a PrivateAddress> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<PrivateAddress>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// The DNS resolver of the public client: resolves through the system (`getaddrinfo`), drops
/// every non-public address, and fails with [`PrivateAddress`] (the first refused) when none is
/// left, so the client can only connect to an address checked here, whatever the DNS answered
/// when the URL was first checked (DNS rebinding).
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    /// Ends the message of a refusal.
    pub advice: &'static str,
}

impl Default for PublicResolver {
    fn default() -> Self {
        PublicResolver {
            advice: ALLOW_ORIGINS_ADVICE,
        }
    }
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let advice = self.advice;
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| match non_public(a.ip()) {
                    None => true,
                    Some(reason) => {
                        refused.get_or_insert(PrivateAddress {
                            host: host.clone(),
                            addr: a.ip(),
                            reason,
                            advice,
                        });
                        false
                    }
                })
                .collect();
            match (public.is_empty(), refused) {
                (true, Some(r)) => Err(Box::new(r) as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} has no address").into()),
                (false, _) => Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// The exact origins (scheme, host, port) that may be private, from the operator's
/// configuration (`outbound_allow_origins`, and the sandbox's own origin with `sandbox_url`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<url::Origin>);

impl AllowedOrigins {
    /// The origins of `urls` (path, query and fragment are ignored; an opaque origin, from a
    /// URL that is not `http(s)`, matches nothing).
    pub fn new<'a>(urls: impl IntoIterator<Item = &'a url::Url>) -> Self {
        let mut v: Vec<url::Origin> = Vec::new();
        for u in urls {
            let o = u.origin();
            if o.is_tuple() && !v.contains(&o) {
                v.push(o);
            }
        }
        AllowedOrigins(v)
    }

    /// Whether `url`'s origin is on the list (scheme, host and port all equal; the default port
    /// counts as written).
    pub fn allows(&self, url: &url::Url) -> bool {
        let o = url.origin();
        o.is_tuple() && self.0.contains(&o)
    }

    /// The origins, serialized (`http://127.0.0.1:9000`).
    pub fn list(&self) -> Vec<String> {
        self.0.iter().map(|o| o.ascii_serialization()).collect()
    }
}

/// The mechanism for every fetch of a user-given URL: the allow-list and two clients, one that
/// reaches only public addresses and one, redirects off, for the allowed origins.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    allowed: AllowedOrigins,
    public: reqwest::Client,
    allowed_client: reqwest::Client,
    advice: &'static str,
}

/// How an [`OutboundPolicy`]'s clients are built.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Whole-call timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent`.
    pub user_agent: &'static str,
    /// Follow redirects (each hop checked) through the public client; `false`: never.
    pub follow_redirects: bool,
    /// Ends the message of a refusal (the setting to change).
    pub advice: &'static str,
}

impl OutboundPolicy {
    /// The policy allowing `allowed` (besides public addresses), with clients built with
    /// `settings`.
    ///
    /// # Panics
    /// Never in practice: the client builders have only static settings.
    pub fn new(allowed: AllowedOrigins, settings: &ClientSettings) -> Self {
        let advice = settings.advice;
        let redirect = if settings.follow_redirects {
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                let url = attempt.url().clone();
                if !matches!(url.scheme(), "http" | "https") {
                    return attempt.error(format!("a redirect to a {} URL", url.scheme()));
                }
                match literal_address(&url, advice) {
                    Some(r) => attempt.error(r),
                    // A name is checked by the resolver when this hop connects.
                    None => attempt.follow(),
                }
            })
        } else {
            reqwest::redirect::Policy::none()
        };
        let public = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent)
            .redirect(redirect)
            // A proxy would resolve and connect on our behalf, past the resolver's check.
            .no_proxy()
            .dns_resolver(Arc::new(PublicResolver { advice }))
            .build()
            .expect("reqwest client with static settings builds");
        let allowed_client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("reqwest client with static settings builds");
        OutboundPolicy {
            allowed,
            public,
            allowed_client,
            advice,
        }
    }

    /// The allowed origins.
    pub fn allowed(&self) -> &AllowedOrigins {
        &self.allowed
    }

    /// `url` parsed, when it is an absolute `http(s)` URL without userinfo.
    ///
    /// # Errors
    /// [`Refused::NotHttp`] saying what is wrong.
    pub fn parse(url: &str) -> Result<url::Url, Refused> {
        let u = url::Url::parse(url).map_err(|e| Refused::NotHttp(format!("not a URL: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(Refused::NotHttp(format!(
                "a {} URL cannot be fetched; give an http(s) URL",
                u.scheme()
            )));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(Refused::NotHttp(
                "the URL must not carry credentials (user:password@)".into(),
            ));
        }
        if u.host().is_none() {
            return Err(Refused::NotHttp("the URL has no host".into()));
        }
        Ok(u)
    }

    /// What can be known without a network: the URL parses as `http(s)` without userinfo and,
    /// unless its origin is allowed, does not name a non-public IP address.
    ///
    /// # Errors
    /// [`Refused`].
    pub fn check_literal(&self, url: &str) -> Result<url::Url, Refused> {
        let u = Self::parse(url)?;
        if self.allowed.allows(&u) {
            return Ok(u);
        }
        match literal_address(&u, self.advice) {
            Some(r) => Err(Refused::Private(r)),
            None => Ok(u),
        }
    }

    /// [`OutboundPolicy::check_literal`], then the name resolved now (at most
    /// [`RESOLVE_TIMEOUT`]): every address it gives must be public. A name that does not resolve
    /// now is let through (the resolver checks it again at each fetch).
    ///
    /// # Errors
    /// [`Refused`]: the first non-public address found.
    pub async fn check(&self, url: &str) -> Result<url::Url, Refused> {
        let u = self.check_literal(url)?;
        if self.allowed.allows(&u) {
            return Ok(u);
        }
        let Some(url::Host::Domain(host)) = u.host() else {
            return Ok(u);
        };
        let port = u.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((host, port));
        let Ok(Ok(addrs)) = tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await else {
            return Ok(u);
        };
        for a in addrs {
            if let Some(reason) = non_public(a.ip()) {
                return Err(Refused::Private(PrivateAddress {
                    host: host.to_string(),
                    addr: a.ip(),
                    reason,
                    advice: self.advice,
                }));
            }
        }
        Ok(u)
    }

    /// A request to `url` on the right client: the plain one (redirects off) for an allowed
    /// origin, else the public-only one. Checked first with [`OutboundPolicy::check_literal`].
    ///
    /// # Errors
    /// [`Refused`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        let u = self.check_literal(url)?;
        let client = if self.allowed.allows(&u) {
            &self.allowed_client
        } else {
            &self.public
        };
        Ok(client.request(method, u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> OutboundPolicy {
        let urls: Vec<url::Url> = allowed
            .iter()
            .map(|u| url::Url::parse(u).unwrap())
            .collect();
        OutboundPolicy::new(
            AllowedOrigins::new(&urls),
            &ClientSettings {
                timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(1),
                user_agent: "test",
                follow_redirects: true,
                advice: ALLOW_ORIGINS_ADVICE,
            },
        )
    }

    #[test]
    fn literal_forms_are_refused_unless_their_origin_is_allowed() {
        let p = policy(&["http://127.0.0.1:9000/anything"]);
        for u in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f000001/x",
            "http://0x7f.1/x",
            "http://0177.0.0.1/x",
            "http://127.1/x",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[::ffff:0:7f00:1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:9001/x",
            "https://127.0.0.1:9000/x",
        ] {
            assert!(
                matches!(p.check_literal(u), Err(Refused::Private(_))),
                "{u} must be refused"
            );
        }
        assert!(p.check_literal("http://127.0.0.1:9000/media/a.jpg").is_ok());
        assert!(p.check_literal("https://8.8.8.8/a.jpg").is_ok());
        assert!(p.check_literal("https://cdn.example/a.jpg").is_ok());
        for u in [
            "ftp://cdn.example/a",
            "file:///etc/passwd",
            "https://u:p@cdn.example/a",
            "nope",
        ] {
            assert!(
                matches!(p.check_literal(u), Err(Refused::NotHttp(_))),
                "{u}"
            );
        }
        let e = p.check_literal("http://2130706433/").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("127.0.0.1 is a private address (loopback); {ALLOW_ORIGINS_ADVICE}")
        );
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let p = policy(&[]);
        let e = p.check("http://localhost:9/x").await.unwrap_err();
        match e {
            Refused::Private(r) => assert!(r.addr.is_loopback(), "{r}"),
            other => panic!("{other:?}"),
        }
        // A name that does not resolve now passes (the resolver checks each fetch).
        assert!(p.check("https://does-not-exist.invalid/x").await.is_ok());
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let e = match PublicResolver::default().resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(refusal_in(e.as_ref())
            .expect("a PrivateAddress")
            .addr
            .is_loopback());
    }
}
