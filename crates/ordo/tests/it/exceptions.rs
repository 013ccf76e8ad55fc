//! The exceptions queue as people work it: each role acts on its own, everything is audited,
//! a batch is all or nothing, and what goes past due escalates to the next role.

use chrono::{Duration, Utc};
use ordo_app::domain::access::Role;
use ordo_app::Clock;
use serde_json::{json, Value};

use crate::common::{on_both_engines, Server};
use crate::orders::{order, shop};

/// A stock-out (owned by ops) and a payment review (owned by finance), with their ids.
async fn two_exceptions(server: &Server) -> (String, String) {
    shop(server, 0).await;
    let short = order("S-1", json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", short).await.0, 201);
    let mut held = order("H-1", json!([{"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}]));
    held["payment_status"] = json!("pending");
    assert_eq!(server.post(&server.admin, "/api/v1/orders", held).await.0, 201);
    let (status, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    assert_eq!(status, 200, "{open}");
    let id = |kind: &str| {
        let found = open.as_array().unwrap().iter().find(|e| e["kind"] == kind);
        found.unwrap_or_else(|| panic!("no {kind} in {open}"))["id"].as_str().unwrap().to_owned()
    };
    (id("stockout"), id("payment_review"))
}

fn field(answer: &Value) -> Option<&str> {
    answer["error"]["field"].as_str()
}

async fn each_role_works_its_own_exceptions(server: Server) {
    let (stockout, review) = two_exceptions(&server).await;
    let (ops, warehouse, finance, viewer) = (
        server.token(Role::Ops).await,
        server.token(Role::Warehouse).await,
        server.token(Role::Finance).await,
        server.token(Role::Viewer).await,
    );
    let at = |id: &str, action: &str| format!("/api/v1/exceptions/{id}/{action}");

    // Another role's exception may be commented on, not acknowledged or resolved.
    let (status, refused) = server.post(&warehouse, &at(&stockout, "acknowledge"), json!({})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("forbidden")), "{refused}");
    assert_eq!(server.post(&viewer, &at(&stockout, "comments"), json!({"body": "hm"})).await.0, 403);
    let (status, _) = server.post(&warehouse, &at(&stockout, "comments"), json!({"body": "Central expects 40 on Monday"})).await;
    assert_eq!(status, 200);

    let (status, acknowledged) = server.post(&ops, &at(&stockout, "acknowledge"), json!({})).await;
    assert_eq!(status, 200, "{acknowledged}");
    assert_eq!((acknowledged["status"].as_str(), acknowledged["acknowledged_by"].as_str()), (Some("acknowledged"), Some("token:test ops")));
    let (status, again) = server.post(&ops, &at(&stockout, "acknowledge"), json!({})).await;
    assert_eq!((status, again["error"]["current_state"].as_str()), (409, Some("acknowledged")), "{again}");

    // A batch with one exception the caller does not own changes none of them.
    let both = json!({"action": "resolve", "ids": [review, stockout], "code": "accepted"});
    assert_eq!(server.post(&finance, "/api/v1/exceptions/bulk", both).await.0, 403);
    let (_, still) = server.get(&finance, &format!("/api/v1/exceptions/{review}")).await;
    assert_eq!(still["status"], "open", "{still}");

    let resolve = json!({"code": "fixed", "note": "moved 40 from overflow"});
    let (status, resolved) = server.post(&ops, &at(&stockout, "resolve"), resolve.clone()).await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!((resolved["status"].as_str(), resolved["resolution_code"].as_str()), (Some("resolved"), Some("fixed")));
    assert_eq!(server.post(&ops, &at(&stockout, "resolve"), resolve).await.0, 409);

    let (_, detail) = server.get(&viewer, &format!("/api/v1/exceptions/{stockout}")).await;
    assert_eq!(detail["comments"][0]["author"], "token:test warehouse", "{detail}");
    assert_eq!(detail["comments"][0]["body"], "Central expects 40 on Monday");
    assert_eq!(detail["resolution"], "moved 40 from overflow");

    let (status, by_owner) = server.get(&viewer, "/api/v1/exceptions?status=unresolved&owner_role=finance").await;
    assert_eq!(status, 200);
    assert_eq!(by_owner.as_array().unwrap().len(), 1, "{by_owner}");
    let (_, done) = server.get(&viewer, "/api/v1/exceptions?status=resolved&kind=stockout").await;
    assert_eq!(done.as_array().unwrap().len(), 1, "{done}");

    let (_, log) = server.get(&server.admin, &format!("/api/v1/audit?subject=exception:{stockout}")).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["exception.resolve", "exception.acknowledge", "exception.comment"]);

    // Bad input names its field and changes nothing.
    for (path, body, expected) in [
        (at(&review, "resolve"), json!({"code": "automatic"}), "code"),
        (at(&review, "comments"), json!({"body": "  "}), "body"),
        ("/api/v1/exceptions/bulk".to_owned(), json!({"action": "acknowledge", "ids": []}), "ids"),
        ("/api/v1/exceptions/bulk".to_owned(), json!({"action": "delete", "ids": [review]}), "action"),
    ] {
        let (status, answer) = server.post(&finance, &path, body).await;
        assert_eq!((status, field(&answer)), (422, Some(expected)), "{path}: {answer}");
    }
    let (status, answer) = server.get(&viewer, "/api/v1/exceptions?kind=fire").await;
    assert_eq!((status, field(&answer)), (422, Some("kind")), "{answer}");
    let unknown = format!("/api/v1/exceptions/{}/acknowledge", uuid::Uuid::now_v7());
    assert_eq!(server.post(&finance, &unknown, json!({})).await.0, 404);
    let (_, still) = server.get(&finance, &format!("/api/v1/exceptions/{review}")).await;
    assert_eq!((still["status"].as_str(), still["comments"].as_array().map(Vec::len)), (Some("open"), Some(0)));

    let bulk = json!({"action": "acknowledge", "ids": [review]});
    let (status, acknowledged) = server.post(&finance, "/api/v1/exceptions/bulk", bulk).await;
    assert_eq!((status, acknowledged[0]["status"].as_str()), (200, Some("acknowledged")), "{acknowledged}");
}

on_both_engines!(each_role_works_its_own_exceptions, exceptions_are_worked_by_their_owners_on_sqlite, exceptions_are_worked_by_their_owners_on_postgres);

async fn past_due_exceptions_escalate_to_the_next_role(server: Server) {
    let (stockout, review) = two_exceptions(&server).await;
    // The team's chat hears escalations.
    let chat = json!({"code": "chat", "transport": "log", "topics": ["exception_escalated"]});
    let (status, made) = server.post(&server.admin, "/api/v1/notification-endpoints", chat).await;
    assert_eq!(status, 201, "{made}");
    let later = |hours: i64| server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::hours(hours)));

    // A payment review is due in 4 hours, a stock-out in 24.
    assert_eq!(later(1).exceptions().escalate_overdue().await.unwrap(), 0, "nothing is past due yet");
    assert_eq!(later(5).exceptions().escalate_overdue().await.unwrap(), 1);
    let (_, escalated) = server.get(&server.admin, &format!("/api/v1/exceptions/{review}")).await;
    assert_eq!(
        (escalated["status"].as_str(), escalated["owner_role"].as_str(), escalated["escalations"].as_i64()),
        (Some("escalated"), Some("admin"), Some(1)),
        "{escalated}"
    );
    assert_eq!(later(5).exceptions().escalate_overdue().await.unwrap(), 0, "one lapse escalates once");

    // Admin owns it now, and finance keeps it: its queue still shows its own kind, and it may
    // still act on it. Ops, not on finance's path, may not.
    let finance = server.token(Role::Finance).await;
    let (_, queue) = server.get(&finance, "/api/v1/exceptions?owner_role=finance&status=unresolved").await;
    assert!(queue.as_array().unwrap().iter().any(|e| e["id"] == review.as_str()), "finance's queue keeps it: {queue}");
    let path = format!("/api/v1/exceptions/{review}/acknowledge");
    assert_eq!(server.post(&server.token(Role::Ops).await, &path, json!({})).await.0, 403);
    let (_, told) = server.get(&server.admin, "/api/v1/outbox?endpoint=chat").await;
    let told = told["messages"].as_array().or(told.as_array()).cloned().unwrap_or_default();
    assert_eq!(told.len(), 1, "the escalation was told: {told:?}");
    assert_eq!(told[0]["topic"], "exception_escalated");
    assert_eq!(later(30).exceptions().escalate_overdue().await.unwrap(), 1, "the stock-out goes from ops to admin");
    let (_, stockout) = server.get(&server.admin, &format!("/api/v1/exceptions/{stockout}")).await;
    assert_eq!(stockout["owner_role"], "admin", "{stockout}");
    assert_eq!(later(60).exceptions().escalate_overdue().await.unwrap(), 0, "admin is the end of every path");
    let (status, acknowledged) = server.post(&finance, &path, json!({})).await;
    assert_eq!((status, acknowledged["status"].as_str()), (200, Some("acknowledged")), "finance acts on its escalated review: {acknowledged}");

    let (_, log) = server.get(&server.admin, "/api/v1/audit?action=exception.escalate").await;
    let record = &log.as_array().unwrap().last().unwrap();
    assert_eq!((record["actor"].as_str(), record["subject"].as_str()), (Some("system"), Some(format!("exception:{review}").as_str())));
    assert!(record["before"].as_str().unwrap().contains(r#""owner_role":"finance""#), "{record}");
}

on_both_engines!(past_due_exceptions_escalate_to_the_next_role, escalation_after_the_due_time_on_sqlite, escalation_after_the_due_time_on_postgres);

async fn a_roles_lead_gets_its_overdue_exception_before_the_next_role(server: Server) {
    let (_, review) = two_exceptions(&server).await;
    let admin = crate::common::Browserless::log_in(&server, "alex", Role::Admin).await;
    let _fiona = crate::common::Browserless::log_in(&server, "fiona", Role::Finance).await;
    let _olga = crate::common::Browserless::log_in(&server, "olga", Role::Ops).await;
    let chat = json!({"code": "chat", "transport": "log", "topics": ["exception_escalated"]});
    assert_eq!(server.post(&server.admin, "/api/v1/notification-endpoints", chat).await.0, 201);

    // The lead works in the role, and exists.
    for (username, why) in [("olga", "works as ops"), ("nobody", "no user")] {
        let (status, answer) = server.put(&server.admin, "/api/v1/roles/finance/lead", json!({"username": username})).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("username")), "{answer}");
        assert!(answer.to_string().contains(why), "{answer}");
    }
    let (status, page) = admin.post("/dashboard/leads", &[("role", "finance"), ("username", "olga")]).await;
    assert_eq!((status, page.contains("Not saved. username")), (422, true), "{page}");
    assert_eq!(server.get(&server.admin, "/api/v1/roles/leads").await.1, json!([]), "nothing changed");
    assert_eq!(admin.post("/dashboard/leads", &[("role", "finance"), ("username", "fiona")]).await.0, 303);
    assert_eq!(server.get(&server.admin, "/api/v1/roles/leads").await.1, json!([{"role": "finance", "username": "fiona"}]));

    // Past due, the payment review goes to the finance lead first, still in finance's queue.
    let later = |hours: i64| server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::hours(hours)));
    assert_eq!(later(5).exceptions().escalate_overdue().await.unwrap(), 1);
    assert_eq!(later(5).exceptions().escalate_overdue().await.unwrap(), 0, "one lapse, one step");
    let (_, escalated) = server.get(&server.admin, &format!("/api/v1/exceptions/{review}")).await;
    let step = |e: &Value| (e["owner_role"].as_str().map(str::to_owned), e["assigned_to"].as_str().map(str::to_owned), e["escalations"].as_i64());
    assert_eq!(step(&escalated), (Some("finance".into()), Some("fiona".into()), Some(1)), "{escalated}");
    let (_, page) = admin.get(&format!("/dashboard/exceptions/{review}")).await;
    assert!(page.contains("finance, with its lead fiona"), "{page}");

    // Past due again, on to admin.
    assert_eq!(later(10).exceptions().escalate_overdue().await.unwrap(), 1);
    let (_, escalated) = server.get(&server.admin, &format!("/api/v1/exceptions/{review}")).await;
    assert_eq!(step(&escalated), (Some("admin".into()), None, Some(2)), "{escalated}");
    let (_, told) = server.get(&server.admin, "/api/v1/outbox?endpoint=chat").await;
    let told = told["messages"].as_array().or(told.as_array()).cloned().unwrap_or_default();
    let leads: Vec<&Value> = told.iter().map(|m| &m["body"]["data"]["lead"]).collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(leads.contains(&&json!("fiona")), "the lead was told it is theirs: {told:?}");

    // A role without a lead escalates straight on; clearing the lead does that again.
    assert_eq!(server.put(&server.admin, "/api/v1/roles/finance/lead", json!({"username": null})).await.0, 204);
    assert_eq!(server.get(&server.admin, "/api/v1/roles/leads").await.1, json!([]));
}

