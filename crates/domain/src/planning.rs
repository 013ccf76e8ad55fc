//! Line planning: an order's lines as Ordo keeps them, from the lines the channel sent and the
//! master data they name. Tax where the channel sent none, kits expanded into the components
//! that carry the stock, the order's total checked against the money bounds. Pure: the caller
//! reads the master data first.

use std::collections::BTreeMap;

use crate::decide::FactLine;
use crate::order::CheckedOrder;
use crate::routing::LineDemand;
use crate::{FieldError, Money};

/// The most units of one component a kit line may ask for.
pub const MAX_COMPONENT_UNITS: i64 = 1_000_000;

/// An order line as planned, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    pub line: i64,
    pub sku: String,
    pub channel_sku: Option<String>,
    /// The channel's own id of the line.
    pub item_id: Option<String>,
    pub quantity: i64,
    pub unit_price: Money,
    pub tax: Money,
    pub discount: Money,
    /// The line sells a kit: it carries the price and tax, its components the stock.
    pub kit: bool,
    /// The kit line this component belongs to.
    pub part_of: Option<i64>,
}

/// Which of our SKUs a line the channel sent names: its own, or the one a listing of the
/// channel maps its SKU to (then `channel_sku` is the channel's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSku {
    pub sku: String,
    pub channel_sku: Option<String>,
}

/// The master data planning reads, gathered before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMaster {
    /// Our SKU for each line the channel sent, in its order.
    pub skus: Vec<LineSku>,
    /// The tax rate in basis points for the ship-to country, by SKU, for the SKUs of lines the
    /// channel sent no tax for; a SKU missing here is taxed at 0.
    pub tax_rates: BTreeMap<String, i64>,
    /// A kit's components and units per kit, by the kit's SKU; a SKU missing here is no kit.
    pub kits: BTreeMap<String, Vec<(String, i64)>>,
}

/// Plans `order`'s lines with `master`: returns the lines (each kit followed by its
/// components) and the order's total (lines less discounts, plus tax and shipping). An error
/// names the line's field.
pub fn plan_lines(
    order: &CheckedOrder,
    master: &LineMaster,
) -> Result<(Vec<PlannedLine>, Money), FieldError> {
    if master.skus.len() != order.lines.len() {
        return Err(FieldError::new(
            "lines",
            "every line needs its SKU resolved before planning",
        ));
    }
    let money = |field: &str| {
        let field = field.to_owned();
        move |e: crate::MoneyError| FieldError::new(field, e.to_string())
    };
    let zero = Money::zero(order.currency);
    let mut total = order.shipping_price;
    let mut planned: Vec<PlannedLine> = Vec::with_capacity(order.lines.len());
    for (i, (line, resolved)) in order.lines.iter().zip(&master.skus).enumerate() {
        let field = format!("lines[{i}]");
        let gross = line
            .unit_price
            .checked_times(line.quantity)
            .map_err(money(&field))?;
        let net = gross.checked_sub(line.discount).map_err(money(&field))?;
        if net.is_negative() {
            return Err(FieldError::new(
                format!("{field}.discount"),
                "is more than the line's price",
            ));
        }
        let tax = match line.tax {
            Some(tax) => tax,
            None => net
                .scaled(
                    master.tax_rates.get(&resolved.sku).copied().unwrap_or(0),
                    10_000,
                )
                .map_err(money(&field))?,
        };
        total = total
            .checked_add(net)
            .and_then(|t| t.checked_add(tax))
            .map_err(money(&field))?;
        let components = master
            .kits
            .get(&resolved.sku)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let number = planned.len() as i64 + 1;
        planned.push(PlannedLine {
            line: number,
            sku: resolved.sku.clone(),
            channel_sku: resolved.channel_sku.clone(),
            item_id: line.item_id.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            tax,
            discount: line.discount,
            kit: !components.is_empty(),
            part_of: None,
        });
        for (component, per_kit) in components {
            let quantity = per_kit
                .checked_mul(line.quantity)
                .filter(|q| *q <= MAX_COMPONENT_UNITS)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("{field}.quantity"),
                        format!(
                            "is too many kits: their components exceed {MAX_COMPONENT_UNITS} units"
                        ),
                    )
                })?;
            planned.push(PlannedLine {
                line: planned.len() as i64 + 1,
                sku: component.clone(),
                channel_sku: None,
                item_id: None,
                quantity,
                unit_price: zero,
                tax: zero,
                discount: zero,
                kit: false,
                part_of: Some(number),
            });
        }
    }
    let total = total.within(Money::MAX_MINOR).map_err(|e| {
        FieldError::new(
            "lines",
            format!("add up, with tax and shipping, to an order total that {e}"),
        )
    })?;
    Ok((planned, total))
}

