//! WooCommerce's REST API v3, for the catch-up poll that finds what webhooks missed:
//! `/wp-json/wc/v3/orders` by `modified_after` and `modified_before` (GMT), oldest change
//! first, paged by `page` up to the `X-WP-TotalPages` it reports. Authenticated with the REST
//! API key's consumer key and secret over HTTPS.

use chrono::{DateTime, SecondsFormat, Utc};
use ordo_app::{FeedError, PollTarget, PolledOrder, PolledPage};
use reqwest::StatusCode;
use serde_json::value::RawValue;

use crate::http::{Answer, Http};
use crate::required;

pub struct WooCommerceFeed {
    http: Http,
    base: String,
    key: String,
    secret: String,
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
