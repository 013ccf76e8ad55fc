//! The permission matrix as the server enforces it: every route the OpenAPI document
//! describes, called by every role, answers 403 exactly when the matrix denies the role the
//! permission the document names for that route, and 401 without a token.

use std::collections::BTreeMap;

use ordo_app::domain::access::{Permission, Role};
use serde_json::Value;

use crate::common::Server;

/// A value for a path parameter: a UUID nobody has for ids, a code nobody uses otherwise, so
/// a permitted call finds nothing and changes nothing.
fn placeholder(name: &str) -> &'static str {
    if name == "id" || name == "order" || name == "shipment" {
        "00000000-0000-0000-0000-000000000000"
    } else {
        "NOPE"
    }
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|i| open + i).unwrap();
        out.push_str(&rest[..open]);
        out.push_str(placeholder(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_gives_every_role_exactly_what_the_matrix_allows() {
    let server = Server::start().await;
    let mut tokens = BTreeMap::new();
    for role in Role::ALL {
        tokens.insert(role.as_str(), server.token(role).await);
    }
    let doc: Value = server.client.get(format!("{}/api/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, operation) in operations.as_object().unwrap() {
            let declared = operation["security"][0]["bearer"][0].as_str();
            let declared = declared.unwrap_or_else(|| panic!("{method} {path} names no permission in its security"));
            let permission = Permission::ALL.into_iter().find(|p| p.as_str() == declared);
            let permission = permission.unwrap_or_else(|| panic!("{method} {path} names an unknown permission {declared}"));
            let url = format!("{}{}", server.base, concrete(path));
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let call = |token: Option<&str>| {
                let mut request = server.client.request(method.clone(), &url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if method != reqwest::Method::GET {
                    request = request.header("content-type", "application/json").body("{}");
                }
                request.send()
            };
            assert_eq!(call(None).await.unwrap().status(), 401, "{method} {path} without a token");
            for role in Role::ALL {
                let status = call(Some(&tokens[role.as_str()])).await.unwrap().status().as_u16();
                if role.can(permission) {
                    assert!(status != 403 && status != 401, "{role} may {declared}, yet {method} {path} answered {status}");
                } else {
                    assert_eq!(status, 403, "{role} lacks {declared}, yet {method} {path} answered {status}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 120, "only {checked} operations in the document");
    // The calls the matrix allowed found nothing to change.
    let (_, channels) = server.get(&server.admin, "/api/v1/channels").await;
    assert_eq!(channels.as_array().map(Vec::len), Some(0), "{channels}");
}
