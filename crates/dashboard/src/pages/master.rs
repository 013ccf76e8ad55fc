//! Master data pages: locations, products, suppliers and customers as tables, with the forms
//! that add locations and products (one at a time or from a CSV file) and set a location's
//! shipping methods and working calendar.

use askama::Template;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_domain::access::Permission;
use ordo_domain::calendar::{NewCalendar, NewClosedDate};
use ordo_domain::master::{Customer, CustomerSegment, Location, LocationKind, NewCustomer, NewLocation, NewProduct, NewSupplier, Product, Supplier};
use ordo_domain::FieldError;
use serde::Deserialize;

use super::{comma_list, field, form_fields, Extent, Layout, Page, Pager, Paging, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;

#[derive(Template)]
#[template(path = "locations.html")]
struct LocationsPage {
    layout: Layout,
    locations: Vec<Location>,
    /// Each location's shipping methods; a location not named offers every method.
    methods: std::collections::BTreeMap<String, Vec<String>>,
    forms: Vec<EntryForm>,
}

impl LocationsPage {
    fn methods_of(&self, location: &str) -> String {
        self.methods.get(location).map_or_else(|| "every method".to_owned(), |methods| methods.join(", "))
    }

    /// The weekdays and dates a location is closed, in a few words.
    fn closed_on(&self, location: &Location) -> String {
        let calendar = &location.calendar;
        let mut said = calendar.closed_weekdays.clone();
        match (calendar.closed_dates.first(), calendar.closed_dates.last()) {
            (Some(only), Some(last)) if only == last => said.push(format!("{} ({})", only.date, only.name)),
            (Some(first), Some(last)) => said.push(format!("{} dates from {} to {}", calendar.closed_dates.len(), first.date, last.date)),
            _ => {}
        }
        if said.is_empty() { "works every day".to_owned() } else { said.join(", ") }
    }
}

fn location_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("new-location", "New location", Page::Locations.href(), "Add the location", vec![
        Input::text("code", "Code").hint("short and lower case, such as central or east-3pl"),
        Input::text("name", "Name"),
        Input::text("kind", "Kind").select(&[("warehouse", "Warehouse"), ("3pl", "Third-party logistics (3PL)"), ("store", "Store")]),
        Input::text("priority", "Priority").of(Control::Number).value("1").hint("lower numbers are preferred when routing"),
        Input::text("time_zone", "Time zone").optional().hint("an IANA name such as Europe/Berlin; UTC when empty"),
        Input::text("cutoff_time", "Same-day cut-off").optional().hint("HH:MM in its time zone; 16:00 when empty"),
    ])
    .about("Where stock is kept and shipped from. Orders are routed to the preferred location that has the stock.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn locations(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<super::ExportQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Locations)?;
    if super::ExportQuery::csv(&layout, query)? {
        let locations = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
        let rows = locations.into_iter().map(|l| {
            vec![l.code, l.name, l.kind.as_str().to_owned(), l.priority.to_string(), l.time_zone, l.cutoff_time, l.managed_by.unwrap_or_default()]
        });
        let header = ["code", "name", "kind", "priority", "time_zone", "cutoff_time", "managed_by"];
        return Ok(super::csv_file("locations.csv", super::csv_rows(&header, rows)));
    }
    locations_page(&session, &dashboard, None).await
}

fn shipping_methods_form(locations: &[ordo_domain::master::Location], entered: Option<&Entered>) -> EntryForm {
    let choices: Vec<(&str, &str)> = locations.iter().map(|l| (l.code.as_str(), l.name.as_str())).collect();
    EntryForm::new("shipping-methods", "Shipping methods", "/dashboard/locations/shipping-methods", "Set the methods", vec![
        Input::text("location", "Location").select(&choices),
        Input::text("methods", "Methods").optional().hint("the shipping methods it offers, comma-separated, such as standard, express; empty for every method"),
    ])
    .about("An order asking for a method a location does not offer is routed to another. Replaces the location's methods.")
    .entered(entered)
    .mark_choices()
}

fn calendar_form(locations: &[Location], entered: Option<&Entered>) -> EntryForm {
    let choices: Vec<(&str, &str)> = locations.iter().map(|l| (l.code.as_str(), l.name.as_str())).collect();
    EntryForm::new("calendar", "Working calendar", "/dashboard/locations/calendar", "Set the calendar", vec![
        Input::text("location", "Location").select(&choices),
        Input::text("closed_weekdays", "Closed weekdays").optional().hint("comma-separated, such as saturday, sunday; empty when it works every weekday"),
        Input::text("closed_dates", "Closed dates").of(Control::TextArea).optional().hint("one a line: the date and what it is, such as 2026-12-25 Christmas Day"),
    ])
    .about("Ship-by dates count only the days a location works and fall on their cut-offs; the workload carries a closed day's orders to the next working day. Replaces the location's calendar.")
    .entered(entered)
    .mark_choices()
}

/// A calendar as the form sends it, refused naming the form's own fields (a closed date by its
/// line).
fn calendar_entered(fields: &[(String, String)]) -> Result<NewCalendar, FieldError> {
    let closed_dates = field(fields, "closed_dates")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (date, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            NewClosedDate { date: date.to_owned(), name: Some(name.trim()).filter(|n| !n.is_empty()).map(str::to_owned) }
        })
        .collect();
    let new = NewCalendar { closed_weekdays: comma_list(fields, "closed_weekdays"), closed_dates };
    new.clone().validate().map_err(|e| {
        let (form_field, rest) = e.field.split_once('[').unwrap_or((e.field.as_str(), ""));
        let line = rest.split(']').next().and_then(|i| i.parse::<usize>().ok());
        match line {
            Some(i) if form_field == "closed_dates" => FieldError::new(form_field, format!("line {}: {}", i + 1, e.message)),
            Some(i) => FieldError::new(form_field, format!("item {}: {}", i + 1, e.message)),
            None => FieldError::new(form_field, e.message),
        }
    })?;
    Ok(new)
}

