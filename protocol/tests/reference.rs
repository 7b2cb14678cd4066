//! The JSON examples of the reference API documents parse into the wire types
//! and come back out with every field they carried.

use natter_protocol::operator::{
    Conversation, List, LoginRequest, OperatorMessage, SendOperatorMessage, TokenResponse,
};
use natter_protocol::ws::{ClientFrame, ServerFrame};
use natter_protocol::{
    CreateSessionRequest, Envelope, MessageData, MessagesData, NotifyRequest, SendMessageRequest, SessionData,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Every key and value of `expected` appears in `actual` (extra keys allowed).
fn assert_contains(expected: &Value, actual: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let child = a.get(k).unwrap_or_else(|| panic!("{path}.{k} was dropped: {actual}"));
                assert_contains(v, child, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{path} changed length");
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                assert_contains(ev, av, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{path} changed"),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let expected: Value = serde_json::from_str(json).expect("example is JSON");
    let parsed: T = serde_json::from_value(expected.clone()).expect("example parses");
    let back = serde_json::to_value(&parsed).expect("serialises");
    assert_contains(&expected, &back, "$");
    parsed
}

#[test]
fn session_response_example_round_trips() {
    let env: Envelope<SessionData> = round_trip(
        r#"{"success": true, "data": {"sessionId": "uuid", "session": {"id": "uuid", "userName": "Name",
        "userPhone": "+380123456789", "status": "active", "createdAt": "2024-01-20T10:30:00.000Z"},
        "messages": [{"id": "uuid", "sender": "user", "messageText": "Text", "createdAt": "2024-01-20T10:30:00.000Z"}]}}"#,
    );
    let data = env.into_result().expect("success");
    assert_eq!(data.messages[0].sender, natter_protocol::Sender::User);
}

#[test]
fn session_request_example_round_trips() {
    let req: CreateSessionRequest = round_trip(
        r#"{"name": "Name", "phone": "+380123456789", "userSessionId": "id-from-localStorage", "firstMessage": "Hello"}"#,
    );
    assert_eq!(req.first_message.as_deref(), Some("Hello"));
}

#[test]
fn send_and_list_examples_round_trip() {
    let send: SendMessageRequest = round_trip(r#"{"message": "Text"}"#);
    assert_eq!(send.echo_id, None);
    round_trip::<Envelope<MessageData>>(
        r#"{"success": true, "data": {"message": {"id": "uuid", "sender": "user", "messageText": "Text",
        "createdAt": "2024-01-20T10:30:00.000Z"}}}"#,
    );
    round_trip::<Envelope<MessagesData>>(
        r#"{"success": true, "data": {"messages": [{"id": "uuid", "sender": "manager", "messageText": "Reply",
        "createdAt": "2024-01-20T10:35:00.000Z"}]}}"#,
    );
    round_trip::<NotifyRequest>(
        r#"{"name": "N", "phone": "+380", "message": "Text", "timestamp": "2024-01-20T10:30:00.000Z"}"#,
    );
}

#[test]
fn full_structure_example_round_trips() {
    round_trip::<natter_protocol::ChatSession>(
        r#"{"id": "s", "userName": null, "userPhone": null, "status": "closed", "managerId": null,
        "userSessionId": null, "createdAt": "2024-01-20T10:30:00.000Z", "updatedAt": "2024-01-20T10:30:00.000Z"}"#,
    );
    round_trip::<natter_protocol::ChatMessage>(
        r#"{"id": "m", "sender": "manager", "messageText": "t", "managerId": "op", "createdAt": "2024-01-20T10:30:00.000Z"}"#,
    );
}

#[test]
fn error_envelope_has_code_and_message() {
    let env: Envelope<Value> = round_trip(r#"{"success": false, "error": {"code": "invalid_json", "message": "bad"}}"#);
    assert_eq!(env.into_result().expect_err("is error").code, "invalid_json");
}

#[test]
fn websocket_client_frames_parse() {
    let sub =
        ClientFrame::parse(r#"{"event":"subscribe","data":{"pubsub_token":"kJGO53QxaEuhHaOU3h5Dc5","account_id":1}}"#)
            .expect("subscribe parses");
    match sub {
        ClientFrame::Subscribe(d) => {
            assert_eq!(d.pubsub_token, "kJGO53QxaEuhHaOU3h5Dc5");
            assert_eq!(d.last_seq, None);
        }
        other => panic!("parsed as {other:?}"),
    }
    assert_eq!(ClientFrame::parse(r#"{"event":"update_presence"}"#), Ok(ClientFrame::UpdatePresence));
    assert_eq!(ClientFrame::parse(r#"{"event":"update_presence","data":{}}"#), Ok(ClientFrame::UpdatePresence));
    assert!(ClientFrame::parse(r#"{"event":"launch"}"#).is_err());
    assert!(ClientFrame::parse("not json").is_err());
    let text = serde_json::to_string(&ClientFrame::UpdatePresence).expect("serialises");
    assert_eq!(ClientFrame::parse(&text), Ok(ClientFrame::UpdatePresence));
}

#[test]
fn websocket_server_frames_match_the_reference() {
    let confirm: ServerFrame = round_trip(r#"{"event":"confirm_subscription","data":"confirmed"}"#);
    assert_eq!(confirm, ServerFrame::ConfirmSubscription("confirmed".into()));
    let presence: ServerFrame = round_trip(r#"{"event":"presence.update","data":{}}"#);
    assert!(matches!(presence, ServerFrame::PresenceUpdate(_)));
}

#[test]
fn operator_examples_round_trip() {
    round_trip::<LoginRequest>(r#"{"email": "user@example.com", "password": "SecurePassword123"}"#);
    round_trip::<TokenResponse>(
        r#"{"access_token": "eyJ...", "refresh_token": "eyJ...", "token_type": "bearer", "expires_in": 1800}"#,
    );
    round_trip::<List<Conversation>>(
        r#"{"data": [{"id": "550e8400-e29b-41d4-a716-446655440000", "customer": {"id": "c", "name": "Client",
        "email": "client@example.com"}, "channel": "widget", "status": "open", "last_message": {"content": "Last",
        "created_at": "2026-02-03T12:00:00Z"}, "assigned_to": null, "created_at": "2026-02-03T10:00:00Z",
        "updated_at": "2026-02-03T12:00:00Z"}], "meta": {"total": 150, "page": 1, "per_page": 20}}"#,
    );
    round_trip::<List<OperatorMessage>>(
        r#"{"data": [{"id": "m", "conversation_id": "c", "sender_type": "customer", "sender_id": "s",
        "content": "Text", "attachments": [], "metadata": {}, "created_at": "2026-02-03T12:00:00Z"}]}"#,
    );
    round_trip::<SendOperatorMessage>(r#"{"content": "Text", "attachments": []}"#);
}
