//! eBay's Sell Fulfillment API: `getOrders` filtered by `lastmodifieddate`, paged by the
//! `next` address eBay gives. Its Sell Inventory API: `bulkUpdatePriceQuantity`, each
//! listing's quantity by its seller SKU, 25 a call. The user access token comes from the
//! OAuth refresh-token grant (or is given as it is), one per scope, and is renewed once when
//! eBay refuses it.

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, ListingLevel, PollTarget, PolledOrder, PolledPage, PushError, StockPusher, StockReader};
use ordo_channels::ebay::{order_version, OrdersPage};
use reqwest::StatusCode;
use tokio::sync::Mutex;

use crate::http::{Answer, Http};
use crate::{credential, required};

const DEFAULT_BASE: &str = "https://api.ebay.com";
const DEFAULT_TOKEN_URL: &str = "https://api.ebay.com/identity/v1/oauth2/token";
const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly";
const INVENTORY_SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.inventory";
/// Shipping fulfillments are written with this scope.
pub(crate) const FULFILLMENT_SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment";

pub struct EbayFeed {
    pub(crate) http: Http,
    pub(crate) base: String,
    token_url: String,
    client: Option<(String, String, String)>,
    scope: &'static str,
    pub(crate) token: Mutex<Option<String>>,
}

impl EbayFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<EbayFeed, String> {
        EbayFeed::with_scope(http, target, SCOPE)
    }

    pub(crate) fn with_scope(http: Http, target: &PollTarget, scope: &'static str) -> Result<EbayFeed, String> {
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
            scope,
            token: Mutex::new(token),
        })
    }

    pub(crate) async fn renew(&self) -> Result<String, FeedError> {
        let Some((id, secret, refresh)) = &self.client else {
            return Err(FeedError::Unauthorized("eBay refused the access token and there is no refresh token to renew it".to_owned()));
        };
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("scope", self.scope)];
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

/// Tells eBay its listings' quantities through the Sell Inventory API, by seller SKU, with a
/// token of its own for the inventory scope.
pub struct EbayStock {
    auth: EbayFeed,
}

/// The most SKUs one `bulkUpdatePriceQuantity` call takes.
const EBAY_BATCH: usize = 25;

impl EbayStock {
    pub fn new(http: Http, target: &PollTarget) -> Result<EbayStock, String> {
        Ok(EbayStock { auth: EbayFeed::with_scope(http, target, INVENTORY_SCOPE)? })
    }

    async fn token(&self, renew: bool) -> Result<String, PushError> {
        if !renew && let Some(token) = self.auth.token.lock().await.clone() {
            return Ok(token);
        }
        self.auth.renew().await.map_err(|e| match e {
            FeedError::Unauthorized(why) => PushError::Unauthorized(why),
            FeedError::Failed(why) => PushError::Failed(why),
        })
    }
}

/// The most inventory items one `getInventoryItems` page holds.
const EBAY_PAGE: usize = 200;

impl StockReader for EbayStock {
    /// Pages through the seller's inventory items (`getInventoryItems`), keeping the
    /// ship-to-location quantity of the SKUs asked for.
    async fn read(&self, channel_skus: &[String]) -> Result<std::collections::HashMap<String, i64>, PushError> {
        let wanted: std::collections::HashSet<&str> = channel_skus.iter().map(String::as_str).collect();
        let url = format!("{}/sell/inventory/v1/inventory_item", self.auth.base);
        let mut shows = std::collections::HashMap::new();
        let mut token = self.token(false).await?;
        let mut renewed = false;
        let mut offset = 0usize;
        loop {
            let query = [("limit", EBAY_PAGE.to_string()), ("offset", offset.to_string())];
            let answer = self.auth.http.send_once("getInventoryItems", |c| c.get(&url).query(&query).bearer_auth(&token)).await.map_err(PushError::Failed)?;
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                token = self.token(true).await?;
                continue;
            }
            let answer = crate::http::success("getInventoryItems", answer, std::time::Duration::from_secs(5))?;
            let page: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|e| PushError::Failed(format!("getInventoryItems' answer: {e}")))?;
            let items = page["inventoryItems"].as_array().cloned().unwrap_or_default();
            for item in &items {
                if let Some(sku) = item["sku"].as_str().filter(|sku| wanted.contains(sku)) {
                    shows.insert(sku.to_owned(), item["availability"]["shipToLocationAvailability"]["quantity"].as_i64().unwrap_or(0));
                }
            }
            offset += items.len();
            let total = page["total"].as_u64().unwrap_or(0) as usize;
            if items.is_empty() || offset >= total {
                return Ok(shows);
            }
        }
    }
}

