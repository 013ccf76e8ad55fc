//! The operating figures a manager reads first (fill rate, shipping on time, backlog, blocked
//! orders, open exceptions, channel sync, margin) and their trend day by day: pure arithmetic
//! over daily counts that storage gathers.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::access::Role;
use crate::ledger::{margins, KeyedTotal, Margin};
use crate::procurement::Position;
use crate::money::Total;

/// How many days a trend covers, today included.
pub const TREND_DAYS: u32 = 30;

/// The `n` UTC days that end with `today`, oldest first.
pub fn trend_days(today: NaiveDate, n: u32) -> Vec<NaiveDate> {
    (0..i64::from(n)).rev().filter_map(|back| today.checked_sub_signed(chrono::Duration::days(back))).collect()
}

/// `part` of `whole` in basis points (10,000 is all); none when there is no whole.
pub fn share_bp(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (i128::from(part) * 10_000 / i128::from(whole)) as i64)
}

/// What happened on one day to a set of things: how many came in and how many went out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    pub entered: i64,
    pub left: i64,
}

/// The level at the end of each of `days` (oldest first, the last being today), worked back
/// from the level `now`: yesterday's end was today's end less what entered today plus what
/// left it. Never below zero, whatever flows a partial history holds.
pub fn levels(days: &[NaiveDate], now: i64, flows: &BTreeMap<NaiveDate, Flow>) -> Vec<i64> {
    let mut level = now;
    let mut out: Vec<i64> = days
        .iter()
        .rev()
        .map(|day| {
            let at_end = level.max(0);
            let flow = flows.get(day).copied().unwrap_or_default();
            level = level - flow.entered + flow.left;
            at_end
        })
        .collect();
    out.reverse();
    out
}

/// A share per day from (part, whole) counts by day, and the share over all of `days`.
pub fn daily_shares(days: &[NaiveDate], counts: &BTreeMap<NaiveDate, (i64, i64)>) -> (Option<i64>, Vec<Option<i64>>) {
    let (mut part, mut whole) = (0, 0);
    let trend = days
        .iter()
        .map(|day| {
            let (p, w) = counts.get(day).copied().unwrap_or_default();
            part += p;
            whole += w;
            share_bp(p, w)
        })
        .collect();
    (share_bp(part, whole), trend)
}

/// Contribution per day and over all of `days`, from account totals by (day, channel), and
/// each channel's revenue per day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyMargins {
    /// Over the whole window.
    pub total: Margin,
    /// Contribution margin in basis points of revenue, per day; none on a day without revenue.
    pub trend_bp: Vec<Option<i64>>,
    /// Each channel's sales and shipping income per day, channels in name order.
    pub revenue_by_channel: BTreeMap<String, Vec<Total>>,
}

pub fn daily_margins(days: &[NaiveDate], totals: &[(NaiveDate, KeyedTotal)]) -> DailyMargins {
    let index: BTreeMap<NaiveDate, usize> = days.iter().enumerate().map(|(i, day)| (*day, i)).collect();
    let mut by_day: Vec<Vec<KeyedTotal>> = vec![Vec::new(); days.len()];
    for (day, total) in totals {
        if let Some(i) = index.get(day) {
            by_day[*i].push(total.clone());
        }
    }
    let mut out = DailyMargins::default();
    for (i, day_totals) in by_day.iter().enumerate() {
        let by_channel = margins(day_totals);
        let mut day = Margin::default();
        for channel in &by_channel {
            out.revenue_by_channel.entry(channel.key.clone()).or_insert_with(|| vec![0; days.len()])[i] = channel.revenue;
            add(&mut day, channel);
        }
        add(&mut out.total, &day);
        out.trend_bp.push(day.margin_bp());
    }
    out
}

fn add(sum: &mut Margin, m: &Margin) {
    sum.revenue += m.revenue;
    sum.refunds += m.refunds;
    sum.cost_of_goods += m.cost_of_goods;
    sum.fees += m.fees;
    sum.shipping_cost += m.shipping_cost;
}

/// Audit actions that change what moves money or stock after a second person said yes.
pub const APPROVED_BY_A_SECOND_PERSON: [&str; 2] = ["change_request.approve", "rule.approve"];

/// Audit actions that change what moves money or stock on one person's word: routing, buffers,
/// rates, taxes, policies, supplier terms, kits, promotions, new listings.
pub const CHANGED_BY_ONE_PERSON: [&str; 12] = [
    "channel.set_buffer",
    "channel.set_routing",
    "exchange_rate.import",
    "exchange_rate.set",
    "listing.create",
    "location.set_shipping_methods",
    "product.set_kit",
    "promotion.create",
    "return_policy.set",
    "supplier.terms",
    "supplier_sku.set",
    "tax_rate.set",
];

/// Process compliance from a period's audit actions and their counts: the changes approved by
/// a second person, and those made by one.
pub fn compliance(actions: &[(String, i64)]) -> (i64, i64) {
    let count = |names: &[&str]| actions.iter().filter(|(action, _)| names.contains(&action.as_str())).map(|(_, n)| n).sum::<i64>();
    (count(&APPROVED_BY_A_SECOND_PERSON), count(&CHANGED_BY_ONE_PERSON))
}

