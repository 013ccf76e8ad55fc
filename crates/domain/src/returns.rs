//! Returns: a return authorisation (RMA) from request to close, the channel's policy that
//! authorises it without a person, what becomes of each returned unit, and refunds that never
//! exceed what was paid.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::FieldError;

/// Why the customer sends it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReturnReason {
    Damaged,
    WrongItem,
    NotAsDescribed,
    Defective,
    NoLongerWanted,
    LateDelivery,
    Other,
}
named!(ReturnReason, "a reason", {
    Damaged => "damaged", WrongItem => "wrong_item", NotAsDescribed => "not_as_described", Defective => "defective",
    NoLongerWanted => "no_longer_wanted", LateDelivery => "late_delivery", Other => "other",
});

/// Where a return stands. Its moves:
///
/// | from | to |
/// |---|---|
/// | requested | authorized, rejected |
/// | authorized | in_transit, received, closed |
/// | in_transit | received |
/// | received | inspected |
/// | inspected | closed |
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Waiting for service to authorise or reject it.
    Requested,
    /// The customer may send it; a label or address went out.
    Authorized,
    Rejected,
    /// On its way back, with the carrier's tracking.
    InTransit,
    /// At a location, waiting for inspection.
    Received,
    /// Each line has its disposition.
    Inspected,
    /// Nothing more to do: refunded or replaced as decided.
    Closed,
}
named!(ReturnStatus, "a status", {
    Requested => "requested", Authorized => "authorized", Rejected => "rejected", InTransit => "in_transit",
    Received => "received", Inspected => "inspected", Closed => "closed",
});

impl ReturnStatus {
    /// Whether a return that is `self` may become `next`.
    pub fn can_become(self, next: ReturnStatus) -> bool {
        use ReturnStatus::*;
        matches!(
            (self, next),
            (Requested, Authorized | Rejected)
                | (Authorized, InTransit | Received | Closed)
                | (InTransit, Received)
                | (Received, Inspected)
                | (Inspected, Closed)
        )
    }

    /// `Ok` when `self` may become `next`; otherwise why not, naming both.
    pub fn become_(self, next: ReturnStatus) -> Result<ReturnStatus, String> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(format!("a return that is {} cannot become {}", self.as_str(), next.as_str()))
        }
    }
}

/// What becomes of a returned unit after inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Sellable again: back into available stock, and into inventory at cost.
    Restock,
    /// Needs work before it sells: kept aside, not available, its cost stays where it is until
    /// it is counted back into stock.
    Refurbish,
    /// Cannot be sold: written off.
    Dispose,
    /// The supplier is liable: a claim for its cost, tracked until credited or refused.
    SupplierClaim,
}
named!(Disposition, "a disposition", {
    Restock => "restock", Refurbish => "refurbish", Dispose => "dispose", SupplierClaim => "supplier_claim",
});

/// A channel's return policy: what is authorised without a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnPolicy {
    /// Days after delivery (or shipment, when delivery is not known) a return may be asked for.
    pub window_days: i64,
    /// Reasons authorised without a person; the rest go to service.
    pub auto_reasons: Vec<String>,
    /// Returns of orders worth more than this (minor units of the order's currency) go to
    /// service; none means any value.
    pub max_auto_value_minor: Option<i64>,
    /// Days an authorised return has to arrive before it is overdue.
    pub ship_back_days: i64,
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        let auto = [
            ReturnReason::Damaged,
            ReturnReason::WrongItem,
            ReturnReason::NotAsDescribed,
            ReturnReason::Defective,
            ReturnReason::NoLongerWanted,
            ReturnReason::LateDelivery,
        ];
        ReturnPolicy {
            window_days: 30,
            auto_reasons: auto.iter().map(|r| r.as_str().to_owned()).collect(),
            max_auto_value_minor: None,
            ship_back_days: 14,
        }
    }
}

/// What a policy says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Authorize,
    /// A person decides, for this reason.
    Review(String),
    /// Asked for this many days after the window closed.
    OutsideWindow { days_late: i64 },
}

