//! The demo business trading through simulated days: orders from every channel (marketplaces
//! most, the web shop next, B2B few but large), a promotion peak, the odd unpaid or
//! cancelled order, reviews released the next morning, supplier deliveries that clear
//! backorders, two waves a day at each site with a limited capacity (so the peak ships late),
//! and parcels delivered days later. Everything goes through the same use cases the API
//! calls, on a simulated clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ordo_domain::inventory::{MovementKind, NewMovement};
use ordo_domain::master::{AbcClass, Listing};
use ordo_domain::order::{NewOrder, OrderStatus};
use ordo_domain::wave::{Dispatch, NewWave};
use uuid::Uuid;

use super::planted::{Plan, COMPLAINT, COMPLAINTS, CUT_PRICE_PERCENT, MISSING_UNITS};
use super::{Planted, Seed};
use crate::Shop;
use ordo_app::{Actor, AppError, AppResult, Progress};

/// What the simulated days did.
#[derive(Debug, Clone, Default)]
pub struct TradingSummary {
    pub days: u32,
    pub orders_by_channel: BTreeMap<String, u64>,
    /// Orders whose every unit was reserved the moment they arrived.
    pub filled_on_arrival: u64,
    /// Orders that arrived (held ones excluded from the fill rate until released).
    pub routed: u64,
    pub held: u64,
    pub released: u64,
    pub cancelled: u64,
    /// The anomalies planted (one of each kind where the days traded allow), and what the
    /// anomaly scan found over the days traded.
    pub planted: Vec<crate::Planted>,
    pub anomalies: Vec<ordo_app::Finding>,
    pub receipts: u64,
    pub waves: u64,
    pub shipments: u64,
    pub delivered: u64,
    /// Orders shipped in full, and how many of them left by their ship-by time.
    pub shipped_orders: i64,
    pub shipped_on_time: i64,
    pub stockouts_raised: u64,
    /// Marketplace settlements imported, their lines, and the lines matched to orders.
    pub settlements: u64,
    pub settlement_lines: u64,
    pub settlement_matched: u64,
    /// Exceptions by kind: (kind, still open, raised in all).
    pub exceptions: Vec<ordo_domain::exception::ExceptionCount>,
    /// Places where reserved stock exceeds on-hand or disagrees with movements: must be 0.
    pub oversells: usize,
    pub trial_balance: Option<ordo_app::TrialBalance>,
    /// Contribution by channel over the days traded.
    pub margins: Vec<ordo_domain::ledger::Margin>,
    /// Every entry balances and the inventory account equals the stock at cost.
    pub books_hold: bool,
    /// Returns, refunds, tickets and notifications.
    pub service: super::service::ServiceSummary,
    /// The old system's sales, imported before the first day.
    pub old_sales: super::history::OldSales,
    /// Proposals, purchase orders, receipts and bills, and the forecasts' accuracy.
    pub buying: super::buying::BuyingSummary,
    /// Webhook deliveries and polled pages from the channels.
    pub channels: super::channels::ChannelsSummary,
    /// What each connected channel was told of its stock.
    pub stock_out: Vec<super::stock_out::StockOutSummary>,
}

impl TradingSummary {
    /// Share of routed orders fully reserved on arrival, in per mille (no floats).
    pub fn fill_rate_per_mille(&self) -> u64 {
        (self.filled_on_arrival * 1000).checked_div(self.routed).unwrap_or(1000)
    }

    /// Share of fully shipped orders that left by their ship-by time, in per mille.
    pub fn on_time_per_mille(&self) -> i64 {
        (self.shipped_on_time * 1000).checked_div(self.shipped_orders).unwrap_or(1000)
    }

    pub fn orders(&self) -> u64 {
        self.orders_by_channel.values().sum()
    }
}

const CITIES: &[(&str, &str, &str)] = &[
    ("Springfield", "62701", "US"),
    ("Portland", "97201", "US"),
    ("Austin", "78701", "US"),
    ("Madison", "53703", "US"),
    ("Toronto", "M5H 2N2", "CA"),
    ("Boulder", "80302", "US"),
];

/// Orders a location can pick in one wave: the peak outruns it, and orders ship late.
const WAVE_CAPACITY: [(&str, i64); 2] = [("central", 80), ("overflow", 30)];

pub(crate) fn actor(name: &str) -> Actor {
    Actor::system_as(name, ordo_domain::access::Role::Admin)
}

