//! The storage conformance suite: every story runs on SQLite, and on PostgreSQL when
//! `ORDO_TEST_POSTGRES_URL` is set, each on a fresh database.

// Tests stop at the first surprise; the workspace denies this only for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use chrono::{Duration, Utc};
use ordo_domain::access::Role;
use ordo_domain::inventory::{MovementKind, MovementRequest};
use ordo_domain::master::{
    AbcClass, Channel, ChannelKind, Customer, CustomerSegment, Listing, Location, LocationKind, Product, Supplier,
};
use ordo_domain::{Currency, Money};
use ordo_storage::testing::{database_at_version, fresh_database, postgres_url_or_skip};
use ordo_storage::{ApiTokenRecord, Db, ImportedDay, ProductQuery, UserRecord};
use uuid::Uuid;

/// Runs `story` on a fresh SQLite database and, when configured, a fresh PostgreSQL one.
async fn on_both<F, Fut>(name: &str, story: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(dir.path(), None).await.unwrap();
    story(db.clone()).await;
    db.close().await;
    if let Some(url) = postgres_url_or_skip(name) {
        let (db, _) = fresh_database(dir.path(), Some(&url)).await.unwrap();
        story(db.clone()).await;
        db.close().await;
    }
}

/// Runs `story` on a SQLite database migrated only up to `version` and, when configured, a
/// PostgreSQL one: the story writes what such a database holds, then migrates it.
async fn on_both_at_version<F, Fut>(name: &str, version: i64, story: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let mut engines = vec![None];
    if let Some(url) = postgres_url_or_skip(name) {
        engines.push(Some(url));
    }
    for postgres in engines {
        let (db, _) = database_at_version(dir.path(), postgres.as_deref(), version).await.unwrap();
        story(db.clone()).await;
        db.close().await;
    }
}

fn channel(code: &str) -> Channel {
    Channel { code: code.into(), name: "Web shop".into(), kind: ChannelKind::Web, currency: Currency::EUR, ship_by_sla_hours: 24 }
}

fn location(code: &str, priority: i64) -> Location {
    Location {
        code: code.into(),
        name: format!("Site {code}"),
        kind: LocationKind::Warehouse,
        priority,
        time_zone: "Europe/Berlin".into(),
        cutoff_time: "15:00".into(),
        managed_by: None,
        calendar: Default::default(),
    }
}

fn product(sku: &str, name: &str) -> Product {
    Product {
        sku: sku.into(),
        name: name.into(),
        unit_cost: Money::from_minor(1250, Currency::EUR),
        currency: Currency::EUR,
        weight_grams: 400,
        tax_class: "standard".into(),
        abc_class: AbcClass::B,
        active: true,
    }
}

fn movement(sku: &str, location: &str, kind: MovementKind, quantity: i64) -> MovementRequest {
    MovementRequest { sku: sku.into(), location: location.into(), quantity, kind, reason: "test".into() }
}

#[tokio::test]
async fn master_data_round_trips() {
    on_both("master_data_round_trips", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        assert!(tx.insert_channel(&channel("web"), now).await.unwrap());
        assert!(tx.insert_location(&location("central", 1), now).await.unwrap());
        assert!(tx.insert_location(&location("overflow", 2), now).await.unwrap());
        assert!(tx.insert_product(&product("MUG-1", "Stoneware mug"), now).await.unwrap());
        let listing = Listing {
            channel: "web".into(),
            channel_sku: "W-MUG".into(),
            sku: "MUG-1".into(),
            price: Money::from_minor(2990, Currency::EUR),
            currency: Currency::EUR,
        };
        assert!(tx.insert_listing(&listing, now).await.unwrap());
        let customer = Customer {
            id: Uuid::now_v7(),
            email: "ann@example.com".into(),
            name: "Ann".into(),
            segment: CustomerSegment::Vip,
            created_at: now,
        };
        assert!(tx.insert_customer(&customer).await.unwrap());
        let supplier = Supplier { code: "acme".into(), name: "Acme".into(), currency: Currency::USD, lead_time_days: 14 };
        assert!(tx.insert_supplier(&supplier, now).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        assert_eq!(tx.channel("web").await.unwrap(), Some(channel("web")));
        assert_eq!(tx.channel("nope").await.unwrap(), None);
        assert_eq!(tx.locations().await.unwrap(), vec![location("central", 1), location("overflow", 2)]);
        assert_eq!(tx.product("MUG-1").await.unwrap(), Some(product("MUG-1", "Stoneware mug")));
        // Of many SKUs asked at once (more than one query's worth), the one that is a product.
        let asked: Vec<String> = (0..1200).map(|n| format!("NOPE-{n}")).chain(["MUG-1".to_owned()]).collect();
        assert_eq!(tx.known_skus(&asked).await.unwrap(), ["MUG-1"]);
        assert_eq!(tx.listings(Some("web")).await.unwrap(), vec![listing.clone()]);
        assert_eq!(tx.listings(Some("other")).await.unwrap(), vec![]);
        let customers = tx.customers(10, 0).await.unwrap();
        assert_eq!(customers.len(), 1);
        assert_eq!((customers[0].id, &customers[0].email), (customer.id, &customer.email));
        // Times survive the round trip to the database's precision (microseconds).
        assert!((customers[0].created_at - now).num_milliseconds().abs() < 1);
        assert_eq!(tx.suppliers().await.unwrap(), vec![supplier]);
        let counts = tx.master_data_counts().await.unwrap();
        assert_eq!((counts.channels, counts.locations, counts.products, counts.listings), (1, 2, 1, 1));
    })
    .await;
}

#[tokio::test]
async fn duplicates_write_nothing_and_rollback_undoes_everything() {
    on_both("duplicates_write_nothing", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        assert!(tx.insert_channel(&channel("web"), now).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = db.write().await.unwrap();
        let mut renamed = channel("web");
        renamed.name = "Other".into();
        assert!(!tx.insert_channel(&renamed, now).await.unwrap(), "a taken code is reported, not overwritten");
        // The transaction is still usable after a conflict (matters on PostgreSQL).
        assert!(tx.insert_channel(&channel("b2b"), now).await.unwrap());
        drop(tx);

        let mut tx = db.read().await.unwrap();
        assert_eq!(tx.channel("web").await.unwrap().unwrap().name, "Web shop");
        assert_eq!(tx.channel("b2b").await.unwrap(), None, "dropped transaction rolled back");
    })
    .await;
}

#[tokio::test]
async fn product_search_is_case_insensitive_paged_and_literal() {
    on_both("product_search", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        for i in 0..25 {
            tx.insert_product(&product(&format!("MUG-{i:02}"), &format!("Stoneware Mug {i}")), now).await.unwrap();
        }
        tx.insert_product(&product("VASE_1", "Glass vase 100%"), now).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let query = |search: Option<&str>, limit, offset| ProductQuery { search: search.map(Into::into), limit, offset };
        let page = tx.products(&query(Some("stoneware"), 10, 20)).await.unwrap();
        assert_eq!((page.total, page.products.len()), (25, 5));
        assert_eq!(page.products[0].sku, "MUG-20");
        assert_eq!(tx.products(&query(Some("mug-1"), 50, 0)).await.unwrap().total, 10);
        // Wildcards in the search text are literal characters.
        assert_eq!(tx.products(&query(Some("%"), 50, 0)).await.unwrap().total, 1);
        assert_eq!(tx.products(&query(Some("E_1"), 50, 0)).await.unwrap().total, 1);
        assert_eq!(tx.products(&query(None, 50, 0)).await.unwrap().total, 26);
    })
    .await;
}

