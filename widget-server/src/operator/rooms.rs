//! The room stream of the rooms reference, where a room is a conversation:
//! `POST /api/auth/login` (the token in `token`), `GET /api/rooms`,
//! `GET /api/rooms/{id}/messages` and `WS /api/rooms/{id}/chat`, with
//! `{type, payload}` frames (`connected`, `message`, `event`, `pong`, `error`)
//! and close codes 4001 (not authorised) and 4003 (no such room). The token
//! may come as `?token=` (as documented) or as a first `{"type": "auth"}`
//! frame, so it need not sit in a URL.
//!
//! The graph of section 2: a room's participants (its visitor, the operators
//! who took part, the bot) are its agents; `PATCH /api/rooms/{id}/relationships`
//! sets how one feels about another (−1…1), which `WS /api/rooms/{id}/graph`
//! streams as `edge_update` and `GET /api/rooms/{id}/graph` returns with the
//! nodes for a first render. `GET /api/rooms/{id}/feed` merges the room's
//! messages and events in order.

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
use crate::store::{RoomEdge, RoomEvent};
use crate::time::{iso, now_ms};
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
    upgrade(state, room_id, q.token, &client, ws, StreamKind::Chat)
}

/// Takes a socket slot of the client and runs a room stream on the upgraded connection.
fn upgrade(
    state: AppState,
    room_id: String,
    token: Option<String>,
    client: &ClientIp,
    ws: WebSocketUpgrade,
    kind: StreamKind,
) -> Response {
    let Some(slot) = state.sockets.per_client.take(client.key()) else {
        return AppError::RateLimited(1).into_operator_response();
    };
    ws.max_message_size(16 * 1024).on_upgrade(move |socket| async move {
        let _slot = slot;
        let _ = run(socket, &state, room_id, token, kind).await;
    })
}

/// `WS /api/rooms/{id}/graph`: the graph stream.
async fn graph_stream(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    QueryParams(q): QueryParams<TokenQuery>,
    client: ClientIp,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(state, room_id, q.token, &client, ws, StreamKind::Graph)
}

/// `GET /api/rooms/{id}/graph`: the graph stream for a WebSocket upgrade,
/// else the nodes and edges for a first render.
pub async fn graph(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    use axum::handler::Handler;
    let upgrade = req.headers().get(axum::http::header::UPGRADE);
    if upgrade.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket")) {
        graph_stream.call(req, state).await
    } else {
        graph_snapshot.call(req, state).await
    }
}

/// A room's agents: its visitor, the operators who took part (or are assigned), and the bot.
async fn agents(state: &AppState, session: &Session) -> OpResult<Vec<Value>> {
    let names = operator_names(state, &session.account_id).await;
    let mut operators = state.store.session_operator_ids(&session.id).await?;
    if let Some(assigned) = session.manager_id.as_ref().filter(|id| !operators.contains(id)) {
        operators.push(assigned.clone());
    }
    let visitor = session.user_name.clone().unwrap_or_else(|| "Visitor".to_owned());
    let mut nodes = vec![json!({ "id": session.customer_id, "name": visitor, "kind": "visitor" })];
    for id in operators {
        let name = names.iter().find(|(op, _)| *op == id).map_or("Former operator", |(_, n)| n.as_str());
        nodes.push(json!({ "id": id, "name": name, "kind": "operator" }));
    }
    nodes.push(json!({ "id": "bot", "name": "Bot", "kind": "bot" }));
    Ok(nodes)
}

fn edge(room_id: &str, e: &RoomEdge) -> Value {
    let mut edge = edge_update(room_id, &e.from, &e.to, e.sympathy);
    edge["updatedAt"] = json!(iso(e.updated_ms));
    edge
}

