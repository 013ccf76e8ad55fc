//! Building links with query strings: what the pager and the log-in redirect put in `href`
//! and `Location`, and which addresses the browser may be sent back to after logging in.

/// Where to go after logging in when nothing (or nothing safe) was asked for.
pub(crate) const HOME: &str = "/dashboard";

/// `value` percent-encoded for a query string: everything but unreserved characters.
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path` with the non-empty `params` as its query string.
pub(crate) fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", query_escape(value)))
        .collect();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// `next` if it is a dashboard path we may send the browser to after logging in. Anything
/// else (another site, `//host`, odd characters) is dropped, so the log-in page cannot be
/// used to redirect people elsewhere.
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let rest = next.strip_prefix(HOME)?;
    let safe = next.len() <= 2048
        && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        && !next.contains("//")
        && next.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    safe.then_some(next)
}

/// The log-in page's address, asking to come back to `next` afterwards.
pub(crate) fn login_href(next: Option<&str>) -> String {
    match next.and_then(safe_next).filter(|next| *next != HOME) {
        Some(next) => format!("/login?next={}", query_escape(next)),
        None => "/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_escaped_and_empty_values_left_out() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(with_query("/p", &[("q", "mug & co"), ("page", "2")]), "/p?q=mug%20%26%20co&page=2");
        assert_eq!(with_query("/p", &[("q", ""), ("page", "")]), "/p");
    }

    #[test]
    fn only_dashboard_paths_are_followed_after_log_in() {
        for good in ["/dashboard", "/dashboard/products?q=mug&page=2", "/dashboard?x=1"] {
            assert_eq!(safe_next(good), Some(good));
        }
        for bad in [
            "https://evil.example/dashboard",
            "//evil.example",
            "/dashboardx",
            "/dashboard.evil.example",
            "/dashboard//evil.example",
            "/dashboard/\\evil",
            "/dashboard/a b",
            "/dashboard/\r\nSet-Cookie:x=1",
            "/login",
            "",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_log_in_link_carries_next_escaped() {
        assert_eq!(login_href(Some("/dashboard/products?q=a b")), "/login");
        assert_eq!(login_href(Some("/dashboard/products?q=mug&page=2")), "/login?next=%2Fdashboard%2Fproducts%3Fq%3Dmug%26page%3D2");
        assert_eq!(login_href(Some("/dashboard")), "/login");
        assert_eq!(login_href(Some("https://evil.example")), "/login");
        assert_eq!(login_href(None), "/login");
    }
}
