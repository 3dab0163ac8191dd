//! The test accounts a person (or a script, with `X-Sandbox-Account`) picks on the consent page.
//!
//! Each platform has a healthy default account and accounts set up to fail checks that come
//! after the connection: an Instagram PERSONAL account (cannot publish), a Google account
//! without a YouTube channel, a Pinterest account without boards, a Facebook account with no
//! Pages. What later publishing checks need (boards, Pages, channel, account type) is data here.

use serde::Serialize;

/// A Facebook Page the account has a role on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The Page id (numeric string).
    pub id: &'static str,
    /// The Page name.
    pub name: &'static str,
    /// The Page category.
    pub category: &'static str,
}

/// A Meta Business portfolio the person has a role in (`GET /me/businesses`), with the Pages
/// it owns (`GET /{business-id}/owned_pages`) and the client Pages it was given access to
/// (`GET /{business-id}/client_pages`). Pages reached only this way are not in
/// `/me/accounts` (Business node edges, `shared/reference/meta/Business.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Business {
    /// The Business id (numeric string).
    pub id: &'static str,
    /// The Business name.
    pub name: &'static str,
    /// Pages the Business owns.
    pub owned_pages: &'static [Page],
    /// Pages of clients the Business has access to.
    pub client_pages: &'static [Page],
}

/// A Pinterest board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Board {
    /// The board id (numeric string, as `board_id` in `POST /v5/pins`).
    pub id: &'static str,
    /// The board name.
    pub name: &'static str,
    /// `PUBLIC`, `PROTECTED` or `SECRET`.
    pub privacy: &'static str,
}

/// A YouTube channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// The channel id (`UC…`).
    pub id: &'static str,
    /// The channel title.
    pub title: &'static str,
}

/// One test account on one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Stable sandbox id, used in `X-Sandbox-Account`, on the consent page and in
    /// `/__sandbox/introspect` (`x-ada`, `ig-personal`, …).
    pub id: &'static str,
    /// The platform id (`twitter`, …).
    pub platform: &'static str,
    /// The id the platform itself reports for the account (X user id, LinkedIn `sub`, Facebook
    /// user id, Instagram `user_id`, TikTok `union_id`, Google `sub`, Pinterest user id).
    pub user_id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Handle without `@` (username on X, Instagram, TikTok, Pinterest).
    pub handle: &'static str,
    /// Email address, on platforms that report one.
    pub email: Option<&'static str>,
    /// True for the account used by `auto_consent` and preselected on the consent page.
    pub default: bool,
    /// What the account is set up to exercise, shown on the consent page.
    pub note: &'static str,
    /// Account type where the platform has one: Instagram `BUSINESS`, `MEDIA_CREATOR` or
    /// `PERSONAL`; Pinterest `BUSINESS` or `PINNER`.
    pub account_type: Option<&'static str>,
    /// Facebook Pages the account manages directly (`/me/accounts`).
    pub pages: &'static [Page],
    /// Meta Business portfolios the account has a role in, with their Pages.
    pub businesses: &'static [Business],
    /// Pinterest boards.
    pub boards: &'static [Board],
    /// The YouTube channel, if the Google account has one.
    pub channel: Option<Channel>,
    /// TikTok: the privacy levels `creator_info/query` offers for this creator.
    pub privacy_levels: &'static [&'static str],
}

impl Account {
    /// The given name (first word of the name).
    pub fn given_name(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or(self.name)
    }

    /// The family name (everything after the first word).
    pub fn family_name(&self) -> &'static str {
        self.name.split_once(' ').map(|(_, f)| f).unwrap_or("")
    }

    /// A Page the person can act on: one of `/me/accounts`, or one owned by or shared with one
    /// of their Businesses.
    pub fn find_page(&self, id: &str) -> Option<&'static Page> {
        self.pages
            .iter()
            .chain(
                self.businesses
                    .iter()
                    .flat_map(|b| b.owned_pages.iter().chain(b.client_pages)),
            )
            .find(|p| p.id == id)
    }
}

const BASE: Account = Account {
    id: "",
    platform: "",
    user_id: "",
    name: "",
    handle: "",
    email: None,
    default: false,
    note: "",
    account_type: None,
    pages: &[],
    businesses: &[],
    boards: &[],
    channel: None,
    privacy_levels: &[],
};

