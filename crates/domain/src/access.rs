//! Who may do what: roles, permissions and the matrix between them.
//!
//! Every `/api/v1` route and every dashboard page names one [`Permission`]; a caller's role
//! grants a fixed set of them. `docs/permissions.md` and the README show the same matrix for
//! people, and a test keeps them equal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// The job a user or an API token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Ops,
    Warehouse,
    Finance,
    Service,
    Procurement,
    Viewer,
    Integration,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Ops,
        Role::Warehouse,
        Role::Finance,
        Role::Service,
        Role::Procurement,
        Role::Viewer,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Warehouse => "warehouse",
            Role::Finance => "finance",
            Role::Service => "service",
            Role::Procurement => "procurement",
            Role::Viewer => "viewer",
            Role::Integration => "integration",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Role, FieldError> {
        value.parse().map_err(|_| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }

    /// Whether this role grants `permission`.
    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Ops => matches!(
                permission,
                MasterDataRead
                    | MasterDataWrite
                    | CustomersWrite
                    | InventoryRead
                    | InventoryWrite
                    | OrdersRead
                    | OrdersWrite
                    | OrdersReview
                    | ExceptionsRead
                    | ExceptionsWork
                    | RulesRead
                    | RulesWrite
                    | RulesApprove
                    | ChangesPropose
                    | ChangesApprove
                    | ReturnsWrite
                    | TicketsWrite
                    | NotificationsRead
                    | NotificationsManage
                    | ProcurementWrite
            ),
            Role::Warehouse => matches!(
                permission,
                MasterDataRead
                    | InventoryRead
                    | InventoryWrite
                    | OrdersRead
                    | ReturnsWrite
                    | ExceptionsRead
                    | ExceptionsWork
                    | RulesRead
            ),
            Role::Finance => matches!(
                permission,
                MasterDataRead
                    | InventoryRead
                    | OrdersRead
                    | OrdersReview
                    | ExceptionsRead
                    | ExceptionsWork
                    | LedgerRead
                    | LedgerWrite
                    | AuditRead
                    | RefundsIssue
                    | RulesRead
                    | RulesWrite
                    | RulesApprove
                    | ChangesPropose
                    | ChangesApprove
            ),
            Role::Service => matches!(
                permission,
                MasterDataRead
                    | CustomersWrite
                    | InventoryRead
                    | OrdersRead
                    | OrdersWrite
                    | OrdersReview
                    | ReturnsWrite
                    | RefundsIssue
                    | TicketsWrite
                    | ExceptionsRead
                    | ExceptionsWork
                    | NotificationsRead
                    | RulesRead
            ),
            Role::Procurement => {
                matches!(
                    permission,
                    MasterDataRead
                        | SuppliersWrite
                        | InventoryRead
                        | OrdersRead
                        | ExceptionsRead
                        | ExceptionsWork
                        | RulesRead
                        | ProcurementWrite
                        | ChangesPropose
                        | ChangesApprove
                )
            }
            Role::Viewer => {
                matches!(
                    permission,
                    MasterDataRead | InventoryRead | OrdersRead | ExceptionsRead | LedgerRead | RulesRead | NotificationsRead
                )
            }
            Role::Integration => matches!(
                permission,
                MasterDataRead
                    | CustomersWrite
                    | InventoryRead
                    | InventoryWrite
                    | OrdersRead
                    | OrdersWrite
                    | ReturnsWrite
                    // The channels' mapping failures are the integrator's to work.
                    | ExceptionsRead
                    | ExceptionsWork
            ),
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Role, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read channels, locations, products, listings, customers and suppliers.
    MasterDataRead,
    /// Create and change channels, locations, products and listings.
    MasterDataWrite,
    /// Create and change customers.
    CustomersWrite,
    /// Create and change suppliers.
    SuppliersWrite,
    /// Read stock levels and movements.
    InventoryRead,
    /// Record stock movements: receipts, adjustments, counts.
    InventoryWrite,
    /// Read orders and their timelines.
    OrdersRead,
    /// Receive, change and cancel orders.
    OrdersWrite,
    /// Release orders held for review.
    OrdersReview,
    /// Read the exceptions queue.
    ExceptionsRead,
    /// Acknowledge, comment on and resolve exceptions (resolving only those the role owns).
    ExceptionsWork,
    /// Read the ledger and financial reports.
    LedgerRead,
    /// Import settlements: book them and raise what does not reconcile.
    LedgerWrite,
    /// Read the audit log.
    AuditRead,
    /// Propose a change to master data that moves money or stock.
    ChangesPropose,
    /// Approve or reject another person's proposed change (of a kind the role owns).
    ChangesApprove,
    /// Read rules and their versions.
    RulesRead,
    /// Write and submit rules.
    RulesWrite,
    /// Approve, reject, activate and retire rules another person wrote (of a kind the role owns).
    RulesApprove,
    /// Request, authorise, receive and inspect returns, and decide what becomes of each line.
    ReturnsWrite,
    /// Refund customers: money leaves, so it is finance's and service's alone.
    RefundsIssue,
    /// Open, work and close helpdesk tickets.
    TicketsWrite,
    /// Read notification endpoints and the outbox.
    NotificationsRead,
    /// Add and switch notification endpoints, replay dead messages.
    NotificationsManage,
    /// Run replenishment, decide proposals, draft, approve (within the role's limit), send and
    /// cancel purchase orders.
    ProcurementWrite,
    /// Manage API tokens and users.
    AccessManage,
}