/// Sets a location's working calendar, as `PUT /api/v1/locations/{code}/calendar` does.
pub(crate) async fn set_calendar(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Locations, &headers, Permission::MasterDataWrite)?;
    let fields = form_fields(&body);
    let location = field(&fields, "location").trim().to_owned();
    let set = match calendar_entered(&fields) {
        Ok(new) => match dashboard.ordo.master_data().set_location_calendar(&location, new, &session.actor).await {
            Err(ordo_app::AppError::NotFound { what: "location", .. }) => Err(FieldError::new("location", format!("no location {location:?}")).into()),
            other => other.map(drop),
        },
        Err(error) => Err(error.into()),
    };
    match set {
        Ok(()) => Ok(Redirect::to(Page::Locations.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            locations_page(&session, &dashboard, Some(("calendar", Entered::new(fields, refused)))).await
        }
    }
}

/// The page, with the form of that id as it was refused when `refused` is set (422).
async fn locations_page(session: &Session, dashboard: &Dashboard, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Locations)?;
    let locations = dashboard.ordo.master_data().locations().await.map_err(|e| layout.fail(e))?;
    let methods = dashboard.ordo.master_data().shipping_methods().await.map_err(|e| layout.fail(e))?;
    let entered = |id: &str| refused.as_ref().filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let forms = if session.actor.can(Permission::MasterDataWrite) {
        let mut forms = vec![location_form(entered("new-location"))];
        if !locations.is_empty() {
            forms.push(shipping_methods_form(&locations, entered("shipping-methods")));
            forms.push(calendar_form(&locations, entered("calendar")));
        }
        forms
    } else {
        Vec::new()
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &LocationsPage { layout, locations, methods, forms }))
}

/// A whole number typed into `name`.
pub(crate) fn whole_number(fields: &[(String, String)], name: &str) -> Result<i64, FieldError> {
    field(fields, name).trim().parse().map_err(|_| FieldError::new(name, "must be a whole number"))
}

/// A text typed into `name`, none when left empty.
pub(crate) fn optional(fields: &[(String, String)], name: &str) -> Option<String> {
    Some(field(fields, name).trim().to_owned()).filter(|v| !v.is_empty())
}

