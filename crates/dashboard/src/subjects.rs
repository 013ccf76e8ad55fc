//! A record's subject (`order:0193…`, `sku:MUG-1`, `channel:web`) as people read it, linked to
//! its page: "Order web WEB-1001", never a bare UUID.

use std::collections::HashMap;

use crate::Dashboard;

/// A subject as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectLink {
    pub(crate) label: String,
    pub(crate) href: Option<String>,
}

/// The subject as shown, from its name when it has one (`names`, from
/// [`ordo_app::Ordo::subject_names`]). A UUID whose record has no name shows its first eight
/// characters, as a reference to search by.
pub(crate) fn link(subject: &str, names: &HashMap<String, String>) -> SubjectLink {
    let Some((kind, key)) = subject.split_once(':') else {
        return SubjectLink { label: subject.to_owned(), href: None };
    };
    let escaped = crate::href::query_escape(key);
    let name = names.get(subject).cloned().unwrap_or_else(|| if uuid::Uuid::try_parse(key).is_ok() { key.chars().take(8).collect() } else { key.to_owned() });
    let (label, href) = match kind {
        "order" => (format!("Order {name}"), Some(format!("/dashboard/orders/{escaped}"))),
        "return" => (format!("Return of order {name}"), Some(format!("/dashboard/returns/{escaped}"))),
        "purchase_order" => (format!("Purchase order {name}"), Some(format!("/dashboard/procurement/orders/{escaped}"))),
        "ticket" => (format!("Ticket “{name}”"), Some(format!("/dashboard/helpdesk/{escaped}"))),
        "rule" => (format!("Rule {name}"), Some(format!("/dashboard/rules/{escaped}"))),
        "change_request" => {
            // Named `kind subject`: worded as the request's own page heads it.
            let label = match names.get(subject).and_then(|name| name.split_once(' ')) {
                Some((kind, changed)) => format!(
                    "{} change request: {}",
                    crate::pages::changes::kind_label(kind),
                    crate::pages::changes::subject_link(changed).label
                ),
                None => format!("Change request {name}"),
            };
            (label, Some(format!("/dashboard/changes/{escaped}")))
        }
        "exception" => (format!("Exception {name}"), Some(format!("/dashboard/exceptions/{escaped}"))),
        "wave" => (format!("Wave {name}"), Some(format!("/dashboard/fulfilment/waves/{escaped}"))),
        "customer" => (format!("Customer {name}"), None),
        "shipment" => (format!("Parcel {name}"), Some(format!("/dashboard/shipments/{escaped}"))),
        "settlement" => (format!("Settlement {name}"), Some("/dashboard/ledger".to_owned())),
        "token" => (format!("API token {name}"), Some("/dashboard/users".to_owned())),
        "user" => (format!("User {name}"), Some("/dashboard/users".to_owned())),
        "sku" | "product" => (format!("SKU {name}"), Some(format!("/dashboard/inventory/{escaped}"))),
        "channel" => (format!("Channel {name}"), Some(format!("/dashboard/channels/{escaped}"))),
        "connector" => (format!("Connector of {name}"), Some(format!("/dashboard/channels/{escaped}"))),
        "location" => (format!("Location {name}"), Some("/dashboard/locations".to_owned())),
        "supplier" => (format!("Supplier {name}"), Some("/dashboard/suppliers".to_owned())),
        "listing" => {
            let channel = crate::href::query_escape(key.split_once('/').map_or(key, |(channel, _)| channel));
            (format!("Listing {name}"), Some(format!("/dashboard/channels/{channel}")))
        }
        "endpoint" => (format!("Endpoint {name}"), Some("/dashboard/notifications".to_owned())),
        other => (format!("{} {name}", other.replace('_', " ")), None),
    };
    SubjectLink { label, href }
}

