//! Waves: the orders of one location and carrier cut-off picked together from one pick list
//! that walks the bins in order, then packed and shipped order by order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{field, FieldError};

/// Where a wave stands: released to the floor, picked, or closed once every order in it has
/// shipped or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaveStatus {
    Open,
    Picked,
    Closed,
}

impl WaveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaveStatus::Open => "open",
            WaveStatus::Picked => "picked",
            WaveStatus::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<WaveStatus> {
        [WaveStatus::Open, WaveStatus::Picked, WaveStatus::Closed].into_iter().find(|s| s.as_str() == value)
    }

    /// open → picked → closed; a wave whose orders all shipped or were cancelled closes from
    /// either.
    pub fn can_become(self, next: WaveStatus) -> bool {
        use WaveStatus::*;
        matches!((self, next), (Open, Picked | Closed) | (Picked, Closed))
    }
}

/// Where one order of a wave stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaveOrderStatus {
    ToPick,
    Picked,
    Packed,
    Shipped,
    Cancelled,
}

impl WaveOrderStatus {
    pub const ALL: [WaveOrderStatus; 5] = [
        WaveOrderStatus::ToPick,
        WaveOrderStatus::Picked,
        WaveOrderStatus::Packed,
        WaveOrderStatus::Shipped,
        WaveOrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaveOrderStatus::ToPick => "to_pick",
            WaveOrderStatus::Picked => "picked",
            WaveOrderStatus::Packed => "packed",
            WaveOrderStatus::Shipped => "shipped",
            WaveOrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<WaveOrderStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// to_pick → picked → packed → shipped; cancelled from any of the first three.
    pub fn can_become(self, next: WaveOrderStatus) -> bool {
        use WaveOrderStatus::*;
        matches!((self, next), (ToPick, Picked | Cancelled) | (Picked, Packed | Cancelled) | (Packed, Shipped | Cancelled))
    }

    /// Whether the order still has work in the wave.
    pub fn is_open(self) -> bool {
        matches!(self, WaveOrderStatus::ToPick | WaveOrderStatus::Picked | WaveOrderStatus::Packed)
    }
}

/// A wave as the floor is asked to release it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWave {
    /// The location that picks.
    pub location: String,
    /// One carrier's orders only (the order's shipping method); every method when absent.
    #[serde(default)]
    pub shipping_method: Option<String>,
    /// At most this many orders, those due first; 100 when absent.
    #[serde(default)]
    pub max_orders: Option<i64>,
}

impl NewWave {
    pub const DEFAULT_MAX_ORDERS: i64 = 100;

    pub fn check(self) -> Result<NewWave, FieldError> {
        Ok(NewWave {
            location: field::code("location", &self.location)?,
            shipping_method: self.shipping_method.map(|m| field::code("shipping_method", &m)).transpose()?,
            max_orders: Some(field::bounded("max_orders", self.max_orders.unwrap_or(Self::DEFAULT_MAX_ORDERS), 1, 5_000)?),
        })
    }
}

/// A wave with its orders and the pick list they make.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wave {
    pub id: Uuid,
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub cutoff_at: DateTime<Utc>,
    pub status: WaveStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub orders: Vec<WaveOrder>,
    pub pick_list: Vec<PickRow>,
}

/// A wave without its orders, for lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveSummary {
    pub id: Uuid,
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub cutoff_at: DateTime<Utc>,
    pub status: WaveStatus,
    pub created_at: DateTime<Utc>,
    pub orders: i64,
    pub open_orders: i64,
    pub units: i64,
}

/// One order of a wave and what to pick for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveOrder {
    pub order_id: Uuid,
    pub external_id: String,
    pub channel: String,
    pub ship_by: DateTime<Utc>,
    pub status: WaveOrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<Uuid>,
    pub lines: Vec<WaveLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveLine {
    pub line: i64,
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    pub quantity: i64,
}

/// One stop on the picker's walk: a bin, the SKU in it, how many in all, for how many orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickRow {
    /// `None` for a SKU with no bin set at the location: those come last.
    pub bin: Option<String>,
    pub sku: String,
    pub quantity: i64,
    pub orders: i64,
}

