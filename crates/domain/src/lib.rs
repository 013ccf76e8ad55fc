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
pub mod audit;
pub mod change;
pub mod connector;
pub mod decide;
pub mod exception;
pub mod field;
pub mod inventory;
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

pub use field::FieldError;

/// Bytes as lower-case hex: how hashes, signatures and secrets are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
pub use money::{Currency, Money, MoneyError};
