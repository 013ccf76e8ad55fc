//! Amazon's Selling Partner API, Orders v0: `getOrders` by `LastUpdatedAfter` and
//! `LastUpdatedBefore`, paged by `NextToken` (follow-up pages send only the token and the
//! marketplaces), then `getOrderItems` for each order. Access tokens come from Login with
//! Amazon's refresh-token exchange and are renewed when the API says one expired.

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, PollTarget, PolledOrder, PolledPage};
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
    http: Http,
    base: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    marketplaces: String,
    token: Mutex<Option<String>>,
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
        })
    }

    /// A fresh access token from the refresh token.
    async fn renew(&self) -> Result<String, FeedError> {
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

    /// GETs `url`, with a token renewed once if the API says it expired.
    async fn get(&self, what: &str, url: &str, query: &[(&str, String)]) -> Result<Vec<u8>, FeedError> {
        let mut renewed = false;
        loop {
            // The guard goes before renewing, which takes the lock itself.
            let current = self.token.lock().await.clone();
            let token = match current {
                Some(token) => token,
                None => {
                    renewed = true;
                    self.renew().await?
                }
            };
            let Answer { status, body, .. } =
                self.http.send(what, |c| c.get(url).query(query).header("x-amz-access-token", &token).header("accept", "application/json")).await?;
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
        let body = self.get("getOrders", &url, &query).await?;
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
            let body = self.get("getOrderItems", &url, &query).await?;
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