#[tokio::test]
async fn movements_keep_on_hand_equal_to_their_sum() {
    on_both("movements", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        tx.insert_product(&product("MUG", "Mug"), now).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.write().await.unwrap();
        let level = tx.record_movement(&movement("MUG", "central", MovementKind::Receipt, 10), "test", now).await.unwrap();
        assert_eq!(level.map(|(l, delta)| (l.on_hand, delta)), Some((10, 10)));
        let level = tx.record_movement(&movement("MUG", "central", MovementKind::Adjustment, -3), "test", now).await.unwrap();
        assert_eq!(level.map(|(l, delta)| (l.available, delta)), Some((7, -3)));
        let level = tx.record_movement(&movement("MUG", "central", MovementKind::Count, 12), "test", now).await.unwrap();
        assert_eq!(level.map(|(l, delta)| (l.on_hand, delta)), Some((12, 5)), "a count moves on-hand by the difference");
        // Below zero is refused, and nothing is recorded for it.
        let refused = tx.record_movement(&movement("MUG", "central", MovementKind::Adjustment, -13), "test", now).await.unwrap();
        assert_eq!(refused, None);
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let levels = tx.stock_levels(Some("MUG")).await.unwrap();
        assert_eq!(levels.len(), 1);
        let on_hand = ordo_storage::StockUnits { sku: "MUG".into(), location: "central".into(), units: levels[0].on_hand };
        assert_eq!(tx.on_hand_from_movements().await.unwrap(), vec![on_hand]);
    })
    .await;
}

/// Many writers taking stock at once never take it below zero, on either engine: the
/// conditional update decides, not a read before it.
#[tokio::test]
async fn concurrent_withdrawals_never_overdraw() {
    on_both("concurrent_withdrawals", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        tx.insert_product(&product("MUG", "Mug"), now).await.unwrap();
        tx.record_movement(&movement("MUG", "central", MovementKind::Receipt, 30), "test", now).await.unwrap();
        tx.commit().await.unwrap();

        let attempts = (0..60).map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.write().await.unwrap();
                let taken = tx
                    .record_movement(&movement("MUG", "central", MovementKind::Adjustment, -1), "test", Utc::now())
                    .await
                    .unwrap()
                    .is_some();
                tx.commit().await.unwrap();
                taken
            })
        });
        let mut succeeded = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            succeeded += i32::from(attempt.await.unwrap());
        }
        assert_eq!(succeeded, 30);
        let mut tx = db.read().await.unwrap();
        assert_eq!(tx.stock_levels(Some("MUG")).await.unwrap()[0].on_hand, 0);
        assert_eq!(tx.on_hand_from_movements().await.unwrap()[0].units, 0);
    })
    .await;
}

#[tokio::test]
async fn tokens_and_sessions_are_found_by_hash_until_they_end() {
    on_both("tokens_and_sessions", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        let token = ApiTokenRecord { id: Uuid::now_v7(), name: "shop".into(), role: Role::Integration, created_at: now, expires_at: None };
        tx.insert_api_token(&token, "hash-1").await.unwrap();
        let brief = ApiTokenRecord { id: Uuid::now_v7(), name: "brief".into(), expires_at: Some(now + Duration::minutes(5)), ..token.clone() };
        tx.insert_api_token(&brief, "hash-3").await.unwrap();
        let user = UserRecord { id: Uuid::now_v7(), username: "ann".into(), role: Role::Finance, password_hash: "x".into() };
        tx.insert_user(&user, now).await.unwrap();
        tx.insert_session("s-live", user.id, now, now + Duration::hours(1)).await.unwrap();
        tx.insert_session("s-old", user.id, now - Duration::hours(2), now - Duration::hours(1)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.write().await.unwrap();
        assert_eq!(tx.api_token_by_hash("hash-1", now).await.unwrap().unwrap().0.role, Role::Integration);
        assert!(tx.api_token_by_hash("hash-2", now).await.unwrap().is_none());
        assert!(tx.api_token_by_hash("hash-3", now).await.unwrap().is_some());
        assert!(tx.api_token_by_hash("hash-3", now + Duration::minutes(6)).await.unwrap().is_none(), "expired");
        tx.touch_api_token(token.id, now).await.unwrap();
        assert_eq!(tx.api_token_by_hash("hash-1", now).await.unwrap().unwrap().1.map(|t| t.timestamp()), Some(now.timestamp()));
        assert!(tx.revoke_api_token(token.id, now).await.unwrap());
        assert!(!tx.revoke_api_token(token.id, now).await.unwrap(), "revoked once");
        assert!(tx.api_token_by_hash("hash-1", now).await.unwrap().is_none(), "revoked");
        let listed = tx.api_tokens().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|t| t.token.id == token.id && t.revoked_at.is_some() && t.last_used_at.is_some()));
        assert_eq!(tx.session_user("s-live", now).await.unwrap().unwrap().username, "ann");
        assert!(tx.session_user("s-old", now).await.unwrap().is_none(), "expired");
        tx.delete_session("s-live", now).await.unwrap();
        assert!(tx.session_user("s-live", now).await.unwrap().is_none(), "logged out");
        tx.insert_session("s-again", user.id, now, now + Duration::hours(1)).await.unwrap();
        assert!(tx.set_user_disabled("ann", true, now).await.unwrap());
        assert!(tx.session_user("s-again", now).await.unwrap().is_none(), "a disabled user's sessions end");
        assert!(tx.user_by_username("ann").await.unwrap().is_none(), "and they cannot log in");
        let failures = ordo_storage::LoginFailures { failures: 3, last_at: now, locked_until: Some(now + Duration::seconds(1)) };
        tx.set_login_failures("user:ann", failures).await.unwrap();
        tx.set_login_failures("user:ann", ordo_storage::LoginFailures { failures: 4, ..failures }).await.unwrap();
        assert_eq!(tx.login_failures("user:ann").await.unwrap().map(|f| f.failures), Some(4), "one row a key, counted on");
        assert!(tx.clear_login_failures("user:ann").await.unwrap());
        assert!(!tx.clear_login_failures("user:ann").await.unwrap(), "cleared once");
        assert_eq!(tx.login_failures("user:ann").await.unwrap(), None);
    })
    .await;
}

/// The two migration sets describe the same tables and columns.
#[tokio::test]
async fn both_engines_have_the_same_schema() {
    let Some(url) = postgres_url_or_skip("both_engines_have_the_same_schema") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (sqlite, _) = fresh_database(dir.path(), None).await.unwrap();
    let (postgres, _) = fresh_database(dir.path(), Some(&url)).await.unwrap();
    let Db::Sqlite(sqlite, ..) = sqlite else { panic!("expected SQLite") };
    let Db::Postgres(postgres, _) = postgres else { panic!("expected PostgreSQL") };
    let mut from_sqlite: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&sqlite)
    .await
    .unwrap();
    let mut from_postgres: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&postgres)
    .await
    .unwrap();
    from_sqlite.sort();
    from_postgres.sort();
    assert_eq!(from_sqlite, from_postgres);
}

