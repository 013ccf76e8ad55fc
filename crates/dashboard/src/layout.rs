//! What every dashboard page shares: which pages exist, who may open each, and the layout
//! around a page (title, who is signed in, the navigation).

use std::borrow::Cow;

use ordo_app::Actor;
use ordo_domain::access::{Permission, Role};

/// A page in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    Overview,
    Review,
    Orders,
    Holds,
    Fulfilment,
    Workload,
    Inventory,
    Exceptions,
    Returns,
    Helpdesk,
    Notifications,
    Procurement,
    Ledger,
    Rules,
    Changes,
    Audit,
    Channels,
    Locations,
    Products,
    Suppliers,
    Customers,
    Users,
}

impl Page {
    /// In navigation order.
    const ALL: [Page; 22] = [
        Page::Overview,
        Page::Review,
        Page::Orders,
        Page::Holds,
        Page::Fulfilment,
        Page::Workload,
        Page::Inventory,
        Page::Exceptions,
        Page::Returns,
        Page::Helpdesk,
        Page::Notifications,
        Page::Procurement,
        Page::Ledger,
        Page::Rules,
        Page::Changes,
        Page::Audit,
        Page::Channels,
        Page::Locations,
        Page::Products,
        Page::Suppliers,
        Page::Customers,
        Page::Users,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Page::Overview => "Overview",
            Page::Review => "Review",
            Page::Orders => "Orders",
            Page::Holds => "Holds",
            Page::Fulfilment => "Fulfilment",
            Page::Workload => "Workload",
            Page::Inventory => "Inventory",
            Page::Exceptions => "Exceptions",
            Page::Returns => "Returns",
            Page::Helpdesk => "Helpdesk",
            Page::Notifications => "Notifications",
            Page::Procurement => "Procurement",
            Page::Ledger => "Ledger",
            Page::Rules => "Rules",
            Page::Changes => "Change requests",
            Page::Audit => "Audit log",
            Page::Channels => "Channels",
            Page::Locations => "Locations",
            Page::Products => "Products",
            Page::Suppliers => "Suppliers",
            Page::Customers => "Customers",
            Page::Users => "Users",
        }
    }

    pub(crate) fn href(self) -> &'static str {
        match self {
            Page::Overview => "/dashboard",
            Page::Review => "/dashboard/review",
            Page::Orders => "/dashboard/orders",
            Page::Holds => "/dashboard/holds",
            Page::Fulfilment => "/dashboard/fulfilment",
            Page::Workload => "/dashboard/workload",
            Page::Inventory => "/dashboard/inventory",
            Page::Exceptions => "/dashboard/exceptions",
            Page::Returns => "/dashboard/returns",
            Page::Helpdesk => "/dashboard/helpdesk",
            Page::Notifications => "/dashboard/notifications",
            Page::Procurement => "/dashboard/procurement",
            Page::Ledger => "/dashboard/ledger",
            Page::Rules => "/dashboard/rules",
            Page::Changes => "/dashboard/changes",
            Page::Audit => "/dashboard/audit",
            Page::Channels => "/dashboard/channels",
            Page::Locations => "/dashboard/locations",
            Page::Products => "/dashboard/products",
            Page::Suppliers => "/dashboard/suppliers",
            Page::Customers => "/dashboard/customers",
            Page::Users => "/dashboard/users",
        }
    }

    /// What a role needs to open the page; the page's link is shown only to roles that have
    /// it. The one place a page's access rule is written.
    pub(crate) fn permission(self) -> Permission {
        match self {
            Page::Overview | Page::Channels | Page::Locations | Page::Products | Page::Suppliers | Page::Customers => {
                Permission::MasterDataRead
            }
            Page::Orders | Page::Returns | Page::Helpdesk | Page::Review => Permission::OrdersRead,
            Page::Notifications => Permission::NotificationsRead,
            Page::Holds => Permission::OrdersReview,
            // Viewing; releasing, picking, packing and shipping also need `InventoryWrite`.
            Page::Fulfilment | Page::Workload | Page::Inventory | Page::Procurement => Permission::InventoryRead,
            Page::Exceptions => Permission::ExceptionsRead,
            Page::Ledger => Permission::LedgerRead,
            Page::Rules => Permission::RulesRead,
            Page::Audit => Permission::AuditRead,
            Page::Changes => Permission::ChangesPropose,
            Page::Users => Permission::AccessManage,
        }
    }
}

/// What the shared layout shows around a page: its title, who is signed in, the navigation.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Shown before " · Ordo" in the window title.
    pub(crate) title: Cow<'static, str>,
    pub(crate) username: String,
    pub(crate) role: Role,
    pub(crate) current: Option<Page>,
    /// What every form on the page carries back ([`ordo_app::form_token`]).
    pub(crate) form_token: String,
}

/// One link in the navigation.
pub(crate) struct NavLink {
    pub(crate) label: &'static str,
    pub(crate) href: &'static str,
    pub(crate) current: bool,
}

impl Layout {
    pub(crate) fn new(actor: &Actor, form_token: &str, title: &'static str, current: Option<Page>) -> Layout {
        Layout { title: Cow::Borrowed(title), username: actor.name.clone(), role: actor.role, current, form_token: form_token.to_owned() }
    }

    /// The same layout under a title made for one record, such as "Order 1001".
    pub(crate) fn titled(mut self, title: String) -> Layout {
        self.title = Cow::Owned(title);
        self
    }

    /// The pages this role may open, in order.
    pub(crate) fn nav(&self) -> Vec<NavLink> {
        Page::ALL
            .into_iter()
            .filter(|page| self.role.can(page.permission()))
            .map(|page| NavLink { label: page.label(), href: page.href(), current: self.current == Some(page) })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_the_pages_it_may_open() {
        let nav = |role: Role| -> Vec<&'static str> {
            let layout = Layout { title: "t".into(), username: "u".into(), role, current: Some(Page::Holds), form_token: "t".into() };
            layout.nav().into_iter().map(|link| link.label).collect()
        };
        let all = nav(Role::Admin);
        assert_eq!(
            all[..10],
            ["Overview", "Review", "Orders", "Holds", "Fulfilment", "Workload", "Inventory", "Exceptions", "Returns", "Helpdesk"]
        );
        assert_eq!(all.len(), Page::ALL.len());
        assert!(nav(Role::Finance).contains(&"Holds"), "finance reviews held orders");
        let floor = nav(Role::Warehouse);
        assert!(!floor.contains(&"Holds") && floor.contains(&"Fulfilment") && floor.contains(&"Workload") && floor.contains(&"Inventory"));
        assert!(nav(Role::Finance).contains(&"Ledger") && !floor.contains(&"Ledger"), "finance reads the books");
        let service = nav(Role::Service);
        assert!(service.contains(&"Returns") && service.contains(&"Helpdesk") && service.contains(&"Notifications"));
        assert!(!floor.contains(&"Notifications"), "the warehouse has no business with the outbox");
        assert!(all.contains(&"Users") && !nav(Role::Ops).contains(&"Users"), "only admins manage users and tokens");
        let hrefs: std::collections::HashSet<&str> = Page::ALL.iter().map(|page| page.href()).collect();
        assert_eq!(hrefs.len(), Page::ALL.len(), "no two pages share an address");
    }
}
