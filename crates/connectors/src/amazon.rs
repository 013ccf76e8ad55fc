//! Amazon's Selling Partner API. Orders v0: `getOrders` by `LastUpdatedAfter` and
//! `LastUpdatedBefore`, paged by `NextToken` (follow-up pages send only the token and the
//! marketplaces), then `getOrderItems` for each order. Listings Items 2021-08-01: each
//! listing's quantity, as Ordo can sell it. Access tokens come from Login with
//! Amazon's refresh-token exchange and are renewed when the API says one expired.

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, ListingLevel, PollTarget, PolledOrder, PolledPage, PushError, StockPusher, StockReader};
use ordo_channels::amazon::{order_version, ItemsPage, OrdersPage};
use reqwest::StatusCode;
use serde_json::value::RawValue;
use tokio::sync::Mutex;

use crate::http::{Answer, Http};
use crate::{credential, required};

const DEFAULT_BASE: &str = "https://sellingpartnerapi-eu.amazon.com";
const DEFAULT_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";
/// The most item pages of one order followed.
const MAX_ITEM_PAGES: usize = 50;

pub struct AmazonFeed {
    pub(crate) http: Http,
    pub(crate) base: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    pub(crate) marketplaces: String,
    pub(crate) token: Mutex<Option<String>>,
    /// `getOrders`' usage plan as Amazon states it.
    orders_plan: std::sync::Mutex<UsagePlan>,
    /// `getOrderItems`' usage plan as Amazon states it.
    items_plan: std::sync::Mutex<UsagePlan>,
}

/// One operation's usage plan: a bucket of `burst` calls, refilled at the rate Amazon states
/// in each answer's `x-amzn-RateLimit-Limit` (calls a second; a seller's plan may differ from
/// the documented one). Calls are paced to it, so Amazon seldom has to answer 429. Until
/// Amazon has stated a rate, nothing is paced.
#[derive(Debug)]
struct UsagePlan {
    burst: f64,
    rate: Option<f64>,
    /// Calls left in the bucket at `at`; below zero, calls already promised a later turn.
    tokens: f64,
    at: std::time::Instant,
}

impl UsagePlan {
    /// A plan with the operation's documented burst (`getOrders` 20, `getOrderItems` 30).
    fn new(burst: f64) -> UsagePlan {
        UsagePlan { burst, rate: None, tokens: burst, at: std::time::Instant::now() }
    }

