//! The reference business: a home-accessories retailer with a web shop, two marketplaces
//! and a B2B portal, one central warehouse and a third-party overflow site, about 300 SKUs in
//! ABC classes, suppliers, customers, opening stock and one demo user per role.
//!
//! Everything is derived from a fixed seed, so every run builds the same business.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ordo_domain::access::Role;
use ordo_domain::calendar::NewCalendar;
use ordo_domain::inventory::{MovementKind, MovementRequest};
use ordo_domain::master::{
    AbcClass, ChannelKind, CustomerSegment, LocationKind, NewChannel, NewCustomer, NewListing, NewLocation,
    NewSupplier, Product,
};
use ordo_domain::{FieldError, Money};
use ordo_storage::Tx;
use uuid::Uuid;

use ordo_app::{Actor, AppError, AppResult, Clock, Ordo, Progress};

mod buying;
mod channels;
mod history;
mod planted;
pub use planted::Planted;
mod service;
mod settling;
mod stock_out;
pub use stock_out::StockOutSummary;
mod trading;

pub use buying::BuyingSummary;
pub use channels::ChannelsSummary;
pub use history::OldSales;
pub use service::ServiceSummary;
pub use trading::TradingSummary;

/// Every demo user's password; printed by `ordo demo`.
pub const DEMO_PASSWORD: &str = "ordo-demo-2026";

/// The `meta` key that marks a database as built by the demo, so it may be rebuilt.
const DEMO_MARK: &str = "demo";

/// What the demo built.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub channels: Vec<String>,
    pub locations: Vec<String>,
    pub products_by_class: [(AbcClass, usize); 3],
    pub listings: usize,
    pub customers: usize,
    pub suppliers: usize,
    pub units_on_hand: i64,
    pub stock_value: Money,
    pub users: Vec<(String, Role)>,
    pub trading: TradingSummary,
}

/// A small, fast, deterministic generator (SplitMix64): the demo needs variety, not secrecy.
pub(crate) struct Seed(pub(crate) u64);

impl Seed {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low + 1).max(1) as u64;
        low + (self.next() % span) as i64
    }
}

/// (code, name, base cost in cents, weight in grams, tax class)
const CATEGORIES: &[(&str, &str, i64, i64, &str)] = &[
    ("CUS", "Cushion cover", 600, 250, "standard"),
    ("THR", "Throw blanket", 1800, 900, "standard"),
    ("LMP", "Table lamp", 2400, 1600, "standard"),
    ("CND", "Scented candle", 450, 400, "standard"),
    ("VAS", "Vase", 900, 1100, "standard"),
    ("FRM", "Picture frame", 500, 600, "standard"),
    ("CLK", "Wall clock", 1500, 1200, "standard"),
    ("BSK", "Storage basket", 1100, 800, "standard"),
    ("MIR", "Wall mirror", 3200, 4500, "standard"),
    ("PLN", "Planter", 800, 1500, "standard"),
    ("BWL", "Serving bowl", 700, 900, "standard"),
    ("CST", "Coaster set", 300, 300, "standard"),
    ("RUN", "Table runner", 650, 350, "standard"),
    ("MAT", "Door mat", 900, 1800, "standard"),
    ("TWL", "Bath towel", 550, 700, "reduced"),
];
/// (code, name, cost percent)
const MATERIALS: &[(&str, &str, i64)] = &[
    ("LIN", "Linen", 120),
    ("VEL", "Velvet", 135),
    ("CER", "Ceramic", 100),
    ("RAT", "Rattan", 110),
    ("OAK", "Oak", 150),
    ("BRS", "Brass", 170),
    ("GLS", "Glass", 95),
    ("COT", "Cotton", 90),
    ("MRB", "Marble", 180),
    ("JUT", "Jute", 85),
];
const COLOURS: &[(&str, &str)] =
    &[("SND", "Sand"), ("SGE", "Sage"), ("CHR", "Charcoal"), ("TER", "Terracotta"), ("IVR", "Ivory"), ("NVY", "Navy")];
const VARIANTS_PER_CATEGORY: usize = 20;