/// A queue one role works from, counted on its overview: what the floor has to pick, what
/// service owes customers, what procurement waits for, what finance must explain, what the
/// integrator must fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkQueue {
    /// Order lines allocated to a location and not yet shipped.
    LinesToPick,
    /// Orders with lines allocated and not yet shipped: the parcels to pack.
    ParcelsToPack,
    /// Waves released and not yet closed (open or picked).
    WavesOpen,
    /// Unresolved `late_shipment` exceptions.
    LateShipments,
    /// Tickets open or waiting for the customer.
    TicketsOpen,
    /// Open or pending tickets past their due time.
    TicketsOverdue,
    /// Returns on their way back, to be received.
    ReturnsToReceive,
    /// Returns received, to be inspected.
    ReturnsToInspect,
    /// Purchase orders sent and past their expected date.
    PurchaseOrdersLate,
    /// Active SKUs with no unit free to sell anywhere.
    SkusOutOfStock,
    /// SKUs the replenishment run proposes to reorder (below their reorder point), undecided.
    SkusToReorder,
    /// Unresolved `reconciliation` exceptions: settlement breaks.
    ReconciliationBreaks,
    /// Unresolved `payment_review` exceptions: orders held for review.
    PaymentReviews,
    /// Channel deliveries that could not be made into orders, waiting in the inbox.
    DeliveriesWaiting,
    /// Connected channels whose deliveries, polls or pushes fail.
    ChannelsFailing,
}

impl WorkQueue {
    pub const ALL: [WorkQueue; 15] = [
        WorkQueue::LinesToPick,
        WorkQueue::ParcelsToPack,
        WorkQueue::WavesOpen,
        WorkQueue::LateShipments,
        WorkQueue::TicketsOpen,
        WorkQueue::TicketsOverdue,
        WorkQueue::ReturnsToReceive,
        WorkQueue::ReturnsToInspect,
        WorkQueue::PurchaseOrdersLate,
        WorkQueue::SkusOutOfStock,
        WorkQueue::SkusToReorder,
        WorkQueue::ReconciliationBreaks,
        WorkQueue::PaymentReviews,
        WorkQueue::DeliveriesWaiting,
        WorkQueue::ChannelsFailing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkQueue::LinesToPick => "lines_to_pick",
            WorkQueue::ParcelsToPack => "parcels_to_pack",
            WorkQueue::WavesOpen => "waves_open",
            WorkQueue::LateShipments => "late_shipments",
            WorkQueue::TicketsOpen => "tickets_open",
            WorkQueue::TicketsOverdue => "tickets_overdue",
            WorkQueue::ReturnsToReceive => "returns_to_receive",
            WorkQueue::ReturnsToInspect => "returns_to_inspect",
            WorkQueue::PurchaseOrdersLate => "purchase_orders_late",
            WorkQueue::SkusOutOfStock => "skus_out_of_stock",
            WorkQueue::SkusToReorder => "skus_to_reorder",
            WorkQueue::ReconciliationBreaks => "reconciliation_breaks",
            WorkQueue::PaymentReviews => "payment_reviews",
            WorkQueue::DeliveriesWaiting => "deliveries_waiting",
            WorkQueue::ChannelsFailing => "channels_failing",
        }
    }

    /// The role whose work the queue is.
    pub fn owner(self) -> Role {
        use WorkQueue::*;
        match self {
            LinesToPick | ParcelsToPack | WavesOpen | LateShipments => Role::Warehouse,
            TicketsOpen | TicketsOverdue | ReturnsToReceive | ReturnsToInspect => Role::Service,
            PurchaseOrdersLate | SkusOutOfStock | SkusToReorder => Role::Procurement,
            ReconciliationBreaks | PaymentReviews => Role::Finance,
            DeliveriesWaiting | ChannelsFailing => Role::Integration,
        }
    }

    /// The queues a role's overview counts: its own. An administrator sees every one;
    /// operations every one but finance's (the books are not theirs); a viewer none.
    pub fn for_role(role: Role) -> Vec<WorkQueue> {
        let mine = |q: &WorkQueue| match role {
            Role::Admin => true,
            Role::Ops => q.owner() != Role::Finance,
            Role::Viewer => false,
            role => q.owner() == role,
        };
        WorkQueue::ALL.into_iter().filter(mine).collect()
    }
}

/// How many things wait in one [`WorkQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCount {
    pub queue: WorkQueue,
    pub count: i64,
}