    /// Takes a call's turn: how long to wait before making it.
    fn take(&mut self, now: std::time::Instant) -> std::time::Duration {
        let Some(rate) = self.rate else {
            // The burst is being spent all the same.
            self.tokens = (self.tokens - 1.0).max(0.0);
            self.at = now;
            return std::time::Duration::ZERO;
        };
        self.tokens = (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(self.burst);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 { std::time::Duration::ZERO } else { std::time::Duration::from_secs_f64(-self.tokens / rate) }
    }

    /// Reads the rate an answer states; a missing or nonsensical one changes nothing.
    fn observe(&mut self, headers: &reqwest::header::HeaderMap) {
        if let Some(rate) = crate::http::stated_rate(headers) {
            self.rate = Some(rate);
        }
    }
}

impl AmazonFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<AmazonFeed, String> {
        Ok(AmazonFeed {
            http,
            base: target.base_url.clone().unwrap_or_else(|| DEFAULT_BASE.to_owned()),
            token_url: credential(target, "token_url").unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned()),
            client_id: required(target, "client_id")?,
            client_secret: required(target, "client_secret")?,
            refresh_token: required(target, "refresh_token")?,
            marketplaces: required(target, "marketplace_ids")?,
            token: Mutex::new(None),
            orders_plan: std::sync::Mutex::new(UsagePlan::new(20.0)),
            items_plan: std::sync::Mutex::new(UsagePlan::new(30.0)),
        })
    }

    /// A fresh access token from the refresh token.
    pub(crate) async fn renew(&self) -> Result<String, FeedError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        let answer = self.http.send("Login with Amazon", |c| c.post(&self.token_url).form(&form)).await?;
        if !answer.status.is_success() {
            return Err(FeedError::Unauthorized(format!("Login with Amazon answered {}", answer.status)));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
        }
        let token: Token = serde_json::from_slice(&answer.body).map_err(|e| FeedError::Failed(format!("Login with Amazon's answer: {e}")))?;
        *self.token.lock().await = Some(token.access_token.clone());
        Ok(token.access_token)
    }

    /// GETs `url` in its turn under `plan`, with a token renewed once if the API says it
    /// expired.
    async fn get(&self, what: &str, plan: &std::sync::Mutex<UsagePlan>, url: &str, query: &[(&str, String)]) -> Result<Vec<u8>, FeedError> {
        let mut renewed = false;
        loop {
            let wait = plan.lock().map_or(std::time::Duration::ZERO, |mut plan| plan.take(std::time::Instant::now()));
            if !wait.is_zero() {
                tracing::debug!(what, ?wait, "paced to Amazon's usage plan");
                tokio::time::sleep(wait).await;
            }
            // The guard goes before renewing, which takes the lock itself.
            let current = self.token.lock().await.clone();
            let token = match current {
                Some(token) => token,
                None => {
                    renewed = true;
                    self.renew().await?
                }
            };
            let Answer { status, body, headers } =
                self.http.send(what, |c| c.get(url).query(query).header("x-amz-access-token", &token).header("accept", "application/json")).await?;
            if let Ok(mut plan) = plan.lock() {
                plan.observe(&headers);
            }
            if (status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED) && !renewed {
                // An expired access token: renew it once and ask again.
                *self.token.lock().await = None;
                renewed = true;
                self.renew().await?;
                continue;
            }
            if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
                return Err(FeedError::Unauthorized(format!("{what} answered {status}")));
            }
            if !status.is_success() {
                return Err(FeedError::Failed(format!("{what} answered {status}: {}", String::from_utf8_lossy(&body).chars().take(300).collect::<String>())));
            }
            return Ok(body);
        }
    }

    pub async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        let url = format!("{}/orders/v0/orders", self.base);
        let query: Vec<(&str, String)> = match token {
            Some(token) => vec![("NextToken", token.to_owned()), ("MarketplaceIds", self.marketplaces.clone())],
            None => vec![
                ("MarketplaceIds", self.marketplaces.clone()),
                ("LastUpdatedAfter", since.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("LastUpdatedBefore", until.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("MaxResultsPerPage", "100".to_owned()),
            ],
        };
        let body = self.get("getOrders", &self.orders_plan, &url, &query).await?;
        let page: OrdersPage = serde_json::from_slice(&body).map_err(|e| FeedError::Failed(format!("getOrders' answer: {e}")))?;
        let mut orders = Vec::with_capacity(page.payload.orders.len());
        for raw in page.payload.orders {
            let (external_id, version) = order_version(raw.get().as_bytes()).map_err(|e| FeedError::Failed(format!("getOrders' answer: {}: {}", e.field, e.message)))?;
            let items = self.items(&external_id).await?;
            let body = format!("{{\"order\":{},\"items\":[{}]}}", raw.get(), items.iter().map(|i| i.get()).collect::<Vec<_>>().join(","));
            orders.push(PolledOrder { external_id, version, body: body.into_bytes() });
        }
        Ok(PolledPage { orders, next: page.payload.next_token.filter(|t| !t.is_empty()) })
    }

    /// Every item of an order, across its pages.
    async fn items(&self, order_id: &str) -> Result<Vec<Box<RawValue>>, FeedError> {
        let url = format!("{}/orders/v0/orders/{order_id}/orderItems", self.base);
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_ITEM_PAGES {
            let query: Vec<(&str, String)> = next.iter().map(|t| ("NextToken", t.clone())).collect();
            let body = self.get("getOrderItems", &self.items_plan, &url, &query).await?;
            let page: ItemsPage = serde_json::from_slice(&body).map_err(|e| FeedError::Failed(format!("getOrderItems' answer: {e}")))?;
            items.extend(page.payload.order_items);
            next = page.payload.next_token.filter(|t| !t.is_empty());
            if next.is_none() {
                break;
            }
        }
        Ok(items)
    }
}