const FIRST_NAMES: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira", "Liam", "Maya",
    "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Samir", "Tara",
];
const LAST_NAMES: &[&str] = &["Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen"];
const BUSINESSES: &[&str] = &[
    "Cosy Corner Interiors", "Harbour Home Store", "Maple & Moss", "The Linen Loft", "Urban Nest Boutique",
    "Willow Lane Gifts", "Northlight Living", "Stone & Stem", "Bayside Decor", "Little House Co",
];

/// The key the demo seals its connectors' secrets with when none is configured: serve the
/// demo with `ORDO_SECRET_KEY` set to it for its connectors to take webhooks. Never for real use.
pub const DEMO_SECRET_KEY: &str = "ordo-demo-key-for-the-demo-database-only";

/// The endpoint of the receiver `ordo demo` runs while it trades; switched off at the end.
pub const RECEIVER_ENDPOINT: &str = "crm";

/// Builds the reference business on an empty database, or rebuilds it on one the demo built
/// before. A database holding anything else is refused, so the demo can never wipe real data.
///
/// The business opens `days` days ago and trades up to today on a simulated clock, so every
/// order, wave and exception carries the time it would have had.
///
/// `receiver`, when given, is an `http://` address that takes the demo's customer
/// notifications (`ordo demo` runs one that fails now and then); the demo also keeps an
/// endpoint that is gone, so retries and dead letters show. `webhooks` sends them.
pub async fn build_demo(
    ordo: &Ordo,
    days: u32,
    receiver: Option<&str>,
    webhooks: std::sync::Arc<dyn ordo_app::WebhookClient>,
    progress: &dyn Progress,
) -> AppResult<DemoSummary> {
    let first_day = Utc::now().date_naive() - chrono::Duration::days(i64::from(days));
    let opening = Utc.from_utc_datetime(&first_day.and_hms_opt(6, 0, 0).unwrap_or_default());
    // The demo's connectors keep webhook secrets: without a configured key, the demo's own.
    let ordo = match ordo.settings().secret_key {
        Some(_) => ordo.clone(),
        None => {
            let key = ordo_app::SecretKey::from_text(DEMO_SECRET_KEY).map_err(|e| FieldError::new("secret_key", e.to_string()))?;
            ordo.with_settings(ordo_app::Settings { secret_key: Some(key), ..ordo.settings().clone() })
        }
    };
    Shop(ordo.with_clock(Clock::simulated(opening))).build_demo_from(first_day, days, receiver, webhooks, progress).await
}

/// Ordo as the demo drives it: every use case, plus the demo's own steps.
#[derive(Clone)]
pub(crate) struct Shop(Ordo);

impl std::ops::Deref for Shop {
    type Target = Ordo;
    fn deref(&self) -> &Ordo {
        &self.0
    }
}

impl Shop {