/// Every test account, grouped by platform, default account first.
pub static ACCOUNTS: &[Account] = &[
    // X
    Account {
        id: "x-ada",
        platform: "twitter",
        user_id: "1580000000000000001",
        name: "Ada Lovelace",
        handle: "ada_sandbox",
        default: true,
        note: "Healthy account",
        ..BASE
    },
    Account {
        id: "x-grace",
        platform: "twitter",
        user_id: "1580000000000000002",
        name: "Grace Hopper",
        handle: "grace_sandbox",
        note: "A second healthy account",
        ..BASE
    },
    // LinkedIn
    Account {
        id: "li-ada",
        platform: "linkedin",
        user_id: "aDa1LoVe9x",
        name: "Ada Lovelace",
        handle: "ada-lovelace-sandbox",
        email: Some("ada@sandbox.example"),
        default: true,
        note: "Healthy member profile",
        ..BASE
    },
    Account {
        id: "li-grace",
        platform: "linkedin",
        user_id: "gRaCe2HoP7",
        name: "Grace Hopper",
        handle: "grace-hopper-sandbox",
        email: Some("grace@sandbox.example"),
        note: "A second member profile",
        ..BASE
    },
    // Facebook
    Account {
        id: "fb-ada",
        platform: "facebook",
        user_id: "10150000000000001",
        name: "Ada Lovelace",
        handle: "ada.sandbox",
        email: Some("ada@sandbox.example"),
        default: true,
        note: "Manages two Pages",
        pages: &[
            Page {
                id: "102000000000001",
                name: "Analytical Engines Ltd",
                category: "Science, Technology & Engineering",
            },
            Page {
                id: "102000000000002",
                name: "Ada's Bakery",
                category: "Bakery",
            },
        ],
        ..BASE
    },
    Account {
        id: "fb-business",
        platform: "facebook",
        user_id: "10150000000000003",
        name: "Mary Somerville",
        handle: "mary.sandbox",
        email: Some("mary@sandbox.example"),
        note: "Manages Pages through a Business portfolio (business_management)",
        pages: &[Page {
            id: "102000000000011",
            name: "Somerville Instruments",
            category: "Science, Technology & Engineering",
        }],
        businesses: &[Business {
            id: "201000000000001",
            name: "Somerville Holdings",
            owned_pages: &[
                // Also a Page of her own: listed by both, one Page.
                Page {
                    id: "102000000000011",
                    name: "Somerville Instruments",
                    category: "Science, Technology & Engineering",
                },
                Page {
                    id: "102000000000012",
                    name: "Connexion of the Sciences",
                    category: "Book",
                },
            ],
            client_pages: &[Page {
                id: "102000000000013",
                name: "Mechanism of the Heavens Press",
                category: "Publisher",
            }],
        }],
        ..BASE
    },
    Account {
        id: "fb-nopages",
        platform: "facebook",
        user_id: "10150000000000002",
        name: "Charles Babbage",
        handle: "charles.sandbox",
        email: Some("charles@sandbox.example"),
        note: "Has no Pages: nothing to publish to",
        ..BASE
    },
    // Instagram
    Account {
        id: "ig-business",
        platform: "instagram",
        user_id: "17841400000000001",
        name: "Ada's Bakery",
        handle: "adas_bakery_sandbox",
        default: true,
        note: "Business account: can publish",
        account_type: Some("BUSINESS"),
        ..BASE
    },
    Account {
        id: "ig-creator",
        platform: "instagram",
        user_id: "17841400000000002",
        name: "Grace Hopper",
        handle: "grace_creates_sandbox",
        note: "Creator account: can publish",
        account_type: Some("MEDIA_CREATOR"),
        ..BASE
    },
    Account {
        id: "ig-personal",
        platform: "instagram",
        user_id: "17841400000000003",
        name: "Charles Babbage",
        handle: "charles_personal_sandbox",
        note: "Personal account: cannot publish through the API",
        account_type: Some("PERSONAL"),
        ..BASE
    },
    // TikTok
    Account {
        id: "tt-ada",
        platform: "tiktok",
        user_id: "sbx-union-ada-0001",
        name: "Ada Lovelace",
        handle: "ada.sandbox",
        default: true,
        note: "Public creator account",
        privacy_levels: &[
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "FOLLOWER_OF_CREATOR",
            "SELF_ONLY",
        ],
        ..BASE
    },
    Account {
        id: "tt-private",
        platform: "tiktok",
        user_id: "sbx-union-grace-0002",
        name: "Grace Hopper",
        handle: "grace.private.sandbox",
        note: "Private account: PUBLIC_TO_EVERYONE is not offered",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    Account {
        id: "tt-private-3",
        platform: "tiktok",
        user_id: "sbx-union-katherine-0003",
        name: "Katherine Johnson",
        handle: "katherine.private.sandbox",
        note: "Private account (one more user for an unaudited app's 5-user cap)",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    Account {
        id: "tt-private-4",
        platform: "tiktok",
        user_id: "sbx-union-margaret-0004",
        name: "Margaret Hamilton",
        handle: "margaret.private.sandbox",
        note: "Private account (one more user for an unaudited app's 5-user cap)",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    Account {
        id: "tt-private-5",
        platform: "tiktok",
        user_id: "sbx-union-hedy-0005",
        name: "Hedy Lamarr",
        handle: "hedy.private.sandbox",
        note: "Private account (one more user for an unaudited app's 5-user cap)",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    Account {
        id: "tt-private-6",
        platform: "tiktok",
        user_id: "sbx-union-radia-0006",
        name: "Radia Perlman",
        handle: "radia.private.sandbox",
        note: "Private account (one more user for an unaudited app's 5-user cap)",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    Account {
        id: "tt-private-7",
        platform: "tiktok",
        user_id: "sbx-union-barbara-0007",
        name: "Barbara Liskov",
        handle: "barbara.private.sandbox",
        note: "Private account (one more user for an unaudited app's 5-user cap)",
        privacy_levels: &["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
        ..BASE
    },
    // YouTube (Google)
    Account {
        id: "yt-ada",
        platform: "youtube",
        user_id: "108000000000000000001",
        name: "Ada Lovelace",
        handle: "@adasandbox",
        email: Some("ada.sandbox@gmail.example"),
        default: true,
        note: "Google account with a YouTube channel",
        channel: Some(Channel {
            id: "UCsandboxAdaLovelace0001",
            title: "Ada Lovelace Sandbox",
        }),
        ..BASE
    },
    Account {
        id: "yt-nochannel",
        platform: "youtube",
        user_id: "108000000000000000002",
        name: "Charles Babbage",
        handle: "",
        email: Some("charles.sandbox@gmail.example"),
        note: "Google account without a YouTube channel: uploads fail",
        ..BASE
    },
    // Pinterest
    Account {
        id: "pin-ada",
        platform: "pinterest",
        user_id: "1150000000000000001",
        name: "Ada's Bakery",
        handle: "adasbakerysandbox",
        default: true,
        note: "Business account with two boards",
        account_type: Some("BUSINESS"),
        boards: &[
            Board {
                id: "1150000000000100001",
                name: "Cakes",
                privacy: "PUBLIC",
            },
            Board {
                id: "1150000000000100002",
                name: "Bread",
                privacy: "PUBLIC",
            },
        ],
        ..BASE
    },
    Account {
        id: "pin-noboards",
        platform: "pinterest",
        user_id: "1150000000000000002",
        name: "Charles Babbage",
        handle: "charlesnoboardssandbox",
        note: "Has no boards: Pins cannot be created",
        account_type: Some("PINNER"),
        ..BASE
    },
];

/// The accounts of one platform, default first.
pub fn for_platform(platform: &str) -> impl Iterator<Item = &'static Account> + '_ {
    ACCOUNTS.iter().filter(move |a| a.platform == platform)
}

/// The default account of a platform.
pub fn default_for(platform: &str) -> Option<&'static Account> {
    for_platform(platform).find(|a| a.default)
}

/// An account by platform and sandbox id.
pub fn find(platform: &str, id: &str) -> Option<&'static Account> {
    for_platform(platform).find(|a| a.id == id)
}

/// An account by sandbox id alone (ids are unique across platforms).
pub fn by_id(id: &str) -> Option<&'static Account> {
    ACCOUNTS.iter().find(|a| a.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_platform_has_exactly_one_default_and_ids_are_unique() {
        for p in crate::PLATFORMS {
            assert_eq!(for_platform(p).filter(|a| a.default).count(), 1, "{p}");
            assert_eq!(
                for_platform(p).next().map(|a| a.default),
                Some(true),
                "{p}: default first"
            );
        }
        let ids: HashSet<_> = ACCOUNTS.iter().map(|a| a.id).collect();
        assert_eq!(ids.len(), ACCOUNTS.len());
    }

    #[test]
    fn failure_accounts_exist() {
        assert_eq!(
            find("instagram", "ig-personal").and_then(|a| a.account_type),
            Some("PERSONAL")
        );
        assert!(find("youtube", "yt-nochannel").is_some_and(|a| a.channel.is_none()));
        assert!(find("pinterest", "pin-noboards").is_some_and(|a| a.boards.is_empty()));
        assert!(find("facebook", "fb-nopages").is_some_and(|a| a.pages.is_empty()));
    }
}
