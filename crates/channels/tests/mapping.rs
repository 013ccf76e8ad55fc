//! The channels' payloads, real and mutated, mapped onto Ordo's orders without a database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ordo_channels::{amazon, carrier, ebay, shopify, signature, woocommerce, Context, Inbound};
use ordo_domain::order::PaymentStatus;
use ordo_domain::{Currency, Money};
use proptest::prelude::*;

const SHOPIFY_ORDER: &[u8] = include_bytes!("fixtures/shopify-orders-create.json");
const WOO_ORDER: &[u8] = include_bytes!("fixtures/woocommerce-order-created.json");
const AMAZON_ORDER: &[u8] = include_bytes!("fixtures/amazon-polled-order.json");
const EBAY_ORDER: &[u8] = include_bytes!("fixtures/ebay-order.json");
/// A Shopify `refunds/create` body: one line returned, shipping given back, a failed try.
const SHOPIFY_REFUND: &[u8] = br#"{"id": 509562969, "order_id": 820982911946154508, "note": "broke", "refund_line_items": [{"line_item_id": 866550311766439020, "quantity": 1, "restock_type": "return", "subtotal": 9.9}],
    "transactions": [{"kind": "refund", "status": "success", "amount": "14.61"}, {"kind": "refund", "status": "failure", "amount": "14.61"}],
    "order_adjustments": [{"kind": "shipping_refund", "amount": "-4.49"}]}"#;
/// An EasyPost `tracker.updated` event.
const EASYPOST_EVENT: &[u8] = br#"{"id": "evt_1", "object": "Event", "description": "tracker.updated", "result": {"object": "Tracker", "tracking_code": "EZ1000000001",
    "status": "out_for_delivery", "carrier": "USPS", "tracking_details": [{"datetime": "2026-12-01T08:00:00Z", "message": "Out for delivery", "status": "out_for_delivery"}]}}"#;

fn listed(sku: &str) -> bool {
    ["SHOP-MUG-BLUE", "49148385", "93", "23", "IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK", "AMZ-MUG", "B0CASIN001", "410014855123", "WOO-TRIO"].contains(&sku)
}

fn context(currency: Currency) -> Context<'static> {
    Context { channel: "web", currency, listed: &listed }
}

fn total(order: &ordo_domain::order::NewOrder) -> i64 {
    let currency = Currency::parse("c", &order.currency).unwrap();
    let m = |t: &Option<String>| t.as_deref().map_or(0, |t| Money::parse_decimal(t, currency).unwrap().minor());
    let lines: i64 = order
        .lines
        .iter()
        .map(|l| Money::parse_decimal(&l.unit_price, currency).unwrap().minor() * l.quantity - m(&l.discount) + m(&l.tax))
        .sum();
    lines + m(&order.shipping_price)
}

#[test]
fn a_shopify_order_maps_by_sku_then_variant_in_shop_money() {
    let Inbound::Order(mapped) = shopify::read("orders/create", SHOPIFY_ORDER, &context(Currency::EUR)).unwrap() else { panic!() };
    let order = &mapped.order;
    assert_eq!(order.external_id, "820982911946154508", "the id above 2^53 is kept whole");
    assert_eq!(order.lines[0].sku, "SHOP-MUG-BLUE");
    assert_eq!(order.lines[0].unit_price, "14.90", "shop money, not presentment money");
    assert_eq!(order.lines[0].discount.as_deref(), Some("5.00"));
    assert_eq!(order.lines[0].tax.as_deref(), Some("4.71"));
    assert_eq!(order.lines[0].item_id.as_deref(), Some("866550311766439020"));
    assert_eq!(order.lines[1].sku, "49148385", "an empty SKU falls back to the variant id");
    assert_eq!(order.shipping_price.as_deref(), Some("4.49"));
    assert_eq!(order.shipping_method, "standard");
    assert_eq!(order.payment_status, PaymentStatus::Captured);
    assert_eq!(order.ship_to.country, "DE");
    assert_eq!(order.customer.email, "jon@example.com");
    assert_eq!(order.placed_at.to_rfc3339(), "2026-11-30T15:15:00+00:00");
    assert_eq!(total(order), 6375, "the order's total is Shopify's total_price");
    assert!(!mapped.cancelled);
}