/// What the planned lines ask of stock: every line but a kit's own, which holds none.
pub fn demand(planned: &[PlannedLine]) -> Vec<LineDemand> {
    planned
        .iter()
        .filter(|l| !l.kit)
        .map(|l| LineDemand {
            line: l.line,
            sku: l.sku.clone(),
            quantity: l.quantity,
            kit: l.part_of,
        })
        .collect()
}

/// The lines rules see: those the channel sent, not a kit's components.
pub fn fact_lines(planned: &[PlannedLine]) -> Vec<FactLine<'_>> {
    planned
        .iter()
        .filter(|l| l.part_of.is_none())
        .map(|l| FactLine {
            sku: &l.sku,
            quantity: l.quantity,
            unit_price_minor: l.unit_price.minor(),
            kit: l.kit,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::Currency;
    use crate::order::{Address, CheckedLine, PaymentStatus};

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn order(lines: Vec<CheckedLine>, shipping: i64) -> CheckedOrder {
        CheckedOrder {
            channel: "web".into(),
            external_id: "1001".into(),
            placed_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
                .unwrap(),
            currency: Currency::EUR,
            customer_email: "ann@example.com".into(),
            customer_name: "Ann Berg".into(),
            ship_to: Address {
                name: "Ann Berg".into(),
                line1: "Hauptstr. 1".into(),
                line2: None,
                city: "Berlin".into(),
                region: None,
                postal_code: "10115".into(),
                country: "DE".into(),
            },
            billing_country: None,
            shipping_method: "standard".into(),
            payment_status: PaymentStatus::Captured,
            shipping_price: eur(shipping),
            lines,
        }
    }

    fn line(sku: &str, quantity: i64, price: i64, tax: Option<i64>, discount: i64) -> CheckedLine {
        CheckedLine {
            item_id: None,
            sku: sku.into(),
            quantity,
            unit_price: eur(price),
            tax: tax.map(eur),
            discount: eur(discount),
        }
    }

    fn ours(skus: &[&str]) -> Vec<LineSku> {
        skus.iter()
            .map(|s| LineSku {
                sku: (*s).into(),
                channel_sku: None,
            })
            .collect()
    }

    #[test]
    fn tax_comes_from_the_channel_or_from_the_rate_and_the_total_adds_up() {
        let order = order(
            vec![
                line("MUG-1", 2, 1290, None, 100),
                line("VASE-1", 1, 900, Some(171), 0),
            ],
            490,
        );
        let master = LineMaster {
            skus: ours(&["MUG-1", "VASE-1"]),
            tax_rates: [("MUG-1".into(), 1900)].into(),
            ..Default::default()
        };
        let (lines, total) = plan_lines(&order, &master).unwrap();
        // (2 × 12.90 − 1.00) × 19 % = 4.712 → 4.71; the vase's tax as the channel sent it.
        assert_eq!((lines[0].tax, lines[1].tax), (eur(471), eur(171)));
        assert_eq!(total, eur(2480 + 471 + 900 + 171 + 490));
        assert_eq!(lines.iter().map(|l| l.line).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn a_kit_is_followed_by_its_components_which_carry_the_stock() {
        let order = order(
            vec![
                line("GIFT-SET", 3, 2500, Some(0), 0),
                line("MUG-1", 1, 1290, Some(0), 0),
            ],
            0,
        );
        let kits = [(
            "GIFT-SET".to_owned(),
            vec![("MUG-1".to_owned(), 2), ("VASE-1".to_owned(), 1)],
        )]
        .into();
        let master = LineMaster {
            skus: ours(&["GIFT-SET", "MUG-1"]),
            kits,
            ..Default::default()
        };
        let (lines, total) = plan_lines(&order, &master).unwrap();
        let shape: Vec<(i64, &str, i64, bool, Option<i64>)> = lines
            .iter()
            .map(|l| (l.line, l.sku.as_str(), l.quantity, l.kit, l.part_of))
            .collect();
        assert_eq!(
            shape,
            [
                (1, "GIFT-SET", 3, true, None),
                (2, "MUG-1", 6, false, Some(1)),
                (3, "VASE-1", 3, false, Some(1)),
                (4, "MUG-1", 1, false, None)
            ]
        );
        assert_eq!(
            total,
            eur(3 * 2500 + 1290),
            "components are priced at nothing"
        );
        let demand = demand(&lines);
        let asked: Vec<(i64, &str, i64)> = demand
            .iter()
            .map(|d| (d.line, d.sku.as_str(), d.quantity))
            .collect();
        assert_eq!(
            asked,
            [(2, "MUG-1", 6), (3, "VASE-1", 3), (4, "MUG-1", 1)],
            "the kit's own line holds no stock"
        );
        assert_eq!(
            fact_lines(&lines).len(),
            2,
            "rules see the lines the channel sent"
        );
    }

    #[test]
    fn errors_name_the_line_at_fault() {
        let master = LineMaster {
            skus: ours(&["MUG-1"]),
            ..Default::default()
        };
        let too_much_off = order(vec![line("MUG-1", 1, 1290, None, 1291)], 0);
        assert_eq!(
            plan_lines(&too_much_off, &master).unwrap_err().field,
            "lines[0].discount"
        );
        let kits = [("MUG-1".to_owned(), vec![("PART".to_owned(), 1_000)])].into();
        let too_many = order(vec![line("MUG-1", 1_001, 1, Some(0), 0)], 0);
        assert_eq!(
            plan_lines(
                &too_many,
                &LineMaster {
                    kits,
                    ..master.clone()
                }
            )
            .unwrap_err()
            .field,
            "lines[0].quantity"
        );
        let past_bound = order(
            vec![line(
                "MUG-1",
                1_000_000,
                Money::MAX_MINOR / 100_000,
                Some(0),
                0,
            )],
            0,
        );
        assert_eq!(plan_lines(&past_bound, &master).unwrap_err().field, "lines");
        assert_eq!(
            plan_lines(
                &order(vec![line("MUG-1", 1, 1, None, 0)], 0),
                &LineMaster::default()
            )
            .unwrap_err()
            .field,
            "lines"
        );
    }

    proptest! {
        /// However the lines come, the total is shipping plus each line's net and tax, lines
        /// are numbered 1, 2, … in order, and every component names a kit line before it.
        #[test]
        fn planned_lines_add_up_and_number_in_order(
            sent in proptest::collection::vec((1i64..50, 0i64..100_000, proptest::option::of(0i64..5_000), 0i64..100, any::<bool>()), 1..8),
            rate in 0i64..3_000,
            shipping in 0i64..2_000,
        ) {
            let lines: Vec<CheckedLine> = sent.iter().enumerate()
                .map(|(i, (q, p, t, d, _))| line(&format!("SKU-{i}"), *q, *p, *t, (*d).min(*p * *q)))
                .collect();
            let skus: Vec<String> = (0..sent.len()).map(|i| format!("SKU-{i}")).collect();
            let kits = sent.iter().enumerate().filter(|(_, s)| s.4).map(|(i, _)| (format!("SKU-{i}"), vec![("PART".to_owned(), 2)])).collect();
            let tax_rates = skus.iter().map(|s| (s.clone(), rate)).collect();
            let master = LineMaster { skus: ours(&skus.iter().map(String::as_str).collect::<Vec<_>>()), tax_rates, kits };
            let order = order(lines, shipping);
            let (planned, total) = plan_lines(&order, &master).unwrap();
            let sum: i64 = planned.iter().map(|l| l.unit_price.minor() * l.quantity - l.discount.minor() + l.tax.minor()).sum();
            prop_assert_eq!(total.minor(), sum + shipping);
            for (i, l) in planned.iter().enumerate() {
                prop_assert_eq!(l.line, i as i64 + 1);
                if let Some(kit) = l.part_of {
                    prop_assert!(planned[(kit - 1) as usize].kit);
                }
            }
            prop_assert_eq!(planned.iter().filter(|l| l.part_of.is_none()).count(), order.lines.len());
        }
    }
}
