//! What people call the things Ordo refers to by id: an order by its channel and number, a
//! return by its order, a purchase order by its number, a ticket by its subject. Read in one
//! statement per kind for a whole page of references.

use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

/// The kinds of subject whose id is a UUID and that have a name to show instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedKind {
    Order,
    Return,
    PurchaseOrder,
    Ticket,
    Rule,
    Customer,
    Shipment,
    ChangeRequest,
    Settlement,
    Token,
}

impl NamedKind {
    /// As subjects write it, before the colon: `order:…`.
    pub fn parse(prefix: &str) -> Option<NamedKind> {
        Some(match prefix {
            "order" => NamedKind::Order,
            "return" => NamedKind::Return,
            "purchase_order" => NamedKind::PurchaseOrder,
            "ticket" => NamedKind::Ticket,
            "rule" => NamedKind::Rule,
            "customer" => NamedKind::Customer,
            "shipment" => NamedKind::Shipment,
            "change_request" => NamedKind::ChangeRequest,
            "settlement" => NamedKind::Settlement,
            "token" => NamedKind::Token,
            _ => return None,
        })
    }

    /// `SELECT id, name … WHERE id IN ({ids})`: the name as the dashboard shows it.
    fn sql(self, ids: &str) -> String {
        match self {
            NamedKind::Order => format!("SELECT id, channel || ' ' || external_id FROM orders WHERE id IN ({ids})"),
            NamedKind::Return => format!(
                "SELECT r.id, o.channel || ' ' || o.external_id FROM returns r JOIN orders o ON o.id = r.order_id WHERE r.id IN ({ids})"
            ),
            NamedKind::PurchaseOrder => format!("SELECT id, number FROM purchase_orders WHERE id IN ({ids})"),
            NamedKind::Ticket => format!("SELECT id, subject FROM tickets WHERE id IN ({ids})"),
            NamedKind::Rule => format!("SELECT id, name || ' v' || CAST(version AS TEXT) FROM rule_versions WHERE id IN ({ids})"),
            NamedKind::Customer => format!("SELECT id, name || ' <' || email || '>' FROM customers WHERE id IN ({ids})"),
            NamedKind::Shipment => format!(
                "SELECT s.id, s.carrier || ' ' || s.tracking_number || ', order ' || o.channel || ' ' || o.external_id \
                 FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.id IN ({ids})"
            ),
            // Its kind (one snake_case word) and its subject after a space: the dashboard words
            // both as the change request's own page does.
            NamedKind::ChangeRequest => format!("SELECT id, kind || ' ' || subject FROM change_requests WHERE id IN ({ids})"),
            NamedKind::Settlement => format!("SELECT id, channel || ' ' || external_id FROM settlements WHERE id IN ({ids})"),
            NamedKind::Token => format!("SELECT id, name FROM api_tokens WHERE id IN ({ids})"),
        }
    }
}

impl Tx {
    /// The names of the `ids` of one kind that exist; ids that name nothing are left out.
    pub async fn names(&mut self, kind: NamedKind, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, StorageError> {
        let mut names = Vec::with_capacity(ids.len());
        // A page shows a few hundred references at most; larger lists go in chunks.
        for chunk in ids.chunks(500) {
            let sql = kind.sql(&crate::placeholders(self.engine(), chunk.len()));
            let rows: Vec<(Uuid, String)> = on_engine!(self, |conn| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(id);
                }
                query.fetch_all(conn).await?
            });
            names.extend(rows);
        }
        Ok(names)
    }
}
