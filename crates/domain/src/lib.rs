//! Ordo's business vocabulary: money, master data, roles and permissions.
//!
//! Everything here is pure: values, validation and rules, no I/O. The storage crate persists
//! these types, the application crate orchestrates them, and the adapters (HTTP, dashboard,
//! CLI) only ever see them through the application crate's use cases.

/// A closed set of names a caller may send: `ALL`, `as_str` and `parse`, which names the
/// field and every allowed value when the text is none of them.
macro_rules! named {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(field: &str, value: &str) -> Result<$name, $crate::FieldError> {
                $name::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::FieldError::new(field, format!("{} must be one of {}", $what, names.join(", ")))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// As stored: storage reads the column once into the type.
        impl TryFrom<String> for $name {
            type Error = $crate::FieldError;
            fn try_from(value: String) -> Result<$name, $crate::FieldError> {
                $name::parse(stringify!($name), &value)
            }
        }
    };
}

pub mod access;
pub mod anomaly;
pub mod audit;
pub mod calendar;
pub mod change;
pub mod confirmation;
pub mod connector;
pub mod decide;
pub mod exception;
pub mod field;
pub mod inventory;
pub mod kpi;
pub mod ledger;
pub mod master;
pub mod money;
pub mod notification;
pub mod order;
pub mod planning;
pub mod procurement;
pub mod rates;
pub mod reconcile;
pub mod returns;
pub mod risk;
pub mod rules;
pub mod routing;
pub mod settlement;
pub mod ticket;
pub mod wave;
pub mod workload;

pub use field::FieldError;

/// Bytes as lower-case hex: how hashes, signatures and secrets are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
pub use money::{Currency, Money, MoneyError};

#[cfg(test)]
mod status_tests {
    //! Every status reads back what it writes, and its end states allow no move.

    use crate::change::ChangeStatus;
    use crate::connector::InboxStatus;
    use crate::exception::ExceptionStatus;
    use crate::inventory::TransferStatus;
    use crate::order::{OrderStatus, ShipmentStatus};
    use crate::procurement::{PoStatus, ProposalStatus};
    use crate::returns::{ClaimStatus, ReturnStatus};
    use crate::rules::RuleStatus;
    use crate::ticket::TicketStatus;
    use crate::wave::{WaveOrderStatus, WaveStatus};

    /// `all` round-trips through its stored name, and `ends` (and only they, among `all`) can
    /// become nothing.
    fn check<S: Copy + PartialEq + std::fmt::Debug>(all: &[S], name: fn(S) -> &'static str, read: fn(&str) -> Option<S>, can: fn(S, S) -> bool, ends: &[S]) {
        for &s in all {
            assert_eq!(read(name(s)), Some(s), "{s:?} reads back");
            let moves = all.iter().filter(|&&n| can(s, n)).count();
            assert_eq!(moves == 0, ends.contains(&s), "{s:?}: {moves} moves");
        }
    }

    #[test]
    fn statuses_read_back_and_end_where_they_should() {
        check(&OrderStatus::ALL, OrderStatus::as_str, OrderStatus::parse, OrderStatus::can_become, &[OrderStatus::Delivered, OrderStatus::Cancelled]);
        check(ShipmentStatus::ALL, ShipmentStatus::as_str, |s| ShipmentStatus::parse("s", s).ok(), ShipmentStatus::can_become, &[ShipmentStatus::Delivered]);
        check(&[WaveStatus::Open, WaveStatus::Picked, WaveStatus::Closed], WaveStatus::as_str, WaveStatus::parse, WaveStatus::can_become, &[WaveStatus::Closed]);
        check(&WaveOrderStatus::ALL, WaveOrderStatus::as_str, WaveOrderStatus::parse, WaveOrderStatus::can_become, &[WaveOrderStatus::Shipped, WaveOrderStatus::Cancelled]);
        check(ReturnStatus::ALL, ReturnStatus::as_str, |s| ReturnStatus::parse("s", s).ok(), ReturnStatus::can_become, &[ReturnStatus::Rejected, ReturnStatus::Closed]);
        check(ClaimStatus::ALL, ClaimStatus::as_str, |s| ClaimStatus::parse("s", s).ok(), ClaimStatus::can_become, &[ClaimStatus::Credited, ClaimStatus::Refused]);
        check(TransferStatus::ALL, TransferStatus::as_str, |s| TransferStatus::parse("s", s).ok(), TransferStatus::can_become, &[TransferStatus::Received]);
        check(&RuleStatus::ALL, RuleStatus::as_str, RuleStatus::parse, RuleStatus::can_become, &[RuleStatus::Retired, RuleStatus::Rejected]);
        check(ChangeStatus::ALL, ChangeStatus::as_str, |s| ChangeStatus::parse("s", s).ok(), ChangeStatus::can_become, &[ChangeStatus::Approved, ChangeStatus::Rejected]);
        check(ExceptionStatus::ALL, ExceptionStatus::as_str, |s| ExceptionStatus::parse("s", s).ok(), ExceptionStatus::can_become, &[ExceptionStatus::Resolved]);
        check(TicketStatus::ALL, TicketStatus::as_str, |s| TicketStatus::parse("s", s).ok(), TicketStatus::can_become, &[TicketStatus::Closed]);
        check(PoStatus::ALL, PoStatus::as_str, |s| PoStatus::parse("s", s).ok(), PoStatus::can_become, &[PoStatus::Closed, PoStatus::Cancelled]);
        check(ProposalStatus::ALL, ProposalStatus::as_str, |s| ProposalStatus::parse("s", s).ok(), ProposalStatus::can_become, &[ProposalStatus::Approved, ProposalStatus::Rejected]);
        check(InboxStatus::ALL, InboxStatus::as_str, |s| InboxStatus::parse("s", s).ok(), InboxStatus::can_become, &[]);
    }
}
