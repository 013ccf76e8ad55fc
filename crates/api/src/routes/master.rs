//! Master data: channels, locations, products, listings, customers, suppliers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ordo_app::Ordo;
use ordo_domain::calendar::{Calendar, NewCalendar};
use ordo_domain::master::{
    Channel, Customer, Listing, Location, NewChannel, NewCustomer, NewListing, NewLocation, NewProduct, NewSupplier,
    Product, Supplier,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidJson, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new()
        .routes(routes!(create_channel, list_channels))
        .routes(routes!(get_channel))
        .routes(routes!(create_location, list_locations))
        .routes(routes!(set_calendar))
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product))
        .routes(routes!(set_kit_components, get_kit_components))
        .routes(routes!(create_listing, list_listings))
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(create_supplier, list_suppliers))
        .routes(routes!(set_tax_rate))
        .routes(routes!(set_channel_routing))
        .routes(routes!(set_shipping_methods))
}

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// A channel just made, with what it still lacks to trade in full.
#[derive(Serialize, ToSchema)]
struct CreatedChannel {
    #[serde(flatten)]
    channel: Channel,
    /// Such as a missing exchange rate for its currency; empty when nothing is missing.
    warnings: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/channels", security(("bearer" = ["master_data.write"])), tag = "master data", request_body = NewChannel,
    responses((status = 201, body = CreatedChannel), (status = "4XX", body = ErrorBody)))]
async fn create_channel(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    ValidJson(new): ValidJson<NewChannel>,
) -> Created<CreatedChannel> {
    let channel = ordo.master_data().create_channel(new, &caller.actor).await?;
    let warnings = ordo.master_data().channel_warnings(&channel).await?;
    for warning in &warnings {
        tracing::warn!(channel = %channel.code, "{warning}");
    }
    Ok((StatusCode::CREATED, Json(CreatedChannel { channel, warnings })))
}

#[utoipa::path(get, path = "/api/v1/channels", security(("bearer" = ["master_data.read"])), tag = "master data",
    responses((status = 200, body = Vec<Channel>), (status = "4XX", body = ErrorBody)))]
async fn list_channels(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>) -> Result<Json<Vec<Channel>>, ApiError> {
    Ok(Json(ordo.master_data().channels().await?))
}

#[utoipa::path(get, path = "/api/v1/channels/{code}", security(("bearer" = ["master_data.read"])), tag = "master data", params(("code" = String, Path)),
    responses((status = 200, body = Channel), (status = "4XX", body = ErrorBody)))]
async fn get_channel(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    Path(code): Path<String>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(ordo.master_data().channel(&code).await?))
}

#[utoipa::path(post, path = "/api/v1/locations", security(("bearer" = ["master_data.write"])), tag = "master data", request_body = NewLocation,
    responses((status = 201, body = Location), (status = "4XX", body = ErrorBody)))]
async fn create_location(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    ValidJson(new): ValidJson<NewLocation>,
) -> Created<Location> {
    Ok((StatusCode::CREATED, Json(ordo.master_data().create_location(new, &caller.actor).await?)))
}

#[utoipa::path(get, path = "/api/v1/locations", security(("bearer" = ["master_data.read"])), tag = "master data",
    responses((status = 200, body = Vec<Location>), (status = "4XX", body = ErrorBody)))]
async fn list_locations(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>) -> Result<Json<Vec<Location>>, ApiError> {
    Ok(Json(ordo.master_data().locations().await?))
}

#[utoipa::path(post, path = "/api/v1/products", security(("bearer" = ["master_data.write"])), tag = "master data", request_body = NewProduct,
    responses((status = 201, body = Product), (status = "4XX", body = ErrorBody)))]
