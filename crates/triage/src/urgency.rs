//! How urgent a ticket is. The labelled set says nothing about urgency, so it is not learned:
//! it starts from what the intent puts at stake (money taken, an order about to ship, a
//! customer locked out) and goes one step up when the customer's words say it cannot wait or
//! they are angry.

use crate::words::tokens;

/// Ordo's ticket priorities, least urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Low,
    Normal,
    High,
    Urgent,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
            Urgency::Urgent => "urgent",
        }
    }

    fn raised(self) -> Urgency {
        match self {
            Urgency::Low => Urgency::Normal,
            Urgency::Normal => Urgency::High,
            Urgency::High | Urgency::Urgent => Urgency::Urgent,
        }
    }
}

/// Intents where money is taken or an order is about to go wrong.
const HIGH: &[&str] = &["payment_issue", "cancel_order", "change_order", "change_shipping_address", "get_refund", "complaint", "recover_password"];
/// Intents asking for information or a preference.
const LOW: &[&str] = &["review", "newsletter_subscription", "check_refund_policy", "check_payment_methods", "check_cancellation_fee", "delivery_options", "create_account"];
/// Words saying it cannot wait, or that the customer is angry.
const RAISING: &[&str] = &[
    "urgent", "urgently", "asap", "immediately", "emergency", "today", "twice", "fraud", "scam", "stolen", "lawyer", "unacceptable", "ridiculous",
    "fuck", "fucking", "shit", "damn", "crap", "bloody",
];
const RAISING_PAIRS: &[&str] = &["right away", "right now", "at once"];

/// The urgency of a ticket of `intent` written as `text`, and the words that raised it.
pub fn urgency(intent: &str, text: &str) -> (Urgency, Vec<String>) {
    let base = if HIGH.contains(&intent) {
        Urgency::High
    } else if LOW.contains(&intent) {
        Urgency::Low
    } else {
        Urgency::Normal
    };
    let words = tokens(text);
    let mut raising: Vec<String> = words.iter().filter(|w| RAISING.contains(&w.as_str())).cloned().collect();
    raising.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])).filter(|p| RAISING_PAIRS.contains(&p.as_str())));
    raising.dedup();
    let level = if raising.is_empty() { base } else { base.raised() };
    (level, raising)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_intent_sets_the_level_and_pressing_words_raise_it_once() {
        assert_eq!(urgency("track_order", "where is my parcel"), (Urgency::Normal, vec![]));
        assert_eq!(urgency("payment_issue", "my card was declined"), (Urgency::High, vec![]));
        assert_eq!(urgency("review", "nice shop"), (Urgency::Low, vec![]));
        let (level, words) = urgency("payment_issue", "I was charged TWICE, fix it right away!!");
        assert_eq!((level, words), (Urgency::Urgent, vec!["twice".to_owned(), "right away".to_owned()]));
        assert_eq!(urgency("track_order", "urgent urgent urgent").0, Urgency::High, "one step, however often said");
        assert!(Urgency::Low < Urgency::Urgent);
    }
}
