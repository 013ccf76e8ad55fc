//! The dashboard's own stylesheet, embedded in the binary and served with a long cache life.
//! Pages link it with a content hash in the query, so a changed stylesheet is a new URL.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const CSS: &str = include_str!("../assets/app.css");

/// FNV-1a over the stylesheet, computed at compile time.
const CSS_HASH: u64 = {
    let bytes = CSS.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
};

/// Where pages link the stylesheet from.
pub(crate) fn css_href() -> String {
    format!("/assets/app.css?v={CSS_HASH:016x}")
}

pub(crate) fn router() -> Router {
    Router::new().route("/assets/app.css", get(css))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
}
