//! Connection status and the rules that derive it from tokens.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The health of a connection, as shown in the API and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Tokens valid; nothing to do.
    Healthy,
    /// The access token ends soon and cannot be refreshed: the person must reconnect before then.
    ExpiringSoon,
    /// Refreshing failed for a transient reason; retried with back-off.
    RefreshFailing,
    /// The access token has expired and could not be renewed.
    Expired,
    /// The grant is gone (`invalid_grant`, revoked refresh token): the person must reconnect.
    NeedsReauth,
    /// Disconnected, or revoked at the platform.
    Revoked,
    /// Facebook: authorized, waiting for the person to choose Pages.
    PendingSelection,
}

impl ConnectionStatus {
    /// The wire name (`needs_reauth`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Healthy => "healthy",
            ConnectionStatus::ExpiringSoon => "expiring_soon",
            ConnectionStatus::RefreshFailing => "refresh_failing",
            ConnectionStatus::Expired => "expired",
            ConnectionStatus::NeedsReauth => "needs_reauth",
            ConnectionStatus::Revoked => "revoked",
            ConnectionStatus::PendingSelection => "pending_selection",
        }
    }

    /// Parses a wire name; unknown names are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "healthy" => ConnectionStatus::Healthy,
            "expiring_soon" => ConnectionStatus::ExpiringSoon,
            "refresh_failing" => ConnectionStatus::RefreshFailing,
            "expired" => ConnectionStatus::Expired,
            "needs_reauth" => ConnectionStatus::NeedsReauth,
            "revoked" => ConnectionStatus::Revoked,
            "pending_selection" => ConnectionStatus::PendingSelection,
            _ => return None,
        })
    }

    /// True when the person has to act (reconnect or choose) for the connection to work.
    pub fn needs_person(self) -> bool {
        matches!(
            self,
            ConnectionStatus::NeedsReauth
                | ConnectionStatus::Expired
                | ConnectionStatus::Revoked
                | ConnectionStatus::PendingSelection
        )
    }
}

impl std::fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Derives the status of a connection whose grant is intact, from its token expiry.
///
/// `can_refresh` is whether a refresh token (or Instagram's exchange) is available; `warn` is how
/// long before an unrefreshable token expires that the person is warned (default 24 h).
pub fn status_from_expiry(
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    can_refresh: bool,
    warn: Duration,
) -> ConnectionStatus {
    match expires_at {
        None => ConnectionStatus::Healthy,
        // A refreshable token that has expired is still healthy: the next use refreshes it.
        Some(_) if can_refresh => ConnectionStatus::Healthy,
        Some(e) if e <= now => ConnectionStatus::Expired,
        Some(e) if e <= now + warn => ConnectionStatus::ExpiringSoon,
        Some(_) => ConnectionStatus::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            "healthy",
            "expiring_soon",
            "refresh_failing",
            "expired",
            "needs_reauth",
            "revoked",
            "pending_selection",
        ] {
            assert_eq!(ConnectionStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(ConnectionStatus::parse("nope"), None);
    }

    #[test]
    fn unrefreshable_token_warns_then_expires() {
        let now = Utc::now();
        let warn = Duration::hours(24);
        let soon = Some(now + Duration::hours(2));
        assert_eq!(
            status_from_expiry(now, soon, false, warn),
            ConnectionStatus::ExpiringSoon
        );
        assert_eq!(
            status_from_expiry(now, soon, true, warn),
            ConnectionStatus::Healthy
        );
        let past = Some(now - Duration::seconds(1));
        assert_eq!(
            status_from_expiry(now, past, false, warn),
            ConnectionStatus::Expired
        );
        let later = Some(now + Duration::days(30));
        assert_eq!(
            status_from_expiry(now, later, false, warn),
            ConnectionStatus::Healthy
        );
    }
}
