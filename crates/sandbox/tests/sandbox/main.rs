//! End-to-end tests: a real sandbox on 127.0.0.1:0 driven over HTTP with reqwest (redirects
//! off), one module per platform plus the control endpoints and the shared consent behaviour.

mod common;

mod consent;
mod control;
mod facebook;
mod facebook_publish;
mod instagram;
mod instagram_publish;
mod linkedin;
mod linkedin_publish;
mod pinterest;
mod pinterest_publish;
mod tiktok;
mod tiktok_publish;
mod twitter;
mod twitter_publish;
mod youtube;
mod youtube_publish;