/// Tells Amazon a listing's quantity with the Listings Items API (`patchListingsItem`, one
/// SKU a call, replacing `fulfillment_availability` for the merchant's own fulfilment), paced
/// to the operation's documented rate of five calls a second.
pub struct AmazonStock {
    feed: AmazonFeed,
    seller_id: String,
    marketplace: String,
    last_call: Mutex<Option<std::time::Instant>>,
}

/// The least time between two `patchListingsItem` calls: five a second.
const PATCH_PACE: std::time::Duration = std::time::Duration::from_millis(200);

impl AmazonStock {
    pub fn new(http: Http, target: &PollTarget) -> Result<AmazonStock, String> {
        let feed = AmazonFeed::new(http, target)?;
        let marketplace = feed.marketplaces.split(',').next().unwrap_or_default().trim().to_owned();
        Ok(AmazonStock { seller_id: required(target, "seller_id")?, marketplace, feed, last_call: Mutex::new(None) })
    }

    async fn pace(&self) {
        let mut last = self.last_call.lock().await;
        if let Some(at) = *last {
            let since = at.elapsed();
            if since < PATCH_PACE {
                tokio::time::sleep(PATCH_PACE - since).await;
            }
        }
        *last = Some(std::time::Instant::now());
    }

    /// Sets one SKU's quantity: `Ok(Err(why))` when Amazon refused this listing.
    pub async fn set_quantity(&self, sku: &str, quantity: i64) -> Result<Result<(), String>, PushError> {
        let url = self.listing_url(sku)?;
        let body = serde_json::json!({
            "productType": "PRODUCT",
            "patches": [{
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }],
        });
        self.pace().await;
        let answer = self.feed.call_once("patchListingsItem", |c, token| c.patch(url.clone()).header("x-amz-access-token", token).json(&body)).await?;
        Ok(listing_answer(answer.status, &answer.body))
    }

    /// What the listing of `sku` shows as available (merchant-fulfilled); none when Amazon
    /// has no such listing.
    pub async fn quantity(&self, sku: &str) -> Result<Option<i64>, PushError> {
        let mut url = self.listing_url(sku)?;
        url.query_pairs_mut().append_pair("includedData", "fulfillmentAvailability");
        self.pace().await;
        let answer = self.feed.call_once("getListingsItem", |c, token| c.get(url.clone()).header("x-amz-access-token", token)).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(PushError::Failed(format!("getListingsItem answered {}: {}", answer.status, crate::http::excerpt(&answer.body))));
        }
        let item: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|e| PushError::Failed(format!("getListingsItem's answer: {e}")))?;
        Ok(item["fulfillmentAvailability"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["fulfillmentChannelCode"] == "DEFAULT")
            .map(|a| a["quantity"].as_i64().unwrap_or(0)))
    }

    /// The Listings Items address of `sku`, in the connector's marketplace.
    fn listing_url(&self, sku: &str) -> Result<reqwest::Url, PushError> {
        let mut url = reqwest::Url::parse(&self.feed.base).map_err(|e| PushError::Failed(format!("the connector's base_url: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| PushError::Failed("the connector's base_url cannot take a path".to_owned()))?
            .extend(["listings", "2021-08-01", "items", self.seller_id.as_str(), sku]);
        url.query_pairs_mut().append_pair("marketplaceIds", &self.marketplace);
        Ok(url)
    }
}

impl AmazonFeed {
    /// Sends what `build` makes with the access token, once (renewed once when Amazon refuses
    /// it): Amazon's answer to the request, or why to try later.
    pub(crate) async fn call_once(&self, what: &str, build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder) -> Result<Answer, PushError> {
        let mut renewed = false;
        loop {
            let current = self.token.lock().await.clone();
            let token = match current {
                Some(token) => token,
                None => {
                    renewed = true;
                    self.renew().await.map_err(feed_to_push)?
                }
            };
            let answer = self.http.send_once(what, |c| build(c, &token)).await.map_err(PushError::Failed)?;
            if matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) && !renewed {
                *self.token.lock().await = None;
                continue;
            }
            return crate::http::outbound(what, answer, std::time::Duration::from_secs(1));
        }
    }
}

impl StockReader for AmazonStock {
    async fn read(&self, channel_skus: &[String]) -> Result<std::collections::HashMap<String, i64>, PushError> {
        let mut shows = std::collections::HashMap::new();
        for sku in channel_skus {
            if let Some(quantity) = self.quantity(sku).await? {
                shows.insert(sku.clone(), quantity);
            }
        }
        Ok(shows)
    }
}

/// What Amazon said of one listing: `ACCEPTED`, or why not (its issues, or the error).
fn listing_answer(status: StatusCode, body: &[u8]) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Issue {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        status: String,
        #[serde(default)]
        issues: Vec<Issue>,
        #[serde(default)]
        errors: Vec<Issue>,
    }
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    if status.is_success() && answer.as_ref().is_some_and(|a| a.status == "ACCEPTED") {
        return Ok(());
    }
    let reasons: Vec<String> = answer
        .map(|a| a.issues.into_iter().chain(a.errors).map(|i| format!("{}: {}", i.code, i.message)).collect())
        .unwrap_or_default();
    match reasons.is_empty() {
        true => Err(format!("patchListingsItem answered {status}: {}", String::from_utf8_lossy(body).chars().take(300).collect::<String>())),
        false => Err(format!("patchListingsItem answered {status}: {}", reasons.join("; "))),
    }
}

