//! The overview: the operating figures with their 30-day trends, each a click from the queue
//! behind it, orders and revenue by channel per day, and the counts of master data.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ordo_domain::access::Permission;
use ordo_domain::kpi::WorkQueue;
use ordo_domain::ledger::percentage;

use super::{grouped, timestamp, Layout, Page};
use crate::chart::{self, DayBar, Key, Spark};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// One count on the overview; `href` is set when there is a page to open and the role may.
struct Tile {
    label: &'static str,
    count: String,
    href: Option<&'static str>,
}

/// One operating figure: its value now, what it means, its trend, and the queue behind it.
struct Figure {
    /// The element's id, `kpi-…`.
    id: &'static str,
    label: &'static str,
    value: String,
    about: String,
    spark: Spark,
    queue: Option<(&'static str, &'static str)>,
}

/// What waits in one of the reader's role's own queues, with the page that works it.
struct QueueTile {
    /// The element's id, `queue-…`.
    id: String,
    label: &'static str,
    count: String,
    about: &'static str,
    href: Option<String>,
}

/// How a queue reads on the overview: its label, what it counts, the page that works it and
/// the filter on that page; the tile links there when the reader may open the page.
fn queue_text(queue: WorkQueue) -> (&'static str, &'static str, Page, &'static str) {
    use WorkQueue::*;
    match queue {
        LinesToPick => ("Lines to pick", "order lines allocated and not yet shipped", Page::Fulfilment, ""),
        ParcelsToPack => ("Parcels to pack", "orders with lines allocated and not yet shipped", Page::Fulfilment, ""),
        WavesOpen => ("Waves open", "released and not yet closed", Page::Fulfilment, ""),
        LateShipments => ("Late shipments", "past their ship-by time, not shipped", Page::Exceptions, "?kind=late_shipment&owner=any"),
        TicketsOpen => ("Tickets open", "open or waiting for the customer", Page::Helpdesk, ""),
        TicketsOverdue => ("Tickets overdue", "open or pending past their due time", Page::Helpdesk, ""),
        ReturnsToReceive => ("Returns to receive", "on their way back", Page::Returns, "?status=in_transit"),
        ReturnsToInspect => ("Returns to inspect", "received, waiting for inspection", Page::Returns, "?status=received"),
        PurchaseOrdersLate => ("Purchase orders late", "sent and past their expected date", Page::Procurement, ""),
        SkusOutOfStock => ("SKUs out of stock", "no unit free to sell at any location", Page::Inventory, ""),
        SkusToReorder => ("SKUs to reorder", "below their reorder point, proposed and not decided", Page::Procurement, ""),
        ReconciliationBreaks => ("Reconciliation breaks", "settlement lines that do not match", Page::Exceptions, "?kind=reconciliation&owner=any"),
        PaymentReviews => ("Payment reviews", "orders held for a payment, address or value review", Page::Holds, ""),
        DeliveriesWaiting => ("Deliveries waiting", "channel deliveries that could not be made into orders", Page::Exceptions, "?kind=channel_mapping&owner=any"),
        ChannelsFailing => ("Channels failing", "connected channels whose deliveries, polls or pushes fail", Page::Channels, ""),
    }
}

/// One role's queue of unresolved exceptions.
struct OwnerRow {
    role: String,
    unresolved: String,
    overdue: String,
    href: String,
}

/// A step of setting up a new business, with the form that does it.
struct Step {
    id: &'static str,
    title: String,
    done: bool,
    href: Option<String>,
    action: &'static str,
}

/// Bars per day stacked by channel.
struct DayChart {
    caption: String,
    bars: Vec<DayBar>,
    keys: Vec<Key>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    as_of: String,
    /// The reader's role's own queues.
    queues: Vec<QueueTile>,
    figures: Vec<Figure>,
    owners: Vec<OwnerRow>,
    charts: Vec<DayChart>,
    tiles: Vec<Tile>,
    /// Until the first order: what is set up and what is still to do.
    checklist: Vec<Step>,
}

impl OverviewPage {
    fn spark_size(&self) -> (i64, i64) {
        (chart::SPARK_WIDTH, chart::SPARK_HEIGHT)
    }

    fn bars_size(&self) -> (i64, i64) {
        (chart::BARS_WIDTH, chart::BARS_HEIGHT)
    }
}

fn percent_or_none(bp: Option<i64>) -> String {
    bp.map_or_else(|| "none".to_owned(), percentage)
}

