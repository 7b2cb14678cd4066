//! The browser side, built for wasm32 only: storage and DOM helpers, the
//! REST and `/ws` transports, the controller that ties them to the logic,
//! the leptos UI and the `#[wasm_bindgen]` API.

pub mod api;
pub mod controller;
pub mod dom;
pub mod exports;
pub mod json;
pub mod net;
mod tabs;
pub mod task;
pub mod ui;
