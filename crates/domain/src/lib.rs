//! Ordo's business vocabulary: money, master data, roles and permissions.
//!
//! Everything here is pure: values, validation and rules, no I/O. The storage crate persists
//! these types, the application crate orchestrates them, and the adapters (HTTP, dashboard,
//! CLI) only ever see them through the application crate's use cases.

pub mod access;
pub mod audit;
pub mod change;
pub mod exception;
pub mod field;
pub mod inventory;
pub mod ledger;
pub mod master;
pub mod money;
pub mod notification;
pub mod order;
pub mod returns;
pub mod risk;
pub mod rules;
pub mod routing;
pub mod settlement;
pub mod wave;

pub use field::FieldError;
pub use money::{Currency, Money, MoneyError};