#[test]
fn shopify_order_level_tax_is_spread_over_the_lines() {
    // The Admin API's own sample wraps the order and gives tax for the order only.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/formats/shopify/order.rest-fixture.json");
    let Ok(body) = std::fs::read(path) else {
        println!("SKIP shopify_order_level_tax_is_spread_over_the_lines: the shared formats are not beside the project");
        return;
    };
    let mapped = shopify::order(&body, &context(Currency::USD)).unwrap();
    assert_eq!(mapped.order.external_id, "450789469");
    assert_eq!(mapped.order.lines.len(), 3);
    assert_eq!(mapped.order.payment_status, PaymentStatus::Authorized);
    // The sample's three lines at 199.00 add up to 597.00, not to its total_line_items_price
    // of 398.00 (the SDK's fixtures are not consistent); its 11.94 of tax is spread over them.
    let tax: i64 = mapped.order.lines.iter().map(|l| Money::parse_decimal(l.tax.as_deref().unwrap(), Currency::USD).unwrap().minor()).sum();
    assert_eq!(tax, 1194);
    assert_eq!(total(&mapped.order), 59_700 + 1194);
}

#[test]
fn shopify_topics_beyond_orders() {
    let c = context(Currency::EUR);
    assert!(matches!(shopify::read("orders/cancelled", SHOPIFY_ORDER, &c).unwrap(), Inbound::Cancelled { external_id, .. } if external_id == "820982911946154508"));
    assert!(matches!(shopify::read("app/uninstalled", b"{}", &c).unwrap(), Inbound::Uninstalled));
    assert!(matches!(shopify::read("products/update", b"{}", &c).unwrap(), Inbound::Ignored(_)));
    let Inbound::Refund(r) = shopify::read("refunds/create", SHOPIFY_REFUND, &c).unwrap() else { panic!() };
    assert_eq!((r.external_id.as_str(), r.refund_id.as_str()), ("820982911946154508", "509562969"));
    assert_eq!(r.amount.minor(), 1461, "failed transactions give nothing back");
    assert_eq!(r.shipping.minor(), 449);
    assert!(r.lines[0].returned);
}

#[test]
fn shopify_mapping_errors_name_the_field() {
    let c = context(Currency::EUR);
    let mut order: serde_json::Value = serde_json::from_slice(SHOPIFY_ORDER).unwrap();
    order["shipping_address"] = serde_json::Value::Null;
    let e = shopify::order(order.to_string().as_bytes(), &c).unwrap_err();
    assert_eq!(e.field, "shipping_address");
    let mut order: serde_json::Value = serde_json::from_slice(SHOPIFY_ORDER).unwrap();
    order["line_items"][1]["variant_id"] = 1.into();
    order["line_items"][1]["product_id"] = 2.into();
    let e = shopify::order(order.to_string().as_bytes(), &c).unwrap_err();
    assert_eq!(e.field, "line_items[1].sku");
    let mut order: serde_json::Value = serde_json::from_slice(SHOPIFY_ORDER).unwrap();
    order["line_items"][0]["price_set"]["shop_money"]["amount"] = "14.901".into();
    assert_eq!(shopify::order(order.to_string().as_bytes(), &c).unwrap_err().field, "line_items[0].price_set.shop_money.amount");
    assert_eq!(shopify::order(SHOPIFY_ORDER, &context(Currency::USD)).unwrap_err().field, "currency");
}