/// SKUs with no unit free to sell anywhere: on hand all reserved, or none at all.
/// The work queue counts them in SQL (storage's `Tx::queue_sizes`) by this same rule; the
/// storage conformance suite holds the two together.
pub fn out_of_stock(positions: &[Position]) -> i64 {
    positions.iter().filter(|p| p.on_hand - p.reserved <= 0).count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_trend_ends_today_and_goes_back_day_by_day() {
        let days = trend_days(day(30), 30);
        assert_eq!((days.len(), days[0], days[29]), (30, day(1), day(30)));
    }

    #[test]
    fn shares_are_basis_points_of_a_whole_that_exists() {
        assert_eq!(share_bp(1, 3), Some(3333));
        assert_eq!(share_bp(5, 5), Some(10_000));
        assert_eq!(share_bp(0, 0), None);
        let counts = BTreeMap::from([(day(2), (9, 10)), (day(3), (1, 10))]);
        let (all, trend) = daily_shares(&[day(1), day(2), day(3)], &counts);
        assert_eq!((all, trend), (Some(5000), vec![None, Some(9000), Some(1000)]));
    }

    #[test]
    fn compliance_counts_second_person_approvals_against_one_person_changes() {
        let actions = vec![
            ("change_request.approve".to_owned(), 3),
            ("rule.approve".to_owned(), 1),
            ("tax_rate.set".to_owned(), 2),
            ("order.receive".to_owned(), 500),
        ];
        assert_eq!(compliance(&actions), (4, 2));
        assert_eq!(share_bp(4, 4 + 2), Some(6666));
    }

    #[test]
    fn levels_are_worked_back_from_now() {
        // Today 4 open: 3 came in and 1 went out today, so 2 were open at yesterday's end.
        let flows = BTreeMap::from([(day(3), Flow { entered: 3, left: 1 }), (day(2), Flow { entered: 2, left: 0 })]);
        assert_eq!(levels(&[day(1), day(2), day(3)], 4, &flows), vec![0, 2, 4]);
    }

    #[test]
    fn margins_are_summed_per_day_and_revenue_kept_per_channel() {
        let total = |key: &str, account: &str, debit: Total, credit: Total| KeyedTotal { key: key.into(), account: account.into(), debit, credit };
        let totals = vec![
            (day(1), total("web", crate::ledger::SALES, 0, 10_000)),
            (day(1), total("web", crate::ledger::COST_OF_GOODS_SOLD, 6_000, 0)),
            (day(2), total("amazon", crate::ledger::SALES, 0, 5_000)),
            (day(2), total("amazon", crate::ledger::MARKETPLACE_FEES, 1_000, 0)),
            (day(9), total("web", crate::ledger::SALES, 0, 99_999)),
        ];
        let m = daily_margins(&[day(1), day(2), day(3)], &totals);
        assert_eq!(m.trend_bp, vec![Some(4000), Some(8000), None]);
        assert_eq!((m.total.revenue, m.total.contribution()), (15_000, 8_000), "days outside the window are left out");
        assert_eq!(m.revenue_by_channel["web"], vec![10_000, 0, 0]);
        assert_eq!(m.revenue_by_channel["amazon"], vec![0, 5_000, 0]);
    }


    #[test]
    fn each_role_counts_its_own_queues_and_not_another_s() {
        let warehouse = WorkQueue::for_role(Role::Warehouse);
        assert!(warehouse.contains(&WorkQueue::WavesOpen) && !warehouse.contains(&WorkQueue::TicketsOpen));
        assert!(WorkQueue::for_role(Role::Finance).iter().all(|q| q.owner() == Role::Finance));
        assert!(!WorkQueue::for_role(Role::Ops).contains(&WorkQueue::ReconciliationBreaks));
        assert_eq!(WorkQueue::for_role(Role::Admin).len(), WorkQueue::ALL.len());
        assert!(WorkQueue::for_role(Role::Viewer).is_empty());
        for role in [Role::Warehouse, Role::Service, Role::Procurement, Role::Finance, Role::Integration] {
            assert!(!WorkQueue::for_role(role).is_empty(), "{role:?} has queues of its own");
        }
    }

    #[test]
    fn a_sku_is_out_of_stock_when_nothing_on_hand_is_free() {
        let at = |on_hand, reserved| Position { on_hand, reserved, on_order: 5, backordered: 0 };
        assert_eq!(out_of_stock(&[at(0, 0), at(3, 3), at(4, 1)]), 2);
    }

    proptest! {
        /// Replaying the flows forward from the first day's level gives back every level, as
        /// long as none went below zero.
        #[test]
        fn levels_replay_their_flows(start in 0i64..50, moves in proptest::collection::vec((0i64..20, 0i64..20), 1..40)) {
            let days = trend_days(day(30), moves.len() as u32);
            let mut level = start;
            let mut flows = BTreeMap::new();
            let mut expected = Vec::new();
            for (d, (entered, left)) in days.iter().zip(&moves) {
                let left = (*left).min(level + entered);
                level = level + entered - left;
                flows.insert(*d, Flow { entered: *entered, left });
                expected.push(level);
            }
            prop_assert_eq!(levels(&days, level, &flows), expected);
        }

        #[test]
        fn a_share_is_between_none_and_all(part in 0i64..1_000_000, extra in 0i64..1_000_000) {
            let bp = share_bp(part, part + extra);
            prop_assert!(bp.is_none_or(|bp| (0..=10_000).contains(&bp)));
        }
    }
}