async fn create_product(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    ValidJson(new): ValidJson<NewProduct>,
) -> Created<Product> {
    Ok((StatusCode::CREATED, Json(ordo.master_data().create_product(new, &caller.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProductSearch {
    /// Text to find in the SKU or the name.
    q: Option<String>,
    /// At most 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct ProductList {
    products: Vec<Product>,
    /// How many products match in all.
    total: i64,
    limit: i64,
    offset: i64,
}

#[utoipa::path(get, path = "/api/v1/products", security(("bearer" = ["master_data.read"])), tag = "master data", params(ProductSearch),
    responses((status = 200, body = ProductList), (status = "4XX", body = ErrorBody)))]
async fn list_products(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    ValidQuery(search): ValidQuery<ProductSearch>,
) -> Result<Json<ProductList>, ApiError> {
    let (limit, offset) = (search.limit.unwrap_or(50), search.offset.unwrap_or(0));
    let page = ordo.master_data().products(search.q.as_deref(), limit, offset).await?;
    Ok(Json(ProductList { products: page.products, total: page.total, limit, offset }))
}

#[utoipa::path(get, path = "/api/v1/products/{sku}", security(("bearer" = ["master_data.read"])), tag = "master data", params(("sku" = String, Path)),
    responses((status = 200, body = Product), (status = "4XX", body = ErrorBody)))]
async fn get_product(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(ordo.master_data().product(&sku).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KitComponents {
    /// What one kit holds; empty makes the product an ordinary one again.
    components: Vec<ordo_domain::master::KitComponent>,
}

/// Makes the product a kit of these components. An order for a kit reserves its components
/// from one location, all of them or none.
#[utoipa::path(put, path = "/api/v1/products/{sku}/components", security(("bearer" = ["master_data.write"])), tag = "master data", params(("sku" = String, Path)),
    request_body = KitComponents,
    responses((status = 200, body = KitComponents), (status = "4XX", body = ErrorBody)))]
async fn set_kit_components(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(sku): Path<String>,
    ValidJson(body): ValidJson<KitComponents>,
) -> Result<Json<KitComponents>, ApiError> {
    Ok(Json(KitComponents { components: ordo.master_data().set_kit_components(&sku, body.components, &caller.actor).await? }))
}

#[utoipa::path(get, path = "/api/v1/products/{sku}/components", security(("bearer" = ["master_data.read"])), tag = "master data", params(("sku" = String, Path)),
    responses((status = 200, body = KitComponents), (status = "4XX", body = ErrorBody)))]
async fn get_kit_components(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    Path(sku): Path<String>,
) -> Result<Json<KitComponents>, ApiError> {
    Ok(Json(KitComponents { components: ordo.master_data().kit_components(&sku).await? }))
}

#[utoipa::path(post, path = "/api/v1/listings", security(("bearer" = ["master_data.write"])), tag = "master data", request_body = NewListing,
    responses((status = 201, body = Listing), (status = "4XX", body = ErrorBody)))]