#[test]
fn a_woocommerce_order_maps_product_and_variation_ids_and_numeric_prices() {
    let Inbound::Order(mapped) = woocommerce::read("order.created", WOO_ORDER, &context(Currency::EUR)).unwrap() else { panic!() };
    let order = &mapped.order;
    assert_eq!(order.external_id, "727");
    assert_eq!(order.lines[0].sku, "93", "an empty sku and variation 0: the product id");
    assert_eq!(order.lines[0].unit_price, "3.00", "the subtotal over the quantity");
    assert_eq!(order.lines[1].sku, "23", "the variation id before the product id");
    assert_eq!(order.lines[1].tax.as_deref(), Some("0.90"), "one decimal read exactly");
    assert_eq!(order.placed_at.to_rfc3339(), "2026-11-30T16:28:02+00:00", "date_created_gmt, read as UTC");
    assert_eq!(order.shipping_method, "flat_rate");
    assert_eq!(order.payment_status, PaymentStatus::Captured);
    // Three for 10.00 less a coupon's 1.00: no unit price in whole cents makes 10.00, and the
    // numeric price (9.00 / 3) is after the coupon. The unit is rounded up and the discount
    // takes the rounding, so the line still comes to WooCommerce's total of 9.00.
    let trio = &order.lines[2];
    assert_eq!((trio.sku.as_str(), trio.quantity), ("WOO-TRIO", 3));
    assert_eq!((trio.unit_price.as_str(), trio.discount.as_deref(), trio.tax.as_deref()), ("3.34", Some("1.02"), Some("0.68")));
    assert_eq!(total(order), 3903, "the order's total");
}

/// A line's numeric `price` is WooCommerce's total divided by the quantity, after discounts
/// and unrounded: a line whose amounts do not divide still maps, to its total exactly, and the
/// price is read where the line gives no total.
#[test]
fn a_woocommerce_line_that_does_not_divide_still_comes_to_its_total() {
    let c = context(Currency::EUR);
    let line = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut order: serde_json::Value = serde_json::from_slice(WOO_ORDER).unwrap();
        edit(&mut order["line_items"][2]);
        let mapped = woocommerce::order(order.to_string().as_bytes(), &c);
        mapped.map(|m| {
            let l = m.order.lines[2].clone();
            (l.unit_price, l.discount.unwrap_or_default())
        })
    };
    // Three for 10.00, no discount: what WooCommerce sends as the price has no end.
    let undivided = line(&|l| {
        l["total"] = "10.00".into();
        l["price"] = serde_json::json!(10.0 / 3.0);
    });
    assert_eq!(undivided.unwrap(), ("3.34".to_owned(), "0.02".to_owned()), "3 × 3.34 less 0.02 is 10.00");
    // Six for 10.00 less 1.00: the subtotal does not divide, the total does.
    let six = line(&|l| {
        l["quantity"] = 6.into();
        l["price"] = 1.5.into();
    });
    assert_eq!(six.unwrap(), ("1.67".to_owned(), "1.02".to_owned()), "6 × 1.67 less 1.02 is 9.00");
    // No total: the numeric price, for every unit.
    let no_total = line(&|l| {
        l.as_object_mut().unwrap().remove("total");
        l["price"] = 3.into();
    });
    assert_eq!(no_total.unwrap(), ("3.34".to_owned(), "1.02".to_owned()), "10.00 before the discount, 3 × 3 after");
    let unending = line(&|l| {
        l.as_object_mut().unwrap().remove("total");
        l["price"] = serde_json::json!(10.0 / 3.0);
    });
    assert_eq!(unending.unwrap_err().field, "line_items[2].price", "a price without a total must come out in cents");
    let nothing = line(&|l| {
        for field in ["total", "subtotal", "price"] {
            l.as_object_mut().unwrap().remove(field);
        }
    });
    assert_eq!(nothing.unwrap_err().field, "line_items[2].total");
}