impl ReturnPolicy {
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(0..=3650).contains(&self.window_days) {
            return Err(FieldError::new("window_days", "must be 0 to 3650"));
        }
        if !(1..=365).contains(&self.ship_back_days) {
            return Err(FieldError::new("ship_back_days", "must be 1 to 365"));
        }
        for (i, reason) in self.auto_reasons.iter().enumerate() {
            ReturnReason::parse(&format!("auto_reasons[{i}]"), reason)?;
        }
        if self.max_auto_value_minor.is_some_and(|v| v < 0) {
            return Err(FieldError::new("max_auto_value", "must not be negative"));
        }
        Ok(())
    }

    /// Decides a request made `now` for goods that reached the customer at `received`, for
    /// `reasons`, on an order worth `value_minor`.
    pub fn decide(&self, received: DateTime<Utc>, now: DateTime<Utc>, reasons: &[ReturnReason], value_minor: i64) -> PolicyDecision {
        let closes = received + chrono::Duration::days(self.window_days);
        if now > closes {
            let late = now - closes;
            return PolicyDecision::OutsideWindow { days_late: late.num_days().max(1) };
        }
        if let Some(reason) = reasons.iter().find(|r| !self.auto_reasons.iter().any(|a| a == r.as_str())) {
            return PolicyDecision::Review(format!("the reason {} needs a person", reason.as_str()));
        }
        if let Some(max) = self.max_auto_value_minor
            && value_minor > max
        {
            return PolicyDecision::Review("the order is worth more than the policy authorises alone".to_owned());
        }
        PolicyDecision::Authorize
    }
}

/// What was paid for one order line and what of it was refunded already, in minor units of
/// the order's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidLine {
    pub line: i64,
    pub quantity: i64,
    pub shipped: i64,
    /// Price of all its units less the discount.
    pub net: i64,
    pub tax: i64,
    pub refunded_units: i64,
    pub refunded_net: i64,
    pub refunded_tax: i64,
}

/// A line of a refund as asked: whole units, or an amount (of the net price) for goodwill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskedRefund {
    pub line: i64,
    pub quantity: i64,
    pub amount: Option<i64>,
}

/// A line of a refund as it will be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundLine {
    pub line: i64,
    pub quantity: i64,
    pub net: i64,
    pub tax: i64,
}

/// The refund of `asked` against what was `paid`: units refund their share of the line's net
/// and tax; an amount refunds that much of the net and its share of the tax. Refused, naming
/// the line, when it would take any line past what was paid for it less what was refunded.
pub fn refund_lines(paid: &[PaidLine], asked: &[AskedRefund]) -> Result<Vec<RefundLine>, FieldError> {
    let mut out: Vec<RefundLine> = Vec::with_capacity(asked.len());
    let mut so_far: Vec<PaidLine> = paid.to_vec();
    for (i, a) in asked.iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        let Some(line) = so_far.iter_mut().find(|p| p.line == a.line) else {
            return Err(FieldError::new(field("line"), format!("the order has no line {}", a.line)));
        };
        if a.quantity < 0 {
            return Err(FieldError::new(field("quantity"), "must not be negative"));
        }
        if a.quantity > line.shipped - line.refunded_units {
            let left = line.shipped - line.refunded_units;
            return Err(FieldError::new(
                field("quantity"),
                format!("line {} has {left} shipped unit(s) not yet refunded; {} asked", line.line, a.quantity),
            ));
        }
        let units_after = line.refunded_units + a.quantity;
        let (net, tax) = match a.amount {
            None if a.quantity == 0 => return Err(FieldError::new(field("quantity"), "give units to refund, or an amount")),
            None => (
                crate::ledger::share(line.net, line.quantity, line.refunded_units, units_after),
                crate::ledger::share(line.tax, line.quantity, line.refunded_units, units_after),
            ),
            Some(amount) if amount <= 0 => return Err(FieldError::new(field("amount"), "must be more than zero")),
            Some(amount) => {
                let tax = if line.net > 0 { (i128::from(line.tax) * i128::from(amount) / i128::from(line.net)) as i64 } else { 0 };
                (amount, tax.min(line.tax - line.refunded_tax))
            }
        };
        let tax = tax.min(line.tax - line.refunded_tax).max(0);
        if line.refunded_net + net > line.net {
            let left = line.net - line.refunded_net;
            return Err(FieldError::new(
                field(if a.amount.is_some() { "amount" } else { "quantity" }),
                format!("line {} has {left} (minor units) left to refund of what was paid", line.line),
            ));
        }
        line.refunded_units = units_after;
        line.refunded_net += net;
        line.refunded_tax += tax;
        out.push(RefundLine { line: line.line, quantity: a.quantity, net, tax });
    }
    Ok(out)
}

