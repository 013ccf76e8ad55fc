//! Marketplace settlements: a channel's report of what it paid out and why. Two shapes are
//! read: the Amazon-style V2 settlement flat file (tab-separated, a summary row, amounts signed
//! from the seller's side in the marketplace's number format) and a Shopify-style payout with
//! its balance transactions (JSON). Both become one [`Settlement`] whose lines each say what
//! kind of money they are, which decides the account they book to.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::Value;

use crate::ledger;
use crate::{Currency, Money};

/// Which report a settlement was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    AmazonV2,
    ShopifyPayout,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::AmazonV2 => "amazon-v2",
            Format::ShopifyPayout => "shopify-payout",
        }
    }
}

/// A settlement as the channel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub format: Format,
    /// The channel's id of the settlement or payout.
    pub id: String,
    pub currency: Currency,
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// When the money reaches the bank.
    pub deposit_date: NaiveDate,
    /// What is deposited: the sum of the lines.
    pub total: Money,
    pub lines: Vec<SettlementLine>,
}

/// One amount of a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementLine {
    /// Where it stands in the report: the file's line number (the header is line 1), or the
    /// transaction's position in the payout (from 1).
    pub row: usize,
    pub kind: LineKind,
    /// The channel's order id.
    pub order_ref: Option<String>,
    /// The channel's id of the order's line (Amazon's order-item-code).
    pub item_ref: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i64>,
    /// The report's own words for it, such as `Order/ItemFees/Commission`.
    pub description: String,
    /// Signed from the seller's side: positive is money to us.
    pub amount: Money,
}

/// What kind of money a settlement line is; it decides the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKind {
    /// What a buyer paid for an order (item price, tax, shipping, less promotions): it settles
    /// what the channel owes us for the order.
    Sale,
    /// Tax the marketplace collects and pays over itself.
    WithheldTax,
    /// Money given back to a buyer.
    Refund,
    /// Tax given back to a buyer.
    RefundTax,
    /// A marketplace's fee (commission, fulfilment, storage, advertising), or one given back.
    MarketplaceFee,
    /// A payment processor's fee or adjustment.
    PaymentFee,
    /// Funds held back (negative) or released (positive) by the marketplace.
    Reserve,
    /// Paid for stock the marketplace lost or damaged.
    Reimbursement,
    /// A kind this reader does not know: booked as a marketplace fee and raised for a person.
    Unclassified,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Sale => "sale",
            LineKind::WithheldTax => "withheld_tax",
            LineKind::Refund => "refund",
            LineKind::RefundTax => "refund_tax",
            LineKind::MarketplaceFee => "marketplace_fee",
            LineKind::PaymentFee => "payment_fee",
            LineKind::Reserve => "reserve",
            LineKind::Reimbursement => "reimbursement",
            LineKind::Unclassified => "unclassified",
        }
    }

    /// The account a line of this kind books against, opposite the bank.
    pub fn account(self, channel: &str) -> String {
        match self {
            LineKind::Sale => ledger::receivable(channel),
            LineKind::WithheldTax | LineKind::RefundTax => ledger::TAX_PAYABLE.to_owned(),
            LineKind::Refund => ledger::SALES_RETURNS.to_owned(),
            LineKind::MarketplaceFee | LineKind::Unclassified => ledger::MARKETPLACE_FEES.to_owned(),
            LineKind::PaymentFee => ledger::PAYMENT_FEES.to_owned(),
            LineKind::Reserve => ledger::MARKETPLACE_RESERVE.to_owned(),
            LineKind::Reimbursement => ledger::INVENTORY_WRITE_OFFS.to_owned(),
        }
    }

    /// Whether the line is a fee charged for an order.
    pub fn is_fee(self) -> bool {
        matches!(self, LineKind::MarketplaceFee | LineKind::PaymentFee)
    }
}

/// Why a report cannot be read. Nothing is imported when it cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error("line {line}, column {column}: {message}")]
    Cell { line: usize, column: String, message: String },
    #[error("missing column {0}")]
    MissingColumn(String),
    #[error("{0}")]
    Shape(String),
    #[error("the lines sum to {lines} but the report's total is {total}: a difference of {difference}")]
    DoesNotSum { lines: String, total: String, difference: String },
}