#[test]
fn woocommerce_pings_deletions_and_cancellations() {
    let c = context(Currency::EUR);
    assert!(matches!(woocommerce::read("", b"webhook_id=12", &c).unwrap(), Inbound::Ignored(_)));
    assert!(matches!(woocommerce::read("order.deleted", br#"{"id": 727}"#, &c).unwrap(), Inbound::Cancelled { external_id, .. } if external_id == "727"));
    let mut order: serde_json::Value = serde_json::from_slice(WOO_ORDER).unwrap();
    order["status"] = "cancelled".into();
    let Inbound::Order(mapped) = woocommerce::read("order.updated", order.to_string().as_bytes(), &c).unwrap() else { panic!() };
    assert!(mapped.cancelled);
    order["shipping"]["address_1"] = "".into();
    assert_eq!(woocommerce::order(order.to_string().as_bytes(), &c).unwrap_err().field, "shipping.address_1");
    order["line_items"][0]["quantity"] = "two".into();
    assert_eq!(woocommerce::order(order.to_string().as_bytes(), &c).unwrap_err().field, "line_items[0].quantity");
}

#[test]
fn an_amazon_order_maps_seller_skus_then_asins_and_item_prices_for_all_units() {
    let Inbound::Order(mapped) = amazon::read(AMAZON_ORDER, &context(Currency::EUR)).unwrap() else { panic!() };
    let order = &mapped.order;
    assert_eq!(order.external_id, "902-1845936-5435065");
    assert_eq!((order.lines[0].sku.as_str(), order.lines[0].unit_price.as_str(), order.lines[0].quantity), ("AMZ-MUG", "10.00", 2), "ItemPrice is for both units");
    assert_eq!(order.lines[1].sku, "B0CASIN001", "no SellerSKU: the ASIN's listing");
    assert_eq!(order.lines[1].discount.as_deref(), Some("2.35"));
    assert_eq!(order.shipping_price.as_deref(), Some("2.99"));
    assert_eq!(total(order), 3543, "OrderTotal");
    assert_eq!(amazon::order_version(br#"{"AmazonOrderId": "1", "LastUpdateDate": "2026-01-01T00:00:00Z"}"#).unwrap().0, "1");
    let mut doc: serde_json::Value = serde_json::from_slice(AMAZON_ORDER).unwrap();
    doc["order"]["OrderStatus"] = "Canceled".into();
    assert!(matches!(amazon::read(doc.to_string().as_bytes(), &context(Currency::EUR)).unwrap(), Inbound::Cancelled { .. }));
    assert_eq!(mapped.waiting_for, None, "Unshipped: free to ship");
    doc["order"]["OrderStatus"] = "Pending".into();
    let Inbound::Order(pending) = amazon::read(doc.to_string().as_bytes(), &context(Currency::EUR)).unwrap() else { panic!() };
    assert!(pending.waiting_for.as_deref().is_some_and(|w| w.contains("Pending")), "Pending is reserved and waits");
    doc["order"]["OrderStatus"] = "Unshipped".into();
    doc["order"]["FulfillmentChannel"] = "AFN".into();
    // Amazon shows the seller only the town of an FBA order's buyer: enough, as Amazon ships it.
    for part in ["Name", "AddressLine1"] {
        doc["order"]["ShippingAddress"].as_object_mut().unwrap().remove(part);
    }
    let Inbound::Order(fba) = amazon::read(doc.to_string().as_bytes(), &context(Currency::EUR)).unwrap() else { panic!() };
    assert!(fba.fulfilled_by_channel, "FBA orders are Amazon's to ship");
    assert!(fba.waiting_for.as_deref().is_some_and(|w| w.contains("FBA")), "never picked by Ordo");
    assert_eq!((fba.order.ship_to.country.as_str(), fba.order.ship_to.city.as_str()), ("DE", "Koeln"));
    assert!(!mapped.fulfilled_by_channel, "MFN: the seller ships");
    doc["order"]["FulfillmentChannel"] = "MFN".into();
    doc["order"].as_object_mut().unwrap().remove("ShippingAddress");
    assert_eq!(amazon::read(doc.to_string().as_bytes(), &context(Currency::EUR)).unwrap_err().field, "order.ShippingAddress");
    assert_eq!(amazon::read(AMAZON_ORDER, &context(Currency::USD)).unwrap_err().field, "order.OrderTotal.CurrencyCode");
}

#[test]
fn an_ebay_order_maps_its_variation_and_line_cost_for_all_units() {
    let Inbound::Order(mapped) = ebay::read(EBAY_ORDER, &context(Currency::EUR)).unwrap() else { panic!() };
    let order = &mapped.order;
    assert_eq!(order.external_id, "12-10412-52187");
    assert_eq!((order.lines[0].sku.as_str(), order.lines[0].unit_price.as_str()), ("410014855123", "9.90"));
    assert_eq!(order.customer.email, "erika@example.com");
    assert_eq!(order.shipping_method, "de_dhlpaket");
    assert_eq!(order.payment_status, PaymentStatus::Captured);
    assert_eq!(mapped.updated_at.to_rfc3339(), "2026-11-30T08:27:10.102+00:00");
    assert_eq!(total(order), 3420, "pricingSummary.total");
    let mut doc: serde_json::Value = serde_json::from_slice(EBAY_ORDER).unwrap();
    doc["lineItems"][0]["lineItemCost"]["value"] = 29.7.into();
    assert!(ebay::read(doc.to_string().as_bytes(), &context(Currency::EUR)).is_ok(), "a number is read too");
    doc["cancelStatus"]["cancelState"] = "CANCELED".into();
    assert!(matches!(ebay::read(doc.to_string().as_bytes(), &context(Currency::EUR)).unwrap(), Inbound::Cancelled { .. }));
}

#[test]
fn an_easypost_tracker_event_names_its_parcel_status_and_time() {
    let update = carrier::easypost(EASYPOST_EVENT).unwrap().unwrap();
    assert_eq!((update.tracking_code.as_str(), update.status.as_str()), ("EZ1000000001", "out_for_delivery"));
    assert_eq!(update.message.as_deref(), Some("Out for delivery"));
    assert!(carrier::easypost(br#"{"description": "batch.updated", "result": {}}"#).unwrap().is_none());
    let e = carrier::easypost(br#"{"description": "tracker.updated", "result": {"tracking_code": "X", "status": "lost_in_space"}}"#).unwrap_err();
    assert_eq!(e.field, "result.status");
}

#[test]
fn signed_fixtures_verify() {
    let header = signature::base64_hmac(SHOPIFY_ORDER, "shpss_secret");
    assert!(signature::base64_hmac_matches(SHOPIFY_ORDER, &header, &["shpss_secret".into()]));
}

/// Every reader, on every topic it knows.
fn read_all(body: &[u8]) {
    let c = context(Currency::EUR);
    for topic in ["orders/create", "orders/updated", "orders/cancelled", "refunds/create"] {
        if let Err(e) = shopify::read(topic, body, &c) {
            assert!(!e.field.is_empty() && !e.message.is_empty());
        }
    }
    for topic in ["order.created", "order.deleted"] {
        if let Err(e) = woocommerce::read(topic, body, &c) {
            assert!(!e.field.is_empty() && !e.message.is_empty());
        }
    }
    for result in [carrier::easypost(body).map(|_| ()), amazon::read(body, &c).map(|_| ()), ebay::read(body, &c).map(|_| ()), amazon::order_version(body).map(|_| ()), ebay::order_version(body).map(|_| ())] {
        if let Err(e) = result {
            assert!(!e.field.is_empty() && !e.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_all(&body);
    }

    #[test]
    fn mutated_real_payloads_never_panic(
        which in 0usize..6,
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut body = [SHOPIFY_ORDER, WOO_ORDER, AMAZON_ORDER, EBAY_ORDER, SHOPIFY_REFUND, EASYPOST_EVENT][which].to_vec();
        for (at, byte) in cuts {
            let i = at.index(body.len());
            body[i] = byte;
        }
        if let Some(at) = truncate {
            body.truncate(at.index(body.len()));
        }
        read_all(&body);
    }

    #[test]
    fn any_value_in_any_field_is_mapped_or_named(
        which in 0usize..CORPUS.len(),
        path in any::<prop::sample::Index>(),
        value in prop_oneof![
            Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from), any::<f64>().prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from), Just(serde_json::json!({})), Just(serde_json::json!([1, "a"])),
            Just(serde_json::Value::from("9223372036854775808")), Just(serde_json::Value::from(u64::MAX)),
        ],
    ) {
        let corpus = &CORPUS[which];
        let path = corpus.paths[path.index(corpus.paths.len())];
        let mut doc: serde_json::Value = serde_json::from_slice(corpus.body).unwrap();
        let mut at = &mut doc;
        let parts: Vec<&str> = path.split('.').collect();
        for (n, part) in parts.iter().enumerate() {
            let last = n + 1 == parts.len();
            at = match part.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) if last => { at[*part] = value.clone(); break; }
                Err(_) => &mut at[*part],
            };
        }
        let body = doc.to_string();
        read_all(body.as_bytes());
        if let Err(e) = (corpus.read)(body.as_bytes()) {
            let named = field_path(path);
            prop_assert!(names(&e.field, &named, corpus.also), "{value} at {named}: the error names {:?} ({})", e.field, e.message);
        }
    }
}

/// A real payload, its own reader, the fields mutated in it, and for a field whose value the
/// mapping judges under another name, that name.
struct Corpus {
    body: &'static [u8],
    read: fn(&[u8]) -> Result<(), ordo_domain::FieldError>,
    paths: &'static [&'static str],
    also: &'static [(&'static str, &'static str)],
}

const CORPUS: [Corpus; 6] = [
    Corpus {
        body: SHOPIFY_ORDER,
        read: |b| shopify::read("orders/create", b, &context(Currency::EUR)).map(|_| ()),
        paths: &["id", "currency", "created_at", "updated_at", "financial_status", "line_items.0.price", "line_items.0.quantity", "line_items.0.sku",
            "line_items.0.product_id", "line_items.1.variant_id", "line_items.0.price_set.shop_money.amount", "shipping_address.country_code",
            "shipping_address.address1", "total_tax", "shipping_lines.0.price", "email"],
        // A line is found by its SKU, else its variant, else its product: the SKU names the lookup.
        also: &[("line_items[1].variant_id", "line_items[1].sku"), ("line_items[0].product_id", "line_items[0].sku")],
    },
    Corpus {
        body: WOO_ORDER,
        read: |b| woocommerce::read("order.created", b, &context(Currency::EUR)).map(|_| ()),
        paths: &["id", "currency", "status", "date_created_gmt", "date_modified_gmt", "line_items.0.price", "line_items.2.price", "line_items.0.quantity",
            "line_items.0.sku", "line_items.0.product_id", "line_items.1.variation_id", "line_items.2.subtotal", "line_items.2.total", "line_items.0.total_tax",
            "shipping.country", "shipping.address_1", "billing.email", "shipping_lines.0.total"],
        also: &[("line_items[0].product_id", "line_items[0].sku"), ("line_items[1].variation_id", "line_items[1].sku")],
    },
    Corpus {
        body: AMAZON_ORDER,
        read: |b| amazon::read(b, &context(Currency::EUR)).map(|_| ()),
        paths: &["order.AmazonOrderId", "order.PurchaseDate", "order.LastUpdateDate", "order.OrderStatus", "order.FulfillmentChannel",
            "order.OrderTotal.Amount", "order.OrderTotal.CurrencyCode", "order.ShippingAddress.CountryCode", "items.0.SellerSKU", "items.0.QuantityOrdered",
            "items.0.ItemPrice.Amount", "items.1.PromotionDiscount.Amount", "items.0.ShippingPrice.Amount"],
        also: &[],
    },
    Corpus {
        body: EBAY_ORDER,
        read: |b| ebay::read(b, &context(Currency::EUR)).map(|_| ()),
        paths: &["orderId", "creationDate", "lastModifiedDate", "orderPaymentStatus", "pricingSummary.total.value", "pricingSummary.deliveryCost.value",
            "lineItems.0.sku", "lineItems.0.quantity", "lineItems.0.lineItemCost.value", "lineItems.0.lineItemCost.currency", "lineItems.0.legacyVariationId",
            "fulfillmentStartInstructions.0.shippingStep.shipTo.contactAddress.countryCode", "cancelStatus.cancelState"],
        also: &[("lineItems[0].legacyVariationId", "lineItems[0].sku")],
    },
    Corpus {
        body: SHOPIFY_REFUND,
        read: |b| shopify::read("refunds/create", b, &context(Currency::EUR)).map(|_| ()),
        paths: &["id", "order_id", "refund_line_items.0.line_item_id", "refund_line_items.0.quantity", "refund_line_items.0.restock_type",
            "refund_line_items.0.subtotal", "transactions.0.amount", "transactions.0.status", "transactions.1.kind", "order_adjustments.0.amount", "order_adjustments.0.kind"],
        also: &[],
    },
    Corpus {
        body: EASYPOST_EVENT,
        read: |b| carrier::easypost(b).map(|_| ()),
        paths: &["description", "result.tracking_code", "result.status", "result.carrier", "result.tracking_details.0.datetime", "result.tracking_details.0.message"],
        // The time is the last detail's; without one, the tracker's own `updated_at` is asked for.
        also: &[("result.tracking_details[0].datetime", "result.updated_at")],
    },
];

/// "line_items.0.price" as the mapping names it: "line_items[0].price".
fn field_path(path: &str) -> String {
    let mut named = String::new();
    for part in path.split('.') {
        match part.parse::<usize>() {
            Ok(i) => named.push_str(&format!("[{i}]")),
            Err(_) if named.is_empty() => named.push_str(part),
            Err(_) => {
                named.push('.');
                named.push_str(part);
            }
        }
    }
    named
}

/// Whether an error's `field` names the mutated field `path`, a part it belongs to, or the
/// name the mapping judges it under.
fn names(field: &str, path: &str, also: &[(&str, &str)]) -> bool {
    let parent = |of: &str| path == of || path.starts_with(&format!("{of}.")) || path.starts_with(&format!("{of}["));
    parent(field) || also.iter().any(|(mutated, judged)| path == *mutated && field == *judged)
}

#[test]
fn errors_name_the_field_as_the_mapping_writes_it() {
    assert_eq!(field_path("line_items.0.price_set.shop_money.amount"), "line_items[0].price_set.shop_money.amount");
    assert!(names("line_items[0]", "line_items[0].price", &[]));
    assert!(names("line_items", "line_items[0].price", &[]));
    assert!(!names("line_items[1]", "line_items[10].price", &[]));
    assert!(!names("line_items[0].sku", "line_items[0].product_id", &[]));
    assert!(names("line_items[0].sku", "line_items[0].product_id", &[("line_items[0].product_id", "line_items[0].sku")]));
}

#[test]
fn every_channel_names_its_order_for_processing_in_turn() {
    assert_eq!(ordo_channels::order_key(SHOPIFY_ORDER).as_deref(), Some("820982911946154508"));
    assert_eq!(ordo_channels::order_key(br#"{"id": 1, "order_id": 820982911946154508}"#).as_deref(), Some("820982911946154508"), "a refund");
    assert_eq!(ordo_channels::order_key(WOO_ORDER).as_deref(), Some("727"));
    assert_eq!(ordo_channels::order_key(AMAZON_ORDER).as_deref(), Some("902-1845936-5435065"));
    assert_eq!(ordo_channels::order_key(EBAY_ORDER).as_deref(), Some("12-10412-52187"));
}
