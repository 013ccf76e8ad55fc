//! Building links with query strings: what the pager and the log-in redirect put in `href`
//! and `Location`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_escaped_and_empty_values_left_out() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(with_query("/p", &[("q", "mug & co"), ("page", "2")]), "/p?q=mug%20%26%20co&page=2");
        assert_eq!(with_query("/p", &[("q", ""), ("page", "")]), "/p");
    }
}
