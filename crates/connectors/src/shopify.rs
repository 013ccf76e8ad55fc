//! Shopify's Admin REST API, for the catch-up poll that finds what webhooks missed:
//! `orders.json` by `updated_at_min` and `updated_at_max`, oldest change first, paged by the
//! `Link` header's `page_info` (follow-up pages send only it and the limit, as Shopify asks).

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, PollTarget, PolledOrder, PolledPage};
use reqwest::StatusCode;
use serde_json::value::RawValue;

use crate::http::{Answer, Http};
use crate::required;

/// The Admin API version the connector is written against.
const API_VERSION: &str = "2025-07";

pub struct ShopifyFeed {
    http: Http,
    base: String,
    token: String,
}

impl ShopifyFeed {
    pub fn new(http: Http, target: &PollTarget) -> Result<ShopifyFeed, String> {
        let base = target.base_url.clone().ok_or_else(|| format!("the shopify connector of {} needs its shop's base_url", target.channel))?;
        Ok(ShopifyFeed { http, base, token: required(target, "access_token")? })
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
    fn the_next_page_is_read_from_the_link_header() {
        let link = r#"<https://shop.myshopify.com/admin/api/2025-07/orders.json?limit=250&page_info=abc>; rel="previous", <https://shop.myshopify.com/admin/api/2025-07/orders.json?limit=250&page_info=def>; rel="next""#;
        assert_eq!(next_page_info(link).as_deref(), Some("def"));
        assert_eq!(next_page_info(r#"<https://x/orders.json?page_info=abc>; rel="previous""#), None);
    }
}
