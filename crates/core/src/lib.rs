//! Domain types and rules of Switchboard. Nothing here performs I/O.
//!
//! - [`catalog`]: the platform catalog (one TOML file per platform under `catalog/`), the data
//!   that drives the OAuth client, the sandbox and the people-facing setup pages.
//! - [`token`]: token sets as returned by a token endpoint, with secrets kept out of `Debug`.
//! - [`connection`]: connection status and the rules that derive it.
//! - [`diagnosis`]: the taxonomy every platform failure is mapped to.
//! - [`post`] and [`post_rules`]: the post model and what each platform accepts in a post.
//! - [`clock`]: a clock abstraction so tests move time instead of sleeping.

pub mod catalog;
pub mod clock;
pub mod connection;
pub mod diagnosis;
pub mod net;
pub mod post;
pub mod post_rules;
pub mod token;

pub use catalog::{Catalog, PlatformSpec};
pub use clock::{Clock, ManualClock, SystemClock};
pub use diagnosis::{Category, Diagnosis, Severity};
pub use token::TokenSet;
