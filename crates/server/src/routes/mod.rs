//! HTTP handlers, one module per resource.

pub mod audit;
pub mod bulk;
pub mod callback_page;
pub mod connect;
pub mod connections;
pub mod events;
pub mod facebook_pages;
pub mod guides;
pub mod health_check;
pub mod media;
pub mod meta_callbacks;
pub mod permissions;
pub mod platforms;
pub mod posts;
pub mod probes;
pub mod sync;
pub mod tiktok;
pub mod troubleshoot;
pub mod validate;
pub mod webhooks;
