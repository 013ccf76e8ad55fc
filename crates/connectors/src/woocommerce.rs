//! WooCommerce's REST API v3, for the catch-up poll that finds what webhooks missed:
//! `/wp-json/wc/v3/orders` by `modified_after` and `modified_before` (GMT), oldest change
//! first, paged by `page` up to the `X-WP-TotalPages` it reports; and for each listing's
//! stock, `products/batch`, a hundred products a call. Authenticated with the REST API key's
//! consumer key and secret over HTTPS.

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

use ordo_app::{FeedError, ListingLevel, PollTarget, PolledOrder, PolledPage, PushError, StockPusher, StockReader};
use reqwest::StatusCode;
use serde_json::value::RawValue;

use crate::http::{Answer, Http};
use crate::required;

pub struct WooCommerceFeed {
    pub(crate) http: Http,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) secret: String,
}

impl WooCommerceFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<WooCommerceFeed, String> {
        let base = target.base_url.clone().ok_or_else(|| format!("the woocommerce connector of {} needs its site's base_url", target.channel))?;
        Ok(WooCommerceFeed { http, base, key: required(target, "consumer_key")?, secret: required(target, "consumer_secret")? })
    }

    pub async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        let page: u32 = token.and_then(|t| t.parse().ok()).unwrap_or(1);
        let url = format!("{}/wp-json/wc/v3/orders", self.base);
        let query = [
            ("modified_after", since.to_rfc3339_opts(SecondsFormat::Secs, true).trim_end_matches('Z').to_owned()),
            ("modified_before", until.to_rfc3339_opts(SecondsFormat::Secs, true).trim_end_matches('Z').to_owned()),
            ("dates_are_gmt", "true".to_owned()),
            ("orderby", "modified".to_owned()),
            ("order", "asc".to_owned()),
            ("per_page", "100".to_owned()),
            ("page", page.to_string()),
        ];
        let (Answer { status, body, .. }, pages) =
            self.http.send_with_header("orders", "x-wp-totalpages", |c| c.get(&url).query(&query).basic_auth(&self.key, Some(&self.secret))).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(FeedError::Unauthorized(format!("orders answered {status}")));
        }
        if !status.is_success() {
            return Err(FeedError::Failed(format!("orders answered {status}")));
        }
        #[derive(serde::Deserialize)]
        struct Version {
            id: ordo_channels::wire::Id,
            date_modified_gmt: Option<String>,
        }
        let raw: Vec<Box<RawValue>> = serde_json::from_slice(&body).map_err(|e| FeedError::Failed(format!("orders' answer: {e}")))?;
        let mut orders = Vec::with_capacity(raw.len());
        for order in raw {
            let version: Version = serde_json::from_str(order.get()).map_err(|e| FeedError::Failed(format!("orders' answer: {e}")))?;
            orders.push(PolledOrder { external_id: version.id.0, version: version.date_modified_gmt.unwrap_or_default(), body: order.get().as_bytes().to_vec() });
        }
        let total: u32 = pages.and_then(|p| p.trim().parse().ok()).unwrap_or(page);
        Ok(PolledPage { orders, next: (page < total).then(|| (page + 1).to_string()) })
    }
}

/// Tells WooCommerce its products' stock (`stock_quantity`, with stock managed) through
/// `products/batch`. A listing names its product by id, or by SKU, looked up once.
pub struct WooCommerceStock {
    feed: WooCommerceFeed,
    /// Product ids found by SKU.
    ids: tokio::sync::Mutex<HashMap<String, i64>>,
}

/// The most products one `products/batch` call updates.
const WOO_BATCH: usize = 100;

impl WooCommerceStock {
    pub fn new(http: Http, target: &PollTarget) -> Result<WooCommerceStock, String> {
        Ok(WooCommerceStock { feed: WooCommerceFeed::new(http, target)?, ids: Default::default() })
    }

    /// The product a listing names: its id, or the product with that SKU; `Ok(None)` when the
    /// shop has none.
    async fn product_id(&self, channel_sku: &str) -> Result<Option<i64>, PushError> {
        if let Ok(id) = channel_sku.parse::<i64>() {
            return Ok(Some(id));
        }
        if let Some(id) = self.ids.lock().await.get(channel_sku) {
            return Ok(Some(*id));
        }
        let url = format!("{}/wp-json/wc/v3/products", self.feed.base);
        let answer = self
            .feed
            .http
            .send_once("products", |c| c.get(&url).query(&[("sku", channel_sku)]).basic_auth(&self.feed.key, Some(&self.feed.secret)))
            .await
            .map_err(PushError::Failed)?;
        let answer = woo_answer("products", answer)?;
        #[derive(serde::Deserialize)]
        struct Product {
            id: i64,
        }
        let found: Vec<Product> = serde_json::from_slice(&answer.body).map_err(|e| PushError::Failed(format!("products' answer: {e}")))?;
        let id = found.first().map(|p| p.id);
        if let Some(id) = id {
            self.ids.lock().await.insert(channel_sku.to_owned(), id);
        }
        Ok(id)
    }
}

