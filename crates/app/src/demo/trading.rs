//! The demo business trading through simulated days: orders from every channel (marketplaces
//! most, the web shop next, B2B few but large), a promotion peak, the odd unpaid or
//! cancelled order, reviews released the next morning, and supplier deliveries that clear
//! backorders. Everything goes through the same use cases the API calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ordo_domain::inventory::{MovementKind, NewMovement};
use ordo_domain::master::{AbcClass, Listing};
use ordo_domain::order::{NewOrder, OrderStatus};
use uuid::Uuid;

use super::Seed;
use crate::{Actor, ActorKind, AppError, AppResult, Ordo, Progress};

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
    pub receipts: u64,
    pub stockouts_raised: u64,
    /// Places where reserved stock exceeds on-hand or disagrees with movements: must be 0.
    pub oversells: usize,
}

impl TradingSummary {
    /// Share of routed orders fully reserved on arrival, in per mille (no floats).
    pub fn fill_rate_per_mille(&self) -> u64 {
        (self.filled_on_arrival * 1000).checked_div(self.routed).unwrap_or(1000)
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

fn actor(name: &str) -> Actor {
    Actor { kind: ActorKind::System, name: name.to_owned(), role: ordo_domain::access::Role::Admin }
}

impl Ordo {
    /// Trades the demo business through `days` days ending today.
    pub(crate) async fn trade_demo(&self, days: u32, progress: &dyn Progress) -> AppResult<TradingSummary> {
        let mut summary = TradingSummary { days, ..TradingSummary::default() };
        let mut seed = Seed(7_2026);
        let products = self.products(None, 500, 0).await?.products;
        let class: BTreeMap<String, AbcClass> = products.iter().map(|p| (p.sku.clone(), p.abc_class)).collect();
        let customers = self.customers(500, 0).await?;
        let mut listings: BTreeMap<String, Vec<Listing>> = BTreeMap::new();
        for listing in self.listings(None).await? {
            if products.iter().any(|p| p.sku == listing.sku && p.active) {
                listings.entry(listing.channel.clone()).or_default().push(listing);
            }
        }
        let today = Utc::now().date_naive();
        let first_day = today - Duration::days(i64::from(days));
        let peak = i64::from(days) * 2 / 3;
        let channel_actor = actor("demo-channels");
        let reviewer = actor("demo-finance");
        let buyer = actor("demo-procurement");
        let mut held_yesterday: Vec<Uuid> = Vec::new();
        let mut number = 0u64;
        progress.start(u64::from(days));

        for day in 0..i64::from(days) {
            let date = first_day + Duration::days(day);
            let start: DateTime<Utc> = Utc.from_utc_datetime(&date.and_hms_opt(7, 0, 0).unwrap_or_default());
            // Finance reviews yesterday's holds first thing.
            for id in held_yesterday.drain(..) {
                if self.release_hold(id, "payment confirmed at review", &reviewer).await.is_ok() {
                    summary.released += 1;
                }
            }
            let boost = if (peak..peak + 2).contains(&day) { 3 } else { 1 };
            for (channel, base) in [("amazon", 34), ("wayfair", 16), ("web", 24), ("b2b", 2)] {
                let Some(catalogue) = listings.get(channel).filter(|l| !l.is_empty()) else { continue };
                let count = seed.between(base * 3 / 4, base * 5 / 4) * boost;
                for _ in 0..count {
                    number += 1;
                    let placed_at = start + Duration::minutes(seed.between(0, 14 * 60));
                    let body = demo_order(&mut seed, channel, number, placed_at, catalogue, &class, &customers);
                    let payload = body.to_string();
                    let new: NewOrder = serde_json::from_value(body)
                        .map_err(|e| AppError::Invalid(ordo_domain::FieldError::new("demo order", e.to_string())))?;
                    let intake = self.receive_order(new, &payload, &channel_actor).await?;
                    *summary.orders_by_channel.entry(channel.to_owned()).or_default() += 1;
                    match intake.order.status {
                        OrderStatus::OnHold => {
                            summary.held += 1;
                            held_yesterday.push(intake.order.id);
                        }
                        status => {
                            summary.routed += 1;
                            summary.filled_on_arrival += u64::from(status == OrderStatus::Allocated);
                        }
                    }
                    // A few customers change their minds the same day.
                    if seed.between(1, 100) <= 2 && intake.order.status.is_open() {
                        self.cancel_order(intake.order.id, "customer cancelled on the channel", &channel_actor).await?;
                        summary.cancelled += 1;
                    }
                }
            }
            // Suppliers deliver twice a week: what is backordered plus a cushion.
            if day % 3 == 2 {
                summary.receipts += self.demo_deliveries(&mut seed, &buyer).await?;
            }
            progress.advance();
        }
        summary.stockouts_raised = self.exceptions(None).await?.iter().filter(|e| e.kind == "stockout").count() as u64;
        summary.oversells = self.stock_discrepancies().await?.len();
        Ok(summary)
    }

    /// Receives stock at the central warehouse for every SKU that orders wait for.
    async fn demo_deliveries(&self, seed: &mut Seed, buyer: &Actor) -> AppResult<u64> {
        let waiting = self.db.read().await?.backordered_by_sku().await?;
        let mut receipts = 0;
        for (sku, quantity) in waiting {
            let receipt = NewMovement {
                sku,
                location: "central".into(),
                quantity: quantity + seed.between(5, 30),
                kind: MovementKind::Receipt,
                reason: "supplier delivery".into(),
            };
            self.record_movement(receipt, buyer).await?;
            receipts += 1;
        }
        Ok(receipts)
    }
}

/// One order as a channel would send it: popular SKUs more often, B2B in bulk.
fn demo_order(
    seed: &mut Seed,
    channel: &str,
    number: u64,
    placed_at: DateTime<Utc>,
    catalogue: &[Listing],
    class: &BTreeMap<String, AbcClass>,
    customers: &[ordo_domain::master::Customer],
) -> serde_json::Value {
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
    let customer = &customers[seed.between(0, customers.len() as i64 - 1) as usize];
    let (city, postal_code, country) = CITIES[seed.between(0, CITIES.len() as i64 - 1) as usize];
    let payment = if channel == "web" && seed.between(1, 100) <= 4 { "authorized" } else { "captured" };
    let lines: Vec<serde_json::Value> = chosen
        .iter()
        .map(|l| {
            let quantity = if channel == "b2b" { seed.between(6, 24) } else { seed.between(1, 2) };
            serde_json::json!({"sku": l.channel_sku, "quantity": quantity, "unit_price": l.price.to_decimal_string()})
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
