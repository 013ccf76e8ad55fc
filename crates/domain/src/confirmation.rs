//! What Ordo tells a channel about an order it decided itself: which of the channel's own
//! lines a parcel carries, and whether the channel's API lets Ordo cancel or refund there.

use crate::connector::ConnectorKind;
use crate::order::{OrderLine, Shipment};

/// A line of a parcel as the channel knows it: the channel's id of its order line, and the
/// units of it in the parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLine {
    pub item_id: String,
    pub quantity: i64,
}

/// The channel's lines `shipment` carries, of an order with `lines` and `shipments` (this
/// one among them), in the order's line order. A line of Ordo's own
/// goes by its channel id. A kit sold as one channel line ships as its components: the
/// parcel carries the kits it completes, the fewest whole kits over its components that
/// have shipped by this parcel less those shipped by the ones before it. Lines the channel
/// has no id for (an order typed in by hand) are left out, and so is a parcel of part kits.
pub fn parcel_lines(lines: &[OrderLine], shipments: &[Shipment], shipment: &Shipment) -> Vec<ChannelLine> {
    // The parcels up to this one, and up to the one before it.
    let upto = shipments.iter().position(|s| s.id == shipment.id).map_or(shipments.len(), |i| i + 1);
    let shipped = |line: i64, parcels: &[Shipment]| -> i64 {
        parcels.iter().flat_map(|s| &s.lines).filter(|l| l.line == line).map(|l| l.quantity).sum()
    };
    let (through, before) = (&shipments[..upto], &shipments[..upto.saturating_sub(1)]);
    let whole_kits = |kit: i64, kits: i64, parcels: &[Shipment]| -> i64 {
        lines
            .iter()
            .filter(|l| l.part_of == Some(kit) && l.quantity > 0)
            .map(|component| shipped(component.line, parcels) * kits / component.quantity)
            .min()
            .unwrap_or(0)
    };
    lines
        .iter()
        .filter(|l| l.part_of.is_none())
        .filter_map(|l| {
            let item_id = l.item_id.clone()?;
            let quantity = if l.kit {
                whole_kits(l.line, l.quantity, through) - whole_kits(l.line, l.quantity, before)
            } else {
                shipment.lines.iter().filter(|s| s.line == l.line).map(|s| s.quantity).sum()
            };
            (quantity > 0).then_some(ChannelLine { item_id, quantity })
        })
        .collect()
}

/// Whether Ordo can refund money on this kind of channel through its API: Amazon refunds a
/// seller's order only through a feed or Seller Central.
pub fn refunds_on_channel(kind: ConnectorKind) -> bool {
    matches!(kind, ConnectorKind::Shopify | ConnectorKind::WooCommerce | ConnectorKind::Ebay)
}

/// Whether Ordo can cancel an order on this kind of channel through its API. Amazon cancels
/// a seller's order only through a feed and eBay only through its Post-Order cases: there a
/// person cancels it on the channel.
pub fn cancels_on_channel(kind: ConnectorKind) -> bool {
    matches!(kind, ConnectorKind::Shopify | ConnectorKind::WooCommerce)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::order::{OrderLine, ShipmentLine, ShipmentStatus};
    use crate::{Currency, Money};

    fn line(line: i64, item_id: Option<&str>, quantity: i64, kit: bool, part_of: Option<i64>) -> OrderLine {
        let zero = Money::zero(Currency::EUR);
        OrderLine {
            line,
            kit,
            part_of,
            sku: format!("SKU-{line}"),
            channel_sku: None,
            item_id: item_id.map(str::to_owned),
            quantity,
            unit_price: zero,
            tax: zero,
            discount: zero,
            allocations: Vec::new(),
            backordered: 0,
            shipped: 0,
        }
    }

    fn parcel(lines: &[(i64, i64)]) -> Shipment {
        Shipment {
            id: uuid::Uuid::now_v7(),
            location: "WH".into(),
            status: ShipmentStatus::Shipped,
            carrier: "DHL".into(),
            tracking_number: "JD0001".into(),
            shipped_at: Utc::now(),
            delivered_at: None,
            lines: lines.iter().map(|(line, quantity)| ShipmentLine { line: *line, quantity: *quantity }).collect(),
            tracking: Vec::new(),
        }
    }

    fn item(item_id: &str, quantity: i64) -> ChannelLine {
        ChannelLine { item_id: item_id.to_owned(), quantity }
    }

    #[test]
    fn a_partial_parcel_carries_its_own_units_of_each_channel_line() {
        let first = parcel(&[(1, 2)]);
        let second = parcel(&[(1, 1), (2, 4)]);
        let lines = [line(1, Some("111"), 3, false, None), line(2, Some("222"), 4, false, None)];
        let parcels = [first.clone(), second.clone()];
        assert_eq!(parcel_lines(&lines, &parcels, &first), [item("111", 2)]);
        assert_eq!(parcel_lines(&lines, &parcels, &second), [item("111", 1), item("222", 4)]);
    }

    #[test]
    fn lines_the_channel_has_no_id_for_are_left_out() {
        let only = parcel(&[(1, 1), (2, 1)]);
        let lines = [line(1, None, 1, false, None), line(2, Some("222"), 1, false, None)];
        assert_eq!(parcel_lines(&lines, std::slice::from_ref(&only), &only), [item("222", 1)]);
    }

    #[test]
    fn a_kit_ships_to_the_channel_as_the_whole_kits_its_components_complete() {
        // Two gift sets (line 1), each a mug and two coasters (lines 2 and 3).
        let lines = [line(1, Some("KIT-LINE"), 2, true, None), line(2, None, 2, false, Some(1)), line(3, None, 4, false, Some(1))];
        // The mugs leave first: no whole kit yet. Then three coasters: one kit. Then the last.
        let mugs = parcel(&[(2, 2)]);
        let coasters = parcel(&[(3, 3)]);
        let last = parcel(&[(3, 1)]);
        let parcels = [mugs.clone(), coasters.clone(), last.clone()];
        assert_eq!(parcel_lines(&lines, &parcels, &mugs), []);
        assert_eq!(parcel_lines(&lines, &parcels, &coasters), [item("KIT-LINE", 1)]);
        assert_eq!(parcel_lines(&lines, &parcels, &last), [item("KIT-LINE", 1)]);
    }

    #[test]
    fn only_shopify_and_woocommerce_cancel_through_their_apis() {
        let kinds = [ConnectorKind::Shopify, ConnectorKind::WooCommerce, ConnectorKind::Amazon, ConnectorKind::Ebay];
        assert_eq!(kinds.map(cancels_on_channel), [true, true, false, false]);
        assert_eq!(kinds.map(refunds_on_channel), [true, true, false, true]);
    }
}
