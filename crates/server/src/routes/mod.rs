//! HTTP handlers, one module per resource.

pub mod audit;
pub mod bulk;
pub mod connect;
pub mod connections;
pub mod events;
pub mod health;
pub mod pages;
pub mod platforms;
pub mod validate;
pub mod webhooks;