pub(crate) async fn create_location(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Locations, &headers, Permission::MasterDataWrite)?;
    let fields = form_fields(&body);
    let new = (|| {
        Ok::<_, FieldError>(NewLocation {
            code: field(&fields, "code").to_owned(),
            name: field(&fields, "name").to_owned(),
            kind: LocationKind::parse("kind", field(&fields, "kind"))?,
            priority: whole_number(&fields, "priority")?,
            time_zone: optional(&fields, "time_zone"),
            cutoff_time: optional(&fields, "cutoff_time"),
            managed_by: None,
            calendar: None,
        })
    })();
    let created = match new {
        Ok(new) => dashboard.ordo.master_data().create_location(new, &session.actor).await.map(drop),
        Err(error) => Err(error.into()),
    };
    match created {
        Ok(()) => Ok(Redirect::to(Page::Locations.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            locations_page(&session, &dashboard, Some(("new-location", Entered::new(fields, refused)))).await
        }
    }
}

/// Sets the shipping methods a location offers, as
/// `PUT /api/v1/locations/{code}/shipping-methods` does.
pub(crate) async fn set_shipping_methods(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Locations, &headers, Permission::MasterDataWrite)?;
    let fields = form_fields(&body);
    let location = field(&fields, "location").trim().to_owned();
    let methods = comma_list(&fields, "methods");
    let set = match dashboard.ordo.master_data().set_shipping_methods(&location, &methods, &session.actor).await {
        Err(ordo_app::AppError::NotFound { what: "location", .. }) => Err(FieldError::new("location", format!("no location {location:?}")).into()),
        other => other.map(drop),
    };
    match set {
        Ok(()) => Ok(Redirect::to(Page::Locations.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            locations_page(&session, &dashboard, Some(("shipping-methods", Entered::new(fields, refused)))).await
        }
    }
}

#[derive(Template)]
#[template(path = "suppliers.html")]
struct SuppliersPage {
    layout: Layout,
    suppliers: Vec<SupplierRow>,
    forms: Vec<EntryForm>,
}

/// A supplier with its terms and how many SKUs it sells us.
struct SupplierRow {
    supplier: Supplier,
    lead_time_sd_days: String,
    payment_terms_days: i64,
    skus: usize,
}

/// A supplier's row: its terms, and how many SKUs it offers.
fn supplier_row(supplier: Supplier, terms: &[ordo_app::SupplierTerms], offered: &[ordo_app::SupplierPrice]) -> SupplierRow {
    let terms = terms.iter().find(|t| t.supplier == supplier.code);
    SupplierRow {
        lead_time_sd_days: terms.map(|t| t.lead_time_sd_days.clone()).unwrap_or_default(),
        payment_terms_days: terms.map_or(0, |t| t.payment_terms_days),
        skus: offered.iter().filter(|o| o.supplier == supplier.code).count(),
        supplier,
    }
}

fn supplier_form(entered: Option<&Entered>, base_currency: &str) -> EntryForm {
    EntryForm::new("new-supplier", "New supplier", Page::Suppliers.href(), "Add the supplier", vec![
        Input::text("code", "Code").hint("short and lower case, such as nordic-ceramics"),
        Input::text("name", "Name"),
        Input::text("currency", "Currency").value(base_currency).hint("what it bills in, such as EUR"),
        Input::text("lead_time_days", "Lead time in days").of(Control::Number).value("14").hint("from the order to the goods arriving"),
    ])
    .about("Who stock is bought from. Its terms and its price for each SKU are set below once it exists.")
    .entered(entered)
}

fn terms_form(entered: Option<&Entered>, suppliers: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("supplier-terms", "Supplier terms", "/dashboard/suppliers/terms", "Set the terms", vec![
        Input::text("supplier", "Supplier").select(suppliers),
        Input::text("lead_time_sd_days", "Lead time spread in days").value("0").hint("how far deliveries stray from the lead time, such as 1.5; safety stock covers it"),
        Input::text("payment_terms_days", "Days to pay").of(Control::Number).value("30").hint("from the bill to its payment"),
    ])
    .about("How reliably the supplier delivers and when its bills are due.")
    .entered(entered)
    .mark_choices()
}

