//! Notifications: the messages Ordo sends when something happens that a customer or another
//! system must hear about, where they go, and how delivery keeps trying.
//!
//! A message is written to the outbox in the same transaction as the event that causes it, one
//! per endpoint subscribed to its topic, and delivered after commit. A failed delivery waits
//! longer each time ([`RetryPolicy`]); after the last try it is dead and needs a person.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::FieldError;

/// What happened, as subscribers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    OrderConfirmed,
    OrderDispatched,
    OrderDelayed,
    ReturnAuthorized,
    RefundIssued,
    ReplacementShipped,
    /// A notification rule's condition held for an order.
    RuleTriggered,
    /// An exception went past its due time and moved to the next role on its path: for the
    /// team's chat or pager.
    ExceptionEscalated,
}

impl Topic {
    pub const ALL: [Topic; 8] = [
        Topic::OrderConfirmed,
        Topic::OrderDispatched,
        Topic::OrderDelayed,
        Topic::ReturnAuthorized,
        Topic::RefundIssued,
        Topic::ReplacementShipped,
        Topic::RuleTriggered,
        Topic::ExceptionEscalated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::OrderConfirmed => "order_confirmed",
            Topic::OrderDispatched => "order_dispatched",
            Topic::OrderDelayed => "order_delayed",
            Topic::ReturnAuthorized => "return_authorized",
            Topic::RefundIssued => "refund_issued",
            Topic::ReplacementShipped => "replacement_shipped",
            Topic::RuleTriggered => "rule_triggered",
            Topic::ExceptionEscalated => "exception_escalated",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Topic, FieldError> {
        Topic::ALL.into_iter().find(|t| t.as_str() == value).ok_or_else(|| {
            let names: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }
}

/// How an endpoint receives its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// An HTTP POST of the message, signed with the endpoint's secret.
    Webhook,
    /// A line in the server's notification log: for the demo and for trying things out.
    Log,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Webhook => "webhook",
            Transport::Log => "log",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Transport, FieldError> {
        match value {
            "webhook" => Ok(Transport::Webhook),
            "log" => Ok(Transport::Log),
            _ => Err(FieldError::new(field, "must be webhook or log")),
        }
    }
}

/// Somewhere messages go, and which of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub code: String,
    pub transport: Transport,
    /// Where a webhook posts to; `None` for the log.
    pub url: Option<String>,
    /// The topics it hears; empty means all of them.
    pub topics: Vec<Topic>,
    pub active: bool,
}

impl Endpoint {
    pub fn hears(&self, topic: Topic) -> bool {
        self.active && (self.topics.is_empty() || self.topics.contains(&topic))
    }
}

/// Checks a webhook address: `https://` (or `http://`), a host, nothing that is not printable
/// ASCII.
pub fn validate_url(field: &str, url: &str) -> Result<(), FieldError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    if url.len() > 2000 || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(field, "must be at most 2000 printable ASCII characters"));
    }
    match host {
        Some(host) if !host.is_empty() && !host.starts_with(':') => Ok(()),
        _ => Err(FieldError::new(field, "must be an https:// or http:// address with a host")),
    }
}

/// Where a message stands: pending until delivered, or dead after every try failed; a person
/// may replay a dead one, which makes it pending again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) try.
    Pending,
    Delivered,
    /// Every try failed; it waits for a person to replay it.
    Dead,
}

named!(DeliveryStatus, "a status", { Pending => "pending", Delivered => "delivered", Dead => "dead" });

impl DeliveryStatus {
    pub fn can_become(self, next: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        matches!((self, next), (Pending, Delivered | Dead) | (Dead, Pending))
    }
}

/// How long to wait before each next try, and when to stop.
///
/// The wait doubles with every failure up to `cap`; jitter takes up to a quarter off it so
/// that endpoints coming back are not hit by every waiting message at once, yet each wait is
/// still longer than the one before until the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_wait: chrono::Duration,
    pub cap: chrono::Duration,
    /// Tries in all, the first included; after the last failure the message is dead.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { first_wait: chrono::Duration::seconds(10), cap: chrono::Duration::hours(6), max_attempts: 10 }
    }
}