pub(crate) async fn overview(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    let layout = session.open(Page::Overview)?;
    let counts = dashboard.ordo.master_data().master_data_counts().await.map_err(|e| layout.fail(e))?;
    let actor = &session.actor;
    let page_tile = |page: Page, count: i64| Tile {
        label: page.label(),
        count: grouped(count),
        href: actor.can(page.permission()).then(|| page.href()),
    };
    let (mut figures, mut owners, mut charts, mut as_of, mut queues) = (Vec::new(), Vec::new(), Vec::new(), String::new(), Vec::new());
    if actor.can(Permission::OrdersRead) {
        let counts = dashboard.ordo.reports().work_queues(actor.role).await.map_err(|e| layout.fail(e))?;
        queues = counts
            .into_iter()
            .map(|q| {
                let (label, about, page, filter) = queue_text(q.queue);
                let href = actor.can(page.permission()).then(|| format!("{}{filter}", page.href()));
                QueueTile { id: format!("queue-{}", q.queue.as_str()), label, count: grouped(q.count), about, href }
            })
            .collect();
        let kpis = dashboard.ordo.reports().kpis().await.map_err(|e| layout.fail(e))?;
        as_of = timestamp(&kpis.as_of);
        let show_count = |n: i64| grouped(n);
        let level = |trend: &[i64]| chart::spark(&trend.iter().copied().map(Some).collect::<Vec<_>>(), show_count);
        figures.push(Figure {
            id: "kpi-fill-rate",
            label: "Fill rate",
            value: percent_or_none(kpis.fill_rate.value_bp),
            about: "of orders had every unit reserved when first routed".to_owned(),
            spark: chart::spark(&kpis.fill_rate.trend_bp, percentage),
            queue: Some(("/dashboard/orders?status=backordered", "Backordered orders")),
        });
        figures.push(Figure {
            id: "kpi-sla",
            label: "Shipped on time",
            value: percent_or_none(kpis.sla_adherence.value_bp),
            about: "of fully shipped orders left by their ship-by time".to_owned(),
            spark: chart::spark(&kpis.sla_adherence.trend_bp, percentage),
            queue: Some(("/dashboard/exceptions?kind=late_shipment&owner=any", "Late shipments")),
        });
        figures.push(Figure {
            id: "kpi-backlog",
            label: "Backlog to ship",
            value: grouped(kpis.backlog.value),
            about: "orders not yet shipped or cancelled".to_owned(),
            spark: level(&kpis.backlog.trend),
            queue: actor.can(Permission::InventoryRead).then_some(("/dashboard/fulfilment", "Fulfilment")),
        });
        figures.push(Figure {
            id: "kpi-blocked",
            label: "Blocked orders",
            value: grouped(kpis.blocked.value),
            about: "held for review or waiting for stock".to_owned(),
            spark: level(&kpis.blocked.trend),
            queue: actor.can(Permission::OrdersReview).then_some(("/dashboard/holds", "Holds")),
        });
        figures.push(Figure {
            id: "kpi-exceptions",
            label: "Open exceptions",
            value: grouped(kpis.exceptions.value),
            about: "not yet resolved, by owner below".to_owned(),
            spark: level(&kpis.exceptions.trend),
            queue: actor.can(Permission::ExceptionsRead).then_some(("/dashboard/exceptions?owner=any", "All exceptions")),
        });
        figures.push(Figure {
            id: "kpi-sync",
            label: "Sync problems",
            value: grouped(kpis.sync_problems.value),
            about: "channel deliveries, pushes or mappings that need a person".to_owned(),
            spark: level(&kpis.sync_problems.trend),
            queue: Some(("/dashboard/channels", "Channels")),
        });
        let books = actor.can(Permission::LedgerRead);
        if books {
            let currency = kpis.currency;
            figures.push(Figure {
                id: "kpi-margin",
                label: "Contribution margin",
                value: percent_or_none(kpis.margin_bp.value_bp),
                about: format!(
                    "{} {currency} on {} {currency} of revenue: less refunds, cost of goods, fees and shipping",
                    ordo_domain::money::total_decimal(kpis.margin.contribution(), currency),
                    ordo_domain::money::total_decimal(kpis.margin.revenue, currency)
                ),
                spark: chart::spark(&kpis.margin_bp.trend_bp, percentage),
                queue: Some(("/dashboard/ledger", "Ledger")),
            });
        }
        let queues = actor.can(Permission::ExceptionsRead);
        owners = kpis
            .exceptions_by_owner
            .iter()
            .map(|q| OwnerRow {
                role: q.role.to_string(),
                unresolved: grouped(q.unresolved),
                overdue: grouped(q.overdue),
                href: if queues { format!("/dashboard/exceptions?owner={}", q.role) } else { String::new() },
            })
            .collect();
        let orders: Vec<(String, Vec<i64>)> = kpis.channels.iter().map(|c| (c.channel.clone(), c.orders.clone())).collect();
        let (bars, keys) = chart::stacked_bars(&kpis.days, &orders, |n| format!("{} orders", grouped(n)));
        let total: i64 = orders.iter().flat_map(|(_, days)| days).sum();
        charts.push(DayChart { caption: format!("Orders received per day by channel: {} in 30 days", grouped(total)), bars, keys });
        if books {
            let currency = kpis.currency;
            let clamp = |t: ordo_domain::money::Total| i64::try_from(t).unwrap_or(i64::MAX);
            let revenue: Vec<(String, Vec<i64>)> = kpis.channels.iter().map(|c| (c.channel.clone(), c.revenue.iter().copied().map(clamp).collect())).collect();
            let (bars, keys) = chart::stacked_bars(&kpis.days, &revenue, |minor| format!("{} {currency}", ordo_domain::money::total_decimal(minor.into(), currency)));
            let caption = format!("Revenue booked per day by channel, in {currency}: {} in 30 days", ordo_domain::money::total_decimal(kpis.margin.revenue, currency));
            charts.push(DayChart { caption, bars, keys });
        }
    }
    let mut tiles = vec![
        page_tile(Page::Channels, counts.channels),
        page_tile(Page::Locations, counts.locations),
        page_tile(Page::Products, counts.products),
        Tile { label: "Listings", count: grouped(counts.listings), href: None },
        page_tile(Page::Suppliers, counts.suppliers),
        page_tile(Page::Customers, counts.customers),
    ];
    if actor.can(Permission::AccessManage) {
        tiles.push(Tile { label: "Users", count: grouped(counts.users), href: None });
    }
    let checklist = if actor.can(Permission::OrdersRead) && figures_show_no_order(&dashboard).await.map_err(|e| layout.fail(e))? {
        first_run(&dashboard, &counts, actor).await.map_err(|e| layout.fail(e))?
    } else {
        Vec::new()
    };
    Ok(render(StatusCode::OK, &OverviewPage { layout, as_of, queues, figures, owners, charts, tiles, checklist }))
}

