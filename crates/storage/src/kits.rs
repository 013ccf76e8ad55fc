//! Kits: products made of other products, and the lines of an order that make one kit.

use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

impl Tx {
    /// A kit's components and how many of each one kit holds, by SKU; empty for a product
    /// that is not a kit.
    pub async fn kit_components(&mut self, kit: &str) -> Result<Vec<(String, i64)>, StorageError> {
        let sql = "SELECT component_sku, quantity FROM kit_components WHERE kit_sku = $1 ORDER BY component_sku";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(kit).fetch_all(conn).await?))
    }

    /// Replaces a kit's components; none makes the product an ordinary one again.
    pub async fn set_kit_components(&mut self, kit: &str, components: &[(String, i64)]) -> Result<(), StorageError> {
        let clear = "DELETE FROM kit_components WHERE kit_sku = $1";
        let insert = "INSERT INTO kit_components (kit_sku, component_sku, quantity) VALUES ($1, $2, $3)";
        on_engine!(self, |conn| {
            sqlx::query(clear).bind(kit).execute(&mut *conn).await?;
            for (component, quantity) in components {
                sqlx::query(insert).bind(kit).bind(component).bind(quantity).execute(&mut *conn).await?;
            }
        });
        Ok(())
    }

    /// The kits `sku` is a component of.
    pub async fn kits_containing(&mut self, sku: &str) -> Result<Vec<String>, StorageError> {
        let sql = "SELECT kit_sku FROM kit_components WHERE component_sku = $1 ORDER BY kit_sku";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).bind(sku).fetch_all(conn).await?))
    }

    /// The backordered component lines of one kit line of an order.
    pub async fn kit_backorders(&mut self, order: Uuid, kit_line: i64) -> Result<Vec<BackorderedLine>, StorageError> {
        let sql = "SELECT b.line_no AS line, b.sku, b.quantity FROM backorders b \
                   JOIN order_lines l ON l.order_id = b.order_id AND l.line_no = b.line_no \
                   WHERE b.order_id = $1 AND l.part_of = $2 ORDER BY b.sku, b.line_no";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).bind(order).bind(kit_line).fetch_all(conn).await?))
    }
}

/// Units of an order's line waiting for stock.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BackorderedLine {
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
}