fn supplier_sku_form(entered: Option<&Entered>, suppliers: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("supplier-sku", "What a supplier sells", "/dashboard/suppliers/skus", "Save the price", vec![
        Input::text("supplier", "Supplier").select(suppliers),
        Input::text("sku", "SKU"),
        Input::text("unit_cost", "Unit cost").hint("in the supplier's currency, such as 3.80"),
        Input::text("moq", "Minimum order").of(Control::Number).value("0").hint("units; purchase orders are at least this"),
        Input::text("pack_size", "Pack size").of(Control::Number).value("1").hint("units per pack; orders are whole packs"),
        Input::text("preferred", "Preferred").select(&[("no", "No"), ("yes", "Yes: replenishment buys it here first")]),
    ])
    .about("The supplier's price, minimum and pack for one SKU; replenishment proposals use them.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn suppliers(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<super::ExportQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Suppliers)?;
    if super::ExportQuery::csv(&layout, query)? {
        let suppliers = dashboard.ordo.master_data().suppliers().await.map_err(|e| layout.fail(e))?;
        let terms = dashboard.ordo.procurement().supplier_terms().await.map_err(|e| layout.fail(e))?;
        let offered = dashboard.ordo.procurement().supplier_skus(None).await.map_err(|e| layout.fail(e))?;
        let rows = suppliers.into_iter().map(|s| {
            let row = supplier_row(s, &terms, &offered);
            let s = row.supplier;
            vec![s.code, s.name, s.currency.code().to_owned(), s.lead_time_days.to_string(), row.lead_time_sd_days, row.payment_terms_days.to_string(), row.skus.to_string()]
        });
        let header = ["code", "name", "currency", "lead_time_days", "lead_time_sd_days", "payment_terms_days", "skus"];
        return Ok(super::csv_file("suppliers.csv", super::csv_rows(&header, rows)));
    }
    suppliers_page(&session, &dashboard, None).await
}

/// The page; with `refused`, the form of that id shown again as it was sent (422).
async fn suppliers_page(session: &Session, dashboard: &Dashboard, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Suppliers)?;
    let suppliers = dashboard.ordo.master_data().suppliers().await.map_err(|e| layout.fail(e))?;
    let base = dashboard.ordo.settings().base_currency;
    let entered = |id: &str| refused.as_ref().filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let forms = if session.actor.can(Permission::SuppliersWrite) {
        let mut forms = vec![supplier_form(entered("new-supplier"), base.code())];
        if !suppliers.is_empty() {
            let names: Vec<(String, String)> = suppliers.iter().map(|s| (s.code.clone(), format!("{} ({})", s.name, s.code))).collect();
            let names: Vec<(&str, &str)> = names.iter().map(|(code, name)| (code.as_str(), name.as_str())).collect();
            forms.push(terms_form(entered("supplier-terms"), &names));
            forms.push(supplier_sku_form(entered("supplier-sku"), &names));
        }
        forms
    } else {
        Vec::new()
    };
    let terms = dashboard.ordo.procurement().supplier_terms().await.map_err(|e| layout.fail(e))?;
    let offered = dashboard.ordo.procurement().supplier_skus(None).await.map_err(|e| layout.fail(e))?;
    let suppliers = suppliers.into_iter().map(|supplier| supplier_row(supplier, &terms, &offered)).collect();
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &SuppliersPage { layout, suppliers, forms }))
}

/// After a supplier form: the page again, or the form refused with what was typed.
async fn after_supplier_form(session: &Session, dashboard: &Dashboard, layout: &Layout, form: &str, fields: Vec<(String, String)>, done: ordo_app::AppResult<()>) -> Result<Response, PageError> {
    match done {
        Ok(()) => Ok(Redirect::to(Page::Suppliers.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            suppliers_page(session, dashboard, Some((form, Entered::new(fields, refused)))).await
        }
    }
}

pub(crate) async fn create_supplier(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Suppliers, &headers, Permission::SuppliersWrite)?;
    let fields = form_fields(&body);
    let created = match whole_number(&fields, "lead_time_days") {
        Ok(lead_time_days) => {
            let new = NewSupplier {
                code: field(&fields, "code").to_owned(),
                name: field(&fields, "name").to_owned(),
                currency: field(&fields, "currency").trim().to_owned(),
                lead_time_days,
            };
            dashboard.ordo.master_data().create_supplier(new, &session.actor).await.map(drop)
        }
        Err(error) => Err(error.into()),
    };
    after_supplier_form(&session, &dashboard, &layout, "new-supplier", fields, created).await
}

