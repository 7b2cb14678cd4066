//! Wire types shared by the Natter widget and server: the public chat API,
//! the `/ws` realtime frames and the operator API. Serde only, so the crate
//! builds for `wasm32-unknown-unknown` as well as natively.

pub mod operator;
pub mod public;
pub mod ws;

pub use public::*;