/// Every subject of a page as shown, keyed by the subject: one read per kind of record.
pub(crate) async fn links<'a>(dashboard: &Dashboard, subjects: impl IntoIterator<Item = &'a str> + Clone) -> ordo_app::AppResult<HashMap<String, SubjectLink>> {
    let names = dashboard.ordo.subject_names(subjects.clone()).await?;
    Ok(subjects.into_iter().map(|subject| (subject.to_owned(), link(subject, &names))).collect())
}

/// The record a ledger entry's source names, as a subject to look its name up by:
/// `return:{id}:{line}` is the return, `shipment:{id}` the parcel.
pub(crate) fn ledger_subject(source: &str) -> String {
    match source.split(':').collect::<Vec<_>>().as_slice() {
        ["return", id, _line] => format!("return:{id}"),
        _ => source.to_owned(),
    }
}

/// A ledger entry's source as people read it, linked to the record it came from: a parcel, a
/// return's line, a stock movement's SKU. `names` are looked up by [`ledger_subject`].
pub(crate) fn ledger_source(source: &str, names: &HashMap<String, String>) -> SubjectLink {
    let short = |id: &str| id.chars().take(8).collect::<String>();
    match source.split(':').collect::<Vec<_>>().as_slice() {
        ["movement", kind, sku, location] => SubjectLink {
            label: format!("Stock {} of SKU {sku} at {location}", kind.replace('_', " ")),
            href: Some(format!("/dashboard/inventory/{}", crate::href::query_escape(sku))),
        },
        ["return", _, line] => {
            let shown = link(&ledger_subject(source), names);
            SubjectLink { label: format!("{}, line {line}", shown.label), href: shown.href }
        }
        ["refund", id] => SubjectLink { label: format!("Refund {}", short(id)), href: None },
        ["claim", id, ..] => SubjectLink { label: format!("Supplier claim {}", short(id)), href: None },
        ["manual", _] => SubjectLink { label: "Entry made by hand".to_owned(), href: None },
        _ => link(source, names),
    }
}

/// One fact of an exception's evidence: what it is, its value, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evidence {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) href: Option<String>,
}

/// The subject a piece of evidence points at, by its key: `first_order` holds an order's id.
fn evidence_subject(key: &str, value: &str) -> Option<String> {
    let kind = match key.rsplit('.').next().unwrap_or(key) {
        "order" | "order_id" | "first_order" => "order",
        "return" | "return_id" => "return",
        "ticket" | "ticket_id" => "ticket",
        "purchase_order" | "po" | "po_id" => "purchase_order",
        "sku" => "sku",
        "channel" => "channel",
        "location" => "location",
        _ => return None,
    };
    Some(format!("{kind}:{value}"))
}

/// An exception's details flattened: nested objects as `outer.inner`, lists of values joined,
/// lists of objects numbered from 1.
fn flatten(details: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&key, inner, out);
                }
            }
            serde_json::Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                let joined: Vec<String> = items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect();
                out.push((prefix.to_owned(), joined.join(", ")));
            }
            serde_json::Value::Array(items) => {
                for (n, inner) in items.iter().enumerate() {
                    walk(&format!("{prefix}.{}", n + 1), inner, out);
                }
            }
            serde_json::Value::String(text) => out.push((prefix.to_owned(), text.clone())),
            serde_json::Value::Null => out.push((prefix.to_owned(), "none".to_owned())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut flat = Vec::new();
    walk("", details, &mut flat);
    flat
}

/// An exception's details as rows people read, ids that point at a record shown as that
/// record's name, linked.
pub(crate) fn evidence(details: &serde_json::Value, names: &HashMap<String, String>) -> Vec<Evidence> {
    flatten(details)
        .into_iter()
        .map(|(key, value)| {
            let what = key.replace(['_', '.'], " ");
            match evidence_subject(&key, &value) {
                Some(subject) => {
                    let shown = link(&subject, names);
                    // The name replaces an id; a code (a SKU, a channel) stays as it is.
                    let value = if uuid::Uuid::try_parse(&value).is_ok() { shown.label } else { value };
                    Evidence { what, value, href: shown.href }
                }
                None => Evidence { what, value, href: None },
            }
        })
        .collect()
}