    async fn build_demo_from(
        &self,
        first_day: NaiveDate,
        days: u32,
        receiver: Option<&str>,
        webhooks: std::sync::Arc<dyn ordo_app::WebhookClient>,
        progress: &dyn Progress,
    ) -> AppResult<DemoSummary> {
        let mut tx = self.storage().write().await?;
        let counts = tx.master_data_counts().await?;
        let empty = counts == ordo_storage::MasterDataCounts::default() && tx.api_token_count().await? == 0;
        if !empty && tx.meta(DEMO_MARK).await?.is_none() {
            return Err(AppError::Invalid(FieldError::new(
                "database",
                "holds data that the demo did not make; give the demo an empty database",
            )));
        }
        tx.delete_everything().await?;
        tx.set_meta(DEMO_MARK, "true").await?;
        ordo_app::open_default_chart(&mut tx, self.now()).await?;
        ordo_app::seed_initial_rules(&mut tx, &self.settings().risk, self.now()).await?;

        let now = self.now();
        let mut seed = Seed(2026);
        let base = self.settings().base_currency;
        let products = demo_products(&mut seed, base);
        let mut summary = DemoSummary {
            channels: Vec::new(),
            locations: Vec::new(),
            products_by_class: [(AbcClass::A, 0), (AbcClass::B, 0), (AbcClass::C, 0)],
            listings: 0,
            customers: 0,
            suppliers: 0,
            units_on_hand: 0,
            stock_value: Money::zero(base),
            users: Vec::new(),
            trading: TradingSummary::default(),
        };
        progress.start(products.len() as u64 * 3 + 40);

        for (code, name, kind, sla) in [
            ("web", "Web shop", ChannelKind::Web, 24),
            ("amazon", "Amazon marketplace", ChannelKind::Marketplace, 48),
            ("wayfair", "Wayfair marketplace", ChannelKind::Marketplace, 48),
            ("b2b", "Wholesale portal", ChannelKind::B2b, 72),
        ] {
            let currency = self.settings().base_currency.code().to_owned();
            let new = NewChannel { code: code.into(), name: name.into(), kind, currency, ship_by_sla_hours: Some(sla) };
            tx.insert_channel(&new.validate()?, now).await?;
            summary.channels.push(code.to_owned());
        }
        // The 3PL does not work on Sundays: its orders wait for Monday's waves and their ship-by
        // dates count its working days.
        for (code, name, kind, priority, zone, cutoff, closed_weekdays) in [
            ("central", "Central warehouse", LocationKind::Warehouse, 1, "America/Chicago", "15:00", &[][..]),
            ("overflow", "Overflow 3PL", LocationKind::ThirdPartyLogistics, 2, "America/New_York", "13:00", &["sunday"][..]),
        ] {
            let new = NewLocation {
                code: code.into(),
                name: name.into(),
                kind,
                priority,
                time_zone: Some(zone.into()),
                cutoff_time: Some(cutoff.into()),
                managed_by: None,
                calendar: Some(NewCalendar { closed_weekdays: closed_weekdays.iter().map(|d| (*d).to_owned()).collect(), closed_dates: Vec::new() }),
            };
            tx.insert_location(&new.validate()?, now).await?;
            summary.locations.push(code.to_owned());
        }
        for (code, name, currency, lead_time_days) in [
            ("nordic-textiles", "Nordic Textiles AB", "EUR", 10),
            ("lumen-lighting", "Lumen Lighting Inc.", "USD", 7),
            ("terra-ceramics", "Terra Ceramics Lda.", "EUR", 12),
            ("oak-and-reed", "Oak & Reed Workshop", "USD", 9),
        ] {
            let new = NewSupplier { code: code.into(), name: name.into(), currency: currency.into(), lead_time_days };
            tx.insert_supplier(&new.validate()?, now).await?;
            summary.suppliers += 1;
        }
        progress.advance();

        for product in &products {
            tx.insert_product(product, now).await?;
            progress.advance();
        }
        summary.products_by_class = [AbcClass::A, AbcClass::B, AbcClass::C]
            .map(|class| (class, products.iter().filter(|p| p.abc_class == class).count()));

        summary.listings = self.demo_listings(&mut tx, &mut seed, &products, now, progress).await?;
        let (units, value) = self.demo_opening_stock(&mut tx, &mut seed, &products, now, progress).await?;
        summary.units_on_hand = units;
        summary.stock_value = value;
        summary.customers = demo_customers(&mut tx, &mut seed, now).await?;
        demo_service_setup(&mut tx, receiver, now).await?;
        buying::setup(&mut tx, &products, base, now).await?;
        progress.advance();
        // Built in bulk, below the use cases: one record says what was made.
        let built = serde_json::json!({
            "products": products.len(), "listings": summary.listings, "customers": summary.customers,
            "units_on_hand": summary.units_on_hand,
        });
        let change = ordo_domain::audit::Change::new("demo.build", "demo").after(built).reason("ordo demo");
        ordo_app::record_audit(&mut tx, &Actor::system(), now, &[change]).await?;
        tx.commit().await?;
        self.clear_cache();

        // Password hashing is deliberately slow; users go in after the bulk of the data.
        for role in Role::ALL {
            self.access().create_user(role.as_str(), DEMO_PASSWORD, role, &Actor::system()).await?;
            summary.users.push((role.as_str().to_owned(), role));
            progress.advance();
        }
        summary.trading = self.trade_demo(first_day, days, webhooks, progress).await?;
        if receiver.is_some() {
            // The receiver lives only as long as `ordo demo`: a server on this database must
            // not go on writing to it, nor raise a dead letter for every message after it.
            self.outbox().retire_endpoint(&Actor::system(), RECEIVER_ENDPOINT, "the demo's receiver stopped with the demo").await?;
        }
        Ok(summary)
    }

