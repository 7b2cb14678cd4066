//! The room stream of the rooms reference, where a room is a conversation:
//! `POST /api/auth/login` (the token in `token`), `GET /api/rooms`,
//! `GET /api/rooms/{id}/messages` and `WS /api/rooms/{id}/chat`, with
//! `{type, payload}` frames (`connected`, `message`, `event`, `pong`, `error`)
//! and close codes 4001 (not authorised) and 4003 (no such room). The token
//! may come as `?token=` (as documented) or as a first `{"type": "auth"}`
//! frame, so it need not sit in a URL.

use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use futures_util::StreamExt;
use natter_protocol::operator::{List, ListMeta, LoginRequest};
use natter_protocol::ws::{CLOSE_GOING_AWAY, CLOSE_PRESENCE_TIMEOUT, CLOSE_UNAUTHORIZED};
use natter_protocol::Sender;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::auth::{login as operator_login, operator_from_token, AuthOperator, Watch};
use super::PageQuery;
use crate::error::{AppError, OpError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::EventKind;
use crate::socket::{close, Keepalive, WsResult};
use crate::store::{ConversationFilter, Cursor, Message, Session};
use crate::time::iso;
use crate::AppState;

/// Close code for a room that does not exist or may not be watched.
const CLOSE_NO_ACCESS: u16 = 4003;
const PAGE: i64 = 100;

/// `POST /api/auth/login`: the operator login, with the access token also as `token`.
pub async fn login(state: State<AppState>, body: Result<JsonBody<LoginRequest>, AppError>) -> OpResult<Json<Value>> {
    let Json(tokens) = operator_login(state, body).await?;
    let mut value = serde_json::to_value(&tokens).map_err(|e| AppError::Internal(e.to_string()))?;
    value["token"] = Value::String(tokens.access_token);
    Ok(Json(value))
}

fn room(s: &Session) -> Value {
    json!({
        "id": s.id,
        "name": s.user_name.clone().unwrap_or_else(|| format!("Visitor {}", &s.id[..8.min(s.id.len())])),
        "status": s.status.as_str(),
        "createdAt": iso(s.created_ms),
        "updatedAt": iso(s.updated_ms),
    })
}

/// A message in the room stream's shape.
fn payload(m: &Message, operator_name: Option<&str>) -> Value {
    let sender = match m.sender {
        Sender::User => "user".to_owned(),
        Sender::Manager => operator_name.unwrap_or("agent").to_owned(),
        Sender::Bot => "bot".to_owned(),
        Sender::System => "System".to_owned(),
    };
    json!({
        "id": m.id,
        "text": m.body,
        "sender": sender,
        "agentId": m.manager_id,
        "timestamp": iso(m.created_ms),
        "agentResponse": null,
        "seq": m.seq,
    })
}

pub async fn list(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<PageQuery>, AppError>,
) -> OpResult<Json<List<Value>>> {
    let QueryParams(q) = q?;
    let (page, per_page) = (q.page.unwrap_or(1).max(1), q.per_page.unwrap_or(50).clamp(1, 100));
    let filter = ConversationFilter {
        account_id: op.account_id,
        offset: (page - 1) * per_page,
        limit: per_page,
        ..ConversationFilter::default()
    };
    let (rows, total) = state.store.list_conversations(&filter).await?;
    Ok(Json(List {
        data: rows.iter().map(|r| room(&r.session)).collect(),
        meta: Some(ListMeta { total, page, per_page }),
    }))
}

async fn operator_names(state: &AppState, account_id: &str) -> Vec<(String, String)> {
    state
        .store
        .list_operators(account_id)
        .await
        .map(|ops| ops.into_iter().map(|o| (o.id, o.name)).collect())
        .unwrap_or_default()
}

fn name_of<'a>(names: &'a [(String, String)], m: &Message) -> Option<&'a str> {
    let id = m.manager_id.as_deref()?;
    names.iter().find(|(op, _)| op == id).map(|(_, name)| name.as_str())
}

