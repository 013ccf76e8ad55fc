//! Master data: channels, locations, products, listings, customers, suppliers.

use chrono::{DateTime, Utc};
use ordo_domain::calendar::Calendar;
use ordo_domain::master::{
    AbcClass, Channel, ChannelKind, Customer, CustomerSegment, Listing, Location, LocationKind, Product, Supplier,
};
use ordo_domain::{Currency, Money};
use uuid::Uuid;

use sqlx::AssertSqlSafe;

use crate::{on_engine, StorageError, Tx};

fn currency(code: &str) -> Result<Currency, StorageError> {
    Currency::from_code(code).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn corrupt(what: &str) -> impl FnOnce(ordo_domain::FieldError) -> StorageError + '_ {
    move |e| StorageError::Corrupt(format!("{what}: {e}"))
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    code: String,
    name: String,
    kind: String,
    currency: String,
    ship_by_sla_hours: i64,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StorageError;
    fn try_from(row: ChannelRow) -> Result<Self, StorageError> {
        Ok(Channel {
            kind: ChannelKind::parse("kind", &row.kind).map_err(corrupt("channels.kind"))?,
            currency: currency(&row.currency)?,
            code: row.code,
            name: row.name,
            ship_by_sla_hours: row.ship_by_sla_hours,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LocationRow {
    code: String,
    name: String,
    kind: String,
    priority: i64,
    time_zone: String,
    cutoff_time: String,
    managed_by: Option<String>,
    calendar: Option<String>,
}

impl TryFrom<LocationRow> for Location {
    type Error = StorageError;
    fn try_from(row: LocationRow) -> Result<Self, StorageError> {
        Ok(Location {
            kind: LocationKind::parse("kind", &row.kind).map_err(corrupt("locations.kind"))?,
            code: row.code,
            name: row.name,
            priority: row.priority,
            time_zone: read_time_zone(row.time_zone)?,
            cutoff_time: read_cutoff(row.cutoff_time)?,
            managed_by: row.managed_by,
            calendar: read_calendar(row.calendar.as_deref())?,
        })
    }
}

/// A location's time zone as stored, checked: ship-by dates and waves run on it.
pub(crate) fn read_time_zone(stored: String) -> Result<String, StorageError> {
    stored.parse::<chrono_tz::Tz>().map(|_| stored).map_err(|_| crate::error::corrupt("locations.time_zone"))
}

/// A location's cut-off as stored (`HH:MM`), checked.
pub(crate) fn read_cutoff(stored: String) -> Result<String, StorageError> {
    chrono::NaiveTime::parse_from_str(&stored, "%H:%M").map(|_| stored).map_err(|_| crate::error::corrupt("locations.cutoff_time"))
}

/// A location's calendar as stored: JSON, or NULL for one that works every day.
pub(crate) fn read_calendar(stored: Option<&str>) -> Result<Calendar, StorageError> {
    stored.map_or(Ok(Calendar::default()), |json| serde_json::from_str(json).map_err(|_| crate::error::corrupt("locations.calendar")))
}

fn write_calendar(calendar: &Calendar) -> Option<String> {
    (calendar != &Calendar::default()).then(|| serde_json::json!(calendar).to_string())
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    sku: String,
    name: String,
    unit_cost_minor: i64,
    currency: String,
    weight_grams: i64,
    tax_class: String,
    abc_class: String,
    active: bool,
}

impl TryFrom<ProductRow> for Product {
    type Error = StorageError;
    fn try_from(row: ProductRow) -> Result<Self, StorageError> {
        let currency = currency(&row.currency)?;
        Ok(Product {
            unit_cost: Money::from_minor(row.unit_cost_minor, currency),
            currency,
            abc_class: AbcClass::parse("abc_class", &row.abc_class).map_err(corrupt("products.abc_class"))?,
            sku: row.sku,
            name: row.name,
            weight_grams: row.weight_grams,
            tax_class: row.tax_class,
            active: row.active,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    channel: String,
    channel_sku: String,
    sku: String,
    price_minor: i64,
    currency: String,
}

impl TryFrom<ListingRow> for Listing {
    type Error = StorageError;
    fn try_from(row: ListingRow) -> Result<Self, StorageError> {
        let currency = currency(&row.currency)?;
        Ok(Listing {
            price: Money::from_minor(row.price_minor, currency),
            currency,
            channel: row.channel,
            channel_sku: row.channel_sku,
            sku: row.sku,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: Uuid,
    email: String,
    name: String,
    segment: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StorageError;
    fn try_from(row: CustomerRow) -> Result<Self, StorageError> {
        Ok(Customer {
            segment: CustomerSegment::parse("segment", &row.segment).map_err(corrupt("customers.segment"))?,
            id: row.id,
            email: row.email,
            name: row.name,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SupplierRow {
    code: String,
    name: String,
    currency: String,
    lead_time_days: i64,
}

impl TryFrom<SupplierRow> for Supplier {
    type Error = StorageError;
    fn try_from(row: SupplierRow) -> Result<Self, StorageError> {
        Ok(Supplier { currency: currency(&row.currency)?, code: row.code, name: row.name, lead_time_days: row.lead_time_days })
    }
}

fn convert<R, T: TryFrom<R, Error = StorageError>>(rows: Vec<R>) -> Result<Vec<T>, StorageError> {
    rows.into_iter().map(T::try_from).collect()
}

/// A page of the product catalogue, optionally filtered by a search text.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Matches SKU or name, case-insensitively, anywhere in the text.
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone)]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// How many products match the search in all.
    pub total: i64,
}

/// How much master data there is, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterDataCounts {
    pub channels: i64,
    pub locations: i64,
    pub products: i64,
    pub listings: i64,
    pub customers: i64,
    pub suppliers: i64,
    pub users: i64,
}

const CHANNEL_COLUMNS: &str = "code, name, kind, currency, ship_by_sla_hours";
const LOCATION_COLUMNS: &str = "code, name, kind, priority, time_zone, cutoff_time, managed_by, calendar";
const PRODUCT_COLUMNS: &str = "sku, name, unit_cost_minor, currency, weight_grams, tax_class, abc_class, active";
const LISTING_COLUMNS: &str = "channel, channel_sku, sku, price_minor, currency";
const CUSTOMER_COLUMNS: &str = "id, email, name, segment, created_at";
const SUPPLIER_COLUMNS: &str = "code, name, currency, lead_time_days";

/// Every table Ordo keeps, each after the tables that refer to it, so deleting in this order
/// never breaks a foreign key. A storage test keeps it equal to the schema.
pub const ALL_TABLES: &[&str] = &[
    "login_failures", "sales_history", "shipment_events", "channel_push_hours", "channel_confirmations", "channel_stock_sync", "channel_inbox", "channel_order_versions", "channel_cursors", "channel_connectors", "promotions", "bill_lines", "supplier_bills", "proposals", "po_lines", "purchase_orders", "replenishment_policies", "supplier_skus",
    "attachments", "documents", "ticket_comments", "ticket_triage", "tickets", "supplier_claims", "refund_lines", "refunds", "return_lines", "returns", "return_policies", "outbox_attempts", "outbox",
    "notification_endpoints", "audit_log", "audit_head", "order_tags", "change_requests", "rule_versions", "exception_comments", "settlement_lines", "settlements", "exchange_rates", "journal_days", "journal_lines", "journal_entries", "accounts", "order_revisions", "wave_lines", "wave_orders", "waves", "bins", "kit_components", "transfers", "tax_rates",
    "stock_changes", "channel_buffers", "shipment_lines", "shipments", "exceptions", "routing_decisions", "order_event_days", "order_events",
    "backorders", "allocations", "order_lines", "orders", "channel_locations", "location_shipping_methods", "location_capacity", "meta",
    "sku_costs", "role_leads", "sessions", "api_tokens", "users", "stock_movements", "stock_levels", "listings", "customers", "suppliers",
    "products", "locations", "channels",
];

impl Tx {
    /// Inserts a channel; `false` when its code is taken (nothing written).
    pub async fn insert_channel(&mut self, channel: &Channel, now: DateTime<Utc>) -> Result<bool, StorageError> {
        // Codes are one namespace whatever their case: "WEB" is taken once "web" is.
        if self.code_taken_ignoring_case("channels", "code", &channel.code).await? {
            return Ok(false);
        }
        let sql = "INSERT INTO channels (code, name, kind, currency, ship_by_sla_hours, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(&channel.code)
            .bind(&channel.name)
            .bind(channel.kind.as_str())
            .bind(channel.currency.code())
            .bind(channel.ship_by_sla_hours)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    /// Whether `table` has a `column` value equal to `code` but for case. On PostgreSQL new
    /// codes of one table take turns (one lock per table, held to the end of the transaction,
    /// so even a large import takes one), and two servers making "WEB" and "web" at once cannot
    /// both pass; SQLite has one writer anyway. `table` and `column` are named by the code,
    /// never by input.
    async fn code_taken_ignoring_case(&mut self, table: &'static str, column: &'static str, code: &str) -> Result<bool, StorageError> {
        self.take_turn(&format!("ordo new code in {table}")).await?;
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE lower({column}) = lower($1)");
        let count: i64 = on_engine!(self, |conn| sqlx::query_scalar(AssertSqlSafe(sql)).bind(code).fetch_one(conn).await?);
        Ok(count > 0)
    }

    pub async fn channel(&mut self, code: &str) -> Result<Option<Channel>, StorageError> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE code = $1");
        let row: Option<ChannelRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(code).fetch_optional(conn).await?);
        row.map(Channel::try_from).transpose()
    }

    pub async fn channels(&mut self) -> Result<Vec<Channel>, StorageError> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY code");
        let rows: Vec<ChannelRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?);
        convert(rows)
    }

    /// Inserts; `false` when the key is taken (nothing written).
    pub async fn insert_location(&mut self, location: &Location, now: DateTime<Utc>) -> Result<bool, StorageError> {
        // Codes are one namespace whatever their case: "WEB" is taken once "web" is.
        if self.code_taken_ignoring_case("locations", "code", &location.code).await? {
            return Ok(false);
        }
        let sql = "INSERT INTO locations (code, name, kind, priority, time_zone, cutoff_time, managed_by, calendar, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(&location.code)
            .bind(&location.name)
            .bind(location.kind.as_str())
            .bind(location.priority)
            .bind(&location.time_zone)
            .bind(&location.cutoff_time)
            .bind(&location.managed_by)
            .bind(write_calendar(&location.calendar))
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    pub async fn location(&mut self, code: &str) -> Result<Option<Location>, StorageError> {
        let sql = format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE code = $1");
        let row: Option<LocationRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(code).fetch_optional(conn).await?);
        row.map(Location::try_from).transpose()
    }

    /// Sets a location's working calendar; `false` when there is no such location.
    pub async fn set_location_calendar(&mut self, code: &str, calendar: &Calendar) -> Result<bool, StorageError> {
        let sql = "UPDATE locations SET calendar = $2 WHERE code = $1";
        let updated = on_engine!(self, |conn| sqlx::query(sql).bind(code).bind(write_calendar(calendar)).execute(conn).await?.rows_affected());
        Ok(updated == 1)
    }

    /// All locations, most preferred first.
    pub async fn locations(&mut self) -> Result<Vec<Location>, StorageError> {
        let sql = format!("SELECT {LOCATION_COLUMNS} FROM locations ORDER BY priority, code");
        let rows: Vec<LocationRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?);
        convert(rows)
    }

    /// Inserts; `false` when the key is taken (nothing written).
    pub async fn insert_product(&mut self, product: &Product, now: DateTime<Utc>) -> Result<bool, StorageError> {
        if self.code_taken_ignoring_case("products", "sku", &product.sku).await? {
            return Ok(false);
        }
        let sql = "INSERT INTO products \
                   (sku, name, unit_cost_minor, currency, weight_grams, tax_class, abc_class, active, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(&product.sku)
            .bind(&product.name)
            .bind(product.unit_cost.minor())
            .bind(product.currency.code())
            .bind(product.weight_grams)
            .bind(&product.tax_class)
            .bind(product.abc_class.as_str())
            .bind(product.active)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    pub async fn product(&mut self, sku: &str) -> Result<Option<Product>, StorageError> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = $1");
        let row: Option<ProductRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(sku).fetch_optional(conn).await?);
        row.map(Product::try_from).transpose()
    }

    /// Which of `skus` are products, in no particular order: a few queries for a file that
    /// names thousands, where [`Tx::product`] would be one each.
    pub async fn known_skus(&mut self, skus: &[String]) -> Result<Vec<String>, StorageError> {
        let mut found = Vec::new();
        for chunk in skus.chunks(500) {
            let sql = format!("SELECT sku FROM products WHERE sku IN ({})", crate::placeholders(self.engine(), chunk.len()));
            let rows: Vec<String> = on_engine!(self, |conn| {
                let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
                for sku in chunk {
                    query = query.bind(sku);
                }
                query.fetch_all(conn).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Products by SKU, filtered and paged.
    pub async fn products(&mut self, query: &ProductQuery) -> Result<ProductPage, StorageError> {
        // `lower(…) LIKE lower(…)` is case-insensitive on both engines (PostgreSQL's LIKE is
        // not); the search text's own wildcards are escaped.
        let pattern = query.search.as_deref().map(|s| {
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let filter = "($1 IS NULL OR lower(sku) LIKE lower($1) ESCAPE '\\' OR lower(name) LIKE lower($1) ESCAPE '\\')";
        let list = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE {filter} ORDER BY sku LIMIT $2 OFFSET $3");
        let count = format!("SELECT COUNT(*) FROM products WHERE {filter}");
        let (rows, total): (Vec<ProductRow>, i64) = on_engine!(self, |conn| {
            let rows = sqlx::query_as(AssertSqlSafe(list))
                .bind(&pattern)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&mut *conn)
                .await?;
            let total = sqlx::query_scalar(AssertSqlSafe(count)).bind(&pattern).fetch_one(&mut *conn).await?;
            (rows, total)
        });
        Ok(ProductPage { products: convert(rows)?, total })
    }

    /// Inserts; `false` when the key is taken (nothing written).
    pub async fn insert_listing(&mut self, listing: &Listing, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "INSERT INTO listings (channel, channel_sku, sku, price_minor, currency, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(&listing.channel)
            .bind(&listing.channel_sku)
            .bind(&listing.sku)
            .bind(listing.price.minor())
            .bind(listing.currency.code())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    /// The listing of `channel_sku` on `channel`.
    pub async fn listing(&mut self, channel: &str, channel_sku: &str) -> Result<Option<Listing>, StorageError> {
        let sql = format!("SELECT {LISTING_COLUMNS} FROM listings WHERE channel = $1 AND channel_sku = $2");
        let row: Option<ListingRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(channel).bind(channel_sku).fetch_optional(conn).await?);
        row.map(Listing::try_from).transpose()
    }

    /// Listings, of one channel or of all.
    pub async fn listings(&mut self, channel: Option<&str>) -> Result<Vec<Listing>, StorageError> {
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM listings WHERE ($1 IS NULL OR channel = $1) ORDER BY channel, channel_sku"
        );
        let rows: Vec<ListingRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(channel).fetch_all(conn).await?);
        convert(rows)
    }

    /// Inserts; `false` when the e-mail address is taken (nothing written).
    pub async fn insert_customer(&mut self, customer: &Customer) -> Result<bool, StorageError> {
        let sql = "INSERT INTO customers (id, email, name, segment, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(customer.id)
            .bind(&customer.email)
            .bind(&customer.name)
            .bind(customer.segment.as_str())
            .bind(customer.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    pub async fn customers(&mut self, limit: i64, offset: i64) -> Result<Vec<Customer>, StorageError> {
        let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY email LIMIT $1 OFFSET $2");
        let rows: Vec<CustomerRow> =
            on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).bind(limit).bind(offset).fetch_all(conn).await?);
        convert(rows)
    }

    /// Inserts; `false` when the key is taken (nothing written).
    pub async fn insert_supplier(&mut self, supplier: &Supplier, now: DateTime<Utc>) -> Result<bool, StorageError> {
        // Codes are one namespace whatever their case: "WEB" is taken once "web" is.
        if self.code_taken_ignoring_case("suppliers", "code", &supplier.code).await? {
            return Ok(false);
        }
        let sql = "INSERT INTO suppliers (code, name, currency, lead_time_days, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
        let result = on_engine!(self, |conn| sqlx::query(sql)
            .bind(&supplier.code)
            .bind(&supplier.name)
            .bind(supplier.currency.code())
            .bind(supplier.lead_time_days)
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(result == 1)
    }

    pub async fn suppliers(&mut self) -> Result<Vec<Supplier>, StorageError> {
        let sql = format!("SELECT {SUPPLIER_COLUMNS} FROM suppliers ORDER BY code");
        let rows: Vec<SupplierRow> = on_engine!(self, |conn| sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?);
        convert(rows)
    }

    pub async fn master_data_counts(&mut self) -> Result<MasterDataCounts, StorageError> {
        let sql = "SELECT (SELECT COUNT(*) FROM channels), (SELECT COUNT(*) FROM locations), \
                   (SELECT COUNT(*) FROM products), (SELECT COUNT(*) FROM listings), \
                   (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM suppliers), (SELECT COUNT(*) FROM users)";
        let row: (i64, i64, i64, i64, i64, i64, i64) =
            on_engine!(self, |conn| sqlx::query_as(sql).fetch_one(conn).await?);
        Ok(MasterDataCounts {
            channels: row.0,
            locations: row.1,
            products: row.2,
            listings: row.3,
            customers: row.4,
            suppliers: row.5,
            users: row.6,
        })
    }

    /// Deletes every business row, children first, keeping the schema. For rebuilding the
    /// demo business; the application guards who may call it.
    pub async fn delete_everything(&mut self) -> Result<(), StorageError> {
        // The journal refuses deletes unless a rebuild is under way.
        self.set_meta("rebuilding", "true").await?;
        for table in ALL_TABLES {
            let sql = format!("DELETE FROM {table}");
            on_engine!(self, |conn| sqlx::query(AssertSqlSafe(sql)).execute(conn).await?.rows_affected());
        }
        // The audit chain starts again from its first record.
        let sql = "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)";
        on_engine!(self, |conn| sqlx::query(sql).bind(ordo_domain::audit::GENESIS).execute(conn).await?.rows_affected());
        Ok(())
    }

    pub async fn meta(&mut self, key: &str) -> Result<Option<String>, StorageError> {
        let sql = "SELECT value FROM meta WHERE key = $1";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(key).fetch_optional(conn).await?))
    }

    /// Sets `key` to `value` unless it holds that value already; `true` when this call set it.
    /// Several processes asking at once: exactly one gets `true`.
    pub async fn claim_meta(&mut self, key: &str, value: &str) -> Result<bool, StorageError> {
        let sql = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2 WHERE meta.value <> $2";
        let changed = on_engine!(self, |conn| sqlx::query(sql).bind(key).bind(value).execute(conn).await?.rows_affected());
        Ok(changed == 1)
    }

    pub async fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StorageError> {
        let sql = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(key).bind(value).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Sets the tax rate, in basis points, for a ship-to country and tax class.
    pub async fn set_tax_rate(&mut self, country: &str, tax_class: &str, rate_bp: i64) -> Result<(), StorageError> {
        let sql = "INSERT INTO tax_rates (country, tax_class, rate_bp) VALUES ($1, $2, $3) \
                   ON CONFLICT (country, tax_class) DO UPDATE SET rate_bp = $3";
        on_engine!(self, |conn| sqlx::query(sql).bind(country).bind(tax_class).bind(rate_bp).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// The tax rate in basis points for a ship-to country and tax class, if one is set.
    pub async fn tax_rate(&mut self, country: &str, tax_class: &str) -> Result<Option<i64>, StorageError> {
        let sql = "SELECT rate_bp FROM tax_rates WHERE country = $1 AND tax_class = $2";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(country).bind(tax_class).fetch_optional(conn).await?))
    }

    /// Sets how a channel is routed: may an order split, and from which locations it may ship
    /// (empty: from every location). Replaces the previous setting.
    pub async fn set_channel_routing(&mut self, channel: &str, allow_split: bool, locations: &[String]) -> Result<(), StorageError> {
        let split = "UPDATE channels SET allow_split = $2 WHERE code = $1";
        let clear = "DELETE FROM channel_locations WHERE channel = $1";
        let add = "INSERT INTO channel_locations (channel, location) VALUES ($1, $2)";
        on_engine!(self, |conn| {
            sqlx::query(split).bind(channel).bind(allow_split).execute(&mut *conn).await?;
            sqlx::query(clear).bind(channel).execute(&mut *conn).await?;
            for location in locations {
                sqlx::query(add).bind(channel).bind(location).execute(&mut *conn).await?;
            }
        });
        Ok(())
    }

    /// A channel's routing setting: split allowed, and its locations (empty: every location).
    pub async fn channel_routing(&mut self, channel: &str) -> Result<(bool, Vec<String>), StorageError> {
        let split = "SELECT allow_split FROM channels WHERE code = $1";
        let locations = "SELECT location FROM channel_locations WHERE channel = $1 ORDER BY location";
        Ok(on_engine!(self, |conn| (
            sqlx::query_scalar(split).bind(channel).fetch_one(&mut *conn).await?,
            sqlx::query_scalar(locations).bind(channel).fetch_all(&mut *conn).await?,
        )))
    }

    /// Each location's shipping methods, as (location, method) by location and method; a
    /// location offering every method has none.
    pub async fn location_shipping_methods(&mut self) -> Result<Vec<(String, String)>, StorageError> {
        let sql = "SELECT location, method FROM location_shipping_methods ORDER BY location, method";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Sets the shipping methods a location offers (empty: every method).
    pub async fn set_shipping_methods(&mut self, location: &str, methods: &[String]) -> Result<(), StorageError> {
        let clear = "DELETE FROM location_shipping_methods WHERE location = $1";
        let add = "INSERT INTO location_shipping_methods (location, method) VALUES ($1, $2)";
        on_engine!(self, |conn| {
            sqlx::query(clear).bind(location).execute(&mut *conn).await?;
            for method in methods {
                sqlx::query(add).bind(location).bind(method).execute(&mut *conn).await?;
            }
        });
        Ok(())
    }
}