/// The pick list of a wave's open orders: one row per bin and SKU, walking the bins in their
/// natural order (`A-2` before `A-10`), SKUs without a bin last.
pub fn pick_list(orders: &[WaveOrder]) -> Vec<PickRow> {
    let mut rows: BTreeMap<(Option<BinKey>, String), PickRow> = BTreeMap::new();
    for order in orders.iter().filter(|o| o.status.is_open()) {
        for line in &order.lines {
            let key = (line.bin.as_deref().map(BinKey::new), line.sku.clone());
            let row = rows.entry(key).or_insert_with(|| PickRow {
                bin: line.bin.clone(),
                sku: line.sku.clone(),
                quantity: 0,
                orders: 0,
            });
            row.quantity += line.quantity;
            row.orders += 1;
        }
    }
    let (binned, unbinned): (Vec<_>, Vec<_>) = rows.into_values().partition(|r| r.bin.is_some());
    binned.into_iter().chain(unbinned).collect()
}

/// A bin name compared the way a picker walks: runs of digits by their number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BinKey(Vec<BinPart>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum BinPart {
    Number(u64, usize),
    Text(String),
}

impl BinKey {
    fn new(bin: &str) -> BinKey {
        let mut parts = Vec::new();
        let mut rest = bin;
        while let Some(first) = rest.chars().next() {
            let digits = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            parts.push(match run.parse::<u64>() {
                Ok(n) if digits => BinPart::Number(n, run.len()),
                _ => BinPart::Text(run.to_ascii_uppercase()),
            });
            rest = tail;
        }
        BinKey(parts)
    }
}

/// A bin assignment: where `sku` is picked at `location`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BinAssignment {
    pub sku: String,
    pub location: String,
    /// Such as `A-03-2`.
    pub bin: String,
}

impl BinAssignment {
    pub fn check(self) -> Result<BinAssignment, FieldError> {
        Ok(BinAssignment {
            sku: field::code("sku", &self.sku)?,
            location: field::code("location", &self.location)?,
            bin: field::code("bin", &self.bin)?,
        })
    }
}

/// The carrier details a parcel leaves with.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    pub carrier: String,
    pub tracking_number: String,
}

impl Dispatch {
    pub fn check(self) -> Result<Dispatch, FieldError> {
        Ok(Dispatch {
            carrier: field::text("carrier", &self.carrier)?,
            tracking_number: field::code("tracking_number", &self.tracking_number)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: WaveOrderStatus, lines: &[(&str, Option<&str>, i64)]) -> WaveOrder {
        WaveOrder {
            order_id: Uuid::nil(),
            external_id: "X".into(),
            channel: "web".into(),
            ship_by: DateTime::UNIX_EPOCH,
            status,
            shipment_id: None,
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, bin, quantity))| WaveLine {
                    line: i as i64 + 1,
                    sku: (*sku).into(),
                    bin: bin.map(Into::into),
                    quantity: *quantity,
                })
                .collect(),
        }
    }

    #[test]
    fn the_pick_list_walks_bins_in_natural_order_and_sums_across_orders() {
        let orders = [
            order(WaveOrderStatus::ToPick, &[("MUG", Some("A-10"), 1), ("CAP", None, 2)]),
            order(WaveOrderStatus::ToPick, &[("MUG", Some("A-10"), 2), ("PEN", Some("a-2"), 1)]),
            order(WaveOrderStatus::Cancelled, &[("BAG", Some("A-1"), 5)]),
        ];
        let list = pick_list(&orders);
        let walk: Vec<(Option<&str>, &str, i64, i64)> =
            list.iter().map(|r| (r.bin.as_deref(), r.sku.as_str(), r.quantity, r.orders)).collect();
        assert_eq!(walk, [(Some("a-2"), "PEN", 1, 1), (Some("A-10"), "MUG", 3, 2), (None, "CAP", 2, 1)]);
    }

    #[test]
    fn a_new_wave_names_its_bad_field() {
        let wave = |max| NewWave { location: "central".into(), shipping_method: None, max_orders: Some(max) };
        assert_eq!(wave(0).check().unwrap_err().field, "max_orders");
        assert_eq!(wave(5).check().unwrap().max_orders, Some(5));
        let bad = NewWave { location: "cent ral".into(), shipping_method: None, max_orders: None };
        assert_eq!(bad.check().unwrap_err().field, "location");
    }
}
