//! The demo's customer service: returns in each channel's mix of reasons, inspected into every
//! disposition and refunded or replaced; helpdesk tickets, some left to run past their time;
//! and the outbox delivering to an endpoint that fails now and then, and to one that is gone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Seed;
use ordo_app::{Actor, AppResult, Courier, InspectedLine, NewRefund, NewReturn, NewReturnLine, NewTicket, Ordo, ReceivedLine};

/// What the desk did over the demo.
#[derive(Debug, Clone, Default)]
pub struct ServiceSummary {
    pub returns: u64,
    /// Authorised by the channel's policy without a person.
    pub authorized_by_policy: u64,
    pub rejected: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub dispositions: BTreeMap<String, u64>,
    pub refunds: u64,
    pub replacements: u64,
    pub tickets: u64,
    pub tickets_solved: u64,
    pub attachments: u64,
    pub delivered: u64,
    /// Tries that failed and were retried later.
    pub retried: u64,
    pub dead: u64,
}

/// A step the desk takes on its day.
enum Step {
    Ask { order: Uuid, channel: String },
    Decide(Uuid),
    ShipBack(Uuid),
    Receive(Uuid),
    Inspect(Uuid),
    Solve(Uuid),
}

/// The old ERP's address: nothing listens there any more, so its messages end as dead letters.
pub(crate) const GONE_ENDPOINT: &str = "http://127.0.0.1:9/ordo";

/// A PNG's signature and header: enough for a photo of a damaged parcel to pass the checks.
const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde";

pub(crate) struct Desk {
    /// The desk's own dice, so service does not change what trading draws.
    seed: Seed,
    steps: Vec<(DateTime<Utc>, Step)>,
    courier: Courier,
    service: Actor,
    finance: Actor,
    warehouse: Actor,
    tracking: u64,
    pub(crate) summary: ServiceSummary,
}

/// Units returned per 1,000 delivered parcels, and the reasons in their mix, per channel.
fn channel_mix(channel: &str) -> (i64, &'static [(&'static str, i64)]) {
    match channel {
        "amazon" => (90, &[("no_longer_wanted", 35), ("not_as_described", 25), ("damaged", 15), ("defective", 10), ("wrong_item", 10), ("late_delivery", 5)]),
        "wayfair" => (120, &[("damaged", 35), ("not_as_described", 25), ("no_longer_wanted", 20), ("defective", 10), ("wrong_item", 10)]),
        "b2b" => (20, &[("damaged", 60), ("wrong_item", 40)]),
        _ => (70, &[("no_longer_wanted", 40), ("damaged", 20), ("wrong_item", 15), ("defective", 10), ("other", 15)]),
    }
}

/// What inspection finds, by the reason the customer gave.
fn disposition_mix(reason: &str) -> &'static [(&'static str, i64)] {
    match reason {
        "damaged" => &[("dispose", 50), ("supplier_claim", 30), ("refurbish", 20)],
        "defective" => &[("supplier_claim", 70), ("dispose", 30)],
        "not_as_described" => &[("restock", 60), ("refurbish", 40)],
        "wrong_item" => &[("restock", 100)],
        _ => &[("restock", 85), ("refurbish", 15)],
    }
}