/// A refusal of the key, a request to slow down, or a failure, as a push error; WooCommerce
/// names no wait of its own.
fn woo_answer(what: &str, answer: Answer) -> Result<Answer, PushError> {
    crate::http::success(what, answer, std::time::Duration::from_secs(5))
}

impl StockReader for WooCommerceStock {
    /// Pages through the shop's products (a hundred a page), keeping the stock quantity of
    /// those asked for, by product id or by SKU as the listing names them.
    async fn read(&self, channel_skus: &[String]) -> Result<HashMap<String, i64>, PushError> {
        let wanted: std::collections::HashSet<&str> = channel_skus.iter().map(String::as_str).collect();
        let url = format!("{}/wp-json/wc/v3/products", self.feed.base);
        let mut shows = HashMap::new();
        let mut page = 1u64;
        loop {
            let query = [("per_page", "100".to_owned()), ("page", page.to_string())];
            let answer = self.feed.http.send_once("products", |c| c.get(&url).query(&query).basic_auth(&self.feed.key, Some(&self.feed.secret))).await.map_err(PushError::Failed)?;
            let answer = woo_answer("products", answer)?;
            let products: Vec<serde_json::Value> = serde_json::from_slice(&answer.body).map_err(|e| PushError::Failed(format!("products' answer: {e}")))?;
            for product in &products {
                let quantity = product["stock_quantity"].as_i64().unwrap_or(0);
                let id = product["id"].as_i64().map(|id| id.to_string());
                for key in [id.as_deref(), product["sku"].as_str()].into_iter().flatten() {
                    if wanted.contains(key) {
                        shows.insert(key.to_owned(), quantity);
                    }
                }
            }
            let pages: u64 = answer.headers.get("x-wp-totalpages").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(page);
            if products.is_empty() || page >= pages {
                return Ok(shows);
            }
            page += 1;
        }
    }
}

impl StockPusher for WooCommerceStock {
    fn batch_size(&self) -> usize {
        WOO_BATCH
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        let mut answers: Vec<Result<(), String>> = Vec::with_capacity(levels.len());
        let mut update = Vec::new();
        let mut sent: Vec<(usize, i64)> = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            match self.product_id(&level.channel_sku).await? {
                Some(id) => {
                    update.push(serde_json::json!({"id": id, "manage_stock": true, "stock_quantity": level.quantity}));
                    sent.push((i, id));
                    answers.push(Ok(()));
                }
                None => answers.push(Err(format!("the shop has no product with SKU {:?}", level.channel_sku))),
            }
        }
        if update.is_empty() {
            return Ok(answers);
        }
        let url = format!("{}/wp-json/wc/v3/products/batch", self.feed.base);
        let body = serde_json::json!({"update": update});
        let answer = self
            .feed
            .http
            .send_once("products/batch", |c| c.post(&url).basic_auth(&self.feed.key, Some(&self.feed.secret)).json(&body))
            .await
            .map_err(PushError::Failed)?;
        let answer = woo_answer("products/batch", answer)?;
        for (i, why) in woo_refusals(&sent, &answer.body) {
            answers[i] = Err(why);
        }
        Ok(answers)
    }
}

/// The levels (by index) whose product the batch's answer refused, and why; a product the
/// answer leaves out was not updated.
fn woo_refusals(sent: &[(usize, i64)], body: &[u8]) -> Vec<(usize, String)> {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Updated {
        id: i64,
        #[serde(default)]
        error: Option<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        update: Vec<Updated>,
    }
    let answer: Answer = serde_json::from_slice(body).unwrap_or(Answer { update: Vec::new() });
    sent.iter()
        .filter_map(|(i, id)| match answer.update.iter().find(|u| u.id == *id) {
            Some(Updated { error: None, .. }) => None,
            Some(Updated { error: Some(e), .. }) => Some((*i, format!("WooCommerce refused product {id}: {}: {}", e.code, e.message))),
            None => Some((*i, format!("WooCommerce's answer left product {id} out"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_answer_names_the_products_refused() {
        let body = br#"{"update":[{"id":101,"stock_quantity":4},{"id":0,"error":{"code":"woocommerce_rest_product_invalid_id","message":"Invalid ID.","data":{"status":400}}}]}"#;
        let refused = woo_refusals(&[(0, 101), (1, 102)], body);
        assert_eq!(refused, [(1, "WooCommerce's answer left product 102 out".to_owned())]);
        let body = br#"{"update":[{"id":102,"error":{"code":"woocommerce_rest_product_invalid_id","message":"Invalid ID."}}]}"#;
        assert_eq!(woo_refusals(&[(3, 102)], body), [(3, "WooCommerce refused product 102: woocommerce_rest_product_invalid_id: Invalid ID.".to_owned())]);
    }
}