on_both_engines!(a_roles_lead_gets_its_overdue_exception_before_the_next_role, a_lead_comes_before_the_next_role_on_sqlite, a_lead_comes_before_the_next_role_on_postgres);

async fn an_escalation_rule_in_force_chooses_where_a_late_exception_goes(server: Server) {
    let (stockout, review) = two_exceptions(&server).await;
    let author = server.ordo.access().create_token(Role::Ops, "ops-ana", &ordo_app::Actor::system()).await.unwrap().token;
    let draft = json!({
        "name": "stockouts-to-procurement", "kind": "escalation",
        "condition": "exception.kind == 'stockout' && exception.overdue_hours >= 1",
        "action": {"to_role": "procurement"}
    });
    let (status, drafted) = server.post(&author, "/api/v1/rules", draft).await;
    assert_eq!(status, 201, "{drafted}");
    let at = |action: &str| format!("/api/v1/rules/{}/{action}", drafted["id"].as_str().unwrap());
    assert_eq!(server.post(&author, &at("submit"), json!({})).await.0, 200);
    assert_eq!(server.post(&server.admin, &at("approve"), json!({})).await.0, 200);
    assert_eq!(server.post(&server.admin, &at("activate"), json!({})).await.0, 200);

    let later = server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::hours(30)));
    assert_eq!(later.exceptions().escalate_overdue().await.unwrap(), 2);
    let owner = |id: String| {
        let server = &server;
        async move { server.get(&server.admin, &format!("/api/v1/exceptions/{id}")).await.1["owner_role"].as_str().unwrap().to_owned() }
    };
    assert_eq!(owner(stockout.clone()).await, "procurement", "the rule chose");
    assert_eq!(owner(review).await, "admin", "no rule matched: the kind's path");
    let (_, log) = server.get(&server.admin, &format!("/api/v1/audit?subject=exception:{stockout}")).await;
    assert!(log[0]["reason"].as_str().unwrap().ends_with("by rule stockouts-to-procurement v1"), "{log}");

    // An escalation rule reads the exception, not an order.
    let wrong = json!({"name": "bad", "kind": "escalation", "condition": "order.total_minor > 1", "action": {"to_role": "admin"}});
    let (_, drafted) = server.post(&author, "/api/v1/rules", wrong).await;
    assert!(drafted["problem"]["message"].as_str().unwrap().starts_with("unknown fact order"), "{drafted}");
}

