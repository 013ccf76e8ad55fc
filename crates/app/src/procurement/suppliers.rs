//! What each supplier sells us and on what terms, and the promotions that move demand.

use super::*;
use crate::Procurement;

impl Procurement<'_> {
    /// Sets a supplier's lead-time spread (days, such as "1.5") and payment terms.
    pub async fn set_supplier_terms(self, supplier: &str, lead_time_sd_days: &str, payment_terms_days: i64, actor: &Actor) -> AppResult<()> {
        let tenths = tenths_of_a_day(lead_time_sd_days)?;
        let payment_terms_days = ordo_domain::field::bounded("payment_terms_days", payment_terms_days, 0, 365)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.set_supplier_terms(supplier, tenths, payment_terms_days).await? {
            return Err(AppError::NotFound { what: "supplier", key: supplier.to_owned() });
        }
        let after = serde_json::json!({"lead_time_sd_days": lead_time_sd_days, "payment_terms_days": payment_terms_days});
        record(&mut tx, actor, now, &[Change::new("supplier.terms", format!("supplier:{supplier}")).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Each supplier's terms, by code.
    pub async fn supplier_terms(self) -> AppResult<Vec<SupplierTerms>> {
        let rows = self.db.read().await?.supplier_terms().await?;
        Ok(rows
            .into_iter()
            .map(|(supplier, tenths, payment_terms_days)| SupplierTerms { supplier, lead_time_sd_days: format!("{}.{}", tenths / 10, tenths % 10), payment_terms_days })
            .collect())
    }

    /// Records what a supplier sells of a SKU, its price (in the supplier's currency), minimum
    /// order and pack.
    pub async fn set_supplier_sku(self, new: NewSupplierSku, actor: &Actor) -> AppResult<()> {
        let moq = ordo_domain::field::bounded("moq", new.moq, 0, 10_000_000)?;
        let pack_size = ordo_domain::field::bounded("pack_size", new.pack_size, 1, 100_000)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(supplier) = tx.suppliers().await?.into_iter().find(|s| s.code == new.supplier) else {
            return Err(FieldError::new("supplier", format!("unknown supplier {:?}", new.supplier)).into());
        };
        if tx.product(&new.sku).await?.is_none() {
            return Err(FieldError::new("sku", format!("unknown SKU {:?}", new.sku)).into());
        }
        let cost = Money::parse_non_negative("unit_cost", &new.unit_cost, supplier.currency)?;
        let row = SupplierSku {
            supplier: new.supplier.clone(),
            sku: new.sku.clone(),
            unit_cost_minor: cost.minor(),
            moq,
            pack_size,
            preferred: new.preferred,
            currency: supplier.currency.code().to_owned(),
            lead_time_days: supplier.lead_time_days,
            lead_time_sd_tenths: 0,
        };
        tx.upsert_supplier_sku(&row).await?;
        let after = serde_json::json!({"unit_cost": cost.to_decimal_string(), "moq": moq, "pack_size": pack_size, "preferred": new.preferred});
        record(&mut tx, actor, now, &[Change::new("supplier_sku.set", format!("supplier_sku:{}/{}", new.supplier, new.sku)).after(after)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who sells `sku` (every SKU when none), the preferred first, at what price and terms.
    pub async fn supplier_skus(self, sku: Option<&str>) -> AppResult<Vec<SupplierPrice>> {
        let rows = self.db.read().await?.supplier_skus(sku).await?;
        rows.into_iter()
            .map(|r| {
                Ok(SupplierPrice {
                    unit_cost: Money::from_minor(r.unit_cost_minor, currency(&r.currency)?).to_decimal_string(),
                    supplier: r.supplier,
                    sku: r.sku,
                    currency: r.currency,
                    moq: r.moq,
                    pack_size: r.pack_size,
                    preferred: r.preferred,
                    lead_time_days: r.lead_time_days,
                })
            })
            .collect()
    }

    /// Puts a promotion on the calendar: `sku` (every SKU when none) on `channel` (every
    /// channel when none) from `starts_on` to `ends_on`, both included.
    pub async fn create_promotion(
        &self,
        name: &str,
        channel: Option<&str>,
        sku: Option<&str>,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
        actor: &Actor,
    ) -> AppResult<ordo_storage::PromotionRecord> {
        let name = ordo_domain::field::text("name", name)?;
        if ends_on < starts_on {
            return Err(FieldError::new("ends_on", "must not be before starts_on").into());
        }
        if (ends_on - starts_on).num_days() > 366 {
            return Err(FieldError::new("ends_on", "a promotion lasts at most a year").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        if let Some(code) = channel
            && tx.channel(code).await?.is_none()
        {
            return Err(FieldError::new("channel", format!("unknown channel {code:?}")).into());
        }
        if let Some(code) = sku
            && tx.product(code).await?.is_none()
        {
            return Err(FieldError::new("sku", format!("unknown SKU {code:?}")).into());
        }
        let promotion = ordo_storage::PromotionRecord {
            id: Uuid::now_v7(),
            name,
            channel: channel.map(str::to_owned),
            sku: sku.map(str::to_owned),
            starts_on: starts_on.to_string(),
            ends_on: ends_on.to_string(),
            created_by: actor.to_string(),
            created_at: now,
        };
        tx.insert_promotion(&promotion).await?;
        let after = serde_json::json!({"name": promotion.name, "channel": promotion.channel, "sku": promotion.sku, "from": promotion.starts_on, "to": promotion.ends_on});
        record(&mut tx, actor, now, &[Change::new("promotion.create", format!("promotion:{}", promotion.id)).after(after)]).await?;
        tx.commit().await?;
        Ok(promotion)
    }

    pub async fn promotions(self) -> AppResult<Vec<ordo_storage::PromotionRecord>> {
        Ok(self.db.read().await?.promotions().await?)
    }
}
