//! The operator WebSocket, in the OmniSupport shape: the first frame is
//! `{"type": "auth", "token": "Bearer …"}`, then `subscribe` to
//! `conversations` and/or `messages`. Events: `conversation.created`,
//! `conversation.updated`, `message.new`, `message.updated`, `typing.start`,
//! `typing.stop`. The client may send `typing`, `read` and `ping`.
//! Events come from the hub's firehose (so other instances' events arrive
//! too) and are read back from the database in the operator's shapes.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket};
use natter_protocol::ws::{TypingUser, CLOSE_UNAUTHORIZED};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{operator_from_token, Watch, Watched};
use super::conversations::{conversation_of, operator_message};
use crate::hub::{Event, HubEvent, Scope};
use crate::socket::{close, drive, Flow, Protocol, Step, WsResult};
use crate::store::{Operator, Session};
use crate::AppState;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Auth {
        token: String,
    },
    Subscribe {
        channels: Vec<String>,
    },
    Typing {
        conversation_id: String,
        #[serde(default = "yes")]
        on: bool,
    },
    Read {
        conversation_id: String,
        #[serde(default)]
        message_id: Option<String>,
    },
    Ping,
}

fn yes() -> bool {
    true
}

/// Whether a first frame is in the operator protocol (`type`, not `event`).
pub fn is_operator_frame(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v.get("type").is_some() && v.get("event").is_none())
}

async fn send(socket: &mut WebSocket, value: Value) -> WsResult {
    crate::socket::send(socket, WsMessage::Text(value.to_string().into())).await
}

async fn error(socket: &mut WebSocket, message: &str) -> WsResult {
    send(socket, json!({ "type": "error", "message": message })).await
}

pub async fn run(mut socket: WebSocket, state: &AppState, first: &str) -> WsResult {
    let operator = match serde_json::from_str::<ClientFrame>(first) {
        Ok(ClientFrame::Auth { token }) => match operator_from_token(state, &token).await {
            Ok(op) => op,
            Err(_) => {
                error(&mut socket, "the token is invalid, expired or revoked").await?;
                return close(&mut socket, CLOSE_UNAUTHORIZED, "unauthorized").await;
            }
        },
        _ => {
            error(&mut socket, "send {\"type\": \"auth\", \"token\": …} first").await?;
            return close(&mut socket, CLOSE_UNAUTHORIZED, "unauthorized").await;
        }
    };
    // Watching and listening start before the operator hears they are in, so
    // neither a logout nor an event right after can slip past.
    let watch = Watch::new(state, operator.clone());
    let firehose = state.hub.firehose();
    let _present = state.presence.join(&operator.id);
    let me = json!({ "id": operator.id, "name": operator.name, "role": operator.role, "availability": operator.availability });
    send(&mut socket, json!({ "type": "auth.ok", "operator": me })).await?;
    let stream = Stream { state, operator, channels: HashSet::new() };
    let farewell = json!({ "type": "error", "message": "the session ended: log in again" }).to_string();
    let watched = Watched { inner: stream, watch, state, farewell };
    drive(socket, watched, firehose, state.settings.keepalive, state.shutdown.clone()).await
}

struct Stream<'a> {
    state: &'a AppState,
    operator: Operator,
    channels: HashSet<String>,
}

impl Protocol for Stream<'_> {
    type Item = (Scope, Arc<HubEvent>);

    async fn on_event(&mut self, socket: &mut WebSocket, (scope, event): (Scope, Arc<HubEvent>)) -> Step {
        if scope.account_id.as_ref() == self.operator.account_id {
            if let Some(frame) = self.render(&event).await {
                send(socket, frame).await?;
            }
        }
        Ok(Flow::Continue)
    }

    async fn on_lagged(&mut self, socket: &mut WebSocket) -> Step {
        send(socket, json!({ "type": "resync" })).await?;
        Ok(Flow::Continue)
    }

    async fn on_text(&mut self, socket: &mut WebSocket, text: Utf8Bytes) -> Step {
        if let Some(reply) = self.on_frame(&text).await {
            send(socket, reply).await?;
        }
        Ok(Flow::Continue)
    }

    async fn on_tick(&mut self, socket: &mut WebSocket) -> Step {
        crate::socket::send(socket, WsMessage::Ping(Default::default())).await?;
        Ok(Flow::Continue)
    }
}

