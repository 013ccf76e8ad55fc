//! The helpdesk: a ticket's life with internal comments, its time running out into an
//! exception, and documents attached with size and type checks, kept once per content.

use chrono::Utc;
use ordo_app::domain::access::Role;
use serde_json::json;

use crate::common::{on_both_engines, Server};
use crate::orders::{order, shop};

async fn upload(server: &Server, token: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = server
        .client
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

async fn a_ticket_from_open_to_solved(server: Server) {
    shop(&server, 5).await;
    let (_, placed) = server.post(&server.admin, "/api/v1/orders", order("T-1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;
    let order_id = placed["id"].as_str().unwrap();
    let service = server.token(Role::Service).await;
    let ticket = json!({
        "channel": "web", "reason": "where_is_my_order", "priority": "high", "subject": "Where is my mug?",
        "customer_email": "Ann@Example.com", "order_id": order_id, "body": "Ordered a week ago, nothing yet."
    });
    let (status, opened) = server.post(&service, "/api/v1/tickets", ticket).await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["id"].as_str().unwrap().to_owned();
    assert_eq!((opened["status"].as_str(), opened["customer_email"].as_str()), (Some("open"), Some("ann@example.com")));
    assert_eq!(opened["comments"][0]["body"], "Ordered a week ago, nothing yet.");

    let at = |what: &str| format!("/api/v1/tickets/{id}/{what}");
    let (status, noted) = server.post(&service, &at("comments"), json!({"body": "Carrier says Tuesday"})).await;
    assert_eq!((status, noted["comments"][1]["internal"].as_bool()), (200, Some(true)), "{noted}");
    let (status, replied) = server.post(&service, &at("comments"), json!({"body": "It left on Monday", "internal": false})).await;
    assert_eq!((status, replied["status"].as_str()), (200, Some("pending")), "a reply waits on the customer: {replied}");
    let (_, assigned) = server.post(&service, &at("assign"), json!({"assignee": "sam"})).await;
    assert_eq!(assigned["assignee"], "sam");
    let (_, queue) = server.get(&service, "/api/v1/tickets?status=open,pending&assignee=sam").await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");

    // Eight hours for a high-priority ticket: past them, an exception for service.
    let later = server.ordo.with_clock(ordo_app::Clock::simulated(Utc::now() + chrono::Duration::hours(9)));
    assert_eq!(later.helpdesk().watch_tickets().await.unwrap(), 1);
    assert_eq!(later.helpdesk().watch_tickets().await.unwrap(), 0, "raised once");
    let (_, overdue) = server.get(&service, "/api/v1/exceptions?kind=ticket_overdue&status=unresolved").await;
    assert_eq!(overdue[0]["subject"], format!("ticket:{id}"), "{overdue}");
    assert_eq!(overdue[0]["owner_role"], "service");

    let (status, solved) = server.post(&service, &at("status"), json!({"status": "solved"})).await;
    assert_eq!((status, solved["status"].as_str()), (200, Some("solved")), "{solved}");
    let (_, overdue) = server.get(&service, "/api/v1/exceptions?kind=ticket_overdue&status=unresolved").await;
    assert_eq!(overdue, json!([]), "solving resolves it");
    assert_eq!(server.post(&service, &at("status"), json!({"status": "closed"})).await.0, 200);
    let (status, refused) = server.post(&service, &at("status"), json!({"status": "open"})).await;
    assert_eq!((status, refused["error"]["current_state"].as_str()), (409, Some("closed")), "{refused}");

    let warehouse = server.token(Role::Warehouse).await;
    assert_eq!(server.post(&warehouse, &at("comments"), json!({"body": "hi"})).await.0, 403);
    let (status, refused) = server.post(&service, "/api/v1/tickets", json!({
        "reason": "bored", "priority": "high", "subject": "x", "customer_email": "a@b.c", "body": "x"
    })).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("reason")), "{refused}");
}
on_both_engines!(a_ticket_from_open_to_solved, a_ticket_on_sqlite, a_ticket_on_postgres);

async fn documents_are_checked_and_kept_once(server: Server) {
    shop(&server, 5).await;
    let service = server.token(Role::Service).await;
    let ticket = json!({"reason": "dispute", "priority": "normal", "subject": "Chargeback", "customer_email": "bo@example.com", "body": "Card dispute"});
    let (_, opened) = server.post(&service, "/api/v1/tickets", ticket).await;
    let id = opened["id"].as_str().unwrap();
    let path = format!("/api/v1/tickets/{id}/attachments?file_name=../evidence.pdf");
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n".to_vec();

    let (status, first) = upload(&server, &service, &path, "application/pdf", pdf.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!((first["file_name"].as_str(), first["content_type"].as_str()), (Some("evidence.pdf"), Some("application/pdf")));
    let (status, second) = upload(&server, &service, &path, "application/pdf", pdf.clone()).await;
    assert_eq!(status, 201);
    assert_eq!(first["sha256"], second["sha256"]);

    // Too large: 413; a type Ordo does not keep, or bytes that are not what they claim: 415.
    let (status, refused) = upload(&server, &service, &path, "text/plain", vec![b'a'; 10 * 1024 * 1024 + 1]).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (413, Some("payload_too_large")), "{refused}");
    let (status, refused) = upload(&server, &service, &path, "application/x-msdownload", b"MZ\x90\x00\x03\x00".to_vec()).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{refused}");
    let (status, _) = upload(&server, &service, &path, "image/png", pdf.clone()).await;
    assert_eq!(status, 415, "a PDF is not a PNG");
    let (status, refused) = upload(&server, &service, &format!("/api/v1/tickets/{id}/attachments"), "application/pdf", pdf.clone()).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("validation_failed")), "no file name: {refused}");
    let (status, _) = upload(&server, &service, "/api/v1/tickets/01900000-0000-7000-8000-000000000000/attachments?file_name=a.pdf", "application/pdf", pdf.clone()).await;
    assert_eq!(status, 404);

    let (_, listed) = server.get(&service, &format!("/api/v1/attachments?subject=ticket:{id}")).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["sha256"], listed[1]["sha256"], "two attachments, one content kept under its hash");

    let response = server
        .client
        .get(format!("{}/api/v1/attachments/{}", server.base, first["id"].as_str().unwrap()))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);

    // Suppliers take documents too, from those who manage them.
    let supplier = json!({"code": "potter", "name": "The Potter", "currency": "EUR", "lead_time_days": 10});
    assert_eq!(server.post(&server.admin, "/api/v1/suppliers", supplier).await.0, 201);
    let (status, policy) = upload(&server, &server.admin, "/api/v1/suppliers/potter/attachments?file_name=terms.txt", "text/plain", b"Net 30 days".to_vec()).await;
    assert_eq!(status, 201, "{policy}");
    assert_eq!(upload(&server, &service, "/api/v1/suppliers/potter/attachments?file_name=t.txt", "text/plain", b"x".to_vec()).await.0, 403);
}
on_both_engines!(documents_are_checked_and_kept_once, documents_on_sqlite, documents_on_postgres);