    async fn demo_listings(
        &self,
        tx: &mut Tx,
        seed: &mut Seed,
        products: &[Product],
        now: DateTime<Utc>,
        progress: &dyn Progress,
    ) -> AppResult<usize> {
        let mut count = 0;
        for product in products {
            let cost = product.unit_cost;
            // Retail at about 2.4 times cost, ending in .99; marketplaces add their fees back.
            let retail = cost.scaled(240, 100).map_err(money_error)?;
            let retail = Money::from_minor(retail.minor() - retail.minor() % 100 + 99, retail.currency());
            let mut listings = vec![("web", product.sku.clone(), retail)];
            if seed.between(1, 100) <= 85 {
                let asin = format!("B0{:08X}", seed.next() as u32);
                listings.push(("amazon", asin, retail.scaled(110, 100).map_err(money_error)?));
            }
            if seed.between(1, 100) <= 50 {
                let id = format!("WF-{:06}", seed.between(100_000, 999_999));
                listings.push(("wayfair", id, retail.scaled(108, 100).map_err(money_error)?));
            }
            if product.active {
                listings.push(("b2b", format!("W-{}", product.sku), cost.scaled(160, 100).map_err(money_error)?));
            }
            for (channel, channel_sku, price) in listings {
                let new = NewListing {
                    channel: channel.into(),
                    channel_sku,
                    sku: product.sku.clone(),
                    price: price.to_decimal_string(),
                };
                tx.insert_listing(&new.validate(price.currency())?, now).await?;
                count += 1;
            }
            progress.advance();
        }
        Ok(count)
    }

    /// Opening stock as receipts: A items deep at both sites, C items thin at the centre only.
    async fn demo_opening_stock(
        &self,
        tx: &mut Tx,
        seed: &mut Seed,
        products: &[Product],
        now: DateTime<Utc>,
        progress: &dyn Progress,
    ) -> AppResult<(i64, Money)> {
        let mut units = 0;
        let mut value = Money::zero(self.settings().base_currency);
        // Fast movers sit in aisle A by the packing benches, slow ones at the back.
        let mut shelved = [0usize; 3];
        for product in products.iter().filter(|p| p.active) {
            let aisle = match product.abc_class {
                AbcClass::A => 0,
                AbcClass::B => 1,
                AbcClass::C => 2,
            };
            let slot = shelved[aisle];
            shelved[aisle] += 1;
            let bin = format!("{}-{:02}-{}", ["A", "B", "C"][aisle], slot / 4 + 1, slot % 4 + 1);
            for location in ["central", "overflow"] {
                tx.set_bin(location, &product.sku, &bin).await?;
            }
            let (central, overflow) = match product.abc_class {
                AbcClass::A => (seed.between(60, 140), seed.between(20, 60)),
                AbcClass::B => (seed.between(25, 70), if seed.between(1, 3) == 1 { seed.between(5, 20) } else { 0 }),
                AbcClass::C => (seed.between(0, 25), 0),
            };
            for (location, quantity) in [("central", central), ("overflow", overflow)] {
                if quantity == 0 {
                    continue;
                }
                let receipt = MovementRequest {
                    sku: product.sku.clone(),
                    location: location.into(),
                    quantity,
                    kind: MovementKind::Receipt,
                    reason: "opening stock".into(),
                };
                tx.record_movement(&receipt, "system:demo", now).await?;
                units += quantity;
                let held = tx.valuation(&product.sku).await?;
                let (after, _) = held.purchase(quantity, product.unit_cost.minor()).map_err(|e| AppError::Invalid(FieldError::from(e)))?;
                tx.set_valuation(&product.sku, after).await?;
                value = value.checked_add(product.unit_cost.checked_times(quantity).map_err(money_error)?).map_err(money_error)?;
            }
            progress.advance();
        }
        let entry = ordo_domain::ledger::opening_stock("demo:opening-stock".into(), "opening stock at cost".into(), value)
            .map_err(|e| AppError::Invalid(FieldError::from(e)))?;
        self.ledger().post(tx, entry, "system:demo", now).await?;
        Ok((units, value))
    }
}

fn money_error(e: ordo_domain::MoneyError) -> AppError {
    AppError::Invalid(FieldError::new("demo", e.to_string()))
}

