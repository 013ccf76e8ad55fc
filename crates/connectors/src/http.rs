//! The HTTP client every feed shares: rustls, timeouts, and the channels' rate limits.

use std::time::Duration;

use ordo_app::FeedError;
use reqwest::{RequestBuilder, StatusCode};

/// How long one call may take, all of it.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries of one call before the page is given up until the next poll.
const TRIES: u32 = 6;
/// The longest a rate limit is waited out within one call.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// A channel's answer: its status, headers and body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new() -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("Ordo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTPS client: {e}"))?;
        Ok(Http { client })
    }

    /// Posts `body` as JSON to `url` (an audit checkpoint to the place that keeps them, say),
    /// tried again like any call; an error unless the answer is 2xx.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<(), String> {
        let answer = self.send(url, |client| client.post(url).json(body)).await.map_err(|e| e.to_string())?;
        if !answer.status.is_success() {
            return Err(format!("{url} answered {}", answer.status));
        }
        Ok(())
    }

    /// [`Http::send`], with Shopify's `Link` header of the answer.
    pub(crate) async fn send_with_link(&self, what: &str, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<(Answer, Option<String>), FeedError> {
        self.send_with_header(what, "link", build).await
    }

    /// [`Http::send`], with one header of the answer.
    pub(crate) async fn send_with_header(
        &self,
        what: &str,
        header: &str,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<(Answer, Option<String>), FeedError> {
        let answer = self.send(what, build).await?;
        let value = answer.headers.get(header).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((answer, value))
    }

    /// Sends the request `build` makes, again after a 429 (waiting as the channel asks) or a
    /// 5xx or a failed connection (waiting longer each time). Any other answer is returned.
    pub(crate) async fn send(&self, what: &str, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<Answer, FeedError> {
        let mut wait = Duration::from_millis(200);
        let mut last = String::new();
        for _ in 0..TRIES {
            match build(&self.client).send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let pause = rate_limit_wait(&headers).unwrap_or(wait).min(MAX_WAIT);
                        tracing::debug!(what, ?pause, "rate limited");
                        last = format!("{what}: 429 Too Many Requests");
                        tokio::time::sleep(pause).await;
                        wait = (wait * 2).min(MAX_WAIT);
                        continue;
                    }
                    if status.is_server_error() {
                        last = format!("{what}: {status}");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(MAX_WAIT);
                        continue;
                    }
                    return Ok(Answer { status, headers, body });
                }
                Err(e) => {
                    last = format!("{what}: {e}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_WAIT);
                }
            }
        }
        Err(FeedError::Failed(last))
    }
}

impl Http {
    /// Sends the request `build` makes once, whatever the answer: for pushes, whose caller
    /// decides when to try again (a retry here could outlive the caller's lease).
    pub(crate) async fn send_once(&self, what: &str, build: impl Fn(&reqwest::Client) -> RequestBuilder) -> Result<Answer, String> {
        let response = build(&self.client).send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| format!("{what}: {e}"))?.to_vec();
        Ok(Answer { status, headers, body })
    }
}

/// A one-try call's answer as a push sees it: the channel's own answer to the request (a
/// 2xx, or a 4xx about the request), or why to try later: refused credentials, a 429 (as
/// long as it asks, else `default_wait`), a 5xx.
pub(crate) fn outbound(what: &str, answer: Answer, default_wait: Duration) -> Result<Answer, ordo_app::PushError> {
    use ordo_app::PushError;
    let status = answer.status;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(PushError::Unauthorized(format!("{what} answered {status}")));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(PushError::Throttled(rate_limit_wait(&answer.headers).unwrap_or(default_wait)));
    }
    if status.is_server_error() {
        return Err(PushError::Failed(format!("{what} answered {status}: {}", excerpt(&answer.body))));
    }
    Ok(answer)
}

/// [`outbound`], and a failure unless the answer is a 2xx: for calls whose every refusal is
/// one (a page of products, a GraphQL query).
pub(crate) fn success(what: &str, answer: Answer, default_wait: Duration) -> Result<Answer, ordo_app::PushError> {
    let answer = outbound(what, answer, default_wait)?;
    if !answer.status.is_success() {
        return Err(ordo_app::PushError::Failed(format!("{what} answered {}: {}", answer.status, excerpt(&answer.body))));
    }
    Ok(answer)
}

/// The start of a channel's answer, for a message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

/// How long a 429 asks to wait: `Retry-After` in seconds (Shopify writes `2.0`) or as an HTTP
/// date, else one request's share of Amazon's `x-amzn-RateLimit-Limit` (requests a second).
pub(crate) fn rate_limit_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(after) = headers.get("retry-after").and_then(|v| v.to_str().ok()).map(str::trim) {
        if let Ok(seconds) = after.parse::<f64>() {
            return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(MAX_WAIT.as_secs_f64())));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(after) {
            let wait = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default();
            return Some(wait.min(MAX_WAIT));
        }
    }
    let rate = stated_rate(headers)?;
    Some(Duration::from_secs_f64((1.0 / rate).min(MAX_WAIT.as_secs_f64())))
}

/// The calls a second Amazon's `x-amzn-RateLimit-Limit` states; none when missing or
/// nonsensical.
pub(crate) fn stated_rate(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    let rate: f64 = headers.get("x-amzn-ratelimit-limit")?.to_str().ok()?.trim().parse().ok()?;
    (rate > 0.0 && rate.is_finite()).then_some(rate)
}

/// Webhooks out (the outbox's messages) over the same client: HTTPS with rustls, or plain
/// HTTP where the endpoint says so; one try, the outbox retries.
impl ordo_app::WebhookClient for Http {
    fn post<'a>(
        &'a self,
        url: &'a str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ordo_app::WebhookAnswer, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut request = self.client.post(url).body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let answer = request.send().await.map_err(|e| e.to_string())?;
            Ok(ordo_app::WebhookAnswer { status: answer.status().as_u16(), reason: answer.status().canonical_reason() })
        })
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_channel_headers() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(rate_limit_wait(&headers), None);
        headers.insert("x-amzn-ratelimit-limit", reqwest::header::HeaderValue::from_static("0.5"));
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", reqwest::header::HeaderValue::from_static("3"));
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after", reqwest::header::HeaderValue::from_static("2.0"));
        assert_eq!(rate_limit_wait(&headers), Some(Duration::from_secs(2)), "as Shopify writes it");
        headers.insert("retry-after", reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(rate_limit_wait(&headers), Some(Duration::ZERO), "a date gone by");
        headers.insert("retry-after", reqwest::header::HeaderValue::from_static("86400"));
        assert_eq!(rate_limit_wait(&headers), Some(MAX_WAIT), "never longer than a call may wait");
    }
}