impl SettlementError {
    /// The part of the report at fault, as a field name for an API error.
    pub fn field(&self) -> String {
        match self {
            SettlementError::Cell { line, column, .. } => format!("line {line}, column {column}"),
            SettlementError::MissingColumn(column) => column.clone(),
            SettlementError::Shape(_) => "report".to_owned(),
            SettlementError::DoesNotSum { .. } => "total-amount".to_owned(),
        }
    }

    /// What is wrong, without the place [`SettlementError::field`] names.
    pub fn detail(&self) -> String {
        match self {
            SettlementError::Cell { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A report's text from its bytes: UTF-8 when they are, else Latin-1 (ISO 8859-1), the
/// encoding European marketplaces write their flat files in.
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

/// Reads a settlement report, telling the two shapes apart by their content: JSON is a
/// Shopify-style payout, anything else an Amazon-style V2 flat file. A report whose lines do
/// not sum to its total is refused with the difference.
pub fn parse(content: &str) -> Result<Settlement, SettlementError> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let settlement = if content.trim_start().starts_with('{') { parse_shopify(content)? } else { parse_amazon_v2(content)? };
    let sum = settlement
        .lines
        .iter()
        .try_fold(Money::zero(settlement.currency), |sum, line| sum.checked_add(line.amount))
        .map_err(|e| SettlementError::Shape(format!("the lines cannot be added up: {e}")))?;
    if sum != settlement.total {
        let difference = Money::from_minor(sum.minor() - settlement.total.minor(), settlement.currency);
        return Err(SettlementError::DoesNotSum {
            lines: sum.to_decimal_string(),
            total: settlement.total.to_decimal_string(),
            difference: difference.to_decimal_string(),
        });
    }
    Ok(settlement)
}

/// The columns of the V2 flat file, in their documented order; `promotion-id` may follow.
pub const AMAZON_V2_COLUMNS: [&str; 23] = [
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
];

/// Reads the Amazon-style V2 settlement flat file: a header, the summary row, then one row per
/// amount.
pub fn parse_amazon_v2(content: &str) -> Result<Settlement, SettlementError> {
    let mut rows = content.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate().map(|(i, l)| (i + 1, l));
    let (_, header) = rows.next().filter(|(_, h)| !h.trim().is_empty()).ok_or_else(|| SettlementError::Shape("the report is empty".into()))?;
    let header: Vec<&str> = header.split('\t').map(str::trim).collect();
    let index: HashMap<&str, usize> = header.iter().enumerate().map(|(i, name)| (*name, i)).collect();
    for column in AMAZON_V2_COLUMNS {
        if !index.contains_key(column) {
            return Err(SettlementError::MissingColumn(column.to_owned()));
        }
    }
    let mut data = rows.filter(|(_, l)| !l.trim().is_empty());
    let (summary_line, summary) =
        data.next().ok_or_else(|| SettlementError::Shape("the report has no summary row after its header".into()))?;
    let cells = Cells { line: summary_line, cells: summary.split('\t').collect(), index: &index };
    let id = cells.required("settlement-id")?.to_owned();
    let currency_code = cells.required("currency")?;
    let currency = Currency::from_code(currency_code).map_err(|e| cells.error("currency", e.to_string()))?;
    let total = cells.amount("total-amount", currency)?;
    let deposit_date = cells.date("deposit-date")?;
    let period = match (cells.optional("settlement-start-date"), cells.optional("settlement-end-date")) {
        (Some(_), Some(_)) => Some((cells.date("settlement-start-date")?, cells.date("settlement-end-date")?)),
        _ => None,
    };

    let mut lines = Vec::new();
    for (line, text) in data {
        let cells = Cells { line, cells: text.split('\t').collect(), index: &index };
        let row_id = cells.required("settlement-id")?;
        if row_id != id {
            return Err(cells.error("settlement-id", format!("is {row_id:?}, but the summary row's is {id:?}")));
        }
        let transaction = cells.required("transaction-type")?;
        let amount_type = cells.required("amount-type")?;
        let description = cells.required("amount-description")?;
        let amount = cells.amount("amount", currency)?;
        if cells.optional("posted-date").is_some() {
            cells.date("posted-date")?;
        }
        let quantity = match cells.optional("quantity-purchased") {
            Some(q) => Some(q.parse::<i64>().map_err(|_| cells.error("quantity-purchased", format!("{q:?} is not a whole number")))?),
            None => None,
        };
        lines.push(SettlementLine {
            row: line,
            kind: amazon_kind(transaction, amount_type, description),
            order_ref: cells.optional("order-id").map(str::to_owned),
            item_ref: cells.optional("order-item-code").map(str::to_owned),
            sku: cells.optional("sku").map(str::to_owned),
            quantity,
            description: format!("{transaction}/{amount_type}/{description}"),
            amount,
        });
    }
    Ok(Settlement { format: Format::AmazonV2, id, currency, period, deposit_date, total, lines })
}

/// One amount of a V2 flat file to write: what the demo's marketplaces and the benchmark send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Row {
    pub transaction: &'static str,
    /// Empty for the account's own lines (fees, reserves).
    pub order_id: String,
    pub amount_type: &'static str,
    pub description: &'static str,
    pub item_code: String,
    pub sku: String,
    pub amount: Money,
}

/// Writes the Amazon-style V2 flat file of settlement `id` over `period`, deposited on
/// `deposit`: the header, the summary row with the lines' total, then `rows`, amounts in the
/// US number format. [`parse_amazon_v2`] reads it back.
pub fn write_amazon_v2(id: &str, period: (NaiveDate, NaiveDate), deposit: NaiveDate, currency: Currency, rows: &[V2Row]) -> String {
    let total: i64 = rows.iter().map(|r| r.amount.minor()).sum();
    let (start, end) = period;
    let mut text = String::with_capacity(200 + rows.len() * 140);
    text.push_str(&AMAZON_V2_COLUMNS.join("\t"));
    let total = Money::from_minor(total, currency).to_decimal_string();
    text.push_str(&format!("\n{id}\t{start}\t{end}\t{deposit}\t{total}\t{currency}{}\n", "\t".repeat(17)));
    for r in rows {
        text.push_str(&format!(
            "{id}\t\t\t\t\t\t{}\t{}\t\t\t\tAmazon.com\t{}\t{}\t{}\tMFN\t{end}\t{end} 12:00:00 UTC\t{}\t\t\t{}\t1\n",
            r.transaction,
            r.order_id,
            r.amount_type,
            r.description,
            r.amount.to_decimal_string(),
            r.item_code,
            r.sku
        ));
    }
    text
}

/// What kind of money a V2 row is, from its transaction type, amount type and description.
fn amazon_kind(transaction: &str, amount_type: &str, description: &str) -> LineKind {
    let refund = transaction.to_ascii_lowercase().contains("refund");
    match amount_type {
        "ItemPrice" if refund && description.contains("Tax") => LineKind::RefundTax,
        "ItemPrice" | "Promotion" if refund => LineKind::Refund,
        "ItemPrice" | "Promotion" => LineKind::Sale,
        "ItemWithheldTax" => LineKind::WithheldTax,
        "ItemFees" | "Cost of Advertising" => LineKind::MarketplaceFee,
        "FBA Inventory Reimbursement" => LineKind::Reimbursement,
        "other-transaction" if description.contains("Reserve") => LineKind::Reserve,
        "other-transaction" => LineKind::MarketplaceFee,
        _ => LineKind::Unclassified,
    }
}

/// One row of the flat file, read by column name.
struct Cells<'a> {
    line: usize,
    cells: Vec<&'a str>,
    index: &'a HashMap<&'a str, usize>,
}

impl<'a> Cells<'a> {
    fn optional(&self, column: &str) -> Option<&'a str> {
        self.index.get(column).and_then(|i| self.cells.get(*i)).map(|c| c.trim()).filter(|c| !c.is_empty())
    }