/// A return as people and systems see it, with its lines, its refunds and its claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rma {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub status: ReturnStatus,
    /// api, dashboard or channel.
    pub source: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Why a person had to decide, or why it was let in outside the window.
    pub review_reason: Option<String>,
    /// `policy` when the channel's policy authorised it.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    /// When the goods are due back; later, the return is overdue.
    pub due_back_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// Where it was received.
    pub location: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The replacement order sent for it.
    pub replacement_order: Option<uuid::Uuid>,
    pub lines: Vec<RmaLine>,
    pub refunds: Vec<Refund>,
    pub claims: Vec<SupplierClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RmaLine {
    /// The order line it returns.
    pub line: i64,
    pub sku: String,
    pub quantity: i64,
    pub reason: String,
    pub received: i64,
    /// restock, refurbish, dispose or supplier_claim, once inspected.
    pub disposition: Option<String>,
    pub note: Option<String>,
}

/// Money paid back on an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    pub id: uuid::Uuid,
    pub order_id: uuid::Uuid,
    pub return_id: Option<uuid::Uuid>,
    pub currency: String,
    /// Decimal string, such as "12.90".
    pub shipping: String,
    /// Lines' net and tax and the shipping, as a decimal string.
    pub total: String,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<RefundedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundedLine {
    pub line: i64,
    pub quantity: i64,
    pub net: String,
    pub tax: String,
}

/// Where a claim on a supplier stands: open until the supplier credits or refuses it, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Open,
    Credited,
    Refused,
}
named!(ClaimStatus, "a claim status", { Open => "open", Credited => "credited", Refused => "refused" });

impl ClaimStatus {
    pub fn can_become(self, next: ClaimStatus) -> bool {
        matches!((self, next), (ClaimStatus::Open, ClaimStatus::Credited | ClaimStatus::Refused))
    }
}

/// A claim on a supplier for goods it is liable for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupplierClaim {
    pub id: uuid::Uuid,
    pub return_id: uuid::Uuid,
    pub line: i64,
    pub sku: String,
    pub supplier: Option<String>,
    pub quantity: i64,
    /// Their cost, in the base currency, as a decimal string.
    pub value: String,
    pub evidence: String,
    pub status: ClaimStatus,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub settled_by: Option<String>,
}

/// Units shipped and returned under one key (a channel, a SKU, a reason, a week), and the
/// return rate in basis points of what shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnRate {
    pub key: String,
    pub shipped: i64,
    pub returned: i64,
    /// Returned per 10,000 shipped; none when nothing shipped.
    pub rate_bp: Option<i64>,
}

/// Return rates over a period, by channel, by SKU, by reason and by week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnReport {
    pub shipped: i64,
    pub returned: i64,
    pub by_channel: Vec<ReturnRate>,
    /// The SKUs with the most returned units first.
    pub by_sku: Vec<ReturnRate>,
    /// Units returned for each reason; `shipped` is the period's total.
    pub by_reason: Vec<ReturnRate>,
    /// Weeks from Monday, oldest first.
    pub by_week: Vec<ReturnRate>,
}

/// Units of a SKU shipped through a channel on a day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedDay {
    pub channel: String,
    pub sku: String,
    pub day: String,
    pub units: i64,
}