/// The subjects an exception's details point at, to look their names up.
pub(crate) fn evidence_subjects(details: &serde_json::Value) -> Vec<String> {
    flatten(details).into_iter().filter_map(|(key, value)| evidence_subject(&key, &value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_read_as_names_and_link_to_their_pages() {
        let id = "0193a5c2-7f00-7000-8000-000000000001";
        let names = HashMap::from([(format!("order:{id}"), "web WEB-1001".to_owned())]);
        assert_eq!(
            link(&format!("order:{id}"), &names),
            SubjectLink { label: "Order web WEB-1001".into(), href: Some(format!("/dashboard/orders/{id}")) }
        );
        assert_eq!(link(&format!("return:{id}"), &names).label, "Return of order 0193a5c2", "no name: the id's start, not all of it");
        assert_eq!(link("sku:MUG 1", &names), SubjectLink { label: "SKU MUG 1".into(), href: Some("/dashboard/inventory/MUG%201".into()) });
        assert_eq!(link("channel:web", &names).href.as_deref(), Some("/dashboard/channels/web"));
        assert_eq!(link("tax_rate:DE/standard", &names).label, "tax rate DE/standard");
        assert_eq!(link("plain words", &names).label, "plain words");
        for subject in [format!("order:{id}"), format!("ticket:{id}"), format!("anything:{id}")] {
            assert!(!link(&subject, &HashMap::new()).label.contains(id), "{subject}");
        }
    }

    #[test]
    fn a_ledger_source_reads_as_the_record_it_came_from() {
        let id = "0193a5c2-7f00-7000-8000-000000000001";
        let names = HashMap::from([(format!("shipment:{id}"), "DHL JD1, order web WEB-7".to_owned()), (format!("return:{id}"), "web WEB-7".to_owned())]);
        assert_eq!(
            ledger_source(&format!("shipment:{id}"), &names),
            SubjectLink { label: "Parcel DHL JD1, order web WEB-7".into(), href: Some(format!("/dashboard/shipments/{id}")) }
        );
        assert_eq!(ledger_subject(&format!("return:{id}:2")), format!("return:{id}"));
        assert_eq!(ledger_source(&format!("return:{id}:2"), &names).label, "Return of order web WEB-7, line 2");
        let moved = ledger_source("movement:receipt:MUG-1:central", &names);
        assert_eq!((moved.label.as_str(), moved.href.as_deref()), ("Stock receipt of SKU MUG-1 at central", Some("/dashboard/inventory/MUG-1")));
        for source in [format!("refund:{id}"), format!("claim:{id}:credited"), format!("manual:{id}"), format!("shipment:{id}")] {
            assert!(!ledger_source(&source, &HashMap::new()).label.contains(id), "{source}");
        }
    }

    #[test]
    fn evidence_is_a_table_of_facts_with_records_named_and_linked() {
        let id = "0193a5c2-7f00-7000-8000-000000000001";
        let details = serde_json::json!({"first_order": id, "sku": "MUG-1", "short_by": 3, "lines": [{"line_no": 1}], "reasons": ["a", "b"], "note": null});
        let names = HashMap::from([(format!("order:{id}"), "web WEB-7".to_owned())]);
        let rows = evidence(&details, &names);
        let row = |what: &str| rows.iter().find(|r| r.what == what).unwrap_or_else(|| panic!("{what}: {rows:?}")).clone();
        assert_eq!((row("first order").value, row("first order").href), ("Order web WEB-7".to_owned(), Some(format!("/dashboard/orders/{id}"))));
        assert_eq!((row("sku").value, row("sku").href.as_deref()), ("MUG-1".to_owned(), Some("/dashboard/inventory/MUG-1")));
        assert_eq!(row("short by").value, "3");
        assert_eq!(row("lines 1 line no").value, "1");
        assert_eq!(row("reasons").value, "a, b");
        assert_eq!(row("note").value, "none");
        assert_eq!(evidence_subjects(&details), [format!("order:{id}"), "sku:MUG-1".to_owned()]);
    }
}
