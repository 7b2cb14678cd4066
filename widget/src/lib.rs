//! Natter's chat widget: configuration, session, outbox, de-duplication and
//! transport policy as plain Rust (tested natively), and on wasm32 the
//! browser side: REST and `/ws` transports, the leptos UI and the JS API.

pub mod backoff;
pub mod config;
pub mod contact;
pub mod engine;
pub mod i18n;
pub mod ids;
pub mod outbox;
pub mod session;
pub mod storage;
pub mod timeline;
pub mod transport;

#[cfg(target_arch = "wasm32")]
pub mod web;