/// Units of a SKU asked back for one reason through a channel on a day (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedDay {
    pub channel: String,
    pub sku: String,
    pub reason: String,
    pub day: String,
    pub units: i64,
}

fn rate(key: String, shipped: i64, returned: i64) -> ReturnRate {
    ReturnRate { key, shipped, returned, rate_bp: (shipped > 0).then(|| returned * 10_000 / shipped) }
}

/// The Monday of the week `day` (`YYYY-MM-DD`) falls in; the day itself when it is no date.
fn week_of(day: &str) -> String {
    use chrono::Datelike;
    match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(date) => (date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()))).to_string(),
        Err(_) => day.to_owned(),
    }
}

/// Return rates from what shipped and what came back in a period, a return counted in the
/// week it was asked for.
pub fn return_report(shipped: &[ShippedDay], returned: &[ReturnedDay]) -> ReturnReport {
    use std::collections::BTreeMap;
    let mut by_channel: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut by_sku: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut by_reason: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_week: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ShippedDay { channel, sku, day, units } in shipped {
        by_channel.entry(channel.clone()).or_default().0 += units;
        by_sku.entry(sku.clone()).or_default().0 += units;
        by_week.entry(week_of(day)).or_default().0 += units;
    }
    for ReturnedDay { channel, sku, reason, day, units } in returned {
        by_channel.entry(channel.clone()).or_default().1 += units;
        by_sku.entry(sku.clone()).or_default().1 += units;
        *by_reason.entry(reason.clone()).or_default() += units;
        by_week.entry(week_of(day)).or_default().1 += units;
    }
    let total_shipped: i64 = shipped.iter().map(|s| s.units).sum();
    let total_returned: i64 = returned.iter().map(|r| r.units).sum();
    let mut skus: Vec<ReturnRate> = by_sku.into_iter().map(|(k, (s, r))| rate(k, s, r)).collect();
    skus.sort_by(|a, b| b.returned.cmp(&a.returned).then_with(|| a.key.cmp(&b.key)));
    let mut reasons: Vec<ReturnRate> = by_reason.into_iter().map(|(k, r)| rate(k, total_shipped, r)).collect();
    reasons.sort_by(|a, b| b.returned.cmp(&a.returned).then_with(|| a.key.cmp(&b.key)));
    ReturnReport {
        shipped: total_shipped,
        returned: total_returned,
        by_channel: by_channel.into_iter().map(|(k, (s, r))| rate(k, s, r)).collect(),
        by_sku: skus,
        by_reason: reasons,
        by_week: by_week.into_iter().map(|(k, (s, r))| rate(k, s, r)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(day: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc()
    }

    #[test]
    fn the_policy_authorises_inside_its_window_and_asks_a_person_otherwise() {
        let policy = ReturnPolicy { max_auto_value_minor: Some(50_000), ..ReturnPolicy::default() };
        assert_eq!(policy.decide(at(1), at(20), &[ReturnReason::Damaged], 10_000), PolicyDecision::Authorize);
        assert!(matches!(policy.decide(at(1), at(20), &[ReturnReason::Other], 10_000), PolicyDecision::Review(_)));
        assert!(matches!(policy.decide(at(1), at(20), &[ReturnReason::Damaged], 60_000), PolicyDecision::Review(_)));
        let short = ReturnPolicy { window_days: 7, ..ReturnPolicy::default() };
        assert_eq!(short.decide(at(1), at(10), &[ReturnReason::Damaged], 1), PolicyDecision::OutsideWindow { days_late: 2 });
    }

    #[test]
    fn a_return_moves_only_forward() {
        use ReturnStatus::*;
        assert!(Requested.can_become(Authorized));
        assert!(Received.can_become(Inspected));
        for (from, to) in [(Requested, Received), (Rejected, Authorized), (Closed, Received), (Inspected, Received)] {
            assert!(from.become_(to).is_err(), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn return_rates_add_up_by_every_key() {
        let s = |c: &str, k: &str, d: &str, u: i64| ShippedDay { channel: c.to_owned(), sku: k.to_owned(), day: d.to_owned(), units: u };
        let r = |c: &str, k: &str, why: &str, d: &str, u: i64| ReturnedDay {
            channel: c.to_owned(),
            sku: k.to_owned(),
            reason: why.to_owned(),
            day: d.to_owned(),
            units: u,
        };
        let shipped = [s("amazon", "MUG", "2026-11-23", 80), s("web", "MUG", "2026-11-24", 20), s("web", "VASE", "2026-11-30", 50)];
        let returned = [r("amazon", "MUG", "damaged", "2026-11-25", 8), r("web", "VASE", "no_longer_wanted", "2026-12-01", 5)];
        let report = return_report(&shipped, &returned);
        assert_eq!((report.shipped, report.returned), (150, 13));
        assert_eq!(report.by_channel[0], rate("amazon".into(), 80, 8));
        assert_eq!(report.by_channel[0].rate_bp, Some(1000));
        assert_eq!(report.by_sku[0].key, "MUG");
        assert_eq!(report.by_reason[0], rate("damaged".into(), 150, 8));
        let weeks: Vec<&str> = report.by_week.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(weeks, ["2026-11-23", "2026-11-30"]);
        assert_eq!((report.by_week[1].shipped, report.by_week[1].returned), (50, 5));
    }

    fn line() -> PaidLine {
        PaidLine { line: 1, quantity: 3, shipped: 3, net: 1000, tax: 190, refunded_units: 0, refunded_net: 0, refunded_tax: 0 }
    }

    #[test]
    fn units_refund_their_share_and_the_shares_add_up() {
        let asked = [AskedRefund { line: 1, quantity: 1, amount: None }, AskedRefund { line: 1, quantity: 2, amount: None }];
        let refunded = refund_lines(&[line()], &asked).unwrap();
        assert_eq!(refunded.iter().map(|r| r.net).sum::<i64>(), 1000);
        assert_eq!(refunded.iter().map(|r| r.tax).sum::<i64>(), 190);
        let more = refund_lines(&[line()], &[AskedRefund { line: 1, quantity: 4, amount: None }]);
        assert_eq!(more.unwrap_err().field, "lines[0].quantity");
    }

    #[test]
    fn an_amount_never_takes_a_line_past_what_was_paid() {
        let half = PaidLine { refunded_net: 600, refunded_tax: 114, refunded_units: 0, ..line() };
        assert!(refund_lines(&[half], &[AskedRefund { line: 1, quantity: 0, amount: Some(400) }]).is_ok());
        let error = refund_lines(&[half], &[AskedRefund { line: 1, quantity: 0, amount: Some(401) }]).unwrap_err();
        assert_eq!(error.field, "lines[0].amount");
        assert_eq!(refund_lines(&[line()], &[AskedRefund { line: 9, quantity: 1, amount: None }]).unwrap_err().field, "lines[0].line");
    }

    proptest! {
        /// However refunds are asked for, in whatever pieces, a line never gets back more than
        /// was paid for it.
        #[test]
        fn refunds_never_exceed_what_was_paid(
            quantity in 1i64..6,
            net in 0i64..100_000,
            tax_rate in 0i64..30,
            asks in proptest::collection::vec((0i64..4, proptest::option::of(1i64..50_000)), 1..12),
        ) {
            let mut paid = PaidLine { line: 1, quantity, shipped: quantity, net, tax: net * tax_rate / 100, refunded_units: 0, refunded_net: 0, refunded_tax: 0 };
            for (units, amount) in asks {
                if let Ok(lines) = refund_lines(&[paid], &[AskedRefund { line: 1, quantity: units, amount }]) {
                    for l in lines {
                        paid.refunded_units += l.quantity;
                        paid.refunded_net += l.net;
                        paid.refunded_tax += l.tax;
                    }
                }
                prop_assert!(paid.refunded_net <= paid.net);
                prop_assert!(paid.refunded_tax <= paid.tax);
                prop_assert!(paid.refunded_units <= paid.shipped);
                prop_assert!(paid.refunded_tax >= 0 && paid.refunded_net >= 0);
            }
        }
    }
}