pub async fn messages(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<List<Value>>> {
    state
        .store
        .session_by_id(&id)
        .await?
        .filter(|s| s.account_id == op.account_id)
        .ok_or_else(|| OpError(AppError::NotFound(format!("no room {id}"))))?;
    let page = state.store.list_messages(&id, Cursor::Latest, PAGE).await?;
    let names = operator_names(&state, &op.account_id).await;
    Ok(Json(List { data: page.messages.iter().map(|m| payload(m, name_of(&names, m))).collect(), meta: None }))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn chat(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    QueryParams(q): QueryParams<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(16 * 1024).on_upgrade(move |socket| async move {
        let _ = run(socket, &state, room_id, q.token).await;
    })
}

async fn send(socket: &mut WebSocket, kind: &str, payload: Value) -> WsResult {
    crate::socket::send(socket, WsMessage::Text(json!({ "type": kind, "payload": payload }).to_string().into())).await
}

/// The token from the query, or from a first `{"type": "auth", "token": …}` frame.
async fn token(socket: &mut WebSocket, from_query: Option<String>, wait: Duration) -> Option<String> {
    if from_query.is_some() {
        return from_query;
    }
    let frame = tokio::time::timeout(wait, socket.next()).await.ok()??.ok()?;
    let WsMessage::Text(text) = frame else { return None };
    let v: Value = serde_json::from_str(&text).ok()?;
    (v["type"] == "auth").then(|| v["token"].as_str().map(str::to_owned)).flatten()
}

async fn run(mut socket: WebSocket, state: &AppState, room_id: String, query_token: Option<String>) -> WsResult {
    let keepalive = state.settings.keepalive;
    let operator = match token(&mut socket, query_token, keepalive * 2).await {
        Some(t) => operator_from_token(state, &t).await.ok(),
        None => None,
    };
    let Some(operator) = operator else {
        send(&mut socket, "error", json!({ "message": "missing or invalid token" })).await?;
        return close(&mut socket, CLOSE_UNAUTHORIZED, "unauthorized").await;
    };
    let mut watch = Watch::new(state, operator.clone());
    let mut sub = state.hub.subscribe(&room_id);
    let room = state.store.session_by_id(&room_id).await.ok().flatten().filter(|s| s.account_id == operator.account_id);
    let Some(session) = room else {
        send(&mut socket, "error", json!({ "message": "no such room" })).await?;
        return close(&mut socket, CLOSE_NO_ACCESS, "no access to room").await;
    };
    send(&mut socket, "connected", json!({ "roomId": room_id, "message": "Connected to the room chat" })).await?;
    let mut sent = session.last_seq;
    let shutdown = state.shutdown.clone();
    let mut keepalive = Keepalive::new(keepalive);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return close(&mut socket, CLOSE_GOING_AWAY, "server shutting down").await,
            () = watch.revoked() => {
                if !watch.holds(state).await {
                    send(&mut socket, "error", json!({ "message": "the session ended: log in again" })).await?;
                    return close(&mut socket, CLOSE_UNAUTHORIZED, "session ended").await;
                }
            }
            alive = keepalive.tick() => {
                if !alive {
                    return close(&mut socket, CLOSE_PRESENCE_TIMEOUT, "presence timeout").await;
                }
                if !watch.holds(state).await {
                    send(&mut socket, "error", json!({ "message": "the session ended: log in again" })).await?;
                    return close(&mut socket, CLOSE_UNAUTHORIZED, "session ended").await;
                }
                crate::socket::send(&mut socket, WsMessage::Ping(Default::default())).await?;
            }
            event = sub.rx.recv() => match event {
                Ok(event) => match event.kind() {
                    EventKind::MessageCreated { seq } if seq <= sent => {}
                    EventKind::MessageCreated { .. } => sent = forward_messages(&mut socket, state, &session, sent).await?,
                    EventKind::Conversation => {
                        if let Ok(Some(s)) = state.store.session_by_id(&room_id).await {
                            let event = json!({
                                "id": uuid::Uuid::new_v4().to_string(),
                                "eventType": "status_changed",
                                "agentIds": s.manager_id.iter().collect::<Vec<_>>(),
                                "description": format!("Conversation is {}", s.status.as_str()),
                                "timestamp": iso(s.updated_ms),
                            });
                            send(&mut socket, "event", event).await?;
                        }
                    }
                    _ => {}
                },
                Err(RecvError::Lagged(_)) => sent = forward_messages(&mut socket, state, &session, sent).await?,
                Err(RecvError::Closed) => return close(&mut socket, CLOSE_GOING_AWAY, "closing").await,
            },
            msg = socket.next() => match msg {
                Some(Ok(WsMessage::Text(text))) => {
                    keepalive.heard();
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match v["type"].as_str() {
                        Some("ping") => send(&mut socket, "pong", json!({})).await?,
                        Some("auth") => {}
                        _ => send(&mut socket, "error", json!({ "message": "unknown message; send {\"type\": \"ping\"}" })).await?,
                    }
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return Ok(()),
                Some(Ok(_)) => keepalive.heard(),
            },
        }
    }
}

/// Sends every message after `sent` in order; returns the new high mark.
async fn forward_messages(
    socket: &mut WebSocket,
    state: &AppState,
    room: &Session,
    mut sent: i64,
) -> Result<i64, axum::Error> {
    let names = operator_names(state, &room.account_id).await;
    loop {
        let Ok(page) = state.store.list_messages(&room.id, Cursor::AfterSeq(sent), PAGE).await else { return Ok(sent) };
        for m in &page.messages {
            send(socket, "message", payload(m, name_of(&names, m))).await?;
            sent = m.seq;
        }
        if !page.has_more {
            return Ok(sent);
        }
    }
}
