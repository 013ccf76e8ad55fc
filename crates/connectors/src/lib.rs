//! Ordo's clients of the channels' own APIs: Amazon's Selling Partner API (Orders v0) and
//! eBay's Sell Fulfillment API, which do not push their orders, and the catch-up poll of
//! Shopify and WooCommerce for what their webhooks missed. Each is an [`OrderFeed`] the
//! application polls through; this crate only speaks HTTP.
//!
//! Every call goes over HTTPS with rustls (plain HTTP only where a connector's `base_url`
//! says so, as tests' local stand-ins do) and has a timeout. Amazon's calls are paced to the
//! rate its answers state (`x-amzn-RateLimit-Limit`) once their burst is spent. A 429 waits as the channel says
//! (`Retry-After`, or one over `x-amzn-RateLimit-Limit` requests a second) and tries again; a
//! 5xx or a failed connection tries again after a growing wait; an expired token is renewed
//! once.

mod amazon;
mod confirm;
mod ebay;
mod http;
mod shopify;
mod woocommerce;

use chrono::{DateTime, Utc};
use ordo_app::domain::connector::ConnectorKind;
use ordo_app::{FeedError, ListingLevel, OrderFeed, PollTarget, PolledPage, PushError, StockPusher, StockReader};

pub use amazon::{AmazonFeed, AmazonStock};
pub use confirm::Confirmer;
pub use ebay::{EbayFeed, EbayStock};
pub use http::Http;
pub use shopify::{ShopifyFeed, ShopifyStock};
pub use woocommerce::{WooCommerceFeed, WooCommerceStock};

/// The feed for a connector a poller works for.
pub enum Feed {
    Amazon(AmazonFeed),
    Ebay(EbayFeed),
    /// The catch-up poll of a channel that also pushes its orders by webhook.
    Shopify(ShopifyFeed),
    WooCommerce(WooCommerceFeed),
}

impl Feed {
    /// The feed `target`'s connector describes; an error names what its credentials lack.
    pub fn for_target(http: &Http, target: &PollTarget) -> Result<Feed, String> {
        match target.kind {
            ConnectorKind::Amazon => AmazonFeed::new(http.clone(), target).map(Feed::Amazon),
            ConnectorKind::Ebay => EbayFeed::new(http.clone(), target).map(Feed::Ebay),
            ConnectorKind::Shopify => ShopifyFeed::new(http.clone(), target).map(Feed::Shopify),
            ConnectorKind::WooCommerce => WooCommerceFeed::new(http.clone(), target).map(Feed::WooCommerce),
        }
    }
}

impl OrderFeed for Feed {
    async fn page(&self, since: DateTime<Utc>, until: DateTime<Utc>, token: Option<&str>) -> Result<PolledPage, FeedError> {
        match self {
            Feed::Amazon(feed) => feed.page(since, until, token).await,
            Feed::Ebay(feed) => feed.page(since, until, token).await,
            Feed::Shopify(feed) => feed.page(since, until, token).await,
            Feed::WooCommerce(feed) => feed.page(since, until, token).await,
        }
    }
}

/// The stock pusher for a connector whose channel Ordo tells its available-to-sell.
pub enum Pusher {
    /// Boxed: the Amazon client carries its usage plans, far larger than the others.
    Amazon(Box<AmazonStock>),
    Ebay(EbayStock),
    WooCommerce(WooCommerceStock),
    Shopify(ShopifyStock),
}

impl Pusher {
    /// The pusher `target`'s connector describes; an error names what it lacks.
    pub fn for_target(http: &Http, target: &PollTarget) -> Result<Pusher, String> {
        match target.kind {
            ConnectorKind::Amazon => AmazonStock::new(http.clone(), target).map(|stock| Pusher::Amazon(Box::new(stock))),
            ConnectorKind::Ebay => EbayStock::new(http.clone(), target).map(Pusher::Ebay),
            ConnectorKind::WooCommerce => WooCommerceStock::new(http.clone(), target).map(Pusher::WooCommerce),
            ConnectorKind::Shopify => ShopifyStock::new(http.clone(), target).map(Pusher::Shopify),
        }
    }
}

impl StockPusher for Pusher {
    fn batch_size(&self) -> usize {
        match self {
            Pusher::Amazon(pusher) => pusher.batch_size(),
            Pusher::Ebay(pusher) => pusher.batch_size(),
            Pusher::WooCommerce(pusher) => pusher.batch_size(),
            Pusher::Shopify(pusher) => pusher.batch_size(),
        }
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        match self {
            Pusher::Amazon(pusher) => pusher.push(levels).await,
            Pusher::Ebay(pusher) => pusher.push(levels).await,
            Pusher::WooCommerce(pusher) => pusher.push(levels).await,
            Pusher::Shopify(pusher) => pusher.push(levels).await,
        }
    }
}

impl StockReader for Pusher {
    async fn read(&self, channel_skus: &[String]) -> Result<std::collections::HashMap<String, i64>, PushError> {
        match self {
            Pusher::Amazon(pusher) => pusher.read(channel_skus).await,
            Pusher::Ebay(pusher) => pusher.read(channel_skus).await,
            Pusher::WooCommerce(pusher) => pusher.read(channel_skus).await,
            Pusher::Shopify(pusher) => pusher.read(channel_skus).await,
        }
    }
}

/// A credential by name, as text.
pub(crate) fn credential(target: &PollTarget, name: &str) -> Option<String> {
    match target.credentials.get(name)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Array(items) => {
            let joined: Vec<String> = items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
            (!joined.is_empty()).then(|| joined.join(","))
        }
        _ => None,
    }
}

pub(crate) fn required(target: &PollTarget, name: &str) -> Result<String, String> {
    credential(target, name).ok_or_else(|| format!("the {} connector of {} needs credentials.{name}", target.kind.as_str(), target.channel))
}