/// 300 products: 15 categories of 20 material and colour variants, ranked into ABC classes
/// by a made-up yearly revenue so the classes have the usual 20/30/50 shape.
fn demo_products(seed: &mut Seed, currency: ordo_domain::Currency) -> Vec<Product> {
    let mut ranked: Vec<(i64, Product)> = Vec::new();
    for (c, &(cat_code, cat_name, base_cost, weight, tax_class)) in CATEGORIES.iter().enumerate() {
        for v in 0..VARIANTS_PER_CATEGORY {
            // Walk the material × colour grid with a stride so categories differ.
            let cell = (v * 7 + c * 3) % (MATERIALS.len() * COLOURS.len());
            let (mat_code, mat_name, percent) = MATERIALS[cell / COLOURS.len()];
            let (col_code, col_name) = COLOURS[cell % COLOURS.len()];
            let cost = base_cost * percent / 100 + seed.between(0, 150);
            let product = Product {
                sku: format!("{cat_code}-{mat_code}-{col_code}"),
                name: format!("{cat_name}, {mat_name}, {col_name}"),
                unit_cost: Money::from_minor(cost, currency),
                currency,
                weight_grams: weight * percent / 100,
                tax_class: tax_class.to_owned(),
                abc_class: AbcClass::C,
                // A few discontinued items, as every real catalogue has.
                active: seed.between(1, 100) > 3,
            };
            // Skewed popularity: a few sell a lot, most sell a little.
            let popularity = 1 + 1000 / seed.between(1, 100);
            ranked.push((cost * popularity, product));
        }
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.sku.cmp(&b.1.sku)));
    let total = ranked.len();
    ranked
        .into_iter()
        .enumerate()
        .map(|(rank, (_, mut product))| {
            product.abc_class = match rank * 100 / total {
                0..20 => AbcClass::A,
                20..50 => AbcClass::B,
                _ => AbcClass::C,
            };
            product
        })
        .collect()
}

async fn demo_customers(tx: &mut Tx, seed: &mut Seed, now: DateTime<Utc>) -> AppResult<usize> {
    let mut count = 0;
    for business in BUSINESSES {
        let domain: String = business.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
        let new = NewCustomer {
            email: format!("buying@{domain}.example"),
            name: (*business).to_owned(),
            segment: Some(CustomerSegment::Business),
        };
        tx.insert_customer(&new.validate(Uuid::now_v7(), now)?).await?;
        count += 1;
    }
    for first in FIRST_NAMES {
        for last in LAST_NAMES.iter().take(6) {
            let segment = if seed.between(1, 10) == 1 { CustomerSegment::Vip } else { CustomerSegment::Consumer };
            let new = NewCustomer {
                email: format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
                name: format!("{first} {last}"),
                segment: Some(segment),
            };
            tx.insert_customer(&new.validate(Uuid::now_v7(), now)?).await?;
            count += 1;
        }
    }
    Ok(count)
}

/// Each channel's return policy, and where notifications go: the customer system at
/// `receiver`, and an old ERP that no longer answers, subscribed to replacements.
async fn demo_service_setup(tx: &mut Tx, receiver: Option<&str>, now: DateTime<Utc>) -> AppResult<()> {
    use ordo_domain::notification::{Endpoint, Topic, Transport};
    use ordo_domain::returns::ReturnPolicy;
    let b2b = ReturnPolicy {
        window_days: 14,
        auto_reasons: vec!["damaged".into(), "wrong_item".into()],
        max_auto_value_minor: Some(150_000),
        ..ReturnPolicy::default()
    };
    tx.set_return_policy("b2b", &b2b).await?;
    tx.set_return_policy("web", &ReturnPolicy { max_auto_value_minor: Some(30_000), ..ReturnPolicy::default() }).await?;
    let mut endpoints = vec![(
        "legacy-erp",
        service::GONE_ENDPOINT.to_owned(),
        vec![Topic::ReplacementShipped],
    )];
    if let Some(url) = receiver {
        let topics = Topic::ALL.iter().copied().filter(|t| *t != Topic::OrderConfirmed).collect();
        endpoints.push((RECEIVER_ENDPOINT, url.to_owned(), topics));
    }
    for (code, url, topics) in endpoints {
        let endpoint = Endpoint { code: code.into(), transport: Transport::Webhook, url: Some(url), topics, active: true };
        let record = ordo_storage::EndpointRecord { endpoint, secret: format!("{code}-demo-signing-secret"), created_at: now };
        tx.insert_endpoint(&record).await?;
    }
    Ok(())
}
