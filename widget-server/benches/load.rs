//! Load benchmark of a real `natter-server` process on loopback, measured
//! against the performance targets of the design:
//!
//! - stored messages per second with 64 concurrent senders;
//! - polling requests per second (`GET …/messages?after=`);
//! - send → subscriber delivery latency (p50, p99) with many open sockets;
//! - server memory per idle subscribed socket;
//! - under attack: `/healthz` p99 during a flood of wrong operator logins,
//!   and other visitors' send p99 while one socket floods frames.
//!
//! `cargo bench -p natter-server --bench load` (or `scripts/bench.sh`). The
//! server runs as a child process on `127.0.0.1:0` over a fresh SQLite file,
//! or over `NATTER_BENCH_DATABASE_URL` when set (an empty PostgreSQL
//! database). `NATTER_BENCH_SECS` (default 5) sets how long each throughput
//! phase runs and `NATTER_BENCH_SOCKETS` (default 10000) how many sockets
//! are opened. Every phase is bounded in count and time; the run prints its
//! figures and stops the server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use natter_protocol::ws::ServerFrame;
use natter_protocol::{Envelope, SessionData};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const SENDERS: usize = 64;
const LATENCY_SAMPLES: usize = 500;
/// How long any single request or frame may take before the run gives up.
const PATIENCE: Duration = Duration::from_secs(30);

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The server process; killed when dropped, so a failed run leaves nothing behind.
struct Server {
    child: Child,
    base: String,
    host: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(database_url: &str, data_dir: &std::path::Path) -> BenchResult<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_natter-server"))
            .args(["serve", "--addr", "127.0.0.1:0", "--no-demo"])
            .args(["--rate-per-ip", "1000000000", "--rate-per-website", "1000000000"])
            // The sockets come from several loopback addresses, each under this cap.
            .args(["--max-sockets-per-ip", "4096"])
            .env("DATABASE_URL", database_url)
            .env("NATTER_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let host = loop {
            let line = lines.next().ok_or("the server exited before listening")??;
            if let Some(rest) = line.trim().strip_prefix("Natter is running on http://") {
                break rest.trim_end_matches('/').to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { base: format!("http://{host}"), host, child })
    }

    /// CPU time the server process has used so far (user + system), from
    /// `/proc` in clock ticks of 10 ms (Linux's `USER_HZ` of 100).
    fn cpu(&self) -> BenchResult<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the parenthesised command name: state is the first, utime the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11).ok_or("no utime")?.parse::<u64>()? + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
        Ok(Duration::from_millis(ticks * 10))
    }

    /// Resident memory of the server process in bytes.
    fn rss(&self) -> BenchResult<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or("no VmRSS")?;
        Ok(kb * 1024)
    }
}

fn website_token(database_url: &str, data_dir: &std::path::Path) -> BenchResult<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_natter-server"))
        .args(["website", "create", "--name", "Bench"])
        .env("DATABASE_URL", database_url)
        .env("NATTER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err("website create failed".into());
    }
    let created: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    Ok(created["websiteToken"].as_str().ok_or("no websiteToken")?.to_owned())
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn session(&self, user_session_id: &str) -> BenchResult<SessionData> {
        let res = self
            .http
            .post(format!("{}/api/public/chat/sessions", self.base))
            .header("x-api-key", &self.token)
            .json(&json!({ "userSessionId": user_session_id }))
            .send()
            .await?;
        let envelope: Envelope<SessionData> = res.json().await?;
        envelope.into_result().map_err(|e| format!("session refused: {e:?}").into())
    }

    fn messages_url(&self, session: &SessionData) -> String {
        format!("{}/api/public/chat/sessions/{}/messages", self.base, session.session_id)
    }

    /// Sends one visitor message; `true` when it was stored (201).
    async fn send(&self, session: &SessionData, text: &str, echo_id: &str) -> BenchResult<bool> {
        let res = self
            .http
            .post(self.messages_url(session))
            .header("x-api-key", &self.token)
            .header("x-session-token", session.token.as_deref().unwrap_or_default())
            .json(&json!({ "message": text, "echoId": echo_id }))
            .send()
            .await?;
        let created = res.status() == reqwest::StatusCode::CREATED;
        res.bytes().await?;
        Ok(created)
    }

    async fn poll(&self, session: &SessionData, after: i64) -> BenchResult<bool> {
        let res = self
            .http
            .get(format!("{}?after={after}", self.messages_url(session)))
            .header("x-api-key", &self.token)
            .header("x-session-token", session.token.as_deref().unwrap_or_default())
            .send()
            .await?;
        let ok = res.status().is_success();
        res.bytes().await?;
        Ok(ok)
    }
}

