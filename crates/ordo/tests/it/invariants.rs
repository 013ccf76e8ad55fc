//! Random sequences of receipts, counts, adjustments, orders, cancellations and shipments never break
//! the stock invariants: on-hand equals the sum of movements, reserved equals the sum of
//! allocations, and 0 ≤ reserved ≤ on-hand — after every step.

use chrono::Utc;
use ordo_app::domain::inventory::{MovementKind, NewMovement};
use ordo_app::domain::master::{ChannelKind, LocationKind, NewChannel, NewLocation, NewProduct};
use ordo_app::domain::order::{Address, NewCustomerRef, NewOrder, NewOrderLine, NewShipment, PaymentStatus};
use ordo_app::{Actor, AppError, Ordo};
use proptest::prelude::*;

const SKUS: [&str; 3] = ["MUG", "VASE", "LAMP"];
const LOCATIONS: [&str; 2] = ["central", "overflow"];

#[derive(Debug, Clone)]
enum Step {
    Receive { sku: usize, location: usize, quantity: i64 },
    Count { sku: usize, location: usize, quantity: i64 },
    Adjust { sku: usize, location: usize, quantity: i64 },
    Order { lines: Vec<(usize, i64)> },
    Cancel { order: usize },
    Ship { order: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0..3usize, 0..2usize, 1..20i64).prop_map(|(sku, location, quantity)| Step::Receive { sku, location, quantity }),
        1 => (0..3usize, 0..2usize, 0..15i64).prop_map(|(sku, location, quantity)| Step::Count { sku, location, quantity }),
        1 => (0..3usize, 0..2usize, prop_oneof![-8..0i64, 1..8i64])
            .prop_map(|(sku, location, quantity)| Step::Adjust { sku, location, quantity }),
        3 => prop::collection::vec((0..3usize, 1..6i64), 1..4).prop_map(|lines| Step::Order { lines }),
        1 => (0..40usize).prop_map(|order| Step::Cancel { order }),
        2 => (0..40usize).prop_map(|order| Step::Ship { order }),
    ]
}

async fn shop(dir: &std::path::Path) -> Ordo {
    let url = format!("sqlite://{}", dir.join("ordo.db").display());
    let ordo = Ordo::open(&url, &Default::default(), Default::default()).await.unwrap();
    let currency = ordo.settings().base_currency.code().to_owned();
    let channel = NewChannel { code: "web".into(), name: "Web".into(), kind: ChannelKind::Web, currency, ship_by_sla_hours: None };
    ordo.create_channel(channel).await.unwrap();
    for (priority, code) in LOCATIONS.iter().enumerate() {
        let location = NewLocation {
            code: (*code).into(),
            name: (*code).into(),
            kind: LocationKind::Warehouse,
            priority: priority as i64,
            time_zone: None,
            cutoff_time: None,
        };
        ordo.create_location(location).await.unwrap();
    }
    for sku in SKUS {
        let product = NewProduct {
            sku: sku.into(),
            name: sku.into(),
            unit_cost: "1.00".into(),
            weight_grams: None,
            tax_class: None,
            abc_class: None,
            active: None,
        };
        ordo.create_product(product).await.unwrap();
    }
    ordo
}

fn new_order(n: usize, lines: &[(usize, i64)]) -> NewOrder {
    NewOrder {
        channel: "web".into(),
        external_id: format!("o-{n}"),
        placed_at: Utc::now(),
        currency: "USD".into(),
        customer: NewCustomerRef { email: "ann@example.com".into(), name: "Ann".into() },
        ship_to: Address {
            name: "Ann".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Springfield".into(),
            region: None,
            postal_code: "12345".into(),
            country: "US".into(),
        },
        billing_country: None,
        shipping_method: "standard".into(),
        payment_status: PaymentStatus::Captured,
        shipping_price: None,
        lines: lines
            .iter()
            .map(|(sku, quantity)| NewOrderLine {
                sku: SKUS[*sku].into(),
                quantity: *quantity,
                unit_price: "5.00".into(),
                tax: None,
                discount: None,
            })
            .collect(),
    }
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let ordo = shop(dir.path()).await;
    let actor = Actor::system();
    let mut orders = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let movement = |sku: usize, location: usize, quantity: i64, kind| NewMovement {
            sku: SKUS[sku].into(),
            location: LOCATIONS[location].into(),
            quantity,
            kind,
            reason: "property test".into(),
        };
        let result = match step.clone() {
            Step::Receive { sku, location, quantity } => {
                ordo.record_movement(movement(sku, location, quantity, MovementKind::Receipt), &actor).await.map(drop)
            }
            Step::Count { sku, location, quantity } => {
                ordo.record_movement(movement(sku, location, quantity, MovementKind::Count), &actor).await.map(drop)
            }
            Step::Adjust { sku, location, quantity } => {
                ordo.record_movement(movement(sku, location, quantity, MovementKind::Adjustment), &actor).await.map(drop)
            }
            Step::Order { lines } => ordo.receive_order(new_order(i, &lines), "{}", &actor).await.map(|intake| {
                orders.push(intake.order.id);
            }),
            Step::Cancel { order } => match orders.get(order) {
                Some(id) => ordo.cancel_order(*id, "property test", &actor).await.map(drop),
                None => Ok(()),
            },
            // Ship whatever the order has reserved at the first location holding any of it.
            Step::Ship { order } => match orders.get(order) {
                Some(id) => {
                    let current = ordo.order(*id).await.unwrap();
                    let location = current.lines.iter().flat_map(|l| &l.allocations).map(|a| a.location.clone()).next();
                    match location {
                        Some(location) => {
                            let parcel = NewShipment { location, carrier: "UPS".into(), tracking_number: format!("T{i}"), lines: None };
                            ordo.ship_order(*id, parcel, &actor).await.map(drop)
                        }
                        None => Ok(()),
                    }
                }
                None => Ok(()),
            },
        };
        // Refusals are fine (stock below what is reserved, cancelling twice); failures are not.
        match result {
            Ok(()) | Err(AppError::InsufficientStock(_) | AppError::InvalidTransition { .. }) => {}
            Err(other) => prop_assert!(false, "step {i} {step:?} failed: {other}"),
        }
        let problems = ordo.stock_discrepancies().await.unwrap();
        prop_assert!(problems.is_empty(), "after step {i} {step:?}: {problems:?}");
        // The books follow: every entry balances, so does the trial balance, and the inventory
        // account is the stock at cost.
        let books = ordo.check_ledger().await.unwrap();
        prop_assert!(books.holds(), "after step {i} {step:?}: {books:?}");
    }
    ordo.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn stock_stays_consistent_whatever_happens(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(steps))?;
    }
}