    fn required(&self, column: &str) -> Result<&'a str, SettlementError> {
        self.optional(column).ok_or_else(|| self.error(column, "is empty".to_owned()))
    }

    fn error(&self, column: &str, message: String) -> SettlementError {
        SettlementError::Cell { line: self.line, column: column.to_owned(), message }
    }

    fn amount(&self, column: &str, currency: Currency) -> Result<Money, SettlementError> {
        let text = self.required(column)?;
        parse_amount(text, currency).map_err(|message| self.error(column, message))
    }

    fn date(&self, column: &str) -> Result<NaiveDate, SettlementError> {
        let text = self.required(column)?;
        parse_date(text).ok_or_else(|| self.error(column, format!("{text:?} is not a date")))
    }
}

/// Reads an amount in the marketplace's number format: `1234.56`, `1,234.56`, `1234,56` or
/// `1.234,56`. Where both separators appear the last is the decimal one; a lone separator
/// followed by exactly three digits groups thousands unless the currency has three decimals.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}').collect();
    let (sign, digits) = match compact.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", compact.strip_prefix('+').unwrap_or(&compact)),
    };
    let decimal = match (digits.rfind('.'), digits.rfind(',')) {
        (Some(dot), Some(comma)) => Some(if dot > comma { '.' } else { ',' }),
        (Some(at), None) | (None, Some(at)) => {
            let separator = digits.as_bytes()[at] as char;
            let repeated = digits.matches(separator).count() > 1;
            let groups_thousands = digits.len() - at - 1 == 3 && currency.decimals() != 3;
            if repeated || groups_thousands { None } else { Some(separator) }
        }
        (None, None) => None,
    };
    let normalised: String = digits
        .chars()
        .filter_map(|c| match c {
            '.' | ',' if Some(c) == decimal => Some('.'),
            '.' | ',' => None,
            other => Some(other),
        })
        .collect();
    Money::parse_decimal(&format!("{sign}{normalised}"), currency).map_err(|e| format!("{text:?} is not an amount in {currency}: {e}"))
}