fn pick(seed: &mut Seed, mix: &[(&'static str, i64)]) -> &'static str {
    let total: i64 = mix.iter().map(|(_, w)| w).sum();
    let mut roll = seed.between(1, total.max(1));
    for (value, weight) in mix {
        if roll <= *weight {
            return value;
        }
        roll -= weight;
    }
    mix.first().map_or("other", |(v, _)| v)
}

impl Desk {
    pub(crate) fn new(webhooks: std::sync::Arc<dyn ordo_app::WebhookClient>) -> Desk {
        let actor = Actor::system_as;
        Desk {
            seed: Seed(6_2026),
            steps: Vec::new(),
            courier: Courier::new("demo", None, webhooks),
            service: actor("demo-service", ordo_domain::access::Role::Service),
            finance: actor("demo-finance", ordo_domain::access::Role::Finance),
            warehouse: actor("demo-warehouse", ordo_domain::access::Role::Warehouse),
            tracking: 0,
            summary: ServiceSummary::default(),
        }
    }

    fn at(&mut self, when: DateTime<Utc>, step: Step) {
        self.steps.push((when, step));
    }

    /// A parcel reached its customer: some of them come back.
    pub(crate) fn delivered(&mut self, order: Uuid, channel: &str, now: DateTime<Utc>) {
        let (per_mille, _) = channel_mix(channel);
        if self.seed.between(1, 1000) <= per_mille {
            let when = now + Duration::days(self.seed.between(1, 6)) + Duration::minutes(self.seed.between(0, 240));
            self.at(when, Step::Ask { order, channel: channel.to_owned() });
        }
    }

    /// A return was asked for: it ships back if the policy authorised it, else waits for a
    /// person to decide.
    fn follow_up(&mut self, id: Uuid, authorized: bool, reason: &str, now: DateTime<Utc>) {
        self.summary.returns += 1;
        *self.summary.by_reason.entry(reason.to_owned()).or_default() += 1;
        if authorized {
            self.summary.authorized_by_policy += 1;
            self.at(now + Duration::days(1), Step::ShipBack(id));
        } else {
            let wait = Duration::hours(self.seed.between(3, 20));
            self.at(now + wait, Step::Decide(id));
        }
    }

    /// Customers of `orders` send a unit of `sku` back, all for `reason`: the planted return
    /// spike. How many returns were asked for.
    pub(crate) async fn complain(&mut self, ordo: &Ordo, orders: &[Uuid], sku: &str, reason: &str) -> AppResult<usize> {
        let mut asked = 0;
        for order in orders {
            let placed = ordo.orders().order(*order).await?;
            let Some(line) = placed.lines.iter().find(|l| l.sku == sku && !l.kit && l.shipped > 0) else { continue };
            let new = NewReturn {
                order_id: *order,
                lines: vec![NewReturnLine { line: line.line, quantity: 1, reason: reason.into() }],
                source: "channel".into(),
                override_window: None,
            };
            if let Ok(rma) = ordo.returns().request_return(new, &self.service).await {
                self.follow_up(rma.id, rma.status == ordo_domain::returns::ReturnStatus::Authorized, reason, ordo.now());
                asked += 1;
            }
        }
        Ok(asked)
    }

    /// A customer or two write to ask where a parcel on its way is.
    pub(crate) async fn customers_ask(&mut self, ordo: &Ordo, travelling: &[Uuid]) -> AppResult<()> {
        for _ in 0..self.seed.between(0, 2) {
            if travelling.is_empty() {
                break;
            }
            let order = travelling[self.seed.between(0, travelling.len() as i64 - 1) as usize];
            self.where_is_my_order(ordo, order, ordo.now()).await?;
        }
        Ok(())
    }

    async fn where_is_my_order(&mut self, ordo: &Ordo, order: Uuid, now: DateTime<Utc>) -> AppResult<()> {
        let placed = ordo.orders().order(order).await?;
        let new = NewTicket {
            channel: Some(placed.channel.clone()),
            reason: "where_is_my_order".into(),
            priority: if self.seed.between(1, 4) == 1 { "high" } else { "normal" }.into(),
            subject: format!("Where is order {}?", placed.external_id),
            customer_email: placed.customer.email.clone(),
            order_id: Some(order),
            return_id: None,
            body: "It has been a few days; can you tell me when it arrives?".into(),
        };
        let ticket = ordo.helpdesk().open_ticket(new, &self.service).await?;
        self.summary.tickets += 1;
        // Most are answered within the day; a few wait too long.
        if self.seed.between(1, 100) <= 85 {
            let wait = Duration::hours(self.seed.between(2, 7));
            self.at(now + wait, Step::Solve(ticket.ticket.id));
        }
        Ok(())
    }

    /// Takes every step due by `now`, in order, each at its own time.
    pub(crate) async fn work(&mut self, ordo: &Ordo, now: DateTime<Utc>) -> AppResult<()> {
        self.steps.sort_by_key(|(when, _)| *when);
        let due = self.steps.iter().take_while(|(when, _)| *when <= now).count();
        let steps: Vec<(DateTime<Utc>, Step)> = self.steps.drain(..due).collect();
        for (when, step) in steps {
            ordo.clock().set(when.max(ordo.now()));
            self.take(ordo, step).await?;
        }
        ordo.clock().set(now.max(ordo.now()));
        Ok(())
    }

    async fn take(&mut self, ordo: &Ordo, step: Step) -> AppResult<()> {
        let now = ordo.now();
        match step {
            Step::Ask { order, channel } => {
                let placed = ordo.orders().order(order).await?;
                let (_, reasons) = channel_mix(&channel);
                let returnable: Vec<_> = placed.lines.iter().filter(|l| !l.kit && l.shipped > 0).collect();
                if returnable.is_empty() {
                    return Ok(());
                }
                let line = returnable[self.seed.between(0, returnable.len() as i64 - 1) as usize];
                let reason = pick(&mut self.seed, reasons);
                let quantity = self.seed.between(1, line.shipped.min(3));
                let new = NewReturn {
                    order_id: order,
                    lines: vec![NewReturnLine { line: line.line, quantity, reason: reason.into() }],
                    source: if channel == "web" { "dashboard" } else { "channel" }.into(),
                    override_window: None,
                };
                let Ok(rma) = ordo.returns().request_return(new, &self.service).await else { return Ok(()) };
                self.follow_up(rma.id, rma.status == ordo_domain::returns::ReturnStatus::Authorized, reason, now);
                if reason == "damaged" && self.seed.between(1, 3) == 1 {
                    let new = NewTicket {
                        channel: Some(channel.clone()),
                        reason: "damaged_item".into(),
                        priority: "high".into(),
                        subject: format!("Arrived broken: order {}", placed.external_id),
                        customer_email: placed.customer.email.clone(),
                        order_id: Some(order),
                        return_id: Some(rma.id),
                        body: "The box was crushed and the item is broken. Photo attached.".into(),
                    };
                    let ticket = ordo.helpdesk().open_ticket(new, &self.service).await?;
                    self.summary.tickets += 1;
                    let subject = format!("ticket:{}", ticket.ticket.id);
                    if ordo.helpdesk().attach(&subject, "parcel.png", "image/png", PHOTO, &self.service).await.is_ok() {
                        self.summary.attachments += 1;
                    }
                    let wait = Duration::hours(self.seed.between(1, 30));
                    self.at(now + wait, Step::Solve(ticket.ticket.id));
                }
            }
            Step::Decide(id) => {
                let authorize = self.seed.between(1, 100) <= 80;
                let note = if authorize { "goodwill for a returning customer" } else { "used and outside what we take back" };
                ordo.returns().decide_return(id, authorize, note, &self.service).await?;
                if authorize {
                    self.at(now + Duration::days(1), Step::ShipBack(id));
                } else {
                    self.summary.rejected += 1;
                }
            }
            Step::ShipBack(id) => {
                // One in ten never sends it: it turns overdue.
                if self.seed.between(1, 10) > 1 {
                    self.tracking += 1;
                    ordo.returns().return_in_transit(id, "DHL", &format!("RT{:07}", self.tracking), &self.service).await?;
                    let wait = Duration::days(self.seed.between(2, 4));
                    self.at(now + wait, Step::Receive(id));
                }
            }
            Step::Receive(id) => {
                let rma = ordo.returns().return_detail(id).await?;
                let received: Vec<ReceivedLine> = rma.lines.iter().map(|l| ReceivedLine { line: l.line, quantity: l.quantity }).collect();
                ordo.returns().receive_return(id, "central", &received, &self.warehouse).await?;
                let wait = Duration::hours(self.seed.between(2, 24));
                self.at(now + wait, Step::Inspect(id));
            }
            Step::Inspect(id) => self.inspect_and_settle(ordo, id).await?,
            Step::Solve(ticket) => {
                ordo.helpdesk().comment_on_ticket(ticket, "Sorted: see the tracking link we sent.", false, &self.service).await?;
                ordo.helpdesk().set_ticket_status(ticket, "solved", &self.service).await?;
                self.summary.tickets_solved += 1;
            }
        }
        Ok(())
    }

    /// Inspects a received return, then refunds it or, for a wrong item, sends the right one.
    async fn inspect_and_settle(&mut self, ordo: &Ordo, id: Uuid) -> AppResult<()> {
        let rma = ordo.returns().return_detail(id).await?;
        let mut inspected = Vec::new();
        for line in &rma.lines {
            let disposition = pick(&mut self.seed, disposition_mix(&line.reason));
            *self.summary.dispositions.entry(disposition.to_owned()).or_default() += 1;
            inspected.push(InspectedLine {
                line: line.line,
                disposition: disposition.into(),
                note: format!("{} on inspection", line.reason.replace('_', " ")),
                supplier: (disposition == "supplier_claim").then(|| super::buying::supplier_of(&line.sku).to_owned()),
            });
        }
        ordo.returns().inspect_return(id, &inspected, &self.warehouse).await?;
        if rma.lines.iter().any(|l| l.reason == "wrong_item") {
            ordo.returns().send_replacement(id, &self.service).await?;
            self.summary.replacements += 1;
        } else {
            let lines = rma.lines.iter().map(|l| ordo_app::NewRefundLine { line: l.line, quantity: l.received, amount: None }).collect();
            let refund = NewRefund { return_id: Some(id), lines, shipping: None, reason: "returned goods".into(), channel_refund: None };
            if ordo.returns().refund(rma.order_id, refund, &self.finance).await.is_ok() {
                self.summary.refunds += 1;
            }
        }
        ordo.returns().close_return(id, "settled", &self.service).await?;
        Ok(())
    }

    /// Delivers what the outbox holds due, round after round until nothing is due.
    pub(crate) async fn deliver(&mut self, ordo: &Ordo) -> AppResult<()> {
        for _ in 0..10_000 {
            let round = ordo.outbox().deliver_due(&self.courier, 200).await?;
            self.summary.delivered += round.delivered as u64;
            self.summary.retried += round.failed as u64;
            self.summary.dead += round.dead as u64;
            if round.claimed == 0 {
                break;
            }
        }
        Ok(())
    }
}