pub(crate) async fn set_terms(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Suppliers, &headers, Permission::SuppliersWrite)?;
    let fields = form_fields(&body);
    let set = match whole_number(&fields, "payment_terms_days") {
        Ok(days) => dashboard.ordo.procurement().set_supplier_terms(field(&fields, "supplier"), field(&fields, "lead_time_sd_days").trim(), days, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    after_supplier_form(&session, &dashboard, &layout, "supplier-terms", fields, set).await
}

pub(crate) async fn set_supplier_sku(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Suppliers, &headers, Permission::SuppliersWrite)?;
    let fields = form_fields(&body);
    let new = (|| {
        Ok::<_, FieldError>(ordo_app::NewSupplierSku {
            supplier: field(&fields, "supplier").to_owned(),
            sku: field(&fields, "sku").trim().to_owned(),
            unit_cost: field(&fields, "unit_cost").trim().to_owned(),
            moq: whole_number(&fields, "moq")?,
            pack_size: whole_number(&fields, "pack_size")?,
            preferred: match field(&fields, "preferred") {
                "yes" => true,
                "no" | "" => false,
                _ => return Err(FieldError::new("preferred", "must be yes or no")),
            },
        })
    })();
    let set = match new {
        Ok(new) => dashboard.ordo.procurement().set_supplier_sku(new, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    after_supplier_form(&session, &dashboard, &layout, "supplier-sku", fields, set).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ProductsQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
    /// `csv` for every matching product as a file, in the columns the import reads.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "products.html")]
struct ProductsPage {
    layout: Layout,
    q: String,
    products: Vec<Product>,
    pager: Pager,
    forms: Vec<EntryForm>,
}

fn product_form(entered: Option<&Entered>, base_currency: &str) -> EntryForm {
    EntryForm::new("new-product", "New product", Page::Products.href(), "Add the product", vec![
        Input::text("sku", "SKU"),
        Input::text("name", "Name"),
        Input::text("unit_cost", "Unit cost").hint(if base_currency.is_empty() { "" } else { "in the base currency, such as 12.50" }),
        Input::text("weight_grams", "Weight in grams").of(Control::Number).optional(),
    ])
    .about(format!("A SKU Ordo keeps stock of, with what one unit costs in {base_currency}."))
    .entered(entered)
}

fn import_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("import-products", "Import products from a CSV file", "/dashboard/products/import", "Import the file", vec![
        Input::text("file", "CSV file").of(Control::File).hint("columns sku, name, unit_cost and optionally weight_grams, tax_class, abc_class, active"),
    ])
    .about("Every row is checked first; if any row is wrong, nothing is imported and each wrong row is named.")
    .upload()
    .entered(entered)
}

fn tax_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("tax-rate", "Tax rate", "/dashboard/products/tax-rates", "Set the rate", vec![
        Input::text("country", "Country").hint("two letters, such as DE"),
        Input::text("tax_class", "Tax class").value("standard").hint("the class products carry, such as standard or reduced"),
        Input::text("percent", "Rate in percent").hint("such as 19 or 7.5"),
    ])
    .about("What a product of this class is taxed at when shipped to this country, for orders whose channel sends no tax.")
    .entered(entered)
}

#[derive(Default)]
struct ProductForms {
    new: Option<Entered>,
    import: Option<Entered>,
    tax: Option<Entered>,
}

pub(crate) async fn products(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<ProductsQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Products)?;
    let query = layout.query(query)?;
    products_page(&session, &dashboard, query, ProductForms::default()).await
}

async fn products_page(session: &Session, dashboard: &Dashboard, query: ProductsQuery, entered: ProductForms) -> Result<Response, PageError> {
    let layout = session.open(Page::Products)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let q = query.q.unwrap_or_default();
    if query.format.as_deref() == Some("csv") {
        let ordo = &dashboard.ordo;
        let q = q.as_str();
        let products = super::every_page(500, |offset| async move { ordo.master_data().products(Some(q), 500, offset).await.map(|found| found.products) })
            .await
            .map_err(|e| layout.fail(e))?;
        let rows = products.into_iter().map(|p| {
            vec![p.sku, p.name, p.unit_cost.to_decimal_string(), p.weight_grams.to_string(), p.tax_class, p.abc_class.as_str().to_owned(), p.active.to_string()]
        });
        // The columns the products import reads: a file exported here imports elsewhere.
        let header = ["sku", "name", "unit_cost", "weight_grams", "tax_class", "abc_class", "active"];
        return Ok(super::csv_file("products.csv", super::csv_rows(&header, rows)));
    }
    let found = dashboard.ordo.master_data().products(Some(&q), PAGE_SIZE, paging.offset).await.map_err(|e| layout.fail(e))?;
    let what = if q.trim().is_empty() { "products" } else { "matching products" };
    let extent = Extent::Total(found.total);
    let pager = Pager::new(Page::Products.href(), &[("q", q.trim())], paging, found.products.len(), extent, what);
    let status = if entered.new.is_some() || entered.import.is_some() || entered.tax.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let forms = if session.actor.can(Permission::MasterDataWrite) {
        let base = dashboard.ordo.settings().base_currency;
        vec![product_form(entered.new.as_ref(), base.code()), import_form(entered.import.as_ref()), tax_form(entered.tax.as_ref())]
    } else {
        Vec::new()
    };
    Ok(render(status, &ProductsPage { layout, q, products: found.products, pager, forms }))
}