/// What a failed try leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    Dead,
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure (1 for the first); `jitter` is a random
    /// number, of which only its spread matters.
    pub fn wait(&self, failures: u32, jitter: u64) -> chrono::Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let full = self.first_wait.num_milliseconds().saturating_mul(1_i64 << doublings).min(self.cap.num_milliseconds());
        let quarter = (full / 4).max(1);
        let off = i64::try_from(jitter % quarter.unsigned_abs()).unwrap_or(0);
        chrono::Duration::milliseconds(full - off)
    }

    /// What follows the `failures`-th failure at `now`.
    pub fn after_failure(&self, failures: u32, now: DateTime<Utc>, jitter: u64) -> AfterFailure {
        if failures >= self.max_attempts {
            AfterFailure::Dead
        } else {
            AfterFailure::RetryAt(now + self.wait(failures, jitter))
        }
    }
}

/// The message a subscriber receives, as JSON: the same bytes on every try, so the signature
/// and the delivery id stay the same and the receiver can drop a second copy.
pub fn message_body(
    delivery_id: uuid::Uuid,
    topic: Topic,
    subject: &str,
    occurred_at: DateTime<Utc>,
    data: &serde_json::Value,
) -> String {
    serde_json::json!({
        "delivery_id": delivery_id,
        "topic": topic.as_str(),
        "subject": subject,
        "occurred_at": occurred_at,
        "data": data,
    })
    .to_string()
}

/// The header value a webhook carries: `sha256=` and the hex HMAC-SHA256 of the body under the
/// endpoint's secret. A receiver computes the same over the bytes it got and compares.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: the error arm is for MACs with fixed-size keys.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::from("sha256=");
    };
    mac.update(body);
    format!("sha256={}", crate::hex(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn each_wait_is_longer_than_the_last_until_the_cap() {
        let policy = RetryPolicy { first_wait: chrono::Duration::seconds(10), cap: chrono::Duration::minutes(5), max_attempts: 8 };
        for jitter in [0, 1, 1234, 2499, 987_654_321, u64::MAX] {
            let waits: Vec<i64> = (1..=5).map(|n| policy.wait(n, jitter).num_milliseconds()).collect();
            assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
            assert!(waits[0] > 7_500 && waits[0] <= 10_000, "{waits:?}");
            assert!(policy.wait(12, jitter) <= chrono::Duration::minutes(5));
            assert!(policy.wait(12, jitter) > chrono::Duration::seconds(225));
        }
    }

    #[test]
    fn the_last_failure_is_dead() {
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        let now = Utc::now();
        assert!(matches!(policy.after_failure(2, now, 7), AfterFailure::RetryAt(at) if at > now));
        assert_eq!(policy.after_failure(3, now, 7), AfterFailure::Dead);
    }

    #[test]
    fn a_webhook_needs_a_web_address() {
        assert!(validate_url("url", "http://127.0.0.1:8080/hooks").is_ok());
        assert!(validate_url("url", "https://hooks.example.com/ordo").is_ok(), "sent over TLS");
        for bad in ["ftp://x", "http://", "http:///path", "http://:80/x", "https://exa mple.com", "example.com"] {
            assert_eq!(validate_url("url", bad).map_err(|e| e.field), Err("url".to_owned()), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_address_makes_the_check_panic(url in "\\PC{0,80}") {
            let _ = validate_url("url", &url);
            let _ = validate_url("url", &format!("http://{url}"));
        }
    }

    #[test]
    fn topics_read_back_from_their_names() {
        for topic in Topic::ALL {
            assert_eq!(Topic::parse("topic", topic.as_str()), Ok(topic));
        }
        assert!(Topic::parse("topics[0]", "order_lost").is_err());
    }
}