/// Reads the dates settlement reports carry: `2023-01-17`, `2023-01-17 00:00:00 UTC`,
/// `2023-01-17T00:00:00+00:00`, `17.01.2023`, `2023/01/17`. Only the day is kept.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let day = text.trim().split([' ', 'T']).next()?;
    ["%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d"].iter().find_map(|format| NaiveDate::parse_from_str(day, format).ok())
}

/// Reads a Shopify-style payout: `{"payout": {id, date, currency, amount, …}, "transactions":
/// [{type, amount, fee, net, source_order_id, …}]}`. Each transaction becomes its amount and,
/// where the net differs, a fee line of the difference; the payout's own transaction, which
/// moves the money to the bank, is checked against the payout and not booked twice.
pub fn parse_shopify(content: &str) -> Result<Settlement, SettlementError> {
    let shape = |message: String| SettlementError::Shape(message);
    let document: Value = serde_json::from_str(content).map_err(|e| shape(format!("not JSON: {e}")))?;
    let payout = document.get("payout").ok_or_else(|| shape("missing payout".into()))?;
    let field = |name: &str| SettlementError::Cell { line: 0, column: format!("payout.{name}"), message: "is missing or empty".into() };
    let id = text(payout.get("id")).ok_or_else(|| field("id"))?;
    let currency_code = text(payout.get("currency")).ok_or_else(|| field("currency"))?;
    let currency = Currency::from_code(&currency_code)
        .map_err(|e| SettlementError::Cell { line: 0, column: "payout.currency".into(), message: e.to_string() })?;
    let amount = text(payout.get("amount")).ok_or_else(|| field("amount"))?;
    let total = Money::parse_decimal(&amount, currency)
        .map_err(|e| SettlementError::Cell { line: 0, column: "payout.amount".into(), message: format!("{amount:?}: {e}") })?;
    let date = text(payout.get("date")).ok_or_else(|| field("date"))?;
    let deposit_date = parse_date(&date)
        .ok_or_else(|| SettlementError::Cell { line: 0, column: "payout.date".into(), message: format!("{date:?} is not a date") })?;
    let transactions = document.get("transactions").and_then(Value::as_array).ok_or_else(|| shape("missing transactions".into()))?;

    let mut lines = Vec::new();
    for (i, transaction) in transactions.iter().enumerate() {
        let row = i + 1;
        let cell = |column: &str, message: String| SettlementError::Cell { line: row, column: format!("transactions[{i}].{column}"), message };
        let money = |column: &str| -> Result<Money, SettlementError> {
            let value = text(transaction.get(column)).ok_or_else(|| cell(column, "is missing".into()))?;
            Money::parse_decimal(&value, currency).map_err(|e| cell(column, format!("{value:?}: {e}")))
        };
        let kind = text(transaction.get("type")).ok_or_else(|| cell("type", "is missing".into()))?;
        if let Some(own) = text(transaction.get("currency"))
            && own != currency.code()
        {
            return Err(cell("currency", format!("is {own}, but the payout is in {currency}")));
        }
        let amount = money("amount")?;
        let net = match transaction.get("net") {
            Some(_) => money("net")?,
            None => amount.checked_sub(money("fee")?).map_err(|e| cell("fee", e.to_string()))?,
        };
        if kind == "payout" {
            if amount.minor() != -total.minor() {
                return Err(cell("amount", format!("moves {} to the bank, but the payout is {}", amount.to_decimal_string(), total.to_decimal_string())));
            }
            continue;
        }
        let line_kind = match kind.as_str() {
            "charge" => LineKind::Sale,
            "refund" | "dispute" => LineKind::Refund,
            "reserve" => LineKind::Reserve,
            "adjustment" | "credit" | "debit" | "payout_failure" | "payout_cancellation" => LineKind::PaymentFee,
            _ => LineKind::Unclassified,
        };
        let order_ref = text(transaction.get("source_order_id"));
        let source = text(transaction.get("source_type")).unwrap_or_default();
        lines.push(SettlementLine {
            row,
            kind: line_kind,
            order_ref: order_ref.clone(),
            item_ref: None,
            sku: None,
            quantity: None,
            description: format!("{kind}/{source}"),
            amount,
        });
        let fee = net.checked_sub(amount).map_err(|e| cell("net", e.to_string()))?;
        if fee.minor() != 0 {
            lines.push(SettlementLine {
                row,
                kind: LineKind::PaymentFee,
                order_ref,
                item_ref: None,
                sku: None,
                quantity: None,
                description: format!("{kind}/fee"),
                amount: fee,
            });
        }
    }
    Ok(Settlement { format: Format::ShopifyPayout, id, currency, period: None, deposit_date, total, lines })
}