impl Permission {
    pub const ALL: [Permission; 26] = [
        Permission::MasterDataRead,
        Permission::MasterDataWrite,
        Permission::CustomersWrite,
        Permission::SuppliersWrite,
        Permission::InventoryRead,
        Permission::InventoryWrite,
        Permission::OrdersRead,
        Permission::OrdersWrite,
        Permission::OrdersReview,
        Permission::ExceptionsRead,
        Permission::ExceptionsWork,
        Permission::LedgerRead,
        Permission::LedgerWrite,
        Permission::AuditRead,
        Permission::ChangesPropose,
        Permission::ChangesApprove,
        Permission::RulesRead,
        Permission::RulesWrite,
        Permission::RulesApprove,
        Permission::ReturnsWrite,
        Permission::RefundsIssue,
        Permission::TicketsWrite,
        Permission::NotificationsRead,
        Permission::NotificationsManage,
        Permission::ProcurementWrite,
        Permission::AccessManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::MasterDataRead => "master_data.read",
            Permission::MasterDataWrite => "master_data.write",
            Permission::CustomersWrite => "customers.write",
            Permission::SuppliersWrite => "suppliers.write",
            Permission::InventoryRead => "inventory.read",
            Permission::InventoryWrite => "inventory.write",
            Permission::OrdersRead => "orders.read",
            Permission::OrdersWrite => "orders.write",
            Permission::OrdersReview => "orders.review",
            Permission::ExceptionsRead => "exceptions.read",
            Permission::ExceptionsWork => "exceptions.work",
            Permission::LedgerRead => "ledger.read",
            Permission::LedgerWrite => "ledger.write",
            Permission::AuditRead => "audit.read",
            Permission::ChangesPropose => "changes.propose",
            Permission::ChangesApprove => "changes.approve",
            Permission::RulesRead => "rules.read",
            Permission::RulesWrite => "rules.write",
            Permission::RulesApprove => "rules.approve",
            Permission::ReturnsWrite => "returns.write",
            Permission::RefundsIssue => "refunds.issue",
            Permission::TicketsWrite => "tickets.write",
            Permission::NotificationsRead => "notifications.read",
            Permission::NotificationsManage => "notifications.manage",
            Permission::ProcurementWrite => "procurement.write",
            Permission::AccessManage => "access.manage",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permission matrix as a Markdown table, the form `docs/permissions.md` carries.
pub fn permission_matrix_markdown() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n| --- |");
    out.push_str(&" :-: |".repeat(Role::ALL.len()));
    out.push('\n');
    for permission in Permission::ALL {
        out.push_str(&format!("| `{permission}` |"));
        for role in Role::ALL {
            out.push_str(if role.can(permission) { " ✓ |" } else { "   |" });
        }
        out.push('\n');
    }
    out
}

/// How failed log-ins slow down, then lock, an account or an address: a few attempts are
/// free, each failure after them makes the next attempt wait twice as long, and at
/// `lock_after` failures in a row the account or address is locked for `lockout` (an admin can
/// lift it sooner). Failures older than `window` are forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub free: i64,
    pub lock_after: i64,
    pub lockout: chrono::Duration,
    pub window: chrono::Duration,
}

