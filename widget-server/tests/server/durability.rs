//! A 201 means committed: the real server process is killed with SIGKILL
//! while visitors send concurrently, started again on the same database,
//! and every acknowledged message is there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use natter_protocol::{Envelope, MessageData, MessagesData, SessionData};
use serde_json::json;

use crate::support::{Db, PATIENCE};

/// Messages acknowledged before the kill.
const ACKNOWLEDGED: usize = 400;
const SENDERS: usize = 16;

fn natter(database_url: &str, dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_natter-server"));
    c.env("DATABASE_URL", database_url).env("NATTER_DATA_DIR", dir).env("RUST_LOG", "warn");
    c
}

/// Starts the server on a free port; returns the process and its base URL.
fn start(database_url: &str, dir: &std::path::Path) -> (Child, String) {
    let mut child = natter(database_url, dir)
        .args(["serve", "--addr", "127.0.0.1:0", "--no-demo"])
        .args(["--rate-per-ip", "1000000", "--rate-per-website", "1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("the server prints its address").expect("line");
        if let Some(rest) = line.trim().strip_prefix("Natter is running on ") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

async fn session(http: &reqwest::Client, base: &str, key: &str, id: &str) -> SessionData {
    let res = http
        .post(format!("{base}/api/public/chat/sessions"))
        .header("x-api-key", key)
        .body(json!({ "userSessionId": id }).to_string())
        .send()
        .await
        .expect("session");
    let env: Envelope<SessionData> = res.json().await.expect("json");
    env.into_result().expect("session created")
}

async fn every_acknowledged_message_survives_a_kill_9(db: Db) {
    let dir = tempfile::tempdir().expect("dir");
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("natter.db").display()),
        Db::Postgres => crate::postgres::fresh_database().await,
    };
    let created = natter(&url, dir.path()).args(["website", "create", "--name", "Durable"]).output().expect("cli");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let key = created["websiteToken"].as_str().expect("token").to_owned();

    let (mut server, base) = start(&url, dir.path());
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for i in 0..SENDERS {
        sessions.push(session(&http, &base, &key, &format!("durable-{i}")).await);
    }
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut senders = Vec::new();
    for s in sessions.clone() {
        let (http, base, key, acknowledged) = (http.clone(), base.clone(), key.clone(), Arc::clone(&acknowledged));
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let sent = http
                    .post(format!("{base}/api/public/chat/sessions/{}/messages", s.session_id))
                    .header("x-api-key", &key)
                    .header("x-session-token", s.token.as_deref().unwrap_or_default())
                    .body(json!({ "message": format!("durable {n}") }).to_string())
                    .send()
                    .await;
                // Requests cut off by the kill are not acknowledged.
                let Ok(res) = sent else { return };
                if res.status() != reqwest::StatusCode::CREATED {
                    return;
                }
                let Ok(env) = res.json::<Envelope<MessageData>>().await else { return };
                let Ok(data) = env.into_result() else { return };
                acknowledged.lock().expect("lock").push((s.session_id.clone(), data.message.id));
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + PATIENCE * 6;
    while acknowledged.lock().expect("lock").len() < ACKNOWLEDGED {
        assert!(tokio::time::Instant::now() < deadline, "the senders stalled");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    for s in senders {
        s.await.expect("sender ends");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= ACKNOWLEDGED);

    let (mut again, base) = start(&url, dir.path());
    let mut missing = Vec::new();
    for s in &sessions {
        let mut stored = std::collections::HashSet::new();
        let mut after = 0;
        loop {
            let page: Envelope<MessagesData> = http
                .get(format!("{base}/api/public/chat/sessions/{}/messages?after={after}&limit=100", s.session_id))
                .header("x-api-key", &key)
                .header("x-session-token", s.token.as_deref().unwrap_or_default())
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            let page = page.into_result().expect("page");
            after = page.messages.last().map_or(after, |m| m.seq);
            stored.extend(page.messages.into_iter().map(|m| m.id));
            if !page.has_more {
                break;
            }
        }
        missing.extend(acknowledged.iter().filter(|(sid, id)| sid == &s.session_id && !stored.contains(id)));
    }
    again.kill().expect("stop");
    let _ = again.wait();
    assert!(missing.is_empty(), "{} of {} acknowledged messages lost: {missing:?}", missing.len(), acknowledged.len());
}

crate::on_both_databases!(every_acknowledged_message_survives_a_kill_9);