#[utoipa::path(get, path = "/api/rooms/{id}/graph", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path, description = "The room's id")), responses((status = 200, description = "The room's agents and relationships (a WebSocket upgrade here is the graph stream)", body = Object), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn graph_snapshot(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<Value>> {
    let session = super::of_account(&op, state.store.session_by_id(&id).await?, "room", &id)?;
    let nodes = agents(&state, &session).await?;
    let edges: Vec<Value> = state.store.room_edges(&id).await?.iter().map(|e| edge(&id, e)).collect();
    Ok(Json(json!({ "roomId": id, "nodes": nodes, "edges": edges })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    from: String,
    to: String,
    /// From −1 (antipathy) to 1 (sympathy).
    sympathy_level: f64,
}

#[utoipa::path(patch, path = "/api/rooms/{id}/relationships", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path, description = "The room's id")), request_body = Relationship, responses((status = 200, description = "The edge as stored (also sent to the graph stream as `edge_update`)", body = Object), (status = "4XX", description = "Refused: a level outside −1…1 or an agent not in the room (422)", body = OperatorError)))]
pub async fn relationships(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
    body: Result<JsonBody<Relationship>, AppError>,
) -> OpResult<Json<Value>> {
    let JsonBody(req) = body?;
    let invalid = |what: &str| crate::error::OpError(AppError::Validation("validation_error", what.to_owned()));
    if !req.sympathy_level.is_finite() || !(-1.0..=1.0).contains(&req.sympathy_level) {
        return Err(invalid("sympathyLevel must be between -1 and 1"));
    }
    let session = super::of_account(&op, state.store.session_by_id(&id).await?, "room", &id)?;
    let nodes = agents(&state, &session).await?;
    let name_of =
        |agent: &str| nodes.iter().find(|n| n["id"] == agent).and_then(|n| n["name"].as_str().map(str::to_owned));
    let (Some(from), Some(to)) = (name_of(&req.from), name_of(&req.to)) else {
        return Err(invalid("from and to must be agents of the room (see GET /api/rooms/{id}/graph)"));
    };
    if req.from == req.to {
        return Err(invalid("from and to must be different agents"));
    }
    let now = now_ms();
    let stored = RoomEdge { from: req.from.clone(), to: req.to.clone(), sympathy: req.sympathy_level, updated_ms: now };
    let event = RoomEvent {
        id: uuid::Uuid::new_v4().to_string(),
        room_id: id.clone(),
        event_type: "relationship_changed".into(),
        agent_ids: vec![req.from, req.to],
        description: format!("{from} → {to}: {:+.2}", stored.sympathy),
        created_ms: now,
    };
    state.chat.set_relationship(&session, &stored, &event).await?;
    Ok(Json(edge(&id, &stored)))
}

fn event_payload(e: &RoomEvent) -> Value {
    json!({
        "id": e.id, "eventType": e.event_type, "agentIds": e.agent_ids,
        "description": e.description, "timestamp": iso(e.created_ms),
    })
}

#[utoipa::path(get, path = "/api/rooms/{id}/feed", tag = "rooms", security(("bearer" = [])), params(("id" = String, Path, description = "The room's id")), responses((status = 200, description = "The room's newest messages and events, merged oldest first as `{type: message|event, payload}`", body = List<Object>), (status = "4XX", description = "Refused", body = OperatorError)))]
pub async fn feed(
    State(state): State<AppState>,
    AuthOperator(op): AuthOperator,
    Path(id): Path<String>,
) -> OpResult<Json<List<Value>>> {
    super::of_account(&op, state.store.session_by_id(&id).await?, "room", &id)?;
    let page = state.store.list_messages(&id, Cursor::Latest, PAGE).await?;
    let events = state.store.room_events(&id, PAGE).await?;
    let names = operator_names(&state, &op.account_id).await;
    let mut items: Vec<(i64, Value)> = page
        .messages
        .iter()
        .map(|m| (m.created_ms, json!({ "type": "message", "payload": payload(m, name_of(&names, m)) })))
        .chain(events.iter().map(|e| (e.created_ms, json!({ "type": "event", "payload": event_payload(e) }))))
        .collect();
    items.sort_by_key(|(at, _)| *at);
    Ok(Json(List { data: items.into_iter().map(|(_, v)| v).collect(), meta: None }))
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

/// Which stream of a room a socket follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Chat,
    Graph,
}

async fn run(
    mut socket: WebSocket,
    state: &AppState,
    room_id: String,
    query_token: Option<String>,
    kind: StreamKind,
) -> WsResult {
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
    let farewell = json!({ "type": "error", "payload": { "message": "the session ended: log in again" } }).to_string();
    if kind == StreamKind::Graph {
        let message = "Connected to the relationship graph";
        send(&mut socket, "connected", json!({ "roomId": room_id, "message": message })).await?;
        let watched = Watched { inner: Graph { state, room_id }, watch, state, farewell };
        return drive(socket, watched, sub, keepalive, state.shutdown.clone()).await;
    }
    send(&mut socket, "connected", json!({ "roomId": room_id, "message": "Connected to the room chat" })).await?;
    let room = Room { state, sent: session.last_seq, session };
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
        answer_client(socket, &text).await
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        keepalive(socket).await
    }
}

/// What both room streams answer a client's frame: `pong` to `ping`, nothing
/// to a late `auth`, an `error` to anything else.
async fn answer_client(socket: &mut WebSocket, text: &str) -> Step {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match v["type"].as_str() {
        Some("ping") => send(socket, "pong", json!({})).await?,
        Some("auth") => {}
        _ => send(socket, "error", json!({ "message": "unknown message; send {\"type\": \"ping\"}" })).await?,
    }
    Ok(Flow::Continue)
}

/// The server's keepalive on a room stream (browsers answer pings by themselves).
async fn keepalive(socket: &mut WebSocket) -> Step {
    crate::socket::send(socket, WsMessage::Ping(Default::default())).await?;
    Ok(Flow::Continue)
}

/// An `edge_update` payload.
fn edge_update(room_id: &str, from: &str, to: &str, sympathy: f64) -> Value {
    json!({ "roomId": room_id, "from": from, "to": to, "sympathyLevel": sympathy })
}

/// A graph stream: an operator watching a room's relationships.
struct Graph<'a> {
    state: &'a AppState,
    room_id: String,
}

impl Protocol for Graph<'_> {
    type Item = Arc<HubEvent>;

    async fn on_event(&mut self, socket: &mut WebSocket, event: Arc<HubEvent>) -> Step {
        if let Event::EdgeUpdated { from, to, sympathy, .. } = &event.event {
            send(socket, "edge_update", edge_update(&self.room_id, from, to, *sympathy)).await?;
        }
        Ok(Flow::Continue)
    }

    /// Events were missed: every edge again, so the client's graph converges.
    async fn on_lagged(&mut self, socket: &mut WebSocket) -> Step {
        for e in self.state.store.room_edges(&self.room_id).await.unwrap_or_default() {
            send(socket, "edge_update", edge_update(&self.room_id, &e.from, &e.to, e.sympathy)).await?;
        }
        Ok(Flow::Continue)
    }

    async fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> Step {
        answer_client(socket, &text).await
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        keepalive(socket).await
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