impl Stream<'_> {
    /// A session of the operator's account.
    async fn session(&self, id: &str) -> Option<Session> {
        self.state.store.session_by_id(id).await.ok().flatten().filter(|s| s.account_id == self.operator.account_id)
    }

    /// The operator frame for a hub event, if this stream wants it, rendered
    /// from the event itself (a conversation's inbox view also reads its
    /// newest message).
    async fn render(&self, event: &HubEvent) -> Option<Value> {
        let wants = |channel: &str| self.channels.contains(channel);
        match &event.event {
            Event::MessageCreated { session, message, .. } if wants("messages") => {
                if message.sender == natter_protocol::Sender::User {
                    let website = self.state.websites.get_by_id(self.state.store.as_ref(), &session.website_id).await;
                    if let Ok(Some(website)) = website {
                        self.state.chat.delivered(&website, message, false);
                    }
                }
                Some(
                    json!({ "type": "message.new", "conversation_id": session.id, "message": operator_message(message, &self.state.files.links) }),
                )
            }
            Event::MessageUpdated { session, message, .. } if wants("messages") => Some(
                json!({ "type": "message.updated", "conversation_id": session.id, "message": operator_message(message, &self.state.files.links) }),
            ),
            Event::ConversationCreated { session } | Event::ConversationChanged { session, .. }
                if wants("conversations") =>
            {
                let kind = if matches!(event.event, Event::ConversationCreated { .. }) {
                    "conversation.created"
                } else {
                    "conversation.updated"
                };
                let conversation = conversation_of(self.state, session.clone()).await.ok()?;
                Some(json!({ "type": kind, "conversation": conversation }))
            }
            Event::Typing { session, on, user }
                if user.kind == "contact" && (wants("conversations") || wants("messages")) =>
            {
                let kind = if *on { "typing.start" } else { "typing.stop" };
                Some(
                    json!({ "type": kind, "conversation_id": session.id, "user": { "id": user.id, "name": user.name } }),
                )
            }
            _ => None,
        }
    }

    async fn on_frame(&mut self, text: &str) -> Option<Value> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => return Some(json!({ "type": "error", "message": format!("bad frame: {e}") })),
        };
        match frame {
            ClientFrame::Ping => Some(json!({ "type": "pong" })),
            ClientFrame::Auth { .. } => None,
            ClientFrame::Subscribe { channels } => {
                self.channels.extend(channels.into_iter().filter(|c| c == "conversations" || c == "messages"));
                let mut list: Vec<&String> = self.channels.iter().collect();
                list.sort();
                Some(json!({ "type": "subscribed", "channels": list }))
            }
            ClientFrame::Typing { conversation_id, on } => {
                let session = self.session(&conversation_id).await?;
                let user = TypingUser {
                    id: Some(self.operator.id.clone()),
                    name: self.operator.name.clone(),
                    kind: "agent".into(),
                };
                self.state.chat.typing(&session, on, user).await;
                None
            }
            ClientFrame::Read { conversation_id, message_id } => {
                let session = self.session(&conversation_id).await?;
                let seq = match message_id {
                    Some(id) => self.state.store.message_by_id(&session.id, &id).await.ok().flatten()?.seq,
                    None => i64::MAX,
                };
                let website = self.state.store.website_by_id(&session.website_id).await.ok().flatten()?;
                self.state.chat.mark_read(&website, &session, seq, false).await.err().map(|e| {
                    tracing::error!(error = %e, "read receipt failed");
                    json!({ "type": "error", "message": "server error" })
                })
            }
        }
    }
}