/// What happens in a simulated day, in time order.
enum Event {
    /// Finance reviews the orders held the day before.
    Review,
    /// Carriers confirm the parcels due today.
    Deliveries,
    /// Suppliers deliver what is backordered.
    Receipts,
    Order(serde_json::Value),
    /// A wave at a location, released, picked, packed and shipped.
    Wave(&'static str),
    /// The ship-by watch looks at the clock.
    Watch,
    /// The marketplaces send their settlement reports.
    Settle,
    /// Customer service works returns and tickets; the outbox delivers.
    Service,
    /// Replenishment is proposed, approved into purchase orders and sent.
    Night,
    /// Suppliers deliver what is due; bills arrive for what came.
    Supplies,
    /// Each connected channel is told its stock.
    Push,
    /// The poller asks the marketplace for its new orders.
    Poll,
    /// The planted count that finds units missing.
    Count,
    /// The planted customers who send one SKU back for one reason.
    Complaints,
}

/// The demo order's running number, from its external id (`WEB-000123`).
fn number_of(body: &serde_json::Value) -> u64 {
    body["external_id"].as_str().and_then(|id| id.rsplit('-').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

impl Shop {
    /// Counts an order that arrived, and lets a few customers change their minds the same day.
    async fn demo_intake(
        &self,
        order: ordo_domain::order::Order,
        summary: &mut TradingSummary,
        plan: &Plan,
        held_yesterday: &mut Vec<Uuid>,
        seed: &mut Seed,
        channel_actor: &Actor,
    ) -> AppResult<()> {
        *summary.orders_by_channel.entry(order.channel.clone()).or_default() += 1;
        // On the planted day, three in five of the channel's customers change their minds.
        let planted = plan.cancellations.is_some_and(|(channel, day)| order.channel == channel && order.placed_at.date_naive() == day);
        let cancelling = if planted { 60 } else { 2 };
        match order.status {
            OrderStatus::OnHold => {
                summary.held += 1;
                held_yesterday.push(order.id);
            }
            status => {
                summary.routed += 1;
                summary.filled_on_arrival += u64::from(status == OrderStatus::Allocated);
            }
        }
        if seed.between(1, 100) <= cancelling && order.status.is_open() {
            self.orders().cancel_order_from_channel(&order.channel, &order.external_id, "customer cancelled on the channel", channel_actor).await?;
            summary.cancelled += 1;
        }
        Ok(())
    }

    /// Trades the demo business through `days` days from `first_day`, moving this
    /// application's simulated clock through each day's events.
    pub(crate) async fn trade_demo(
        &self,
        first_day: NaiveDate,
        days: u32,
        webhooks: std::sync::Arc<dyn ordo_app::WebhookClient>,
        progress: &dyn Progress,
    ) -> AppResult<TradingSummary> {
        let mut summary = TradingSummary { days, ..TradingSummary::default() };
        let mut seed = Seed(7_2026);
        let products = self.master_data().products(None, 500, 0).await?.products;
        let class: BTreeMap<String, AbcClass> = products.iter().map(|p| (p.sku.clone(), p.abc_class)).collect();
        // One anomaly of each kind, where the days traded leave history enough before it.
        let mut plan = Plan::for_days(first_day, days);
        if let Some((channel, day)) = plan.cancellations {
            summary.planted.push(Planted { kind: "cancellation_spike", subject: format!("channel:{channel}"), day, what: format!("three in five {channel} customers cancel") });
        }
        let mut delivered: Vec<(DateTime<Utc>, Uuid, Vec<String>)> = Vec::new();
        let customers = self.master_data().customers(500, 0).await?;
        let mut listings: BTreeMap<String, Vec<Listing>> = BTreeMap::new();
        for listing in self.master_data().listings(None).await? {
            if products.iter().any(|p| p.sku == listing.sku && p.active) {
                listings.entry(listing.channel.clone()).or_default().push(listing);
            }
        }
        summary.old_sales = super::history::bring_old_sales(self, first_day, &listings, &class).await?;
        let sites = self.master_data().locations().await?;
        let peak = i64::from(days) * 2 / 3;
        // The promotion peak is on the calendar, so forecasts read its days as promoted.
        if days > 0 {
            let from = first_day + Duration::days(peak);
            self.procurement().create_promotion("Autumn sale", None, None, from, from + Duration::days(1), &actor("demo-marketing")).await?;
        }
        let channel_actor = actor("demo-channels");
        let reviewer = actor("demo-finance");
        let buyer = actor("demo-procurement");
        let floor = actor("demo-warehouse");
        let mut held_yesterday: Vec<Uuid> = Vec::new();
        let mut in_transit: Vec<(DateTime<Utc>, Uuid, Uuid)> = Vec::new();
        let mut desk = super::service::Desk::new(webhooks);
        let mut buying = super::buying::BuyingDesk::new();
        let a_skus: Vec<String> = class.iter().filter(|(_, c)| **c == AbcClass::A).map(|(sku, _)| sku.clone()).collect();
        // The active A SKUs and the channels each is listed on, of which the price cut picks one.
        let mut a_listed: BTreeMap<String, usize> = BTreeMap::new();
        for listing in listings.values().flatten().filter(|l| class.get(&l.sku) == Some(&AbcClass::A)) {
            *a_listed.entry(listing.sku.clone()).or_default() += 1;
        }
        let mut number = 0u64;
        let mut settling = super::settling::Settling::default();
        let mut channels = super::channels::Channels::connect(self, &actor("demo-admin")).await?;
        let mut stock_out = super::stock_out::StockOut::new();
        progress.start(u64::from(days));

        for day in 0..i64::from(days) {
            let date = first_day + Duration::days(day);
            let at = |hour: u32, minute: u32| Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap_or_default());
            if plan.price_cut.as_ref().is_some_and(|cut| cut.from == date) {
                let levels = self.inventory().stock_levels(None).await?;
                let (_, sold) = self.ledger().profitability_by_sku(ordo_app::Period { from: Some(first_day), to: Some(date) }).await?;
                let revenue = sold.into_iter().map(|m| (m.key, m.revenue)).collect();
                if let Some((sku, monday)) = plan.choose_price_cut(date, &a_listed, &levels, &revenue) {
                    let what = format!("{sku} sells at {CUT_PRICE_PERCENT} % of its price from the Sunday before the week");
                    summary.planted.push(Planted { kind: "margin_drop", subject: format!("sku:{sku}"), day: monday, what });
                }
            }
            let mut events: Vec<(DateTime<Utc>, Event)> = vec![
                (at(7, 0), Event::Review),
                (at(9, 0), Event::Deliveries),
                (at(10, 0), Event::Service),
                (at(16, 0), Event::Service),
                (at(2, 0), Event::Night),
                (at(8, 30), Event::Supplies),
                (at(23, 0), Event::Watch),
            ];
            if plan.count == Some(date) {
                events.push((at(18, 0), Event::Count));
            }
            if plan.returns == Some(date) {
                events.push((at(12, 0), Event::Complaints));
            }
            // The marketplace's orders are polled every hour of the selling day, and every
            // channel is told its stock.
            for hour in 8..=22 {
                events.push((at(hour, 5), Event::Poll));
                events.push((at(hour, 35), Event::Push));
            }
            // Marketplaces settle weekly, and on the last day.
            if day % 7 == 6 || day + 1 == i64::from(days) {
                events.push((at(6, 30), Event::Settle));
            }
            // Suppliers deliver twice a week.
            if day % 3 == 2 {
                events.push((at(8, 0), Event::Receipts));
            }
            // Two waves a day at each site that works that day: mid-morning, and an hour before
            // the carrier's cut-off.
            for site in &sites {
                let Some((code, _)) = WAVE_CAPACITY.iter().find(|(code, _)| *code == site.code) else { continue };
                let schedule = site.schedule();
                let cutoff_at = schedule.next_cutoff(at(0, 0));
                // A closed day's next cut-off is the next working day's, scheduled on its own day.
                if cutoff_at.with_timezone(&schedule.zone).date_naive() != date {
                    continue;
                }
                events.push((cutoff_at - Duration::hours(6), Event::Wave(code)));
                events.push((cutoff_at - Duration::hours(1), Event::Wave(code)));
                events.push((cutoff_at + Duration::minutes(1), Event::Watch));
            }
            let boost = if (peak..peak + 2).contains(&day) { 3 } else { 1 };
            for (channel, base) in DAILY_ORDERS {
                let Some(catalogue) = listings.get(channel).filter(|l| !l.is_empty()) else { continue };
                let mut count = seed.between(base * 3 / 4, base * 5 / 4) * boost;
                // The planted day of cancellations has orders enough to judge (20 at least).
                if plan.cancellations == Some((channel, date)) {
                    count = count.max(base + 4);
                }
                for _ in 0..count {
                    number += 1;
                    let placed_at = at(7, 0) + Duration::minutes(seed.between(0, 14 * 60));
                    let body = demo_order(&mut seed, channel, number, placed_at, catalogue, (&class, &plan), &customers);
                    events.push((placed_at, Event::Order(body)));
                }
            }
            events.sort_by_key(|(when, _)| *when);

            for (when, event) in events {
                self.clock().set(when);
                match event {
                    Event::Review => {
                        for id in held_yesterday.drain(..) {
                            if self.orders().release_hold(id, "payment confirmed at review", &reviewer).await.is_ok() {
                                summary.released += 1;
                            }
                        }
                    }
                    Event::Deliveries => {
                        let (due, later): (Vec<_>, Vec<_>) = in_transit.drain(..).partition(|(at, ..)| *at <= when);
                        in_transit = later;
                        for (_, shipment, _) in due {
                            let order = self.fulfilment().deliver_shipment(shipment, &floor).await?;
                            desk.delivered(order.id, &order.channel, when);
                            delivered.push((when, order.id, order.lines.iter().map(|l| l.sku.clone()).collect()));
                            summary.delivered += 1;
                        }
                    }
                    Event::Receipts => summary.receipts += self.demo_deliveries(&mut seed, &buyer).await?,
                    Event::Order(body) => {
                        let channel = body["channel"].as_str().unwrap_or_default().to_owned();
                        let order = match channel.as_str() {
                            "web" => channels.shopify(self, &body, number_of(&body), &mut seed).await?,
                            "b2b" => channels.woocommerce(self, &body, number_of(&body), &mut seed).await?,
                            "amazon" => {
                                channels.list_on_amazon(&body);
                                None
                            }
                            _ => {
                                let payload = body.to_string();
                                let new: NewOrder = serde_json::from_value(body)
                                    .map_err(|e| AppError::Invalid(ordo_domain::FieldError::new("demo order", e.to_string())))?;
                                Some(self.orders().receive_order(new, &payload, &channel_actor).await?.order)
                            }
                        };
                        if let Some(order) = order {
                            self.demo_intake(order, &mut summary, &plan, &mut held_yesterday, &mut seed, &channel_actor).await?;
                        }
                    }
                    Event::Poll => {
                        for order in channels.poll_amazon(self).await? {
                            self.demo_intake(order, &mut summary, &plan, &mut held_yesterday, &mut seed, &channel_actor).await?;
                        }
                    }
                    Event::Push => stock_out.push(self).await?,
                    Event::Wave(location) => {
                        let capacity = WAVE_CAPACITY.iter().find(|(code, _)| *code == location).map_or(20, |(_, n)| *n);
                        // A site with nothing to pick releases no wave, and none is counted.
                        if let Some(shipped) = self.demo_wave(&mut seed, location, capacity, &floor).await? {
                            for (shipment, order) in shipped {
                                in_transit.push((when + Duration::days(seed.between(2, 4)), shipment, order));
                                summary.shipments += 1;
                            }
                            summary.waves += 1;
                        }
                    }
                    Event::Watch => {
                        self.fulfilment().watch_ship_by().await?;
                        self.returns().watch_returns().await?;
                        self.helpdesk().watch_tickets().await?;
                        self.exceptions().escalate_overdue().await?;
                        desk.deliver(self).await?;
                    }
                    Event::Night => {
                        // A week before the end, the coming week's forecasts are kept to score.
                        if day + 8 == i64::from(days) {
                            buying.take_snapshot(self, &a_skus).await?;
                        }
                        buying.night(self).await?;
                    }
                    Event::Supplies => {
                        buying.morning(self).await?;
                        self.procurement().watch_purchase_orders().await?;
                    }
                    Event::Service => {
                        desk.work(self, when).await?;
                        let travelling: Vec<Uuid> = in_transit.iter().map(|(_, _, order)| *order).collect();
                        desk.customers_ask(self, &travelling).await?;
                        desk.deliver(self).await?;
                    }
                    Event::Count => {
                        if let Some(planted) = self.plant_count(date, &floor).await? {
                            summary.planted.push(planted);
                        }
                    }
                    Event::Complaints => {
                        let recent: Vec<&(DateTime<Utc>, Uuid, Vec<String>)> = delivered.iter().filter(|(at, ..)| *at > when - Duration::days(14)).collect();
                        let mut orders_of: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
                        for (_, order, skus) in &recent {
                            for sku in skus {
                                orders_of.entry(sku.as_str()).or_default().push(*order);
                            }
                        }
                        if let Some((sku, orders)) = orders_of.into_iter().max_by_key(|(sku, orders)| (orders.len(), std::cmp::Reverse(*sku))) {
                            let sent = desk.complain(self, &orders[..orders.len().min(COMPLAINTS)], sku, COMPLAINT).await?;
                            let what = format!("{sent} customers send {sku} back as not as described");
                            summary.planted.push(Planted { kind: "return_spike", subject: format!("sku:{sku}"), day: date, what });
                        }
                    }
                    Event::Settle => {
                        for marketplace in super::settling::MARKETPLACES {
                            let imported = self.demo_settlement(&mut seed, &mut settling, marketplace, date, &reviewer).await?;
                            if let Some((imported, planted_fee)) = imported {
                                // The first, if big enough, carries a commission at 40 % on its second order.
                                if planted_fee {
                                    let what = format!("{}'s first settlement charges one line a 40 % commission", marketplace.0);
                                    summary.planted.push(Planted { kind: "fee_anomaly", subject: format!("settlement:{}", imported.id), day: date, what });
                                }
                                summary.settlements += 1;
                                summary.settlement_lines += imported.lines as u64;
                                summary.settlement_matched += imported.matched as u64;
                            }
                        }
                    }
                }
            }
            progress.advance();
        }
        desk.deliver(self).await?;
        summary.service = desk.summary;
        buying.score(self).await?;
        summary.buying = buying.summary;
        summary.channels = channels.summary;
        summary.stock_out = stock_out.finish(self).await?;
        if days >= 2 {
            summary.anomalies = self.anomalies().scan(i64::from(days - 1).min(ordo_app::MAX_JUDGED_DAYS)).await?.findings;
        }
        let counts = self.exceptions().exception_counts().await?;
        summary.stockouts_raised = counts.iter().find(|c| c.kind == "stockout").map_or(0, |c| c.all as u64);
        summary.exceptions = counts;
        (summary.shipped_on_time, summary.shipped_orders) = self.orders().ship_by_adherence().await?;
        summary.oversells = self.inventory().stock_discrepancies().await?.len();
        summary.trial_balance = Some(self.ledger().trial_balance().await?);
        summary.margins = self.ledger().profitability_by_channel(ordo_app::Period::default()).await?.1;
        summary.books_hold = self.ledger().check_ledger().await?.holds();
        // The dashboard served on this data reads its trends folded from the first page on.
        self.reports().fold_daily_totals().await?;
        Ok(summary)
    }

    /// The planted stock variance: a count at the central warehouse finds units of its
    /// best-stocked SKU missing.
    async fn plant_count(&self, day: NaiveDate, floor: &Actor) -> AppResult<Option<Planted>> {
        let levels = self.inventory().stock_levels(None).await?;
        let Some(level) = levels.iter().filter(|l| l.location == "central" && l.on_hand - l.reserved >= MISSING_UNITS).max_by_key(|l| (l.on_hand, std::cmp::Reverse(l.sku.clone()))) else {
            return Ok(None);
        };
        let count = NewMovement {
            sku: level.sku.clone(),
            location: "central".into(),
            quantity: level.on_hand - MISSING_UNITS,
            kind: MovementKind::Count,
            reason: "cycle count".into(),
            unit_cost: None,
        };
        self.inventory().record_movement(count, floor).await?;
        let what = format!("a count finds {MISSING_UNITS} units of {} missing at central", level.sku);
        Ok(Some(Planted { kind: "stock_variance", subject: "location:central".into(), day, what }))
    }

    /// One wave at `location` of at most `capacity` orders, walked, packed and handed to the
    /// carrier half an hour later. Returns the shipments and their orders; none when nothing
    /// waits there.
    async fn demo_wave(&self, seed: &mut Seed, location: &str, capacity: i64, floor: &Actor) -> AppResult<Option<Vec<(Uuid, Uuid)>>> {
        let new = NewWave { location: location.to_owned(), shipping_method: None, max_orders: Some(capacity) };
        let wave = match self.fulfilment().release_wave(new, floor).await {
            Ok(wave) => wave,
            Err(AppError::Invalid(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.fulfilment().pick_wave(wave.id, floor).await?;
        self.clock().set(self.now() + Duration::minutes(30));
        let mut shipments = Vec::with_capacity(wave.orders.len());
        for order in &wave.orders {
            self.fulfilment().pack_wave_order(wave.id, order.order_id, floor).await?;
            let carrier = if order.channel == "b2b" { "Freightline" } else { ["UPS", "FedEx", "USPS"][seed.between(0, 2) as usize] };
            let dispatch = Dispatch { carrier: carrier.to_owned(), tracking_number: format!("1Z{:012}", seed.between(0, 999_999_999_999)) };
            let shipped = self.fulfilment().ship_wave_order(wave.id, order.order_id, dispatch, floor).await?;
            if let Some(shipment) = shipped.shipments.last() {
                shipments.push((shipment.id, order.order_id));
            }
        }
        Ok(Some(shipments))
    }

    /// Receives stock at the central warehouse for every SKU that orders wait for.
    async fn demo_deliveries(&self, seed: &mut Seed, buyer: &Actor) -> AppResult<u64> {
        let waiting = self.storage().read().await?.backordered_by_sku().await?;
        let mut receipts = 0;
        for (sku, quantity) in waiting {
            let receipt = NewMovement {
                sku,
                location: "central".into(),
                quantity: quantity + seed.between(5, 30),
                kind: MovementKind::Receipt,
                reason: "supplier delivery".into(),
                unit_cost: None,
            };
            self.inventory().record_movement(receipt, buyer).await?;
            receipts += 1;
        }
        Ok(receipts)
    }
}

/// One order as a channel would send it: popular SKUs more often, B2B in bulk.
/// Each channel's orders on an ordinary day, give or take a quarter.
pub(crate) const DAILY_ORDERS: [(&str, i64); 4] = [("amazon", 34), ("wayfair", 16), ("web", 24), ("b2b", 2)];

/// The listings one order of `channel` buys: a wholesale order two to five, others one to
/// three; A items often, C items seldom.
pub(crate) fn pick_listings<'a>(seed: &mut Seed, channel: &str, catalogue: &'a [Listing], class: &BTreeMap<String, AbcClass>) -> Vec<&'a Listing> {
    let lines = if channel == "b2b" { seed.between(2, 5) } else { seed.between(1, 3) };
    let mut chosen: Vec<&Listing> = Vec::new();
    while (chosen.len() as i64) < lines {
        let listing = &catalogue[seed.between(0, catalogue.len() as i64 - 1) as usize];
        // A items sell often, C items seldom: re-draw most C picks.
        let keep = match class.get(&listing.sku) {
            Some(AbcClass::A) => true,
            Some(AbcClass::B) => seed.between(1, 3) > 1,
            _ => seed.between(1, 4) == 1,
        };
        if keep && !chosen.iter().any(|l| l.channel_sku == listing.channel_sku) {
            chosen.push(listing);
        }
    }
    chosen
}

/// Units on one line: a wholesale line six to 24, others one or two.
pub(crate) fn line_quantity(seed: &mut Seed, channel: &str) -> i64 {
    if channel == "b2b" { seed.between(6, 24) } else { seed.between(1, 2) }
}

fn demo_order(
    seed: &mut Seed,
    channel: &str,
    number: u64,
    placed_at: DateTime<Utc>,
    catalogue: &[Listing],
    (class, plan): (&BTreeMap<String, AbcClass>, &Plan),
    customers: &[ordo_domain::master::Customer],
) -> serde_json::Value {
    let chosen = pick_listings(seed, channel, catalogue, class);
    let customer = &customers[seed.between(0, customers.len() as i64 - 1) as usize];
    let (city, postal_code, country) = CITIES[seed.between(0, CITIES.len() as i64 - 1) as usize];
    let payment = if channel == "web" && seed.between(1, 100) <= 4 { "authorized" } else { "captured" };
    let lines: Vec<serde_json::Value> = chosen
        .iter()
        .map(|l| {
            let quantity = line_quantity(seed, channel);
            let price = if plan.cut(&l.sku, placed_at.date_naive()) { l.price.minor() * CUT_PRICE_PERCENT / 100 } else { l.price.minor() };
            serde_json::json!({"sku": l.channel_sku, "quantity": quantity, "unit_price": ordo_domain::Money::from_minor(price, l.price.currency()).to_decimal_string()})
        })
        .collect();
    serde_json::json!({
        "channel": channel,
        "external_id": format!("{}-{number:06}", channel.to_uppercase()),
        "placed_at": placed_at,
        "currency": chosen.first().map_or("USD", |l| l.currency.code()),
        "customer": {"email": customer.email, "name": customer.name},
        "ship_to": {"name": customer.name, "line1": format!("{} Market Street", seed.between(1, 999)),
                    "city": city, "postal_code": postal_code, "country": country},
        "shipping_method": if channel == "b2b" { "freight" } else { "standard" },
        "payment_status": payment,
        "lines": lines,
    })
}