on_both_engines!(an_escalation_rule_in_force_chooses_where_a_late_exception_goes, escalation_rules_on_sqlite, escalation_rules_on_postgres);

async fn a_held_orders_lateness_waits_for_its_review(server: Server) {
    let (_, review) = two_exceptions(&server).await;
    // Both orders were placed days ago: both are past their ship-by time.
    server.ordo.fulfilment().watch_ship_by().await.unwrap();
    let (_, late) = server.get(&server.admin, "/api/v1/exceptions?kind=late_shipment&status=unresolved").await;
    let late: Vec<String> = late.as_array().unwrap().iter().map(|e| e["details"]["external_id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(late, ["S-1"], "the held order's lateness is its review's, not the warehouse's");
    let (_, held) = server.get(&server.admin, &format!("/api/v1/exceptions/{review}")).await;
    let order = held["subject"].as_str().unwrap().trim_start_matches("order:").to_owned();
    // Released, it is late like any other.
    let (status, _) = server.post(&server.admin, &format!("/api/v1/orders/{order}/release"), json!({"reason": "paid by transfer"})).await;
    assert_eq!(status, 200);
    server.ordo.fulfilment().watch_ship_by().await.unwrap();
    let (_, late) = server.get(&server.admin, "/api/v1/exceptions?kind=late_shipment&status=unresolved").await;
    assert_eq!(late.as_array().unwrap().len(), 2, "{late}");
}

on_both_engines!(a_held_orders_lateness_waits_for_its_review, held_lateness_waits_on_sqlite, held_lateness_waits_on_postgres);

/// A round's stock-out (made first, due in 24 hours) and payment review (made after it, due
/// in 4), the only exceptions open: their ids, in id order.
async fn a_round_of_two_exceptions(server: &Server, round: usize) -> Vec<String> {
    let short = order(&format!("S-{round}"), json!([{"sku": "MUG-1", "quantity": 2, "unit_price": "12.90"}]));
    assert_eq!(server.post(&server.admin, "/api/v1/orders", short).await.0, 201);
    let mut held = order(&format!("H-{round}"), json!([{"sku": "VASE-1", "quantity": 1, "unit_price": "25.00"}]));
    held["payment_status"] = json!("pending");
    assert_eq!(server.post(&server.admin, "/api/v1/orders", held).await.0, 201);
    let (_, open) = server.get(&server.admin, "/api/v1/exceptions?status=open").await;
    let mut ids: Vec<String> = open.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2, "round {round}: {open}");
    ids.sort();
    ids
}

/// Two people act on the same two exceptions at once, named in opposite orders: each batch is
/// done or refused whole, and neither is given up to the other.
async fn batches_naming_the_same_exceptions_in_either_order_never_wait_in_a_circle(server: Server) {
    shop(&server, 0).await;
    for round in 0..6 {
        let ids = a_round_of_two_exceptions(&server, round).await;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let bulk = |body: Value| {
            let (client, url, token) = (server.client.clone(), format!("{}/api/v1/exceptions/bulk", server.base), server.admin.clone());
            async move { client.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16() }
        };
        let answers = tokio::join!(
            bulk(json!({"action": "acknowledge", "ids": [ids[0], ids[1]]})),
            bulk(json!({"action": "resolve", "ids": [ids[1], ids[0]], "code": "accepted"})),
        );
        assert!(matches!(answers, (200, 200) | (409, 200)), "round {round}: {answers:?}");
    }
}

on_both_engines!(
    batches_naming_the_same_exceptions_in_either_order_never_wait_in_a_circle,
    batches_in_either_order_on_sqlite,
    batches_in_either_order_on_postgres
);

/// The sweep that escalates what is overdue and a person's batch act on the same exceptions
/// at once: the sweep meets them by due time, the batch by id, and neither is given up to the
/// other. Each round's stock-out is made first and due in 24 hours, its payment review after
/// and due in 4, so by due time the sweep meets the later id first.
async fn the_escalation_sweep_and_a_batch_on_the_same_exceptions_never_wait_in_a_circle(server: Server) {
    shop(&server, 0).await;
    let later = server.ordo.with_clock(Clock::simulated(Utc::now() + Duration::hours(30)));
    for round in 0..8 {
        let ids = a_round_of_two_exceptions(&server, round).await;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (client, url, token) = (server.client.clone(), format!("{}/api/v1/exceptions/bulk", server.base), server.admin.clone());
        let batch = async move {
            let body = json!({"action": "resolve", "ids": ids, "code": "accepted"});
            client.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
        };
        let (swept, batch) = tokio::join!(later.exceptions().escalate_overdue(), batch);
        assert!(swept.is_ok() && batch == 200, "round {round}: the sweep {swept:?}, the batch {batch}");
    }
}

on_both_engines!(
    the_escalation_sweep_and_a_batch_on_the_same_exceptions_never_wait_in_a_circle,
    sweep_and_batch_at_once_on_sqlite,
    sweep_and_batch_at_once_on_postgres
);