fn feed_to_push(error: FeedError) -> PushError {
    match error {
        FeedError::Unauthorized(why) => PushError::Unauthorized(why),
        FeedError::Failed(why) => PushError::Failed(why),
    }
}

impl StockPusher for AmazonStock {
    fn batch_size(&self) -> usize {
        1
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        let mut answers = Vec::with_capacity(levels.len());
        for level in levels {
            answers.push(self.set_quantity(&level.channel_sku, level.quantity).await?);
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn calls_are_paced_to_the_rate_amazon_states_after_its_burst() {
        let start = Instant::now();
        let mut plan = UsagePlan::new(2.0);
        assert_eq!(plan.take(start), Duration::ZERO, "no rate stated yet: nothing paced");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-amzn-ratelimit-limit", "nonsense".parse().unwrap());
        plan.observe(&headers);
        assert_eq!(plan.rate, None);
        headers.insert("x-amzn-ratelimit-limit", "0.5".parse().unwrap());
        plan.observe(&headers);
        // One call of the burst of two is left; then one call every two seconds, in turn.
        assert_eq!(plan.take(start), Duration::ZERO);
        assert_eq!(plan.take(start), Duration::from_secs(2));
        assert_eq!(plan.take(start), Duration::from_secs(4), "a second waiting caller takes the next turn");
        // Ten seconds later the debt is paid and one call has come back, never more than the burst.
        assert_eq!(plan.take(start + Duration::from_secs(10)), Duration::ZERO);
        assert_eq!(plan.take(start + Duration::from_secs(100)), Duration::ZERO);
        assert_eq!(plan.take(start + Duration::from_secs(100)), Duration::ZERO);
        assert_eq!(plan.take(start + Duration::from_secs(100)), Duration::from_secs(2));
    }

    #[test]
    fn amazons_answer_names_why_a_listing_was_refused() {
        assert_eq!(listing_answer(StatusCode::OK, br#"{"sku":"MUG-1","status":"ACCEPTED","submissionId":"f1","issues":[]}"#), Ok(()));
        let invalid = br#"{"sku":"MUG-1","status":"INVALID","issues":[{"code":"90220","message":"'quantity' is required","severity":"ERROR"}]}"#;
        assert_eq!(listing_answer(StatusCode::OK, invalid), Err("patchListingsItem answered 200 OK: 90220: 'quantity' is required".to_owned()));
        let unknown = br#"{"errors":[{"code":"NOT_FOUND","message":"SKU not found"}]}"#;
        assert_eq!(listing_answer(StatusCode::NOT_FOUND, unknown), Err("patchListingsItem answered 404 Not Found: NOT_FOUND: SKU not found".to_owned()));
    }
}