/// A JSON string or number as text; ids beyond 2^53 arrive as numbers and must stay exact.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The settlement's entry: the deposit to the bank against each account its lines book to,
/// one line per account, and per SKU and customer segment for refunds and fees: `dims` holds,
/// line by line, our SKU and the order's customer segment where the line matched an order.
/// Balanced because the lines sum to the total.
pub fn entry(
    source: String,
    memo: String,
    channel: &str,
    settlement: &Settlement,
    dims: &[(Option<String>, Option<String>)],
) -> Result<ledger::Entry, ledger::EntryError> {
    type Key = (String, Option<String>, Option<String>);
    let mut by_account: std::collections::BTreeMap<Key, i64> = std::collections::BTreeMap::new();
    for (i, line) in settlement.lines.iter().enumerate() {
        let per_order = matches!(line.kind, LineKind::Refund | LineKind::MarketplaceFee | LineKind::PaymentFee);
        let (sku, segment) = dims.get(i).cloned().filter(|_| per_order).unwrap_or_default();
        let sum = by_account.entry((line.kind.account(channel), sku, segment)).or_default();
        *sum = sum.checked_add(line.amount.minor()).ok_or(ledger::EntryError::Overflow)?;
    }
    let mut postings = vec![ledger::transfer_side(ledger::BANK, settlement.total.minor(), true)];
    // A positive line is money in: the account it books to is credited.
    postings.extend(
        by_account
            .into_iter()
            .map(|((account, sku, segment), amount)| ledger::Posting { sku, segment, ..ledger::transfer_side(&account, amount, false) }),
    );
    Ok(ledger::Entry::balanced(source, memo, settlement.currency, postings)?.for_channel(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased";

    fn row(order: &str, kind: (&str, &str, &str), amount: &str) -> String {
        let (transaction, amount_type, description) = kind;
        format!(
            "123\t\t\t\t\t\t{transaction}\t{order}\t\t\t\tAmazon.de\t{amount_type}\t{description}\t{amount}\tMFN\t17.01.2023\t2023-01-17 10:00:00 UTC\t555\t\t\tSKU-1\t1"
        )
    }

    fn report(total: &str, rows: &[String]) -> String {
        let mut text = format!("{HEADER}\n123\t01.01.2023\t14.01.2023\t16.01.2023\t{total}\tEUR\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_v2_report_in_eu_number_format_reads_and_books_each_kind() {
        let text = report(
            "1.080,00",
            &[
                row("302-1", ("Order", "ItemPrice", "Principal"), "1.000,00"),
                row("302-1", ("Order", "ItemPrice", "Tax"), "190,00"),
                row("302-1", ("Order", "ItemFees", "Commission"), "-150,00"),
                row("302-1", ("Order", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal"), "-0,00"),
                row("", ("other-transaction", "other-transaction", "Current Reserve Amount"), "-50,00"),
                row("", ("other-transaction", "other-transaction", "Previous Reserve Amount Balance"), "90,00"),
            ],
        );
        let settlement = parse(&text).unwrap();
        assert_eq!(settlement.id, "123");
        assert_eq!(settlement.total.minor(), 108_000);
        assert_eq!(settlement.deposit_date, NaiveDate::from_ymd_opt(2023, 1, 16).unwrap());
        let kinds: Vec<LineKind> = settlement.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds[..3], [LineKind::Sale, LineKind::Sale, LineKind::MarketplaceFee]);
        assert_eq!(settlement.lines[0].row, 3);
        assert_eq!(settlement.lines[0].item_ref.as_deref(), Some("555"));
        let dims = vec![(Some("MUG".to_owned()), Some("consumer".to_owned())); settlement.lines.len()];
        let entry = entry("settlement:x".into(), "memo".into(), "amazon-de", &settlement, &dims).unwrap();
        let of = |account: &str| entry.lines.iter().find(|l| l.account == account).map(|l| (l.debit, l.credit));
        assert_eq!(of("1000"), Some((108_000, 0)));
        assert_eq!(of("1100-amazon-de"), Some((0, 119_000)));
        assert_eq!(of("5100"), Some((15_000, 0)));
        assert_eq!(entry.lines.iter().find(|l| l.account == "5100").and_then(|l| l.sku.as_deref()), Some("MUG"), "a fee is the SKU's");
        assert_eq!(entry.lines.iter().find(|l| l.account == "1000").and_then(|l| l.sku.as_deref()), None);
        assert_eq!(of("1300"), Some((0, 4_000)), "released 90, held 50");
    }

    #[test]
    fn a_report_whose_lines_do_not_sum_is_refused_with_the_difference() {
        let text = report("100.00", &[row("1", ("Order", "ItemPrice", "Principal"), "99.50")]);
        let error = parse(&text).unwrap_err();
        assert_eq!(error, SettlementError::DoesNotSum { lines: "99.50".into(), total: "100.00".into(), difference: "-0.50".into() });
    }

    #[test]
    fn a_missing_column_or_a_bad_cell_is_named() {
        let text = report("1.00", &[row("1", ("Order", "ItemPrice", "Principal"), "1.00")]).replace("\tsku\t", "\tseller-sku\t");
        assert_eq!(parse(&text).unwrap_err(), SettlementError::MissingColumn("sku".into()));
        let text = report("1.00", &[row("1", ("Order", "ItemPrice", "Principal"), "one")]);
        assert!(matches!(parse(&text).unwrap_err(), SettlementError::Cell { line: 3, column, .. } if column == "amount"));
        let text = report("1.00", &[row("1", ("Order", "ItemPrice", "Principal"), "1.00")]).replace("16.01.2023", "16th Jan");
        assert!(matches!(parse(&text).unwrap_err(), SettlementError::Cell { line: 2, column, .. } if column == "deposit-date"));
    }

    #[test]
    fn a_24th_promotion_id_column_is_accepted() {
        let mut text = report("5.00", &[row("1", ("Order", "Promotion", "Principal"), "5.00")]);
        text = text.lines().map(|l| format!("{l}\t")).collect::<Vec<_>>().join("\n");
        text = text.replacen("quantity-purchased\t", "quantity-purchased\tpromotion-id", 1);
        assert_eq!(parse(&text).unwrap().lines[0].kind, LineKind::Sale);
    }

    #[test]
    fn amounts_read_in_either_number_format() {
        let eur = Currency::from_code("EUR").unwrap();
        for (text, minor) in
            [("95,00", 9500), ("95.00", 9500), ("1,234.56", 123_456), ("1.234,56", 123_456), ("-0,5", -50), ("1.234", 123_400), ("12", 1200)]
        {
            assert_eq!(parse_amount(text, eur).map(Money::minor), Ok(minor), "{text}");
        }
        assert!(parse_amount("12.345,678", eur).is_err());
        assert!(parse_amount("abc", eur).is_err());
    }

    #[test]
    fn a_shopify_payout_books_charges_fees_and_refunds() {
        let text = r#"{"payout": {"id": 623721858, "date": "2020-11-06", "currency": "USD", "amount": "4.55", "status": "paid"},
          "transactions": [
            {"type": "charge", "amount": "10.00", "fee": "2.00", "net": "8.00", "source_order_id": 217130470, "currency": "USD"},
            {"type": "refund", "amount": "-3.45", "fee": "0.00", "net": "-3.45", "source_order_id": 217130470},
            {"type": "payout", "amount": "-4.55", "fee": "0.00", "net": "-4.55"}
          ]}"#;
        let settlement = parse(text).unwrap();
        assert_eq!(settlement.format, Format::ShopifyPayout);
        assert_eq!(settlement.id, "623721858");
        let kinds: Vec<(LineKind, i64)> = settlement.lines.iter().map(|l| (l.kind, l.amount.minor())).collect();
        assert_eq!(kinds, [(LineKind::Sale, 1000), (LineKind::PaymentFee, -200), (LineKind::Refund, -345)]);
        assert_eq!(settlement.lines[0].order_ref.as_deref(), Some("217130470"));
    }

    #[test]
    fn a_written_v2_file_reads_back_as_written() {
        let usd = |minor| Money::from_minor(minor, Currency::USD);
        let row = |amount_type, description, amount| V2Row {
            transaction: "Order",
            order_id: "111-1".into(),
            amount_type,
            description,
            item_code: "555".into(),
            sku: "MUG".into(),
            amount,
        };
        let rows = [row("ItemPrice", "Principal", usd(990)), row("ItemFees", "Commission", usd(-149))];
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let settlement = parse(&write_amazon_v2("77", (day(1), day(14)), day(16), Currency::USD, &rows)).unwrap();
        assert_eq!((settlement.id.as_str(), settlement.total, settlement.deposit_date), ("77", usd(841), day(16)));
        let read: Vec<(LineKind, i64, Option<&str>)> =
            settlement.lines.iter().map(|l| (l.kind, l.amount.minor(), l.item_ref.as_deref())).collect();
        assert_eq!(read, [(LineKind::Sale, 990, Some("555")), (LineKind::MarketplaceFee, -149, Some("555"))]);
    }

    #[test]
    fn a_latin_1_report_is_read_as_such() {
        assert_eq!(decode("Zürich".as_bytes()), "Zürich");
        assert_eq!(decode(&[b'Z', 0xFC, b'r', b'i', b'c', b'h']), "Zürich");
    }

    proptest::proptest! {
        #[test]
        fn no_report_text_makes_the_reader_panic(text in "\\PC{0,400}") {
            let _ = parse(&text);
            let _ = parse(&format!("{HEADER}\n{text}"));
        }
    }
}