async fn a_ticket_is_linked_to_its_order_after_it_was_opened(server: Server) {
    shop(&server, 5).await;
    assert_eq!(server.post(&server.admin, "/api/v1/orders", order("L-1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await.0, 201);
    let call = json!({"reason": "where_is_my_order", "priority": "normal", "subject": "My mug?", "customer_email": "ann@example.com", "body": "By phone"});
    let (_, opened) = server.post(&server.admin, "/api/v1/tickets", call).await;
    let id = opened["id"].as_str().unwrap().to_owned();
    let sam = crate::common::Browserless::log_in(&server, "sam", Role::Service).await;
    let page = format!("/dashboard/helpdesk/{id}");
    assert!(sam.get(&page).await.1.contains("Link to the order it is about"));

    // A number the channel does not have is refused, naming the order, and links nothing.
    let (status, refused) = sam.post(&page, &[("action", "link"), ("channel", "web"), ("order", "L-9")]).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("web has no order"), "{refused}");
    let (status, answer) = server.post(&server.admin, &format!("/api/v1/tickets/{id}/order"), json!({"channel": "", "external_id": "L-1"})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("channel")), "{answer}");
    assert_eq!(server.get(&server.admin, &format!("/api/v1/tickets/{id}")).await.1["order_id"], serde_json::Value::Null);

    assert_eq!(sam.post(&page, &[("action", "link"), ("channel", "web"), ("order", "L-1")]).await.0, 303);
    let (_, shown) = sam.get(&page).await;
    assert!(shown.contains(r#"<strong id="ticket-order-status">allocated</strong>"#), "the ticket shows where its order stands: {shown}");
    let (_, ticket) = server.get(&server.admin, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!((ticket["channel"].as_str(), ticket["order_id"].is_string()), (Some("web"), true), "{ticket}");
    let (_, log) = server.get(&server.admin, "/api/v1/audit?action=ticket.link_order").await;
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
}
on_both_engines!(a_ticket_is_linked_to_its_order_after_it_was_opened, a_ticket_is_linked_on_sqlite, a_ticket_is_linked_on_postgres);

async fn triage_suggests_people_label_and_it_learns_from_their_labels(server: Server) {
    shop(&server, 5).await;
    let t = &server.admin;
    let open = async |subject: &str, body: &str| {
        let ticket = json!({"reason": "other", "priority": "normal", "subject": subject, "customer_email": "ann@example.com", "body": body});
        let (status, opened) = server.post(t, "/api/v1/tickets", ticket).await;
        assert_eq!(status, 201, "{opened}");
        opened
    };
    let opened = open("Cancel my order", "I need to cancel order 4471 asap, I ordered the wrong size").await;
    let triage = &opened["triage"];
    assert_eq!((triage["intent"].as_str(), triage["category"].as_str(), triage["urgency"].as_str()), (Some("cancel_order"), Some("ORDER"), Some("urgent")), "{triage}");
    assert!(triage["words"].as_array().unwrap().iter().any(|w| w == "cancel"), "the deciding words: {triage}");
    assert_eq!(triage["urgency_words"], json!(["asap"]));
    let id = opened["id"].as_str().unwrap().to_owned();

    // A person changes it; an intent triage does not know is refused and labels nothing.
    let (status, answer) = server.post(t, &format!("/api/v1/tickets/{id}/label"), json!({"intent": "cancel_everything"})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("intent")), "{answer}");
    assert_eq!(server.get(t, &format!("/api/v1/tickets/{id}")).await.1["triage"]["label_intent"], serde_json::Value::Null);
    let sam = crate::common::Browserless::log_in(&server, "sam", Role::Service).await;
    let page = format!("/dashboard/helpdesk/{id}");
    assert!(sam.get(&page).await.1.contains("from “cancel”"), "the page says which words decided");
    assert_eq!(sam.post(&page, &[("action", "label"), ("intent", "change_order")]).await.0, 303);
    let (_, labelled) = server.get(t, &format!("/api/v1/tickets/{id}")).await;
    let label = &labelled["triage"];
    assert_eq!((label["label_intent"].as_str(), label["label_category"].as_str(), label["labelled_by"].as_str()), (Some("change_order"), Some("ORDER"), Some("user:sam")), "{label}");

    // The business's own words: kettles that arrive broken are refunds here. Until retrained,
    // triage does not know; after, it does.
    let before = open("Kettle", "my kettle arrived in pieces").await["triage"]["intent"].as_str().unwrap().to_owned();
    for n in 0..30 {
        let id = open("Kettle", &format!("the kettle arrived in pieces, box {n}")).await["id"].as_str().unwrap().to_owned();
        assert_eq!(server.post(t, &format!("/api/v1/tickets/{id}/label"), json!({"intent": "get_refund"})).await.0, 200);
    }
    let (status, retrained) = server.post(t, "/api/v1/triage/retrain", json!({})).await;
    assert_eq!(status, 200, "{retrained}");
    assert_eq!((retrained["shipped_tickets"].as_u64(), retrained["labelled_tickets"].as_u64()), (Some(3612), Some(31)), "{retrained}");
    let after = open("Kettle", "my kettle arrived in pieces").await;
    assert_eq!(after["triage"]["intent"], "get_refund", "before retraining it said {before}: {after}");
    // Another process started on the same database learns the labels too.
    let other = server.another_instance().await;
    let ticket = json!({"reason": "other", "priority": "normal", "subject": "Kettle", "customer_email": "bo@example.com", "body": "kettle arrived in pieces"});
    let (_, opened) = other.post(&other.admin, "/api/v1/tickets", ticket).await;
    assert_eq!(opened["triage"]["intent"], "get_refund", "{opened}");
}
on_both_engines!(triage_suggests_people_label_and_it_learns_from_their_labels, triage_on_sqlite, triage_on_postgres);

/// `GET /api/v1/tickets` searches as the dashboard's queue does: part of the customer's
/// e-mail, the order's number and the days opened; an unknown parameter or a bad value is
/// refused with 422, naming it.
async fn tickets_are_searched_by_customer_order_and_days_opened(server: Server) {
    shop(&server, 5).await;
    let t = &server.admin;
    let (_, placed) = server.post(t, "/api/v1/orders", order("S-1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "12.90"}]))).await;
    let open = |email: &str, order_id: Option<&str>| {
        let mut call = json!({"channel": "web", "reason": "where_is_my_order", "priority": "normal", "subject": "My mug?", "customer_email": email, "body": "By phone"});
        if let Some(id) = order_id {
            call["order_id"] = json!(id);
        }
        call
    };
    assert_eq!(server.post(t, "/api/v1/tickets", open("ann@example.com", placed["id"].as_str())).await.0, 201);
    assert_eq!(server.post(t, "/api/v1/tickets", open("bob@example.org", None)).await.0, 201);
    let subjects = async |query: &str| {
        let (status, list) = server.get(t, &format!("/api/v1/tickets{query}")).await;
        assert_eq!(status, 200, "{query}: {list}");
        list.as_array().unwrap().iter().map(|t| t["customer_email"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(subjects("").await.len(), 2);
    assert_eq!(subjects("?customer_email=EXAMPLE.ORG").await, ["bob@example.org"], "part of the e-mail, any case");
    assert_eq!(subjects("?order=S-1").await, ["ann@example.com"]);
    assert!(subjects("?order=S-9").await.is_empty());
    let today = Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(subjects(&format!("?opened_from={today}&opened_to={today}")).await.len(), 2);
    assert!(subjects(&format!("?opened_to={yesterday}")).await.is_empty(), "none opened before today");
    assert_eq!(subjects(&format!("?customer_email=ann&opened_from={yesterday}&status=open")).await, ["ann@example.com"]);

    for (query, field) in [
        ("?opened_from=yesterday", "opened_from"),
        ("?opened_to=2026-13-01", "opened_to"),
        (&format!("?opened_from={today}&opened_to={yesterday}") as &str, "opened_to"),
        ("?limit=0", "limit"),
        ("?status=lost", "status[0]"),
    ] {
        let (status, answer) = server.get(t, &format!("/api/v1/tickets{query}")).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{query}: {answer}");
    }
    let (status, answer) = server.get(t, "/api/v1/tickets?customer=ann").await;
    assert_eq!(status, 422, "an unknown parameter is refused: {answer}");
    assert!(answer.to_string().contains("customer"), "{answer}");
}
on_both_engines!(tickets_are_searched_by_customer_order_and_days_opened, ticket_search_on_sqlite, ticket_search_on_postgres);
