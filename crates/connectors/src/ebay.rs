//! eBay's Sell Fulfillment API: `getOrders` filtered by `lastmodifieddate`, paged by the
//! `next` address eBay gives. The user access token comes from the OAuth refresh-token grant
//! (or is given as it is) and is renewed once when eBay refuses it.

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, PollTarget, PolledOrder, PolledPage};
use ordo_channels::ebay::{order_version, OrdersPage};
use reqwest::StatusCode;
use tokio::sync::Mutex;

use crate::http::{Answer, Http};
use crate::{credential, required};

const DEFAULT_BASE: &str = "https://api.ebay.com";
const DEFAULT_TOKEN_URL: &str = "https://api.ebay.com/identity/v1/oauth2/token";
const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly";

pub struct EbayFeed {
    http: Http,
    base: String,
    token_url: String,
    client: Option<(String, String, String)>,
    token: Mutex<Option<String>>,
}

impl EbayFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<EbayFeed, String> {
        let client = match credential(target, "refresh_token") {
            Some(refresh) => Some((required(target, "client_id")?, required(target, "client_secret")?, refresh)),
            None => None,
        };
        let token = credential(target, "access_token");
        if client.is_none() && token.is_none() {
            return Err(format!("the ebay connector of {} needs credentials.refresh_token (with client_id and client_secret) or credentials.access_token", target.channel));
        }
        Ok(EbayFeed {
            http,
            base: target.base_url.clone().unwrap_or_else(|| DEFAULT_BASE.to_owned()),
            token_url: credential(target, "token_url").unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned()),
            client,
            token: Mutex::new(token),
        })
    }

    async fn renew(&self) -> Result<String, FeedError> {
        let Some((id, secret, refresh)) = &self.client else {
            return Err(FeedError::Unauthorized("eBay refused the access token and there is no refresh token to renew it".to_owned()));
        };
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("scope", SCOPE)];
        let answer = self.http.send("eBay OAuth", |c| c.post(&self.token_url).basic_auth(id, Some(secret)).form(&form)).await?;
        if !answer.status.is_success() {
            return Err(FeedError::Unauthorized(format!("eBay OAuth answered {}", answer.status)));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
        }
        let token: Token = serde_json::from_slice(&answer.body).map_err(|e| FeedError::Failed(format!("eBay OAuth's answer: {e}")))?;
        *self.token.lock().await = Some(token.access_token.clone());
        Ok(token.access_token)
    }

    pub async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        let first = format!("{}/sell/fulfillment/v1/order", self.base);
        let filter = format!(
            "lastmodifieddate:[{}..{}]",
            since.to_rfc3339_opts(SecondsFormat::Millis, true),
            until.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        // eBay's `next` is a whole address on its own host; anything else is not followed.
        let url = match token {
            Some(next) if next.starts_with(&self.base) => next.to_owned(),
            Some(next) if next.starts_with('/') => format!("{}{next}", self.base),
            Some(next) => return Err(FeedError::Failed(format!("eBay's next page {next:?} is not on {}", self.base))),
            None => first,
        };
        let query: Vec<(&str, String)> = match token {
            Some(_) => Vec::new(),
            None => vec![("filter", filter), ("limit", "200".to_owned()), ("offset", "0".to_owned())],
        };
        let mut renewed = false;
        let body = loop {
            // The guard goes before renewing, which takes the lock itself.
            let current = self.token.lock().await.clone();
            let access = match current {
                Some(t) => t,
                None => {
                    renewed = true;
                    self.renew().await?
                }
            };
            let Answer { status, body, .. } = self.http.send("getOrders", |c| c.get(&url).query(&query).bearer_auth(&access)).await?;
            if status == StatusCode::UNAUTHORIZED && !renewed {
                *self.token.lock().await = None;
                renewed = true;
                self.renew().await?;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(FeedError::Unauthorized(format!("getOrders answered {status}")));
            }
            if !status.is_success() {
                return Err(FeedError::Failed(format!("getOrders answered {status}")));
            }
            break body;
        };
        let page: OrdersPage = serde_json::from_slice(&body).map_err(|e| FeedError::Failed(format!("getOrders' answer: {e}")))?;
        let mut orders = Vec::with_capacity(page.orders.len());
        for raw in page.orders {
            let (external_id, version) = order_version(raw.get().as_bytes()).map_err(|e| FeedError::Failed(format!("getOrders' answer: {}: {}", e.field, e.message)))?;
            orders.push(PolledOrder { external_id, version, body: raw.get().as_bytes().to_vec() });
        }
        Ok(PolledPage { orders, next: page.next.filter(|n| !n.is_empty()) })
    }
}