impl StockPusher for EbayStock {
    fn batch_size(&self) -> usize {
        EBAY_BATCH
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        let url = format!("{}/sell/inventory/v1/bulk_update_price_quantity", self.auth.base);
        let requests: Vec<serde_json::Value> =
            levels.iter().map(|l| serde_json::json!({"sku": l.channel_sku, "shipToLocationAvailability": {"quantity": l.quantity}})).collect();
        let body = serde_json::json!({"requests": requests});
        let mut renewed = false;
        let mut token = self.token(false).await?;
        loop {
            let answer = self.auth.http.send_once("bulkUpdatePriceQuantity", |c| c.post(&url).bearer_auth(&token).json(&body)).await.map_err(PushError::Failed)?;
            let status = answer.status;
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                token = self.token(true).await?;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(PushError::Unauthorized(format!("bulkUpdatePriceQuantity answered {status}")));
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                return Err(PushError::Throttled(crate::http::rate_limit_wait(&answer.headers).unwrap_or(std::time::Duration::from_secs(5))));
            }
            if !status.is_success() {
                return Err(PushError::Failed(format!(
                    "bulkUpdatePriceQuantity answered {status}: {}",
                    String::from_utf8_lossy(&answer.body).chars().take(300).collect::<String>()
                )));
            }
            return Ok(ebay_answers(levels, &answer.body));
        }
    }
}

/// Per level, what eBay's `responses` say of its SKU: taken (2xx), or refused with eBay's
/// errors; a SKU the answer leaves out was not taken.
fn ebay_answers(levels: &[ListingLevel], body: &[u8]) -> Vec<Result<(), String>> {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(rename = "errorId", default)]
        id: i64,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Response {
        #[serde(default)]
        sku: String,
        #[serde(rename = "statusCode", default)]
        status: u16,
        #[serde(default)]
        errors: Vec<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        responses: Vec<Response>,
    }
    let answer: Answer = serde_json::from_slice(body).unwrap_or(Answer { responses: Vec::new() });
    levels
        .iter()
        .map(|level| match answer.responses.iter().find(|r| r.sku == level.channel_sku) {
            Some(r) if (200..300).contains(&r.status) => Ok(()),
            Some(r) => {
                let errors: Vec<String> = r.errors.iter().map(|e| format!("{}: {}", e.id, e.message)).collect();
                Err(format!("eBay answered {} for this SKU: {}", r.status, errors.join("; ")))
            }
            None => Err("eBay's answer left this SKU out".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebays_multi_status_answer_is_read_per_sku() {
        let levels: Vec<ListingLevel> = ["MUG-1", "GONE-1", "VASE-1"].iter().map(|s| ListingLevel { channel_sku: (*s).to_owned(), quantity: 3 }).collect();
        let body = br#"{"responses":[{"statusCode":200,"sku":"MUG-1","offerId":"1"},
            {"statusCode":404,"sku":"GONE-1","errors":[{"errorId":25702,"domain":"API_INVENTORY","message":"SKU GONE-1 is not available in the system"}]}]}"#;
        let answers = ebay_answers(&levels, body);
        assert_eq!(answers[0], Ok(()));
        assert_eq!(answers[1], Err("eBay answered 404 for this SKU: 25702: SKU GONE-1 is not available in the system".to_owned()));
        assert_eq!(answers[2], Err("eBay's answer left this SKU out".to_owned()));
    }
}