pub(crate) async fn create_product(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Products, &headers, Permission::MasterDataWrite)?;
    let fields = form_fields(&body);
    let weight = optional(&fields, "weight_grams").map(|w| w.parse::<i64>().map_err(|_| FieldError::new("weight_grams", "must be a whole number"))).transpose();
    let created = match weight {
        Ok(weight_grams) => {
            let new = NewProduct {
                sku: field(&fields, "sku").to_owned(),
                name: field(&fields, "name").to_owned(),
                unit_cost: field(&fields, "unit_cost").trim().to_owned(),
                weight_grams,
                tax_class: None,
                abc_class: None,
                active: None,
            };
            dashboard.ordo.master_data().create_product(new, &session.actor).await.map(drop)
        }
        Err(error) => Err(error.into()),
    };
    match created {
        Ok(()) => Ok(Redirect::to(Page::Products.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            let forms = ProductForms { new: Some(Entered::new(fields, refused)), ..ProductForms::default() };
            products_page(&session, &dashboard, ProductsQuery { q: None, page: None, format: None }, forms).await
        }
    }
}

pub(crate) async fn set_tax_rate(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Products, &headers, Permission::MasterDataWrite)?;
    let fields = form_fields(&body);
    let set = dashboard.ordo.master_data().set_tax_rate(field(&fields, "country").trim(), field(&fields, "tax_class").trim(), field(&fields, "percent").trim(), &session.actor).await;
    match set {
        Ok(_) => Ok(Redirect::to(Page::Products.href()).into_response()),
        Err(error) => {
            let mut refused = refusal(error).map_err(|e| layout.fail(e))?;
            // The use case names the rate `rate`; the form asks for it in percent.
            if refused.field == "rate" {
                refused.field = "percent".to_owned();
            }
            let forms = ProductForms { tax: Some(Entered::new(fields, refused)), ..ProductForms::default() };
            products_page(&session, &dashboard, ProductsQuery { q: None, page: None, format: None }, forms).await
        }
    }
}

/// The most a CSV file sent from the dashboard may be.
pub(crate) const UPLOAD_LIMIT: usize = 16 * 1024 * 1024;

/// The file a form's `file` input sent; none when none was chosen.
pub(crate) async fn uploaded_file(layout: &Layout, multipart: Result<Multipart, MultipartRejection>) -> Result<Option<Bytes>, PageError> {
    let mut multipart = multipart.map_err(|rejection| layout.fail(FieldError::new("file", rejection.body_text())))?;
    let mut file = None;
    while let Some(part) = multipart.next_field().await.map_err(|e| layout.fail(FieldError::new("file", e.body_text())))? {
        if part.name() == Some("file") {
            file = Some(part.bytes().await.map_err(|e| layout.fail(FieldError::new("file", e.body_text())))?);
        }
    }
    Ok(file.filter(|bytes| !bytes.is_empty()))
}

/// An import refused for its wrong rows: the first ten named, and how many more.
pub(crate) fn wrong_rows(report: &ordo_app::import::ImportReport) -> FieldError {
    let shown: Vec<String> = report.errors.iter().take(10).map(ToString::to_string).collect();
    let more = report.errors.len().saturating_sub(shown.len());
    let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
    FieldError::new("file", format!("{} of {} rows are wrong, so none was imported: {}{tail}", report.errors.len(), report.rows, shown.join("; ")))
}

