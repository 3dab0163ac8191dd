//! One module per platform, each holding everything that platform does differently: its
//! authorization rules, token endpoint (code exchange, refresh, rotation), revocation, profile
//! endpoint and error bodies. Publishing routes of a platform go into the same module.
//!
//! The common mechanics (codes, grants, tokens, faults, stats) are in `state` and `http`.

use std::sync::Arc;

use axum::Router;

use crate::state::Shared;

pub(crate) mod facebook;
pub(crate) mod instagram;
pub(crate) mod linkedin;
pub(crate) mod pinterest;
pub(crate) mod tiktok;
pub(crate) mod twitter;
pub(crate) mod youtube;

/// The routes of all seven platforms, each under its real host names.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(twitter::routes())
        .merge(linkedin::routes())
        .merge(facebook::routes())
        .merge(instagram::routes())
        .merge(tiktok::routes())
        .merge(youtube::routes())
        .merge(pinterest::routes())
}

/// The authorization rules of every platform, by id.
#[cfg(test)]
pub(crate) fn authorize_rules() -> [&'static crate::consent::AuthorizeRules; 7] {
    [
        &twitter::AUTHORIZE,
        &linkedin::AUTHORIZE,
        &facebook::AUTHORIZE,
        &instagram::AUTHORIZE,
        &tiktok::AUTHORIZE,
        &youtube::AUTHORIZE,
        &pinterest::AUTHORIZE,
    ]
}

#[cfg(test)]
mod tests {
    use switchboard_core::Catalog;

    /// Every scope the catalog asks for by default is one the sandbox grants, and the
    /// separators agree.
    #[test]
    fn catalog_scopes_are_known_to_the_sandbox() {
        let catalog = Catalog::builtin().expect("catalog");
        for rules in super::authorize_rules() {
            let spec = catalog.get(rules.platform).expect("platform in catalog");
            for s in spec.scopes.default_request() {
                assert!(
                    rules.known_scopes.contains(&s.as_str()),
                    "{}: catalog scope {s} unknown to the sandbox",
                    rules.platform
                );
            }
            let sep = spec.scope_separator.chars().next().expect("separator");
            assert!(rules.scope_separators.contains(&sep), "{}", rules.platform);
            assert_eq!(
                rules.client_param, spec.client_id_param,
                "{}",
                rules.platform
            );
        }
    }
}