impl Throttle {
    /// One account: three free attempts, locked at the tenth failure in a row for an hour.
    pub const ACCOUNT: Throttle = Throttle {
        free: 3,
        lock_after: 10,
        lockout: chrono::Duration::hours(1),
        window: chrono::Duration::hours(1),
    };
    /// One address, which many people may share: ten free, locked at fifty for an hour.
    pub const ADDRESS: Throttle = Throttle {
        free: 10,
        lock_after: 50,
        lockout: chrono::Duration::hours(1),
        window: chrono::Duration::hours(1),
    };

    /// The failures in a row after one more, given those before and when the last was.
    pub fn count(&self, before: Option<(i64, chrono::DateTime<chrono::Utc>)>, now: chrono::DateTime<chrono::Utc>) -> i64 {
        match before {
            Some((failures, last_at)) if now - last_at < self.window => failures.saturating_add(1),
            _ => 1,
        }
    }

    /// How long the next attempt must wait after `failures` failures in a row: nothing while
    /// free, then 1, 2, 4 … seconds (at most a minute), and the lockout from `lock_after` on.
    pub fn wait_after(&self, failures: i64) -> chrono::Duration {
        if failures >= self.lock_after {
            return self.lockout;
        }
        if failures <= self.free {
            return chrono::Duration::zero();
        }
        let doublings = (failures - self.free - 1).min(6);
        chrono::Duration::seconds(1_i64 << doublings)
    }

    /// Whether `failures` in a row lock.
    pub fn locks(&self, failures: i64) -> bool {
        failures >= self.lock_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse("role", role.as_str()).unwrap(), role);
        }
        assert_eq!(Role::parse("role", "root").unwrap_err().field, "role");
    }

    #[test]
    fn only_admin_manages_access_and_viewer_never_writes() {
        for role in Role::ALL {
            assert_eq!(role.can(Permission::AccessManage), role == Role::Admin, "{role}");
        }
        for permission in Permission::ALL {
            let writes = !permission.as_str().ends_with(".read");
            assert!(!(writes && Role::Viewer.can(permission)), "{permission}");
        }
    }

    #[test]
    fn the_documented_matrix_is_the_one_in_force() {
        for (name, doc) in [("docs/permissions.md", include_str!("../../../docs/permissions.md")), ("README.md", include_str!("../../../README.md"))] {
            assert!(
                doc.contains(&permission_matrix_markdown()),
                "{name} is stale; paste this table into it:\n{}",
                permission_matrix_markdown()
            );
        }
    }

    #[test]
    fn failed_log_ins_slow_down_then_lock() {
        let throttle = Throttle::ACCOUNT;
        let waits: Vec<i64> = (1..=11).map(|n| throttle.wait_after(n).num_seconds()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16, 32, 3600, 3600]);
        assert!(!throttle.locks(9) && throttle.locks(10));
        let now = chrono::Utc::now();
        assert_eq!(throttle.count(None, now), 1);
        assert_eq!(throttle.count(Some((4, now - chrono::Duration::minutes(5))), now), 5);
        assert_eq!(throttle.count(Some((9, now - chrono::Duration::hours(2))), now), 1, "old failures are forgotten");
        assert_eq!(Throttle::ADDRESS.wait_after(10).num_seconds(), 0);
        assert_eq!(Throttle::ADDRESS.wait_after(30).num_seconds(), 64, "the delay stops growing at a minute or so");
        assert!(Throttle::ADDRESS.locks(50));
    }
}