/// Runs `SENDERS` loops of `step` for `secs` seconds; the number of successes and failures.
async fn for_a_while<F, Fut>(sessions: &[SessionData], secs: u64, step: F) -> (u64, u64, Duration)
where
    F: Fn(SessionData, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = BenchResult<bool>> + Send,
{
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for session in sessions.iter().take(SENDERS) {
        let (ok, failed, step, session) = (Arc::clone(&ok), Arc::clone(&failed), step.clone(), session.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                match tokio::time::timeout(PATIENCE, step(session.clone(), n)).await {
                    Ok(Ok(true)) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                n += 1;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed), started.elapsed())
}

/// Loopback addresses the sockets are spread over: the server caps sockets per client address.
const SOURCE_ADDRESSES: u8 = 8;

/// Opens `/ws` from `127.0.0.<from>`.
async fn connect_from(host: &str, from: u8) -> BenchResult<Ws> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, from], 0)))?;
    let stream = socket.connect(host.parse()?).await?;
    Ok(tokio_tungstenite::client_async(format!("ws://{host}/ws"), stream).await?.0)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Opens a socket subscribed to `session`; it answers keepalives and reports
/// the arrival time of every `message.created` carrying an `echoId`.
async fn subscriber(
    host: &str,
    from: u8,
    session: &SessionData,
    arrivals: mpsc::UnboundedSender<(String, Instant)>,
) -> BenchResult<tokio::task::JoinHandle<()>> {
    let mut ws = connect_from(host, from).await?;
    let subscribe = json!({ "event": "subscribe", "data": { "pubsub_token": session.token, "account_id": 1 } });
    ws.send(WsMessage::Text(subscribe.to_string().into())).await?;
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await? {
            Some(Ok(WsMessage::Text(text))) => {
                if let Ok(ServerFrame::ConfirmSubscription(_)) = serde_json::from_str(&text) {
                    break;
                }
            }
            Some(Ok(_)) => {}
            _ => return Err("socket closed before confirming the subscription".into()),
        }
    }
    Ok(tokio::spawn(async move {
        while let Some(Ok(frame)) = ws.next().await {
            let WsMessage::Text(text) = frame else { continue };
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(ServerFrame::MessageCreated(event)) => {
                    if let Some(echo) = event.echo_id {
                        let _ = arrivals.send((echo, Instant::now()));
                    }
                }
                Ok(ServerFrame::PresenceUpdate(_)) => {
                    let presence = json!({ "event": "update_presence", "data": {} }).to_string();
                    if ws.send(WsMessage::Text(presence.into())).await.is_err() {
                        break;
                    }
                }
                _ => {}
            }
        }
    }))
}

