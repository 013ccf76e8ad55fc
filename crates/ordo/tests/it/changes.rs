//! Maker-checker: master data that moves money or stock changes only when one person proposes
//! and another of the owning role approves; approving applies it with before and after.

use ordo_app::domain::access::Role;
use ordo_app::Actor;
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};
use crate::orders::shop;

async fn listing_price(server: &Server) -> String {
    let (_, listings) = server.get(&server.admin, "/api/v1/listings?channel=web").await;
    listings.as_array().unwrap().iter().find(|l| l["channel_sku"] == "W-MUG").unwrap()["price"].as_str().unwrap().to_owned()
}

fn error(answer: &Value) -> (Option<&str>, &str) {
    (answer["error"]["field"].as_str(), answer["error"]["message"].as_str().unwrap_or_default())
}

async fn one_proposes_another_approves(server: Server) {
    shop(&server, 10).await;
    let token = |role, name: &'static str| {
        let ordo = server.ordo.clone();
        async move { ordo.access().create_token(role, name, &Actor::system()).await.unwrap().token }
    };
    let (finance, ops_ana, ops_ben, warehouse) =
        (token(Role::Finance, "finance-cy").await, token(Role::Ops, "ops-ana").await, token(Role::Ops, "ops-ben").await, token(Role::Warehouse, "wh").await);

    let price = json!({"kind": "price", "change": {"channel": "web", "channel_sku": "W-MUG", "price": "13.50"}, "reason": "supplier raised the cost"});
    let (status, proposed) = server.post(&finance, "/api/v1/change-requests", price).await;
    assert_eq!((status, proposed["status"].as_str()), (201, Some("pending")), "{proposed}");
    assert_eq!(proposed["before"], json!({"price": "12.90", "currency": "EUR"}));
    assert_eq!(listing_price(&server).await, "12.90", "nothing changes on proposing");
    let at = |action: &str| format!("/api/v1/change-requests/{}/{action}", proposed["id"].as_str().unwrap());

    let (status, refused) = server.post(&finance, &at("approve"), json!({})).await;
    assert_eq!(status, 403);
    assert!(error(&refused).1.contains("another person"), "{refused}");
    let (status, refused) = server.post(&ops_ana, &at("approve"), json!({})).await;
    assert_eq!(status, 403);
    assert!(error(&refused).1.contains("finance or admin"), "{refused}");
    assert_eq!(server.post(&warehouse, &at("approve"), json!({})).await.0, 403);
    assert_eq!(listing_price(&server).await, "12.90");

    let (status, approved) = server.post(&server.admin, &at("approve"), json!({})).await;
    assert_eq!((status, approved["status"].as_str()), (200, Some("approved")), "{approved}");
    assert_eq!(approved["after"], json!({"price": "13.50", "currency": "EUR"}));
    assert_eq!(approved["decided_by"], "token:bootstrap admin");
    assert_eq!(listing_price(&server).await, "13.50");
    let (status, again) = server.post(&server.admin, &at("approve"), json!({})).await;
    assert_eq!((status, again["error"]["current_state"].as_str()), (409, Some("approved")));
    let (_, log) = server.get(&server.admin, "/api/v1/audit?subject=listing:web/W-MUG&action=price.").await;
    assert_eq!(log[0]["before"], r#"{"currency":"EUR","price":"12.90"}"#, "{log}");
    assert_eq!(log[0]["after"], r#"{"currency":"EUR","price":"13.50"}"#);

    // Ops proposes to stop selling a SKU; another ops person rejects it: nothing changes.
    let off = json!({"kind": "sku_activation", "change": {"sku": "MUG-1", "active": false}, "reason": "discontinued"});
    let (_, proposed) = server.post(&ops_ana, "/api/v1/change-requests", off).await;
    let path = format!("/api/v1/change-requests/{}/reject", proposed["id"].as_str().unwrap());
    let (status, rejected) = server.post(&ops_ben, &path, json!({"reason": "still selling well"})).await;
    assert_eq!((status, rejected["status"].as_str(), rejected["decision_reason"].as_str()), (200, Some("rejected"), Some("still selling well")));
    let (_, product) = server.get(&server.admin, "/api/v1/products/MUG-1").await;
    assert_eq!(product["active"], true, "{product}");

    let first = json!({"kind": "location_priority", "change": {"location": "overflow", "priority": 0}, "reason": "central is being rebuilt"});
    let (_, proposed) = server.post(&ops_ana, "/api/v1/change-requests", first).await;
    let path = format!("/api/v1/change-requests/{}/approve", proposed["id"].as_str().unwrap());
    let (_, approved) = server.post(&ops_ben, &path, json!({})).await;
    assert_eq!((approved["before"].clone(), approved["after"].clone()), (json!({"priority": 2}), json!({"priority": 0})), "{approved}");
    let (_, pending) = server.get(&warehouse, "/api/v1/change-requests?status=pending").await;
    assert_eq!(pending.as_array().map(Vec::len), Some(0));
}

on_both_engines!(one_proposes_another_approves, maker_checker_on_sqlite, maker_checker_on_postgres);

#[tokio::test]
async fn bad_proposals_name_their_field_and_nothing_is_stored() {
    let server = Server::start().await;
    shop(&server, 10).await;
    let t = &server.admin;
    for (body, field) in [
        (json!({"kind": "colour", "change": {}, "reason": "r"}), "kind"),
        (json!({"kind": "price", "change": {"channel": "web", "channel_sku": "W-MUG", "price": "13.505"}, "reason": "r"}), "change.price"),
        (json!({"kind": "price", "change": {"channel": "web", "channel_sku": "NOPE", "price": "1.00"}, "reason": "r"}), "change.channel_sku"),
        (json!({"kind": "price", "change": {"channel": "web", "channel_sku": "W-MUG", "price": "12.90"}, "reason": "r"}), "change"),
        (json!({"kind": "tax_class", "change": {"sku": "MUG-1", "tax_class": "reduced"}, "reason": " "}), "reason"),
        (json!({"kind": "listing", "change": {"channel": "web", "channel_sku": "W-NEW", "sku": "GHOST", "price": "1.00"}, "reason": "r"}), "change.sku"),
    ] {
        let (status, answer) = server.post(t, "/api/v1/change-requests", body).await;
        assert_eq!((status, error(&answer).0), (422, Some(field)), "{answer}");
    }
    let (_, none) = server.get(t, "/api/v1/change-requests").await;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
}

/// The dashboard's proposal forms and its decision refuse bad input with 422, naming the field,
/// what was typed kept, nothing stored; a replenishment policy is proposed from the
/// procurement page and applies only when procurement approves it.
async fn dashboard_proposals_refuse_naming_the_field_and_change_nothing(server: Server) {
    shop(&server, 10).await;
    let ops = crate::common::Browserless::log_in(&server, "olga", Role::Ops).await;
    let requests = async || server.get(&server.admin, "/api/v1/change-requests").await.1.as_array().map_or(0, Vec::len);

    let policy = |level: &'static str| {
        vec![("scope", "sku:MUG-1"), ("policy", "min_max"), ("min", "4"), ("max", level), ("service_level", ""), ("reason", "steady seller")]
    };
    let (status, page) = ops.post("/dashboard/procurement/policies", &policy("3")).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("change.policy.max: ") && page.contains(r#"name="max" type="number" value="3" aria-invalid="true""#), "{page}");
    assert!(page.contains(r#"value="sku:MUG-1""#) && page.contains(r#"<option value="min_max" selected>"#), "what was typed is kept: {page}");
    let (status, page) = ops.post("/dashboard/procurement/policies", &[("scope", "sku:MUG-1"), ("policy", "min_max"), ("min", "four"), ("max", "9"), ("reason", "r")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("min: must be a whole number"), "{page}");
    assert_eq!(requests().await, 0, "nothing proposed");
    let (status, _) = ops.post("/dashboard/procurement/policies", &policy("12")).await;
    assert_eq!(status, 303);
    let (_, listed) = server.get(&server.admin, "/api/v1/change-requests").await;
    assert_eq!((listed[0]["kind"].as_str(), listed[0]["subject"].as_str()), (Some("replenishment_policy"), Some("policy:sku:MUG-1")), "{listed}");
    assert_eq!(server.get(&server.admin, "/api/v1/replenishment/policies").await.1, json!([]), "nothing applies before approval");

    // Procurement approves it from the change request's page; the policy is in force and the
    // procurement page says so in words.
    let buyer = crate::common::Browserless::log_in(&server, "pia", Role::Procurement).await;
    let page = format!("/dashboard/changes/{}", listed[0]["id"].as_str().unwrap());
    let (status, shown) = buyer.post(&page, &[("decision", "maybe")]).await;
    assert_eq!(status, 422, "{shown}");
    assert!(shown.contains("decision: must be approve or reject"), "{shown}");
    let (status, shown) = buyer.post(&page, &[("decision", "reject"), ("reason", "  ")]).await;
    assert_eq!(status, 422, "a rejection says why: {shown}");
    assert_eq!(buyer.post(&page, &[("decision", "approve")]).await.0, 303);
    let (_, policies) = server.get(&server.admin, "/api/v1/replenishment/policies").await;
    assert_eq!(policies[0]["scope"], "sku:MUG-1", "{policies}");
    assert!(buyer.get("/dashboard/procurement").await.1.contains("<th scope=\"row\">SKU MUG-1</th><td>min 4, max 12</td>"));

    // The generic form on the change requests page: an unknown location is refused, naming it.
    let priority = [("kind", "location_priority"), ("location", "east"), ("priority", "3"), ("reason", "closer to most customers")];
    let (status, page) = ops.post("/dashboard/changes", &priority).await;
    assert_eq!(status, 422);
    assert!(page.contains("change.location: ") && page.contains(r#"value="closer to most customers""#), "{page}");
    let (status, page) = ops.post("/dashboard/changes", &[("kind", "replenishment_policy"), ("reason", "r")]).await;
    assert_eq!(status, 422, "{page}");
    assert_eq!(requests().await, 1, "nothing more proposed");
}
on_both_engines!(dashboard_proposals_refuse_naming_the_field_and_change_nothing, dashboard_proposals_on_sqlite, dashboard_proposals_on_postgres);
