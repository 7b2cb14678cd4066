//! The room stream of the rooms reference, where a room is a conversation:
//! `POST /api/auth/login` (the token in `token`), `GET /api/rooms`,
//! `GET /api/rooms/{id}/messages` and `WS /api/rooms/{id}/chat`, with
//! `{type, payload}` frames (`connected`, `message`, `event`, `pong`, `error`)
//! and close codes 4001 (not authorised) and 4003 (no such room). The token
//! may come as `?token=` (as documented) or as a first `{"type": "auth"}`
//! frame, so it need not sit in a URL.

use natter_protocol::operator::OperatorError;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use futures_util::StreamExt;
use natter_protocol::operator::{List, ListMeta, LoginRequest};
use natter_protocol::ws::CLOSE_UNAUTHORIZED;
use natter_protocol::Sender;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{login as operator_login, operator_from_token, AuthOperator, Watch, Watched};
use super::PageQuery;
use crate::client::ClientIp;
use crate::error::{AppError, OpResult};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::{Change, Event, HubEvent};
use crate::socket::{close, drive, Flow, Protocol, Step, WsResult};
use crate::store::{ConversationFilter, Cursor, Message, Session};
use crate::time::iso;
use crate::AppState;

/// Close code for a room that does not exist or may not be watched.
const CLOSE_NO_ACCESS: u16 = 4003;
const PAGE: i64 = 100;

/// `POST /api/auth/login`: the operator login, with the access token also as `token`.
#[utoipa::path(post, path = "/api/auth/login", tag = "rooms", request_body = LoginRequest, responses((status = 200, description = "The token pair, the access token also as `token`", body = Object), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn login(
    state: State<AppState>,
    client: ClientIp,
    body: Result<JsonBody<LoginRequest>, AppError>,
) -> OpResult<Json<Value>> {
    let Json(tokens) = operator_login(state, client, body).await?;
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

#[utoipa::path(get, path = "/api/rooms", tag = "rooms", security(("bearer" = [])), params(PageQuery), responses((status = 200, description = "A page of rooms", body = List<Object>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn list(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    q: Result<QueryParams<PageQuery>, AppError>,
) -> OpResult<Json<List<Value>>> {
    let QueryParams(q) = q?;
    let (page, per_page) = (q.page.unwrap_or(1).clamp(1, 100_000), q.per_page.unwrap_or(50).clamp(1, 100));
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

#[utoipa::path(get, path = "/api/rooms/{id}/messages", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path, description = "The room's id")), responses((status = 200, description = "The room's messages", body = List<Object>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn messages(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<List<Value>>> {
    super::of_account(&op, state.store.session_by_id(&id).await?, "room", &id)?;
    let page = state.store.list_messages(&id, Cursor::Latest, PAGE).await?;
    let names = operator_names(&state, &op.account_id).await;
    Ok(Json(List { data: page.messages.iter().map(|m| payload(m, name_of(&names, m))).collect(), meta: None }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    token: Option<String>,
}

#[utoipa::path(get, path = "/api/rooms/{id}/chat", tag = "rooms", params(("id" = String, Path, description = "The room's id"), TokenQuery), responses((status = 101, description = "A WebSocket: the room stream"), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn chat(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    QueryParams(q): QueryParams<TokenQuery>,
    client: ClientIp,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(slot) = state.sockets.per_client.take(client.key()) else {
        return AppError::RateLimited(1).into_operator_response();
    };
    ws.max_message_size(16 * 1024).on_upgrade(move |socket| async move {
        let _slot = slot;
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
    let watch = Watch::new(state, operator.clone());
    let sub = state.hub.subscribe(&room_id);
    let room = state.store.session_by_id(&room_id).await.ok().flatten().filter(|s| s.account_id == operator.account_id);
    let Some(session) = room else {
        send(&mut socket, "error", json!({ "message": "no such room" })).await?;
        return close(&mut socket, CLOSE_NO_ACCESS, "no access to room").await;
    };
    send(&mut socket, "connected", json!({ "roomId": room_id, "message": "Connected to the room chat" })).await?;
    let room = Room { state, sent: session.last_seq, session };
    let farewell = json!({ "type": "error", "payload": { "message": "the session ended: log in again" } }).to_string();
    let watched = Watched { inner: room, watch, state, farewell };
    drive(socket, watched, sub, keepalive, state.shutdown.clone()).await
}

/// A room stream: an operator watching one conversation.
struct Room<'a> {
    state: &'a AppState,
    session: Session,
    /// The highest message seq sent.
    sent: i64,
}

impl Protocol for Room<'_> {
    type Item = Arc<HubEvent>;

    async fn on_event(&mut self, socket: &mut WebSocket, event: Arc<HubEvent>) -> Step {
        match &event.event {
            Event::MessageCreated { message, .. } if message.seq <= self.sent => {}
            Event::MessageCreated { message, author, .. } if message.seq == self.sent + 1 => {
                send(socket, "message", payload(message, Some(author))).await?;
                self.sent = message.seq;
            }
            Event::MessageCreated { .. } => {
                self.sent = forward_messages(socket, self.state, &self.session, self.sent).await?;
            }
            Event::ConversationChanged { session, change } if *change != Change::Contact => {
                let event = json!({
                    "id": uuid::Uuid::new_v4().to_string(),
                    "eventType": "status_changed",
                    "agentIds": session.manager_id.iter().collect::<Vec<_>>(),
                    "description": format!("Conversation is {}", session.status.as_str()),
                    "timestamp": iso(session.updated_ms),
                });
                send(socket, "event", event).await?;
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    async fn on_lagged(&mut self, socket: &mut WebSocket) -> Step {
        self.sent = forward_messages(socket, self.state, &self.session, self.sent).await?;
        Ok(Flow::Continue)
    }

    async fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> Step {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v["type"].as_str() {
            Some("ping") => send(socket, "pong", json!({})).await?,
            Some("auth") => {}
            _ => send(socket, "error", json!({ "message": "unknown message; send {\"type\": \"ping\"}" })).await?,
        }
        Ok(Flow::Continue)
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        crate::socket::send(socket, WsMessage::Ping(Default::default())).await?;
        Ok(Flow::Continue)
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