/// Imports a products file. The import's future cannot be shown to be `Send` (a compiler
/// limit with async closures over borrowed rows), so it runs to completion on a blocking
/// thread of its own, which an import, rare and long, may well take.
async fn import(dashboard: &Dashboard, data: Bytes, actor: &ordo_app::Actor) -> Result<ordo_app::AppResult<ordo_app::import::ImportReport>, Problem> {
    let (ordo, actor) = (dashboard.ordo.clone(), actor.clone());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let options = ordo_app::import::ImportOptions { skip_invalid: false };
        handle.block_on(ordo.master_data().import_csv(ordo_app::import::ImportKind::Products, &data, options, &ordo_app::NoProgress, &actor))
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "dashboard: a products import did not finish");
        Problem::Internal
    })
}

pub(crate) async fn import_products(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, multipart: Result<Multipart, MultipartRejection>) -> Result<Response, PageError> {
    let layout = session.posting(Page::Products, &headers, Permission::MasterDataWrite)?;
    let imported = match uploaded_file(&layout, multipart).await? {
        None => Err(FieldError::new("file", "choose a CSV file to import")),
        Some(data) => {
            match import(&dashboard, data, &session.actor).await.map_err(|e| layout.fail(e))? {
                Ok(report) if report.errors.is_empty() => Ok(()),
                Ok(report) => Err(wrong_rows(&report)),
                Err(error) => Err(refusal(error).map_err(|e| layout.fail(e))?),
            }
        }
    };
    match imported {
        Ok(()) => Ok(Redirect::to(Page::Products.href()).into_response()),
        Err(refused) => {
            let forms = ProductForms { import: Some(Entered::new(Vec::new(), refused)), ..ProductForms::default() };
            products_page(&session, &dashboard, ProductsQuery { q: None, page: None, format: None }, forms).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CustomersQuery {
    #[serde(default)]
    page: Option<String>,
    /// `csv` for every customer as a file.
    #[serde(default)]
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    layout: Layout,
    customers: Vec<Customer>,
    pager: Pager,
    forms: Vec<EntryForm>,
}

fn customer_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("new-customer", "New customer", Page::Customers.href(), "Add the customer", vec![
        Input::text("email", "E-mail").of(Control::Email),
        Input::text("name", "Name"),
        Input::text("segment", "Segment").select(&[("consumer", "Consumer"), ("business", "Business"), ("vip", "VIP")]),
    ])
    .about("A customer known before their first order, such as a B2B account. Orders from the channels add theirs.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn create_customer(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Customers, &headers, Permission::CustomersWrite)?;
    let fields = form_fields(&body);
    let created = match CustomerSegment::parse("segment", field(&fields, "segment")) {
        Ok(segment) => {
            let new = NewCustomer { email: field(&fields, "email").to_owned(), name: field(&fields, "name").to_owned(), segment: Some(segment) };
            dashboard.ordo.master_data().create_customer(new, &session.actor).await.map(drop)
        }
        Err(error) => Err(error.into()),
    };
    match created {
        Ok(()) => Ok(Redirect::to(Page::Customers.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            customers_page(&session, &dashboard, CustomersQuery { page: None, format: None }, Some(Entered::new(fields, refused))).await
        }
    }
}

pub(crate) async fn customers(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<CustomersQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Customers)?;
    let query = layout.query(query)?;
    customers_page(&session, &dashboard, query, None).await
}

async fn customers_page(session: &Session, dashboard: &Dashboard, query: CustomersQuery, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Customers)?;
    let paging = Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    if query.format.as_deref() == Some("csv") {
        let master = dashboard.ordo.master_data();
        let customers = super::every_page(500, |offset| master.customers(500, offset)).await.map_err(|e| layout.fail(e))?;
        let rows = customers.into_iter().map(|c| vec![c.email, c.name, c.segment.as_str().to_owned(), c.created_at.to_rfc3339()]);
        return Ok(super::csv_file("customers.csv", super::csv_rows(&["email", "name", "segment", "created_at"], rows)));
    }
    // One row past the page tells whether there is a next page without counting them all.
    let mut customers = dashboard.ordo.master_data().customers(PAGE_SIZE + 1, paging.offset).await.map_err(|e| layout.fail(e))?;
    let page_size = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    let more = customers.len() > page_size;
    customers.truncate(page_size);
    let pager = Pager::new(Page::Customers.href(), &[], paging, customers.len(), Extent::More(more), "customers");
    let forms = if session.actor.can(Permission::CustomersWrite) { vec![customer_form(entered.as_ref())] } else { Vec::new() };
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &CustomersPage { layout, customers, pager, forms }))
}

