//! Counters for `/metrics`, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub sockets_open: AtomicI64,
    pub messages_stored: AtomicU64,
    requests: AtomicU64,
    latency_sum_micros: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
}

impl Metrics {
    /// Records one finished HTTP request.
    pub fn observe_request(&self, elapsed: Duration) {
        self.requests.fetch_add(1, Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Relaxed);
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
    }

    /// The Prometheus exposition text.
    pub fn render(&self, active_sessions: usize) -> String {
        let mut out = String::new();
        let requests = self.requests.load(Relaxed);
        let _ =
            writeln!(out, "# HELP natter_websockets_open Open /ws connections.\n# TYPE natter_websockets_open gauge");
        let _ = writeln!(out, "natter_websockets_open {}", self.sockets_open.load(Relaxed));
        let _ = writeln!(out, "# HELP natter_sessions_subscribed Sessions with a live subscriber.\n# TYPE natter_sessions_subscribed gauge");
        let _ = writeln!(out, "natter_sessions_subscribed {active_sessions}");
        let _ = writeln!(out, "# HELP natter_messages_stored_total Messages stored since start.\n# TYPE natter_messages_stored_total counter");
        let _ = writeln!(out, "natter_messages_stored_total {}", self.messages_stored.load(Relaxed));
        let _ = writeln!(
            out,
            "# HELP natter_http_request_duration_seconds HTTP request latency.\n# TYPE natter_http_request_duration_seconds histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ =
                writeln!(out, "natter_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}", bucket.load(Relaxed));
        }
        let _ = writeln!(out, "natter_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {requests}");
        let sum = self.latency_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "natter_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "natter_http_request_duration_seconds_count {requests}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_every_bucket_at_or_above_it() {
        let m = Metrics::default();
        m.observe_request(Duration::from_millis(7));
        let text = m.render(0);
        assert!(text.contains("le=\"0.005\"} 0"), "{text}");
        assert!(text.contains("le=\"0.01\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 1"), "{text}");
        assert!(text.contains("natter_http_request_duration_seconds_count 1"), "{text}");
    }
}
