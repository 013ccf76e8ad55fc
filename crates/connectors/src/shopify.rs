//! Shopify's Admin REST API, for the catch-up poll that finds what webhooks missed:
//! `orders.json` by `updated_at_min` and `updated_at_max`, oldest change first, paged by the
//! `Link` header's `page_info` (follow-up pages send only it and the limit, as Shopify asks).
//! Its Admin GraphQL API for each listing's stock: `inventorySetQuantities`, 250 items a call,
//! GraphQL because Shopify's REST Admin API is legacy for new apps and the mutation sets many
//! items in one call; each variant's inventory item is found by SKU once.

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

use ordo_app::{FeedError, ListingLevel, PollTarget, PolledOrder, PolledPage, PushError, StockPusher, StockReader};
use reqwest::StatusCode;
use serde_json::value::RawValue;

use crate::http::{Answer, Http};
use crate::required;

/// The Admin API version the connector is written against.
const API_VERSION: &str = "2025-07";

pub struct ShopifyFeed {
    pub(crate) http: Http,
    base: String,
    token: String,
}

impl ShopifyFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<ShopifyFeed, String> {
        let base = target.base_url.clone().ok_or_else(|| format!("the shopify connector of {} needs its shop's base_url", target.channel))?;
        Ok(ShopifyFeed { http, base, token: required(target, "access_token")? })
    }

    /// One GraphQL call: its `data`, or why not.
    pub(crate) async fn graphql(&self, what: &str, query: &str, variables: serde_json::Value) -> Result<serde_json::Value, PushError> {
        let url = format!("{}/admin/api/{API_VERSION}/graphql.json", self.base);
        let body = serde_json::json!({"query": query, "variables": variables});
        let answer = self
            .http
            .send_once(what, |c| c.post(&url).header("x-shopify-access-token", &self.token).json(&body))
            .await
            .map_err(PushError::Failed)?;
        let answer = crate::http::success(what, answer, std::time::Duration::from_secs(2))?;
        let reply: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|e| PushError::Failed(format!("{what}'s answer: {e}")))?;
        if let Some(wait) = throttled(&reply) {
            return Err(PushError::Throttled(wait));
        }
        if let Some(errors) = reply.get("errors").filter(|e| !e.is_null()) {
            return Err(PushError::Failed(format!("{what} answered {errors}")));
        }
        Ok(reply["data"].clone())
    }

    pub async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        let url = format!("{}/admin/api/{API_VERSION}/orders.json", self.base);
        let query: Vec<(&str, String)> = match token {
            Some(page_info) => vec![("page_info", page_info.to_owned()), ("limit", "250".to_owned())],
            None => vec![
                ("status", "any".to_owned()),
                ("updated_at_min", since.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("updated_at_max", until.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("order", "updated_at asc".to_owned()),
                ("limit", "250".to_owned()),
            ],
        };
        let (Answer { status, body, .. }, link) = self.http.send_with_link("orders.json", |c| c.get(&url).query(&query).header("x-shopify-access-token", &self.token)).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(FeedError::Unauthorized(format!("orders.json answered {status}")));
        }
        if !status.is_success() {
            return Err(FeedError::Failed(format!("orders.json answered {status}")));
        }
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            orders: Vec<Box<RawValue>>,
        }
        #[derive(serde::Deserialize)]
        struct Version {
            id: ordo_channels::wire::Id,
            updated_at: Option<String>,
        }
        let page: Page = serde_json::from_slice(&body).map_err(|e| FeedError::Failed(format!("orders.json's answer: {e}")))?;
        let mut orders = Vec::with_capacity(page.orders.len());
        for raw in page.orders {
            let version: Version = serde_json::from_str(raw.get()).map_err(|e| FeedError::Failed(format!("orders.json's answer: {e}")))?;
            orders.push(PolledOrder { external_id: version.id.0, version: version.updated_at.unwrap_or_default(), body: raw.get().as_bytes().to_vec() });
        }
        Ok(PolledPage { orders, next: link.as_deref().and_then(next_page_info) })
    }
}