/// 200 wrong logins, 16 at a time, while `/healthz` is asked every 5 ms:
/// how many were answered 429, and the `/healthz` latencies.
async fn login_flood(api: &Api) -> BenchResult<(usize, usize, Vec<Duration>)> {
    const LOGINS: usize = 200;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let (api, done) = (api.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let statuses: Vec<u16> = futures_util::stream::iter(0..LOGINS)
                .map(|i| {
                    let api = api.clone();
                    async move {
                        let body = json!({ "email": format!("guess{i}@example.com"), "password": "wrong" });
                        let url = format!("{}/api/v1/auth/login", api.base);
                        api.http.post(url).json(&body).send().await.map_or(0, |r| r.status().as_u16())
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;
            done.store(true, Ordering::SeqCst);
            statuses
        })
    };
    let mut health = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let started = Instant::now();
        api.http.get(format!("{}/healthz", api.base)).timeout(PATIENCE).send().await?.error_for_status()?;
        health.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let statuses = flood.await?;
    Ok((LOGINS, statuses.iter().filter(|s| **s == 429).count(), health))
}

/// One socket sends a thousand `seen` frames a second for up to eight
/// seconds while another session sends a message every 20 ms: the frames
/// sent, whether the socket was closed, and the other session's send latencies.
async fn frame_flood(api: &Api, host: &str, bystander: &SessionData) -> BenchResult<(u64, bool, Vec<Duration>)> {
    let flooder = api.session("bench-flooder").await?;
    let mut ws = connect_from(host, 1).await?;
    let subscribe = json!({ "event": "subscribe", "data": { "pubsub_token": flooder.token } });
    ws.send(WsMessage::Text(subscribe.to_string().into())).await?;
    let (mut sink, mut frames) = ws.split();
    let flood = tokio::spawn(async move {
        let seen = WsMessage::Text(json!({ "event": "seen", "data": {} }).to_string().into());
        let mut pace = tokio::time::interval(Duration::from_millis(1));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < Duration::from_secs(8) {
            pace.tick().await;
            if sink.send(seen.clone()).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let closed = tokio::spawn(async move {
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(10), frames.next()).await {
            if let WsMessage::Close(Some(close)) = frame {
                return u16::from(close.code) == natter_protocol::ws::CLOSE_POLICY;
            }
        }
        false
    });
    let mut sends = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while !flood.is_finished() && started.elapsed() < Duration::from_secs(9) {
        let at = Instant::now();
        api.send(bystander, "during the flood", &format!("flood-{n}")).await?;
        sends.push(at.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((flood.await?, closed.await?, sends))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // The nearest-rank percentile; the index is within the slice by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[allow(clippy::cast_precision_loss)]
fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

/// Server CPU time per operation, in microseconds (10 ms resolution over the whole phase).
fn cpu_per(cpu: Duration, count: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let micros = cpu.as_secs_f64() * 1e6 / count.max(1) as f64;
    format!("{micros:.0} µs")
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let secs = env_number("NATTER_BENCH_SECS", 5).clamp(1, 60);
    let wanted_sockets = env_number("NATTER_BENCH_SOCKETS", 10_000).clamp(1, 50_000);
    let dir = tempfile::tempdir()?;
    let (database_url, kind) = match std::env::var("NATTER_BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, "postgres"),
        _ => (format!("sqlite://{}", dir.path().join("bench.db").display()), "sqlite"),
    };
    let token = website_token(&database_url, dir.path())?;
    let server = Server::start(&database_url, dir.path())?;
    let api = Api {
        http: reqwest::Client::builder().pool_max_idle_per_host(SENDERS).build()?,
        base: server.base.clone(),
        token,
    };
    println!("natter-server load benchmark: {kind}, loopback, {secs} s per throughput phase");

    let mut sessions = Vec::new();
    for i in 0..SENDERS {
        sessions.push(api.session(&format!("bench-sender-{i}")).await?);
    }

    let send_api = api.clone();
    let cpu_before = server.cpu()?;
    let (stored, refused, elapsed) = for_a_while(&sessions, secs, move |session, n| {
        let api = send_api.clone();
        async move { api.send(&session, "benchmark message", &format!("{}-{n}", session.session_id)).await }
    })
    .await;
    let store_rate = per_second(stored, elapsed);
    let store_cpu = server.cpu()?.saturating_sub(cpu_before);
    let store_target = if kind == "sqlite" { 25_000.0 } else { 10_000.0 };

    let poll_api = api.clone();
    let cpu_before = server.cpu()?;
    let (polled, poll_failed, elapsed) = for_a_while(&sessions, secs, move |session, _| {
        let api = poll_api.clone();
        async move { api.poll(&session, i64::from(u32::MAX)).await }
    })
    .await;
    let poll_rate = per_second(polled, elapsed);
    let poll_cpu = server.cpu()?.saturating_sub(cpu_before);

    // Many idle subscribed sockets, one session each, as visitors' widgets would be.
    let rss_before = server.rss()?;
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let mut listeners = Vec::new();
    let mut socket_sessions = Vec::new();
    let opening = Instant::now();
    for i in 0..wanted_sockets {
        if opening.elapsed() > Duration::from_secs(120) {
            break;
        }
        let session = api.session(&format!("bench-visitor-{i}")).await?;
        let from = 1 + u8::try_from(i % u64::from(SOURCE_ADDRESSES))?;
        match subscriber(&server.host, from, &session, arrivals_tx.clone()).await {
            Ok(listener) => {
                listeners.push(listener);
                socket_sessions.push(session);
            }
            Err(e) => {
                println!("  stopped opening sockets at {i}: {e}");
                break;
            }
        }
    }
    let sockets = listeners.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = server.rss()?;
    let per_socket = rss_after.saturating_sub(rss_before) / u64::try_from(sockets.max(1))?;

    // Delivery: one message at a time to a spread of the subscribed sessions.
    let mut latencies = Vec::new();
    let mut stored_in = Vec::new();
    let mut missed = 0;
    for k in 0..LATENCY_SAMPLES.min(sockets) {
        let session = &socket_sessions[(k * 7919) % sockets];
        let echo = format!("latency-{k}");
        let sent = Instant::now();
        if !api.send(session, "latency probe", &echo).await? {
            missed += 1;
            continue;
        }
        stored_in.push(sent.elapsed());
        let arrived = tokio::time::timeout(PATIENCE, async {
            while let Some((seen, at)) = arrivals.recv().await {
                if seen == echo {
                    return Some(at);
                }
            }
            None
        })
        .await;
        match arrived {
            Ok(Some(at)) => latencies.push(at - sent),
            _ => missed += 1,
        }
    }
    latencies.sort();
    stored_in.sort();
    for listener in &listeners {
        listener.abort();
    }

    let (wrong_logins, limited_logins, mut health) = login_flood(&api).await?;
    health.sort();
    let (flood_frames, flood_closed, mut sends_during) = frame_flood(&api, &server.host, &sessions[0]).await?;
    sends_during.sort();

    println!();
    println!("{:<52} {:>14}  target", "measure", "figure");
    println!("{:<52} {:>14.0}  >= {store_target:.0}", format!("stored messages/s ({SENDERS} senders)"), store_rate);
    println!("{:<52} {:>14}", "  server CPU per stored message", cpu_per(store_cpu, stored));
    println!("{:<52} {:>14.0}  >= 30000", format!("polling requests/s ({SENDERS} pollers)"), poll_rate);
    println!("{:<52} {:>14}", "  server CPU per poll", cpu_per(poll_cpu, polled));
    println!(
        "{:<52} {:>14}  p99 <= 10 ms",
        format!("send -> subscriber delivery p50 / p99 ({sockets} sockets)"),
        format!("{:.2} / {:.2} ms", millis(percentile(&latencies, 50.0)), millis(percentile(&latencies, 99.0)))
    );
    println!(
        "{:<52} {:>14}",
        "  of which the send request p50 / p99",
        format!("{:.2} / {:.2} ms", millis(percentile(&stored_in, 50.0)), millis(percentile(&stored_in, 99.0)))
    );
    println!(
        "{:<52} {:>14}  <= 8 KB",
        "server memory per idle subscribed socket",
        format!("{:.1} KB", kib(per_socket))
    );
    println!(
        "{:<52} {:>14}",
        format!("/healthz p50 / p99 during {wrong_logins} wrong logins"),
        format!("{:.2} / {:.2} ms", millis(percentile(&health, 50.0)), millis(percentile(&health, 99.0)))
    );
    println!("{:<52} {:>14}", "  of the logins answered 429", limited_logins);
    println!(
        "{:<52} {:>14}",
        "send p50 / p99 while one socket floods frames",
        format!("{:.2} / {:.2} ms", millis(percentile(&sends_during, 50.0)), millis(percentile(&sends_during, 99.0)))
    );
    println!(
        "{:<52} {:>14}",
        "  the flooding socket",
        format!("{flood_frames} frames, {}", if flood_closed { "closed 1008" } else { "not closed" })
    );
    println!();
    println!(
        "refused or failed: {refused} sends, {poll_failed} polls, {missed} of {} latency probes",
        LATENCY_SAMPLES.min(sockets)
    );
    println!("client and server share this machine's cores, so throughput figures are a floor;");
    println!("server CPU per operation tells what the server alone would sustain on its cores");
    Ok(())
}
