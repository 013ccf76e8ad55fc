//! Strict values: countries that exist, years that make sense, codes that are one whatever
//! their case, and exchange rates from the ECB's own file.

use serde_json::json;

use crate::common::{on_both_engines, Server};

async fn implausible_values_are_refused_naming_the_field(server: Server) {
    crate::orders::shop(&server, 10).await;
    let t = &server.admin;
    let line = json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}]);
    let mut cases = Vec::new();
    for country in ["XX", "UK", "ZZ"] {
        let mut body = crate::orders::order("V1", line.clone());
        body["ship_to"]["country"] = json!(country);
        cases.push((body, "ship_to.country"));
    }
    for placed_at in ["0000-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "1999-12-31T23:00:00Z"] {
        let mut body = crate::orders::order("V1", line.clone());
        body["placed_at"] = json!(placed_at);
        cases.push((body, "placed_at"));
    }
    let mut future = crate::orders::order("V1", line.clone());
    future["placed_at"] = json!((chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339());
    cases.push((future, "placed_at"));
    let mut billing = crate::orders::order("V1", line.clone());
    billing["billing_country"] = json!("XX");
    cases.push((billing, "billing_country"));
    for (body, field) in cases {
        let (status, refused) = server.post(t, "/api/v1/orders", body).await;
        assert_eq!((status, refused["error"]["field"].as_str()), (422, Some(field)), "{refused}");
    }
    assert_eq!(server.get(t, "/api/v1/channels/web/orders/V1").await.0, 404, "nothing was made");
    let (status, refused) = server.put(t, "/api/v1/tax-rates/XX/standard", json!({"rate": "19"})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("country")), "{refused}");

    for (path, body) in [
        ("/api/v1/channels", json!({"code": "WEB", "name": "Web again", "kind": "web", "currency": "EUR"})),
        ("/api/v1/locations", json!({"code": "CENTRAL", "name": "Central again", "kind": "warehouse", "priority": 3})),
        ("/api/v1/products", json!({"sku": "mug-1", "name": "Mug again", "unit_cost": "1.00"})),
    ] {
        let (status, refused) = server.post(t, path, body).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("duplicate")), "{path}: codes are one whatever their case: {refused}");
    }

    // A channel in a currency with no rate is made, and told what it lacks.
    let (status, made) = server.post(t, "/api/v1/channels", json!({"code": "us-web", "name": "US", "kind": "web", "currency": "USD"})).await;
    assert_eq!(status, 201, "{made}");
    assert!(made["warnings"][0].as_str().unwrap().contains("no exchange rate from USD"), "{made}");
    let (_, plain) = server.post(t, "/api/v1/channels", json!({"code": "de-web", "name": "DE", "kind": "web", "currency": "EUR"})).await;
    assert_eq!(plain["warnings"], json!([]), "{plain}");

    // A re-send under a used external id with another body is refused, naming what differs.
    let body = crate::orders::order("V2", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}]));
    assert_eq!(server.post(t, "/api/v1/orders", body.clone()).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/orders", body.clone()).await.0, 200, "the same order again");
    let mut other = body;
    other["lines"][0]["unit_price"] = json!("9.91");
    let (status, refused) = server.post(t, "/api/v1/orders", other).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (409, Some("lines[0].unit_price")), "{refused}");
}

on_both_engines!(
    implausible_values_are_refused_naming_the_field,
    implausible_values_are_refused_on_sqlite,
    implausible_values_are_refused_on_postgres
);

#[tokio::test]
async fn the_ecbs_reference_rates_are_imported_into_the_base_currency() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ordo.db").display());
    let ordo = |args: &[&str]| crate::cli::ordo(dir.path()).env("ORDO_BASE_CURRENCY", "EUR").args(args).output().unwrap();
    assert!(ordo(&["init", "--database", &database]).status.success());
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube>
    <Cube time="2026-12-03"><Cube currency="USD" rate="1.0801"/><Cube currency="GBP" rate="0.8549"/></Cube>
    <Cube time="2026-12-04"><Cube currency="USD" rate="1.0856"/><Cube currency="GBP" rate="0.8552"/><Cube currency="XDR" rate="0.81"/></Cube>
  </Cube>
</gesmes:Envelope>"#;
    std::fs::write(dir.path().join("eurofxref-hist.xml"), xml).unwrap();
    let out = ordo(&["rates", "import", "eurofxref-hist.xml", "--database", &database]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.starts_with("4 exchange rates set into EUR") && printed.contains("XDR"), "{printed}");
    std::fs::write(dir.path().join("bad.xml"), "<html>no rates</html>").unwrap();
    let out = ordo(&["rates", "import", "bad.xml", "--database", &database]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("file"), "{}", String::from_utf8_lossy(&out.stderr));

    let server_ordo = ordo_app::Ordo::open_initialised(
        &database,
        &Default::default(),
        ordo_app::Settings { base_currency: ordo_app::domain::Currency::EUR, ..Default::default() },
    )
    .await
    .unwrap();
    let channel = ordo_app::domain::master::Channel {
        code: "us".into(),
        name: "US".into(),
        kind: ordo_app::domain::master::ChannelKind::Web,
        currency: ordo_app::domain::Currency::USD,
        ship_by_sla_hours: 24,
    };
    assert!(server_ordo.master_data().channel_warnings(&channel).await.unwrap().is_empty(), "the imported rate is in force");
}