/// Tells Shopify its variants' `available` quantity at one of its locations (the
/// connector's `credentials.location_id`) with the Admin GraphQL API.
pub struct ShopifyStock {
    feed: ShopifyFeed,
    location: String,
    /// Inventory item ids found by SKU.
    items: tokio::sync::Mutex<HashMap<String, String>>,
}

/// The most items one `inventorySetQuantities` call sets.
const SHOPIFY_BATCH: usize = 250;

impl ShopifyStock {
    pub fn new(http: Http, target: &PollTarget) -> Result<ShopifyStock, String> {
        let location = required(target, "location_id")?;
        let location = match location.parse::<u64>() {
            Ok(id) => format!("gid://shopify/Location/{id}"),
            Err(_) => location,
        };
        Ok(ShopifyStock { feed: ShopifyFeed::new(http, target)?, location, items: Default::default() })
    }

    /// The inventory items of `skus` the shop has, looked up in one call for those not known.
    async fn inventory_items(&self, skus: &[&str]) -> Result<HashMap<String, String>, PushError> {
        let mut known = self.items.lock().await.clone();
        let missing: Vec<&str> = skus.iter().copied().filter(|s| !known.contains_key(*s)).collect();
        for chunk in missing.chunks(50) {
            let search = chunk.iter().map(|s| format!("sku:\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))).collect::<Vec<_>>().join(" OR ");
            let query = "query($q: String!) { productVariants(first: 250, query: $q) { nodes { sku inventoryItem { id } } } }";
            let data = self.feed.graphql("productVariants", query, serde_json::json!({"q": search})).await?;
            for node in data["productVariants"]["nodes"].as_array().into_iter().flatten() {
                if let (Some(sku), Some(item)) = (node["sku"].as_str(), node["inventoryItem"]["id"].as_str()) {
                    known.insert(sku.to_owned(), item.to_owned());
                }
            }
        }
        *self.items.lock().await = known.clone();
        Ok(known)
    }
}

/// How long Shopify's cost-based limit asks to wait, when it throttled the call: what the
/// call needed beyond what is available, at the bucket's restore rate.
fn throttled(reply: &serde_json::Value) -> Option<std::time::Duration> {
    let errors = reply.get("errors")?.as_array()?;
    if !errors.iter().any(|e| e["extensions"]["code"] == "THROTTLED") {
        return None;
    }
    let cost = &reply["extensions"]["cost"];
    let needed = cost["requestedQueryCost"].as_f64().unwrap_or(0.0);
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64().unwrap_or(0.0);
    let restore = cost["throttleStatus"]["restoreRate"].as_f64().filter(|r| *r > 0.0).unwrap_or(50.0);
    Some(std::time::Duration::from_secs_f64(((needed - available).max(1.0) / restore).min(60.0)))
}

/// Per quantity sent, the user errors Shopify gave for it (`field` names its index).
fn user_errors(data: &serde_json::Value, count: usize) -> Vec<Option<String>> {
    let mut refused: Vec<Option<String>> = vec![None; count];
    for error in data["inventorySetQuantities"]["userErrors"].as_array().into_iter().flatten() {
        let message = format!("{}: {}", error["code"].as_str().unwrap_or("ERROR"), error["message"].as_str().unwrap_or_default());
        let index = error["field"].as_array().and_then(|f| f.iter().find_map(|p| p.as_str().and_then(|p| p.parse::<usize>().ok())));
        match index.filter(|i| *i < count) {
            Some(i) => refused[i] = Some(message),
            // An error about the whole call refuses every quantity in it.
            None => refused.iter_mut().for_each(|r| *r = Some(message.clone())),
        }
    }
    refused
}

impl StockReader for ShopifyStock {
    /// Pages through the shop's inventory items (a hundred a query), keeping what is
    /// `available` at the connector's location of the SKUs asked for; a throttled query
    /// waits what Shopify asks and goes on.
    async fn read(&self, channel_skus: &[String]) -> Result<HashMap<String, i64>, PushError> {
        let wanted: std::collections::HashSet<&str> = channel_skus.iter().map(String::as_str).collect();
        let query = "query($after: String, $location: ID!) { inventoryItems(first: 100, after: $after) { \
                     nodes { sku inventoryLevel(locationId: $location) { quantities(names: [\"available\"]) { name quantity } } } \
                     pageInfo { hasNextPage endCursor } } }";
        let mut shows = HashMap::new();
        let mut after: Option<String> = None;
        let mut waits = 0;
        loop {
            let variables = serde_json::json!({"after": after, "location": self.location});
            let data = match self.feed.graphql("inventoryItems", query, variables).await {
                Err(PushError::Throttled(wait)) if waits < 20 => {
                    waits += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                other => other?,
            };
            let items = &data["inventoryItems"];
            for node in items["nodes"].as_array().into_iter().flatten() {
                let Some(sku) = node["sku"].as_str().filter(|sku| wanted.contains(sku)) else { continue };
                // An item not stocked at the location shows nothing there.
                let available = node["inventoryLevel"]["quantities"].as_array().into_iter().flatten().find(|q| q["name"] == "available");
                if let Some(quantity) = available.and_then(|q| q["quantity"].as_i64()) {
                    shows.insert(sku.to_owned(), quantity);
                }
            }
            if items["pageInfo"]["hasNextPage"] != true {
                return Ok(shows);
            }
            after = items["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
    }
}

impl StockPusher for ShopifyStock {
    fn batch_size(&self) -> usize {
        SHOPIFY_BATCH
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        let skus: Vec<&str> = levels.iter().map(|l| l.channel_sku.as_str()).collect();
        let items = self.inventory_items(&skus).await?;
        let mut answers: Vec<Result<(), String>> = Vec::with_capacity(levels.len());
        let mut quantities = Vec::new();
        let mut sent = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            match items.get(&level.channel_sku) {
                Some(item) => {
                    quantities.push(serde_json::json!({"inventoryItemId": item, "locationId": self.location, "quantity": level.quantity}));
                    sent.push(i);
                    answers.push(Ok(()));
                }
                None => answers.push(Err(format!("the shop has no variant with SKU {:?}", level.channel_sku))),
            }
        }
        if quantities.is_empty() {
            return Ok(answers);
        }
        let mutation = "mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { field message code } } }";
        let input = serde_json::json!({"input": {"name": "available", "reason": "correction", "ignoreCompareQuantity": true, "quantities": quantities}});
        let data = self.feed.graphql("inventorySetQuantities", mutation, input).await?;
        for (n, refused) in user_errors(&data, sent.len()).into_iter().enumerate() {
            if let Some(why) = refused {
                answers[sent[n]] = Err(why);
            }
        }
        Ok(answers)
    }
}

/// The `page_info` of the `rel="next"` link in Shopify's `Link` header.
fn next_page_info(link: &str) -> Option<String> {
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let url = part.split(';').next()?.trim().trim_start_matches('<').trim_end_matches('>');
        let query = url.split_once('?')?.1;
        query.split('&').find_map(|pair| pair.strip_prefix("page_info=")).map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_refuse_the_quantity_they_name_and_throttling_says_how_long() {
        let data = serde_json::json!({"inventorySetQuantities": {"userErrors": [
            {"field": ["input", "quantities", "1", "locationId"], "message": "The specified location could not be found.", "code": "INVALID_LOCATION"}]}});
        assert_eq!(user_errors(&data, 2), [None, Some("INVALID_LOCATION: The specified location could not be found.".to_owned())]);
        let reply = serde_json::json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 110, "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 10, "restoreRate": 100}}}});
        assert_eq!(throttled(&reply), Some(std::time::Duration::from_secs(1)));
        assert_eq!(throttled(&serde_json::json!({"data": {}})), None);
    }

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = r#"<https://shop.myshopify.com/admin/api/2025-07/orders.json?limit=250&page_info=abc>; rel="previous", <https://shop.myshopify.com/admin/api/2025-07/orders.json?limit=250&page_info=def>; rel="next""#;
        assert_eq!(next_page_info(link).as_deref(), Some("def"));
        assert_eq!(next_page_info(r#"<https://x/orders.json?page_info=abc>; rel="previous""#), None);
    }
}