/// `delete_everything` (the demo's rebuild) names every table, children first.
#[tokio::test]
async fn every_table_is_known_to_the_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(dir.path(), None).await.unwrap();
    let Db::Sqlite(sqlite, ..) = db else { panic!("expected SQLite") };
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&sqlite)
    .await
    .unwrap();
    tables.sort();
    let mut known: Vec<String> = ordo_storage::ALL_TABLES.iter().map(|t| (*t).to_owned()).collect();
    known.sort();
    assert_eq!(tables, known);
    // Children come before the tables they refer to.
    let position = |table: &str| ordo_storage::ALL_TABLES.iter().position(|t| *t == table).unwrap();
    for table in ordo_storage::ALL_TABLES {
        let parents: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT \"table\" FROM pragma_foreign_key_list('{table}')"
        )))
        .fetch_all(&sqlite)
        .await
        .unwrap();
        for parent in parents.iter().filter(|p| p.as_str() != *table) {
            assert!(position(table) < position(parent), "{table} must come before {parent}");
        }
    }
}

/// Several reservations at once: each holds only where that much is available, and the
/// others are untouched by the one that cannot.
#[tokio::test]
async fn reserving_many_takes_each_only_if_available() {
    on_both("reserve_many", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        for sku in ["CUP", "MUG", "PLATE"] {
            tx.insert_product(&product(sku, sku), now).await.unwrap();
            tx.record_movement(&movement(sku, "central", MovementKind::Receipt, 5), "test", now).await.unwrap();
        }
        let taken = tx.reserve_many(&[("CUP", "central", 5), ("MUG", "central", 6), ("PLATE", "central", 2)]).await.unwrap();
        assert_eq!(taken, [true, false, true]);
        let levels: Vec<(String, i64)> = tx.stock_levels(None).await.unwrap().into_iter().map(|l| (l.sku, l.reserved)).collect();
        assert_eq!(levels, [("CUP".to_owned(), 5), ("MUG".to_owned(), 0), ("PLATE".to_owned(), 2)]);
        assert_eq!(tx.reserve_many(&[("CUP", "central", 1), ("PLATE", "central", 3)]).await.unwrap(), [false, true]);
        tx.commit().await.unwrap();
    })
    .await;
}

/// The out-of-stock queue is counted in SQL by the rule `kpi::out_of_stock` applies to
/// positions: nothing free summed over locations, inactive products left out.
#[tokio::test]
async fn queue_sizes_count_out_of_stock_as_the_domain_rule_does() {
    on_both("queue_sizes", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        tx.insert_location(&location("overflow", 2), now).await.unwrap();
        for (sku, central, overflow) in [("ALL-RESERVED", 4, 0), ("NONE", 0, 0), ("SOME-FREE", 5, 0), ("FREE-ELSEWHERE", 2, 3)] {
            tx.insert_product(&product(sku, sku), now).await.unwrap();
            for (at, units) in [("central", central), ("overflow", overflow)] {
                if units > 0 {
                    tx.record_movement(&movement(sku, at, MovementKind::Receipt, units), "test", now).await.unwrap();
                }
            }
        }
        tx.insert_product(&Product { active: false, ..product("RETIRED", "Retired") }, now).await.unwrap();
        let taken = tx.reserve_many(&[("ALL-RESERVED", "central", 4), ("SOME-FREE", "central", 2), ("FREE-ELSEWHERE", "central", 2)]).await.unwrap();
        assert_eq!(taken, [true, true, true]);
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let positions: Vec<_> = tx.positions().await.unwrap().into_iter().map(|(_, p)| p).collect();
        let sizes = tx.queue_sizes().await.unwrap();
        assert_eq!(sizes.skus_out_of_stock, ordo_domain::kpi::out_of_stock(&positions));
        assert_eq!(sizes, ordo_storage::QueueSizes { skus_out_of_stock: 2, ..Default::default() }, "ALL-RESERVED and NONE");
    })
    .await;
}

/// A customer and where to ship to her.
fn ann() -> (ordo_domain::order::NewCustomerRef, ordo_domain::order::Address) {
    let customer = ordo_domain::order::NewCustomerRef { email: "ann@example.com".into(), name: "Ann".into() };
    let ship_to = ordo_domain::order::Address {
        name: "Ann".into(),
        line1: "1 Main St".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    };
    (customer, ship_to)
}

/// A paid order of nothing, placed and received at `placed`.
fn order_record<'a>(
    channel: &'a str,
    external_id: &'a str,
    status: ordo_domain::order::OrderStatus,
    placed: chrono::DateTime<Utc>,
    ship_by: chrono::DateTime<Utc>,
    customer: &'a ordo_domain::order::NewCustomerRef,
    ship_to: &'a ordo_domain::order::Address,
) -> ordo_storage::NewOrderRecord<'a> {
    let zero = Money::from_minor(0, Currency::EUR);
    ordo_storage::NewOrderRecord {
        id: Uuid::now_v7(),
        channel,
        external_id,
        status,
        placed_at: placed,
        ship_by,
        currency: Currency::EUR,
        customer,
        ship_to,
        billing_country: None,
        shipping_method: "standard",
        payment_status: ordo_domain::order::PaymentStatus::Captured,
        shipping_price: zero,
        total: zero,
        payload: "{}",
        terms: "{}",
        waiting_for: None,
        fulfilled_by_channel: false,
        received_at: placed,
    }
}


/// A line shipped in two parcels, with a unit of it still allocated, is one line of the
/// hour its order came in; its units are all counted.
#[tokio::test]
async fn hourly_inflow_counts_a_line_once_however_it_ships() {
    use ordo_domain::order::{OrderStatus, Shipment, ShipmentLine, ShipmentStatus};
    on_both("hourly_inflow", |db| async move {
        let now = Utc::now();
        let placed = now - Duration::hours(3);
        let mut tx = db.write().await.unwrap();
        tx.insert_channel(&channel("web"), now).await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        tx.insert_product(&product("MUG", "Mug"), now).await.unwrap();
        let (customer, ship_to) = ann();
        let order = order_record("web", "W-1", OrderStatus::PartiallyShipped, placed, now + Duration::days(1), &customer, &ship_to);
        assert_eq!(tx.insert_orders(std::slice::from_ref(&order)).await.unwrap(), 1);
        let zero = Money::from_minor(0, Currency::EUR);
        let line = ordo_storage::NewLineRecord {
            line: 1,
            kit: false,
            part_of: None,
            sku: "MUG",
            channel_sku: None,
            item_id: None,
            quantity: 5,
            unit_price: zero,
            tax: zero,
            discount: zero,
        };
        tx.insert_order_lines(&[(order.id, &[line][..])]).await.unwrap();
        for n in 0..2 {
            let parcel = Shipment {
                id: Uuid::now_v7(),
                location: "central".into(),
                status: ShipmentStatus::Shipped,
                carrier: "dhl".into(),
                tracking_number: format!("T-{n}"),
                shipped_at: now,
                delivered_at: None,
                lines: vec![ShipmentLine { line: 1, quantity: 2 }],
                tracking: Vec::new(),
            };
            tx.insert_shipment(&parcel, order.id).await.unwrap();
        }
        tx.insert_allocation(order.id, 1, "central", 1).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let inflow = tx.hourly_inflow(&[(now - Duration::days(1), now + Duration::days(1))]).await.unwrap();
        assert_eq!(inflow.len(), 1, "{inflow:?}");
        let (at, hour) = &inflow[0];
        assert_eq!(at, "central");
        assert_eq!((hour.work.parcels, hour.work.lines, hour.work.units), (1, 1, 5));
        assert_eq!(hour.hour.format("%Y-%m-%dT%H").to_string(), placed.format("%Y-%m-%dT%H").to_string());
        // Only the periods asked for: a holiday a week ago and the hours since, not the order's.
        let week_ago = (now - Duration::days(8), now - Duration::days(7));
        assert_eq!(tx.hourly_inflow(&[week_ago, (placed + Duration::minutes(1), now)]).await.unwrap(), []);
        assert_eq!(tx.hourly_inflow(&[week_ago, (placed, placed + Duration::minutes(1))]).await.unwrap().len(), 1);
        assert_eq!(tx.hourly_inflow(&[]).await.unwrap(), []);
    })
    .await;
}

