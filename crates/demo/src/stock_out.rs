//! The demo tells its connected channels their stock as `ordo serve` does, through the same
//! use case, every hour of the selling day, to in-process stand-ins of their stock APIs: the
//! web shop's Shopify takes 250 listings a call and the wholesale portal's WooCommerce 100,
//! while the Amazon marketplace is slow (one listing a call) and rate-limits hard (after ten
//! calls it asks Ordo to wait until the next hour). What each channel shows is then compared
//! with what Ordo can sell.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ordo_app::{AppResult, ListingLevel, Ordo, PushError, StockPusher};

/// A channel's stock API: takes `batch` listings a call; with a `limit`, refuses calls past
/// that many until the next round.
struct StandIn {
    batch: usize,
    limit: Option<usize>,
    /// How long a call takes.
    pause: Duration,
    calls_this_round: AtomicUsize,
    calls: AtomicU64,
    throttled: AtomicU64,
    shows: Mutex<HashMap<String, i64>>,
}

impl StandIn {
    fn new(batch: usize, limit: Option<usize>, pause: Duration) -> StandIn {
        StandIn { batch, limit, pause, calls_this_round: AtomicUsize::new(0), calls: AtomicU64::new(0), throttled: AtomicU64::new(0), shows: Mutex::default() }
    }
}

impl StockPusher for StandIn {
    fn batch_size(&self) -> usize {
        self.batch
    }

    async fn push(&self, levels: &[ListingLevel]) -> Result<Vec<Result<(), String>>, PushError> {
        if self.limit.is_some_and(|limit| self.calls_this_round.fetch_add(1, Ordering::Relaxed) >= limit) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(PushError::Throttled(Duration::from_secs(1)));
        }
        tokio::time::sleep(self.pause).await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut shows = self.shows.lock().map_err(|_| PushError::Failed("the stand-in is poisoned".into()))?;
        for level in levels {
            shows.insert(level.channel_sku.clone(), level.quantity);
        }
        Ok(vec![Ok(()); levels.len()])
    }
}

/// What one channel was told of its stock over the demo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockOutSummary {
    pub channel: String,
    /// Stock changes on its listings: one call each, without coalescing.
    pub changes: i64,
    /// Listings told a new quantity, in this many calls.
    pub pushed: u64,
    pub calls: u64,
    /// Calls the channel refused for its rate limit.
    pub throttled: u64,
    /// From a change to the channel's answer (wall clock), over the pushes.
    pub p95_ms: Option<i64>,
    /// Listings still waiting at the end, and those the channel shows differently from Ordo.
    pub pending: i64,
    pub differing: usize,
    /// The channel's `sync_lag` exception is open.
    pub lagging: bool,
}

pub(super) struct StockOut {
    channels: Vec<(&'static str, StandIn)>,
    pushed: BTreeMap<&'static str, u64>,
    latencies: BTreeMap<&'static str, Vec<i64>>,
}

impl StockOut {
    pub(super) fn new() -> StockOut {
        StockOut {
            channels: vec![
                ("web", StandIn::new(250, None, Duration::ZERO)),
                ("b2b", StandIn::new(100, None, Duration::ZERO)),
                ("amazon", StandIn::new(1, Some(10), Duration::from_millis(2))),
            ],
            pushed: BTreeMap::new(),
            latencies: BTreeMap::new(),
        }
    }

    /// Rounds for each channel until nothing waits or the channel asks Ordo to wait.
    pub(super) async fn push(&mut self, ordo: &Ordo) -> AppResult<()> {
        for (channel, stand_in) in &self.channels {
            stand_in.calls_this_round.store(0, Ordering::Relaxed);
            loop {
                let round = ordo.channels().push_stock(channel, stand_in).await?;
                *self.pushed.entry(channel).or_default() += round.pushed as u64;
                self.latencies.entry(channel).or_default().extend(&round.latencies_ms);
                if round.claimed == 0 || round.throttled {
                    break;
                }
            }
        }
        Ok(())
    }

    /// What each channel was told, and how far it is from Ordo now; a channel still behind
    /// after the threshold has its `sync_lag` exception.
    pub(super) async fn finish(&self, ordo: &Ordo) -> AppResult<Vec<StockOutSummary>> {
        let mut summaries = Vec::new();
        for (channel, stand_in) in &self.channels {
            let lag = ordo.channels().watch_stock_lag(channel, Duration::from_secs(300)).await?;
            let figures = ordo.channels().stock_figures(channel).await?;
            let shows = stand_in.shows.lock().map(|s| s.clone()).unwrap_or_default();
            let available = ordo.channels().listings_available(channel).await?;
            let differing = available.iter().filter(|(channel_sku, units)| shows.get(channel_sku.as_str()) != Some(units)).count();
            let mut latencies = self.latencies.get(channel).cloned().unwrap_or_default();
            latencies.sort_unstable();
            summaries.push(StockOutSummary {
                channel: (*channel).to_owned(),
                changes: ordo.channels().stock_changes_marked(channel).await?,
                pushed: self.pushed.get(channel).copied().unwrap_or(0),
                calls: stand_in.calls.load(Ordering::Relaxed),
                throttled: stand_in.throttled.load(Ordering::Relaxed),
                p95_ms: (!latencies.is_empty()).then(|| latencies[(latencies.len() * 95).div_ceil(100).saturating_sub(1)]),
                pending: figures.pending,
                differing,
                lagging: lag.is_some_and(|lag| lag > Duration::from_secs(300)),
            });
        }
        Ok(summaries)
    }
}