async fn create_listing(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    ValidJson(new): ValidJson<NewListing>,
) -> Created<Listing> {
    Ok((StatusCode::CREATED, Json(ordo.master_data().create_listing(new, &caller.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListingFilter {
    /// Only this channel's listings.
    channel: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/listings", security(("bearer" = ["master_data.read"])), tag = "master data", params(ListingFilter),
    responses((status = 200, body = Vec<Listing>), (status = "4XX", body = ErrorBody)))]
async fn list_listings(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    ValidQuery(filter): ValidQuery<ListingFilter>,
) -> Result<Json<Vec<Listing>>, ApiError> {
    Ok(Json(ordo.master_data().listings(filter.channel.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/customers", security(("bearer" = ["customers.write"])), tag = "master data", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = "4XX", body = ErrorBody)))]
async fn create_customer(
    State(ordo): State<Ordo>,
    caller: Authorized<need::CustomersWrite>,
    ValidJson(new): ValidJson<NewCustomer>,
) -> Created<Customer> {
    Ok((StatusCode::CREATED, Json(ordo.master_data().create_customer(new, &caller.actor).await?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Paging {
    /// At most 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/customers", security(("bearer" = ["master_data.read"])), tag = "master data", params(Paging),
    responses((status = 200, body = Vec<Customer>), (status = "4XX", body = ErrorBody)))]
async fn list_customers(
    State(ordo): State<Ordo>,
    _: Authorized<need::MasterDataRead>,
    ValidQuery(paging): ValidQuery<Paging>,
) -> Result<Json<Vec<Customer>>, ApiError> {
    Ok(Json(ordo.master_data().customers(paging.limit.unwrap_or(50), paging.offset.unwrap_or(0)).await?))
}

#[utoipa::path(post, path = "/api/v1/suppliers", security(("bearer" = ["suppliers.write"])), tag = "master data", request_body = NewSupplier,
    responses((status = 201, body = Supplier), (status = "4XX", body = ErrorBody)))]
async fn create_supplier(
    State(ordo): State<Ordo>,
    caller: Authorized<need::SuppliersWrite>,
    ValidJson(new): ValidJson<NewSupplier>,
) -> Created<Supplier> {
    Ok((StatusCode::CREATED, Json(ordo.master_data().create_supplier(new, &caller.actor).await?)))
}

#[utoipa::path(get, path = "/api/v1/suppliers", security(("bearer" = ["master_data.read"])), tag = "master data",
    responses((status = 200, body = Vec<Supplier>), (status = "4XX", body = ErrorBody)))]
async fn list_suppliers(State(ordo): State<Ordo>, _: Authorized<need::MasterDataRead>) -> Result<Json<Vec<Supplier>>, ApiError> {
    Ok(Json(ordo.master_data().suppliers().await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TaxRate {
    /// Percent as a decimal string, such as "19" or "7.25".
    rate: String,
}

#[derive(Serialize, ToSchema)]
struct TaxRateSet {
    country: String,
    tax_class: String,
    rate: String,
}

/// Sets the tax rate for a ship-to country and product tax class; used for order lines a
/// channel sends without tax.
#[utoipa::path(put, path = "/api/v1/tax-rates/{country}/{tax_class}", security(("bearer" = ["master_data.write"])), tag = "master data",
    params(("country" = String, Path), ("tax_class" = String, Path)), request_body = TaxRate,
    responses((status = 200, body = TaxRateSet), (status = "4XX", body = ErrorBody)))]
async fn set_tax_rate(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path((country, tax_class)): Path<(String, String)>,
    ValidJson(body): ValidJson<TaxRate>,
) -> Result<Json<TaxRateSet>, ApiError> {
    let basis_points = ordo.master_data().set_tax_rate(&country, &tax_class, &body.rate, &caller.actor).await?;
    let rate = format!("{}.{:02}", basis_points / 100, basis_points % 100);
    Ok(Json(TaxRateSet { country: country.trim().to_ascii_uppercase(), tax_class, rate }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChannelRouting {
    /// May one order ship from several locations?
    allow_split: bool,
    /// The locations that may serve the channel; empty for all.
    locations: Vec<String>,
}

/// Sets how the channel's orders are routed.
#[utoipa::path(put, path = "/api/v1/channels/{code}/routing", security(("bearer" = ["master_data.write"])), tag = "master data",
    params(("code" = String, Path)), request_body = ChannelRouting,
    responses((status = 200, body = ChannelRouting), (status = "4XX", body = ErrorBody)))]
async fn set_channel_routing(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<ChannelRouting>,
) -> Result<Json<ChannelRouting>, ApiError> {
    let (allow_split, locations) = ordo.master_data().set_channel_routing(&code, body.allow_split, &body.locations, &caller.actor).await?;
    Ok(Json(ChannelRouting { allow_split, locations }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShippingMethods {
    /// Shipping methods the location offers, such as "standard" or "express"; empty for all.
    methods: Vec<String>,
}

/// Sets the shipping methods a location offers.
#[utoipa::path(put, path = "/api/v1/locations/{code}/shipping-methods", security(("bearer" = ["master_data.write"])), tag = "master data",
    params(("code" = String, Path)), request_body = ShippingMethods,
    responses((status = 200, body = ShippingMethods), (status = "4XX", body = ErrorBody)))]
async fn set_shipping_methods(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<ShippingMethods>,
) -> Result<Json<ShippingMethods>, ApiError> {
    Ok(Json(ShippingMethods { methods: ordo.master_data().set_shipping_methods(&code, &body.methods, &caller.actor).await? }))
}

/// Sets the weekdays and dates a location does not work (`closed_weekdays` such as
/// `["saturday", "sunday"]`; `closed_dates` as `[{"date": "2026-12-25", "name": "Christmas Day"}]`,
/// at most 1,000). Ship-by dates count only its working days' hours and fall on its working
/// days' cut-offs; the workload carries a closed day's orders to the next working day. Orders
/// already routed keep their ship-by dates. An empty calendar means every day is worked.
#[utoipa::path(put, path = "/api/v1/locations/{code}/calendar", security(("bearer" = ["master_data.write"])), tag = "master data",
    params(("code" = String, Path)), request_body = NewCalendar,
    responses((status = 200, body = Calendar), (status = "4XX", body = ErrorBody)))]
async fn set_calendar(
    State(ordo): State<Ordo>,
    caller: Authorized<need::MasterDataWrite>,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<NewCalendar>,
) -> Result<Json<Calendar>, ApiError> {
    Ok(Json(ordo.master_data().set_location_calendar(&code, body, &caller.actor).await?))
}