/// Four orders on two channels over three days, each step written as Ordo writes it: a new
/// order's first steps in one statement, later ones one by one; or, `before_counts`, as rows
/// only, as a database from before the daily counts holds them. `day1` is the first day.
///
/// - A (web): received, validated and allocated on day 1; shipped on day 2, by its ship-by.
/// - D (web): the same steps on day 1, written by a statement of its own.
/// - B (shop): received, validated and backordered on day 1; allocated on day 2; shipped on
///   day 3, late.
/// - C (web): received, validated and held on day 2; validated again and allocated on day 3.
async fn write_four_orders(db: &Db, day1: chrono::DateTime<Utc>, before_counts: bool) {
    use ordo_domain::order::OrderStatus::{self, Allocated, Backordered, OnHold, Received, Shipped, Validated};
    use ordo_storage::{NewEvent, Timeline};
    let day = |n: i64| day1 + Duration::days(n - 1);
    let mut tx = db.write().await.unwrap();
    for code in ["web", "shop"] {
        if tx.channel(code).await.unwrap().is_none() {
            tx.insert_channel(&channel(code), day1).await.unwrap();
        }
    }
    let (customer, ship_to) = ann();
    let a = order_record("web", "A", Shipped, day(1), day(3), &customer, &ship_to);
    let d = order_record("web", "D", Allocated, day(1), day(3), &customer, &ship_to);
    let b = order_record("shop", "B", Shipped, day(1), day(2), &customer, &ship_to);
    let c = order_record("web", "C", Allocated, day(2), day(4), &customer, &ship_to);
    assert_eq!(tx.insert_orders(&[a.clone(), d.clone(), b.clone(), c.clone()]).await.unwrap(), 4);
    let step = |from: Option<OrderStatus>, to: OrderStatus| NewEvent { from, to, reason: "" };
    let routed = [step(None, Received), step(Some(Received), Validated), step(Some(Validated), Allocated)];
    let backordered = [step(None, Received), step(Some(Received), Validated), step(Some(Validated), Backordered)];
    let held = [step(None, Received), step(Some(Received), Validated), step(Some(Validated), OnHold)];
    fn timeline<'a>(order: &ordo_storage::NewOrderRecord<'a>, at: chrono::DateTime<Utc>, steps: &'a [NewEvent<'a>]) -> Timeline<'a> {
        Timeline { order: order.id, channel: order.channel, ship_by: order.ship_by, actor: "test", at, steps }
    }
    let statements = [
        vec![timeline(&a, day(1), &routed[..]), timeline(&b, day(1), &backordered[..])],
        vec![timeline(&d, day(1), &routed[..])],
        vec![timeline(&c, day(2), &held[..])],
    ];
    let moves = [
        (a.id, Allocated, Shipped, day(2)),
        (b.id, Backordered, Allocated, day(2)),
        (b.id, Allocated, Shipped, day(3)),
        (c.id, OnHold, Validated, day(3)),
        (c.id, Validated, Allocated, day(3)),
    ];
    if before_counts {
        tx.commit().await.unwrap();
        let firsts = statements.iter().flatten().flat_map(|t| t.steps.iter().map(move |s| (t.order, s.from, s.to, t.at)));
        for (order, from, to, at) in firsts.chain(moves.iter().map(|&(order, from, to, at)| (order, Some(from), to, at))) {
            let sql = "INSERT INTO order_events (order_id, at, from_status, to_status, actor, reason) VALUES ($1, $2, $3, $4, 'test', '')";
            let (from, to) = (from.map(OrderStatus::as_str), to.as_str());
            match db {
                Db::Sqlite(pool, ..) => sqlx::query(sql).bind(order).bind(at).bind(from).bind(to).execute(pool).await.map(drop),
                Db::Postgres(pool, _) => sqlx::query(sql).bind(order).bind(at).bind(from).bind(to).execute(pool).await.map(drop),
            }
            .unwrap();
        }
        return;
    }
    for timelines in &statements {
        tx.insert_order_events(timelines).await.unwrap();
    }
    for (order, from, to, at) in moves {
        tx.record_transition(order, Some(from), to, "test", "", at).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// What the operating figures read of [`write_four_orders`]' days, counted by hand.
async fn assert_four_orders_counted(db: &Db, day1: chrono::NaiveDate) {
    use ordo_domain::order::OrderStatus::{Allocated, Backordered, OnHold, PartiallyShipped, Received, Validated};
    let day = |n: i64| day1 + Duration::days(n - 1);
    fn sorted<T: Ord>(mut rows: Vec<T>) -> Vec<T> {
        rows.sort();
        rows
    }
    let flows = |rows: Vec<ordo_storage::DayFlow>| sorted(rows.into_iter().map(|f| (f.day, f.entered, f.left)).collect());
    let mut tx = db.read().await.unwrap();
    let received = sorted(tx.orders_received(day(1)).await.unwrap());
    assert_eq!(received, [(day(1), "shop".to_owned(), 1), (day(1), "web".to_owned(), 2), (day(2), "web".to_owned(), 1)]);
    // Routed for the first time: A and D filled and B not on day 1, C filled on day 3; B's
    // allocation on day 2 is not its first routing.
    assert_eq!(sorted(tx.first_reservations(day(1)).await.unwrap()), [(day(1), 2, 3), (day(3), 1, 1)]);
    assert_eq!(sorted(tx.shipped_on_time(day(1)).await.unwrap()), [(day(2), 1, 1), (day(3), 0, 1)]);
    let backlog = [Received, Validated, OnHold, Allocated, Backordered, PartiallyShipped];
    assert_eq!(flows(tx.order_status_flows(&backlog, day(1)).await.unwrap()), [(day(1), 3, 0), (day(2), 1, 1), (day(3), 0, 1)]);
    let blocked = [OnHold, Backordered];
    assert_eq!(flows(tx.order_status_flows(&blocked, day(1)).await.unwrap()), [(day(1), 1, 0), (day(2), 1, 1), (day(3), 0, 1)]);
    assert_eq!(flows(tx.order_status_flows(&blocked, day(2)).await.unwrap()), [(day(2), 1, 1), (day(3), 0, 1)], "only the days asked for");
    tx.commit().await.unwrap();
}

async fn scalar(db: &Db, sql: &'static str) -> i64 {
    match db {
        Db::Sqlite(pool, ..) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .unwrap()
}

/// The trends read daily counts the database keeps as each order event is written; folding
/// them leaves one row per day, channel and step and changes no figure.
#[tokio::test]
async fn daily_order_counts_follow_every_event_and_survive_folding() {
    on_both("daily_order_counts", |db| async move {
        let day1 = Utc::now() - Duration::days(5);
        write_four_orders(&db, day1, false).await;
        assert_four_orders_counted(&db, day1.date_naive()).await;

        let mut tx = db.write().await.unwrap();
        assert!(tx.fold_order_event_days().await.unwrap() > 0, "D's day-1 steps came in a statement of their own");
        tx.commit().await.unwrap();
        let keys = "SELECT COUNT(*) FROM (SELECT DISTINCT day, channel, from_status, to_status FROM order_event_days) k";
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM order_event_days").await, scalar(&db, keys).await);
        assert_four_orders_counted(&db, day1.date_naive()).await;

        let mut tx = db.write().await.unwrap();
        assert_eq!(tx.fold_order_event_days().await.unwrap(), 0, "nothing left to fold");
        tx.commit().await.unwrap();
    })
    .await;
}

/// Folding while orders move on other connections loses no event and counts none twice.
#[tokio::test]
async fn folding_while_orders_move_keeps_every_count() {
    use ordo_domain::order::OrderStatus::{Allocated, Received};
    on_both("folding_while_orders_move", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_channel(&channel("web"), now).await.unwrap();
        let (customer, ship_to) = ann();
        let names: Vec<String> = (0..8).map(|n| format!("M-{n}")).collect();
        let orders: Vec<_> = names.iter().map(|name| order_record("web", name, Received, now, now, &customer, &ship_to)).collect();
        tx.insert_orders(&orders).await.unwrap();
        tx.commit().await.unwrap();
        let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();

        let mut writers = Vec::new();
        for order in ids {
            let db = db.clone();
            writers.push(tokio::spawn(async move {
                for _ in 0..25 {
                    let mut tx = db.write().await.unwrap();
                    tx.record_transition(order, Some(Received), Allocated, "test", "", Utc::now()).await.unwrap();
                    tx.record_transition(order, Some(Allocated), Received, "test", "", Utc::now()).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        let folder = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut folded = 0;
                for _ in 0..40 {
                    let mut tx = db.write().await.unwrap();
                    folded += tx.fold_order_event_days().await.unwrap();
                    tx.commit().await.unwrap();
                    tokio::task::yield_now().await;
                }
                folded
            })
        };
        for writer in writers {
            writer.await.unwrap();
        }
        folder.await.unwrap();

        let counted = "SELECT CAST(SUM(events) AS BIGINT) FROM order_event_days WHERE from_status = 'received' AND to_status = 'allocated'";
        let recorded = "SELECT COUNT(*) FROM order_events WHERE from_status = 'received' AND to_status = 'allocated'";
        assert_eq!(scalar(&db, recorded).await, 8 * 25);
        assert_eq!(scalar(&db, counted).await, 8 * 25);
        let every_count = "SELECT CAST(SUM(events) AS BIGINT) FROM order_event_days";
        assert_eq!(scalar(&db, every_count).await, scalar(&db, "SELECT COUNT(*) FROM order_events").await);
    })
    .await;
}

/// Migration 47 totals the channel entries a database already holds, and leaves out those
/// of no channel.
#[tokio::test]
async fn the_upgrade_totals_the_channel_entries_already_posted() {
    on_both_at_version("the_upgrade_totals_the_channel_entries_already_posted", 46, |db| async move {
        let now = Utc::now();
        execute(&db, "INSERT INTO accounts (code, name, kind, created_at) VALUES ('1100', 'Receivable', 'asset', '2026-01-01T00:00:00Z'), ('4000', 'Sales', 'revenue', '2026-01-01T00:00:00Z')").await;
        for (n, channel, amount) in [(1, Some("web"), 2_500_000_000_i64), (2, Some("web"), 700), (3, None, 900)] {
            let id = Uuid::now_v7();
            let entry = "INSERT INTO journal_entries (id, posted_at, source, memo, currency, actor, channel) VALUES ($1, $2, $3, 'sale', 'EUR', 'test', $4)";
            let line = "INSERT INTO journal_lines (entry_id, line_no, account, debit_minor, credit_minor, base_debit_minor, base_credit_minor) \
                        VALUES ($1, 1, '1100', $2, 0, $2, 0), ($1, 2, '4000', 0, $2, 0, $2)";
            let source = format!("test:{n}");
            match &db {
                Db::Sqlite(pool, ..) => {
                    sqlx::query(entry).bind(id).bind(now).bind(&source).bind(channel).execute(pool).await.unwrap();
                    sqlx::query(line).bind(id).bind(amount).execute(pool).await.unwrap();
                }
                Db::Postgres(pool, _) => {
                    sqlx::query(entry).bind(id).bind(now).bind(&source).bind(channel).execute(pool).await.unwrap();
                    sqlx::query(line).bind(id).bind(amount).execute(pool).await.unwrap();
                }
            }
        }
        db.migrate().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let mut days = tx.channel_day_account_totals(now.date_naive()).await.unwrap();
        days.sort_by(|a, b| a.1.account.cmp(&b.1.account));
        let totals: Vec<_> = days.iter().map(|(day, t)| (*day, t.key.as_str(), t.account.as_str(), t.debit, t.credit)).collect();
        let today = now.date_naive();
        assert_eq!(totals, [(today, "web", "1100", 2_500_000_700, 0), (today, "web", "4000", 0, 2_500_000_700)]);
        tx.commit().await.unwrap();
    })
    .await;
}

/// Migration 46 counts the events a database already holds.
#[tokio::test]
async fn the_upgrade_counts_the_events_already_recorded() {
    on_both_at_version("the_upgrade_counts_the_events_already_recorded", 45, |db| async move {
        let day1 = Utc::now() - Duration::days(5);
        write_four_orders(&db, day1, true).await;
        db.migrate().await.unwrap();
        assert_four_orders_counted(&db, day1.date_naive()).await;
    })
    .await;
}

/// Deliveries about one order are claimed one at a time, in the order received, whichever
/// processor asks; those about other orders go meanwhile.
#[tokio::test]
async fn one_orders_deliveries_are_claimed_in_turn() {
    on_both("one_orders_deliveries_are_claimed_in_turn", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_channel(&channel("web"), now).await.unwrap();
        for (n, key) in [(1, "A"), (2, "A"), (3, "B")] {
            let delivery = ordo_storage::NewDelivery {
                id: Uuid::now_v7(),
                channel: "web",
                source: "shopify",
                delivery_id: &format!("d-{n}"),
                topic: "orders/updated",
                order_key: Some(key),
                headers: "{}",
                body: b"{}",
                received_at: now + Duration::milliseconds(n),
            };
            assert!(tx.insert_delivery(&delivery).await.unwrap());
        }
        tx.commit().await.unwrap();
        let claim = |limit: i64| {
            let db = db.clone();
            async move {
                let at = Utc::now() + Duration::seconds(1);
                let mut tx = db.write().await.unwrap();
                let claimed = tx.claim_deliveries(at, at + Duration::seconds(15), limit).await.unwrap();
                tx.commit().await.unwrap();
                claimed.into_iter().map(|d| d.delivery_id).collect::<Vec<_>>()
            }
        };
        assert_eq!(claim(1).await, ["d-1"], "the oldest first");
        assert_eq!(claim(5).await, ["d-3"], "A's second waits while its first is held; B goes");
        let mut tx = db.write().await.unwrap();
        let first = tx.deliveries("web", None, 10).await.unwrap().into_iter().find(|d| d.delivery_id == "d-1").unwrap();
        tx.finish_delivery(first.id, ordo_storage::DeliveryEnd::Processed, Some("A"), "done", None, Utc::now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(claim(5).await, ["d-2"], "then A's second");
    })
    .await;
}

/// On SQLite a write someone waits on with a deadline goes ahead of the writers queued for
/// their turn, behind only the one writing; those queued keep their order.
#[tokio::test]
async fn a_write_first_goes_ahead_of_the_queued_writers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(dir.path(), None).await.unwrap();
    let writing = db.write().await.unwrap();
    let (began, mut order) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = Vec::new();
    for (name, first) in [("queued 1", false), ("queued 2", false), ("first", true)] {
        let (db, began) = (db.clone(), began.clone());
        writers.push(tokio::spawn(async move {
            let tx = if first { db.write_first().await } else { db.write().await }.unwrap();
            began.send(name).unwrap();
            tx.commit().await.unwrap();
        }));
        // Each is queued before the next asks.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    writing.commit().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    drop(began);
    let mut turns = Vec::new();
    while let Some(name) = order.recv().await {
        turns.push(name);
    }
    assert_eq!(turns, ["first", "queued 1", "queued 2"]);
    db.close().await;
}

/// Deliveries kept in one statement say which were new: one sent before, or twice in the
/// group, is kept once. Their ends and their orders' versions are written in one statement
/// each, and of one order's versions the newest stands, never an older one.
#[tokio::test]
async fn deliveries_are_kept_and_finished_in_groups() {
    on_both("deliveries_are_kept_and_finished_in_groups", |db| async move {
        let now = Utc::now();
        let delivery = |delivery_id: &'static str| ordo_storage::NewDelivery {
            id: Uuid::now_v7(),
            channel: "web",
            source: "shopify",
            delivery_id,
            topic: "orders/create",
            order_key: Some(delivery_id),
            headers: "{}",
            body: b"{}",
            received_at: now,
        };
        let mut tx = db.write().await.unwrap();
        tx.insert_channel(&channel("web"), now).await.unwrap();
        assert!(tx.insert_delivery(&delivery("d-1")).await.unwrap());
        let group = [delivery("d-1"), delivery("d-2"), delivery("d-3"), delivery("d-2")];
        assert_eq!(tx.insert_deliveries(&group).await.unwrap(), [false, true, true, false]);
        tx.commit().await.unwrap();

        let mut tx = db.write().await.unwrap();
        let kept = tx.deliveries("web", None, 10).await.unwrap();
        assert_eq!(kept.len(), 3);
        let id = |delivery_id: &str| kept.iter().find(|d| d.delivery_id == delivery_id).unwrap().id;
        let finished = [
            ordo_storage::Finished { id: id("d-2"), end: ordo_storage::DeliveryEnd::Processed, external_id: Some("1002"), outcome: "order made", error: None },
            ordo_storage::Finished { id: id("d-3"), end: ordo_storage::DeliveryEnd::Failed, external_id: None, outcome: "could not be mapped", error: Some(("line_items[0].sku", "no listing")) },
        ];
        tx.finish_deliveries(&finished, now).await.unwrap();
        let version = |external_id: &'static str, minutes: i64| ordo_storage::OrderVersion { channel: "web", external_id, updated_at: now + Duration::minutes(minutes) };
        tx.set_channel_order_versions(&[version("1002", 2), version("1002", 5), version("1002", 3), version("1003", 1)]).await.unwrap();
        tx.set_channel_order_versions(&[version("1003", -1)]).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let two = tx.delivery(id("d-2")).await.unwrap().unwrap();
        assert_eq!((two.status.as_str(), two.external_id.as_deref(), two.outcome.as_deref(), two.error.as_deref()), ("processed", Some("1002"), Some("order made"), None));
        let three = tx.delivery(id("d-3")).await.unwrap().unwrap();
        assert_eq!((three.status.as_str(), three.error_field.as_deref(), three.error.as_deref()), ("failed", Some("line_items[0].sku"), Some("no listing")));
        assert_eq!(tx.delivery(id("d-1")).await.unwrap().unwrap().status.as_str(), "pending");
        assert_eq!(tx.channel_order_version("web", "1002").await.unwrap().map(|t| t.timestamp()), Some((now + Duration::minutes(5)).timestamp()));
        assert_eq!(tx.channel_order_version("web", "1003").await.unwrap().map(|t| t.timestamp()), Some((now + Duration::minutes(1)).timestamp()));
    })
    .await;
}

/// A connected channel's listings are marked by the database whenever their SKU's stock
/// changes: once for a new connector, again at a receipt or a reservation. A claimed mark is
/// not claimed twice while leased; a change during the push keeps the listing marked; a
/// channel without a connector is never marked.
#[tokio::test]
async fn stock_changes_mark_the_connected_channels_listings() {
    on_both("stock_changes_mark_listings", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        tx.insert_product(&product("CUP", "Cup"), now).await.unwrap();
        for code in ["ebay", "shop"] {
            tx.insert_channel(&channel(code), now).await.unwrap();
            let listing = Listing { channel: code.into(), channel_sku: format!("{code}-cup"), sku: "CUP".into(), price: Money::from_minor(990, Currency::EUR), currency: Currency::EUR };
            tx.insert_listing(&listing, now).await.unwrap();
        }
        let connector = ordo_storage::ConnectorRecord {
            channel: "ebay".into(),
            kind: "ebay".into(),
            base_url: None,
            webhook_secrets: None,
            credentials: None,
            poll_interval_s: 60,
            sync_lag_threshold_s: 300,
            paused: false,
            updated_at: now,
            duplicates_dropped: 0,
        };
        tx.upsert_connector(&connector).await.unwrap();
        tx.commit().await.unwrap();

        let claim = |at: chrono::DateTime<Utc>| {
            let db = db.clone();
            async move {
                let mut tx = db.write().await.unwrap();
                let marks = tx.claim_stock_marks("ebay", at, at + Duration::seconds(60), 10).await.unwrap();
                tx.commit().await.unwrap();
                marks
            }
        };
        let first = claim(now).await;
        assert_eq!(first.iter().map(|m| (m.channel_sku.as_str(), m.sku.as_str())).collect::<Vec<_>>(), [("ebay-cup", "CUP")], "the new connector's listing, never the unconnected channel's");
        assert!(claim(now).await.is_empty(), "leased");

        // Stock arrives while the first push is under way: the listing stays marked.
        let mut tx = db.write().await.unwrap();
        tx.record_movement(&movement("CUP", "central", MovementKind::Receipt, 5), "test", now).await.unwrap();
        let pushed = ordo_storage::StockPushed { channel_sku: "ebay-cup", wanted: first[0].wanted, quantity: 0, latency_ms: Some(40) };
        tx.record_stock_pushed("ebay", &[pushed], now).await.unwrap();
        tx.commit().await.unwrap();
        let second = claim(now + Duration::seconds(1)).await;
        assert_eq!(second.len(), 1);
        assert!(second[0].wanted > first[0].wanted);
        assert_eq!(second[0].pushed_quantity, Some(0));

        // A failed try waits until it is due, and counts.
        let mut tx = db.write().await.unwrap();
        tx.release_stock_marks("ebay", &["ebay-cup"], now + Duration::seconds(30), "eBay answered 503", true).await.unwrap();
        let stats = tx.stock_sync_stats("ebay", 1, now - Duration::days(1)).await.unwrap();
        assert_eq!((stats.pending, stats.failing, stats.latencies_ms.clone()), (1, 1, vec![40]));
        assert!(stats.oldest_pending_since.is_some());
        tx.commit().await.unwrap();
        assert!(claim(now + Duration::seconds(2)).await.is_empty(), "not due yet");
        let third = claim(now + Duration::seconds(31)).await;
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].attempts, 1);

        let mut tx = db.write().await.unwrap();
        let pushed = ordo_storage::StockPushed { channel_sku: "ebay-cup", wanted: third[0].wanted, quantity: 5, latency_ms: Some(12) };
        tx.record_stock_pushed("ebay", &[pushed], now).await.unwrap();
        let stats = tx.stock_sync_stats("ebay", 1, now - Duration::days(1)).await.unwrap();
        assert_eq!((stats.pending, stats.failing, stats.oldest_pending_since), (0, 0, None));
        assert_eq!(tx.stock_sync_stats("shop", 1, now - Duration::days(1)).await.unwrap(), ordo_storage::StockSyncStats::default());
        // A resync marks every listing of the channel again.
        assert_eq!(tx.mark_channel_stock("ebay", now).await.unwrap(), 1);
        assert_eq!(tx.mark_channel_stock("shop", now).await.unwrap(), 0, "not connected");
        tx.commit().await.unwrap();
        assert_eq!(claim(now + Duration::seconds(32)).await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn report_totals_pass_i64_without_failing() {
    use ordo_domain::ledger::{AccountKind, Entry, Posting};
    on_both("report_totals_pass_i64", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        let accounts = [("1000".to_owned(), "Bank".to_owned(), AccountKind::Asset), ("4000".to_owned(), "Sales".to_owned(), AccountKind::Revenue)];
        tx.ensure_accounts(&accounts, now).await.unwrap();
        // Three entries of 4 * 10^18 each: the sums are beyond i64, which SQLite's SUM refuses.
        let big = 4_000_000_000_000_000_000_i64;
        for i in 0..3 {
            let posting = |account: &str, debit: i64, credit: i64| Posting { account: account.into(), debit, credit, sku: None, segment: None };
            let lines = vec![posting("1000", big, 0), posting("4000", 0, big - 7)];
            let mut lines = lines;
            lines.push(posting("4000", 0, 7));
            let mut entry = Entry::balanced(format!("test:{i}"), "big".into(), Currency::EUR, lines).unwrap();
            entry.channel = Some("web".into());
            tx.insert_entry(&entry, &[(big, 0), (0, big - 7), (0, 7)], "test", now).await.unwrap();
        }
        let balance = tx.trial_balance().await.unwrap();
        let bank = balance.iter().find(|a| a.code == "1000").unwrap();
        let sales = balance.iter().find(|a| a.code == "4000").unwrap();
        assert_eq!((bank.debit, bank.credit), (3 * i128::from(big), 0));
        assert_eq!((sales.debit, sales.credit), (0, 3 * i128::from(big)));
        let totals = tx.account_totals(now - Duration::days(1), now + Duration::days(1)).await.unwrap();
        assert_eq!(totals.iter().map(|t| t.debit - t.credit).sum::<i128>(), 0, "debits equal credits");
        assert_eq!(tx.account_balance_before("1000", now + Duration::days(1)).await.unwrap(), 3 * i128::from(big));
        // The channel's daily totals, before and after their rows are folded.
        for fold in [false, true] {
            if fold {
                assert_eq!(tx.fold_journal_days().await.unwrap(), 6, "three entries' rows for each of two accounts");
            }
            let days = tx.channel_day_account_totals(now.date_naive()).await.unwrap();
            let of = |account: &str| days.iter().find(|(_, t)| t.key == "web" && t.account == account).map(|(_, t)| (t.debit, t.credit));
            assert_eq!(days.len(), 2, "{days:?}");
            assert_eq!(of("1000"), Some((3 * i128::from(big), 0)));
            assert_eq!(of("4000"), Some((0, 3 * i128::from(big))));
        }
        tx.commit().await.unwrap();
    })
    .await;
}

/// A location a channel manages (Amazon FBA) is routed to only for that channel's own
/// fulfilment, and every other order only to Ordo's locations; backorders fill the same way.
#[tokio::test]
async fn a_location_a_channel_manages_serves_only_that_channels_own_fulfilment() {
    on_both("channel_managed_locations", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        for code in ["web", "amz"] {
            assert!(tx.insert_channel(&channel(code), now).await.unwrap());
        }
        assert!(tx.insert_location(&location("central", 1), now).await.unwrap());
        let fba = Location { managed_by: Some("amz".into()), ..location("amz-fba", 0) };
        assert!(tx.insert_location(&fba, now).await.unwrap());
        assert_eq!(tx.location("amz-fba").await.unwrap().unwrap().managed_by.as_deref(), Some("amz"), "read back");

        let sites = |routing: ordo_storage::RoutingSites| routing.candidates.into_iter().map(|c| c.location).collect::<Vec<_>>();
        assert_eq!(sites(tx.routing_sites("amz", "standard", false).await.unwrap()), ["central"], "Amazon's own orders ship from ours");
        assert_eq!(sites(tx.routing_sites("amz", "standard", true).await.unwrap()), ["amz-fba"], "FBA orders from Amazon's stock only");
        assert!(sites(tx.routing_sites("web", "standard", true).await.unwrap()).is_empty(), "another channel's stock is not the web shop's");

        let waiting = |channel: &str, by_channel: bool| ordo_storage::WaitingLine {
            order_id: Uuid::nil(),
            line_no: 1,
            quantity: 1,
            channel: channel.into(),
            shipping_method: "standard".into(),
            part_of: None,
            fulfilled_by_channel: by_channel,
        };
        assert!(tx.may_ship_from(&waiting("amz", true), "amz-fba").await.unwrap());
        assert!(!tx.may_ship_from(&waiting("amz", true), "central").await.unwrap());
        assert!(!tx.may_ship_from(&waiting("amz", false), "amz-fba").await.unwrap());
        assert!(tx.may_ship_from(&waiting("amz", false), "central").await.unwrap());
        assert!(!tx.may_ship_from(&waiting("web", false), "amz-fba").await.unwrap());
    })
    .await;
}

/// One poller at a time holds a channel's stream: a second cannot claim it while the lease
/// runs, takes it over once the lease has run out, and from then on the first holder, stale,
/// can neither move the cursor nor take its lease back by advancing.
#[tokio::test]
async fn a_poll_lease_is_taken_over_once_it_runs_out_and_the_stale_holder_moves_nothing() {
    on_both("poll_lease_takeover", |db| async move {
        let start = Utc::now();
        let lease = Duration::seconds(60);
        let mut tx = db.write().await.unwrap();
        tx.insert_channel(&channel("amz"), start).await.unwrap();
        tx.commit().await.unwrap();
        let claim = |holder: &'static str, at: chrono::DateTime<Utc>| {
            let db = db.clone();
            async move {
                let mut tx = db.write().await.unwrap();
                let claimed = tx.claim_cursor("amz", "orders", holder, at, at + lease).await.unwrap();
                tx.commit().await.unwrap();
                claimed
            }
        };
        let advance = |holder: &'static str, position: &'static str, at: chrono::DateTime<Utc>| {
            let db = db.clone();
            async move {
                let mut tx = db.write().await.unwrap();
                let moved = tx.advance_cursor("amz", "orders", holder, position, at, at + lease).await.unwrap();
                tx.commit().await.unwrap();
                moved
            }
        };
        let cursor = || {
            let db = db.clone();
            async move {
                let mut tx = db.read().await.unwrap();
                tx.cursors("amz").await.unwrap().into_iter().find(|c| c.stream == "orders").unwrap()
            }
        };

        assert_eq!(claim("first", start).await, Some(None), "a new stream has no position yet");
        assert!(advance("first", "2026-12-01T10:00:00Z", start + Duration::seconds(5)).await);
        assert_eq!(claim("first", start + Duration::seconds(10)).await, Some(Some("2026-12-01T10:00:00Z".into())), "its holder keeps it");

        // The first holder's lease, renewed by its claim at +10 s, runs until +70 s.
        assert_eq!(claim("second", start + Duration::seconds(30)).await, None, "not while the lease holds");
        assert_eq!(claim("second", start + Duration::seconds(69)).await, None, "not a moment before it runs out");
        let after = start + Duration::seconds(71);
        assert_eq!(claim("second", after).await, Some(Some("2026-12-01T10:00:00Z".into())), "taken over where the first got to");
        let taken = cursor().await;
        assert_eq!(taken.lease_holder.as_deref(), Some("second"));

        // The first, back from a stall, is refused and moves nothing.
        assert!(!advance("first", "2026-12-01T11:00:00Z", after + Duration::seconds(1)).await, "a stale holder's advance is refused");
        let kept = cursor().await;
        assert_eq!(kept.position.as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(kept.lease_holder.as_deref(), Some("second"));
        assert_eq!(kept.lease_until.map(|t| t.timestamp()), Some((after + lease).timestamp()), "the new holder's lease is untouched");
        assert_eq!(kept.polled_at.map(|t| t.timestamp()), Some((start + Duration::seconds(5)).timestamp()));
        assert_eq!(claim("first", after + Duration::seconds(2)).await, None, "nor can it claim back the lease the second holds");

        // The new holder goes on.
        assert!(advance("second", "2026-12-01T12:00:00Z", after + Duration::seconds(3)).await);
        assert_eq!(cursor().await.position.as_deref(), Some("2026-12-01T12:00:00Z"));
    })
    .await;
}

/// Runs one statement of raw SQL, as an older Ordo would have written it.
async fn execute(db: &Db, sql: &'static str) {
    match db {
        Db::Sqlite(pool, ..) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool, _) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .unwrap();
}

/// Migration 45 made imported sales name their channel; on SQLite it rebuilds the table. The
/// sales a version-44 database holds come through the upgrade, naming no channel, and the
/// rebuilt key still keeps one row per SKU and day without a channel.
#[tokio::test]
async fn imported_sales_survive_the_upgrade_that_gave_them_channels() {
    on_both_at_version("imported_sales_survive_the_upgrade_that_gave_them_channels", 44, |db| async move {
        execute(
            &db,
            "INSERT INTO products (sku, name, unit_cost_minor, currency, weight_grams, tax_class, abc_class, active, created_at) \
             VALUES ('KETTLE', 'Kettle', 1200, 'EUR', 900, 'standard', 'A', TRUE, '2026-01-01T00:00:00Z')",
        )
        .await;
        execute(&db, "INSERT INTO sales_history (sku, day, units) VALUES ('KETTLE', '2026-01-01', 3), ('KETTLE', '2026-01-02', 5)").await;
        db.migrate().await.unwrap();

        let mut tx = db.read().await.unwrap();
        let days = |rows: Vec<ordo_storage::SkuDay>| rows.into_iter().map(|d| (d.day, d.units)).collect::<Vec<_>>();
        let all = days(tx.imported_demand("2026-01-01", Some("KETTLE"), None).await.unwrap());
        assert_eq!(all, [("2026-01-01".to_owned(), 3), ("2026-01-02".to_owned(), 5)]);
        assert!(tx.imported_demand("2026-01-01", None, Some("WEB")).await.unwrap().is_empty());
        tx.commit().await.unwrap();

        let mut tx = db.write().await.unwrap();
        let again = ImportedDay { sku: "KETTLE".into(), day: "2026-01-01".into(), channel: None, units: 4 };
        assert!(tx.put_sales_history(&[again]).await.is_err(), "the upgraded key must refuse a second row without a channel");
        drop(tx);
    })
    .await;
}

#[tokio::test]
async fn a_location_keeps_its_calendar_and_a_damaged_one_is_said() {
    /// Writes a column of central's row behind Ordo's back.
    async fn set_raw(db: &Db, column: &str, value: &str) {
        let sql = format!("UPDATE locations SET {column} = $1 WHERE code = 'central'");
        match db {
            Db::Sqlite(pool, ..) => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).execute(pool).await.map(drop),
            Db::Postgres(pool, _) => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).execute(pool).await.map(drop),
        }
        .unwrap();
    }
    on_both("location_calendar", |db| async move {
        let now = Utc::now();
        let mut tx = db.write().await.unwrap();
        tx.insert_location(&location("central", 1), now).await.unwrap();
        let calendar = ordo_domain::calendar::NewCalendar {
            closed_weekdays: vec!["sunday".into()],
            closed_dates: vec![ordo_domain::calendar::NewClosedDate { date: "2026-12-25".into(), name: Some("Christmas Day".into()) }],
        }
        .validate()
        .unwrap();
        assert!(tx.set_location_calendar("central", &calendar).await.unwrap());
        assert!(!tx.set_location_calendar("nowhere", &calendar).await.unwrap());
        assert_eq!(tx.location("central").await.unwrap().unwrap().calendar, calendar);
        // A location made with its calendar keeps it too.
        tx.insert_location(&Location { calendar: calendar.clone(), ..location("north", 2) }, now).await.unwrap();
        assert_eq!(tx.location("north").await.unwrap().unwrap().calendar, calendar);
        tx.insert_channel(&channel("web"), now).await.unwrap();
        let sites = tx.routing_sites("web", "standard", false).await.unwrap();
        assert_eq!(sites.schedules["central"].calendar, calendar, "routing sees the calendar");
        tx.commit().await.unwrap();

        // A time zone, a cut-off or a calendar damaged behind Ordo's back is refused as corrupt,
        // naming its column, not read as UTC, midnight or every day.
        for (column, damaged, good) in [
            ("time_zone", "Mars/Olympus", "Europe/Berlin"),
            ("cutoff_time", "25:00", "15:00"),
            ("calendar", "{\"closed\":", "{\"closed_weekdays\": [], \"closed_dates\": []}"),
        ] {
            set_raw(&db, column, damaged).await;
            let mut tx = db.read().await.unwrap();
            let error = tx.locations().await.unwrap_err().to_string();
            assert!(error.contains(&format!("locations.{column}")), "{column}: {error}");
            drop(tx);
            set_raw(&db, column, good).await;
        }
    })
    .await;
}