async fn figures_show_no_order(dashboard: &Dashboard) -> ordo_app::AppResult<bool> {
    let (_, orders) = dashboard.ordo.orders().list(None, None, None, 1, 0).await?;
    Ok(orders == 0)
}

/// The steps from an empty database to the first order, each done or a link to its form
/// (for a role that may fill it in).
async fn first_run(dashboard: &Dashboard, counts: &ordo_app::MasterDataCounts, actor: &ordo_app::Actor) -> ordo_app::AppResult<Vec<Step>> {
    let base = dashboard.ordo.settings().base_currency;
    let connections = dashboard.ordo.channels().channel_connections().await?;
    let connected = connections.iter().filter(|c| c.connector.is_some()).count() as i64;
    let stocked = dashboard.ordo.inventory().stock_levels(None).await?.iter().any(|level| level.on_hand > 0);
    let may = |permission: Permission, href: &str| actor.can(permission).then(|| href.to_owned());
    let count = |n: i64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{} {many}", grouped(n)) };
    Ok(vec![
        Step {
            id: "step-currency",
            title: format!(
                "Books are kept in {base}. The base currency is fixed when Ordo starts, by ORDO_BASE_CURRENCY in its configuration; it cannot be changed here. \
                 Product costs and the ledger are in it; a channel selling in another currency needs an exchange rate"
            ),
            done: true,
            href: None,
            action: "",
        },
        Step {
            id: "step-location",
            title: if counts.locations > 0 { count(counts.locations, "location", "locations") } else { "A location to keep stock in and ship from".to_owned() },
            done: counts.locations > 0,
            href: may(Permission::MasterDataWrite, "/dashboard/locations#new-location-title"),
            action: "Add a location",
        },
        Step {
            id: "step-channel",
            title: if counts.channels > 0 {
                count(counts.channels, "channel", "channels")
            } else {
                "A channel orders come from: your web shop, a marketplace".to_owned()
            },
            done: counts.channels > 0,
            href: may(Permission::MasterDataWrite, "/dashboard/channels#new-channel-title"),
            action: "Add a channel",
        },
        Step {
            id: "step-connector",
            title: if connected > 0 {
                format!("{} connected to its shop", count(connected, "channel", "channels"))
            } else {
                "Connect the channel to its shop (Shopify, WooCommerce, Amazon or eBay) so its orders come in by themselves; orders can also come by the API or be entered here".to_owned()
            },
            done: connected > 0,
            // The first channel without a connector, on its page at the connector form.
            href: connections
                .iter()
                .find(|c| c.connector.is_none())
                .filter(|_| connected == 0)
                .and_then(|c| may(Permission::MasterDataWrite, &format!("/dashboard/channels/{}#connector-title", c.channel.code))),
            action: "Connect the channel",
        },
        Step {
            id: "step-products",
            title: if counts.products > 0 { count(counts.products, "product", "products") } else { "Products, one by one or from a CSV file".to_owned() },
            done: counts.products > 0,
            href: may(Permission::MasterDataWrite, "/dashboard/products#new-product-title"),
            action: "Add products",
        },
        Step {
            id: "step-stock",
            title: if stocked { "Stock on hand".to_owned() } else { "Stock: receive or count what is on the shelves".to_owned() },
            done: stocked,
            href: may(Permission::InventoryWrite, "/dashboard/inventory#stock-movement-title"),
            action: "Record stock",
        },
        Step {
            id: "step-users",
            title: if counts.users > 1 { count(counts.users, "user", "users") } else { "The people who work in Ordo, each with a role".to_owned() },
            done: counts.users > 1,
            href: may(Permission::AccessManage, "/dashboard/users#new-user-title"),
            action: "Add users",
        },
        Step {
            id: "step-order",
            title: "The first order: from a connected channel, the API, or entered here (a phone or e-mail order)".to_owned(),
            done: false,
            href: may(Permission::OrdersWrite, "/dashboard/orders#new-order-title"),
            action: "Enter an order",
        },
    ])
}
