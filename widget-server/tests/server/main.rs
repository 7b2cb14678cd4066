//! The server through its real interfaces (HTTP and WebSocket on a real
//! port), each test run against SQLite and against PostgreSQL.

mod abuse;
mod access;
mod ai;
mod analytics;
mod api_keys;
mod attachments;
mod availability;
mod billing;
mod channels;
mod cli;
mod durability;
mod identity;
mod knowledge;
mod migrate;
mod novatalks;
mod omnisupport;
mod operator;
mod operator_stream;
mod ops;
mod outbox;
mod postgres;
mod public_api;
mod ratings;
mod realtime;
mod registration;
mod rooms;
mod sockets;
mod support;
mod two_factor;
mod webhooks;
mod ws_fuzz;
