//! Credentials with a life cycle: tokens are listed, expire and are revoked; failed log-ins slow
//! down and then lock an account or an address until the lock runs out or an admin lifts it;
//! disabled users and new passwords end sessions.

use std::net::IpAddr;

use ordo_app::domain::access::Role;
use ordo_app::{Actor, AppError, AppResult, Clock};
use serde_json::{json, Value};

use crate::common::Server;

#[tokio::test]
async fn tokens_are_listed_and_a_revoked_one_is_refused_at_once() {
    let server = Server::start().await;
    let t = &server.admin;
    let (status, created) = server.post(t, "/api/v1/tokens", json!({"role": "integration", "name": "shop connector"})).await;
    assert_eq!(status, 201, "{created}");
    let (token, id) = (created["token"].as_str().unwrap().to_owned(), created["id"].as_str().unwrap().to_owned());
    assert_eq!(server.get(&token, "/api/v1/products").await.0, 200);

    let (status, past) = server.post(t, "/api/v1/tokens", json!({"role": "viewer", "name": "late", "expires_at": "2020-01-01T00:00:00Z"})).await;
    assert_eq!((status, past["error"]["field"].as_str()), (422, Some("expires_at")), "{past}");
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (_, brief) = server.post(t, "/api/v1/tokens", json!({"role": "viewer", "name": "brief", "expires_at": soon})).await;
    let brief = brief["token"].as_str().unwrap().to_owned();
    assert_eq!(server.get(&brief, "/api/v1/products").await.0, 200);

    // The last use is noted beside the request, to the minute.
    let listed = loop {
        let (status, listed) = server.get(t, "/api/v1/tokens").await;
        assert_eq!(status, 200, "{listed}");
        let shop = listed.as_array().unwrap().iter().find(|l| l["id"] == id.as_str()).unwrap().clone();
        if !shop["last_used_at"].is_null() {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(!listed.to_string().contains(&token), "the secret is never listed");
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"bootstrap admin") && names.contains(&"shop connector"), "{names:?}");

    let integration = server.token(Role::Integration).await;
    assert_eq!(server.get(&integration, "/api/v1/tokens").await.0, 403, "only access.manage sees tokens");
    let revoke = |token: String, id: String| {
        let client = server.client.clone();
        let url = format!("{}/api/v1/tokens/{id}", server.base);
        async move { client.delete(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(revoke(t.clone(), id.clone()).await, 204);
    let refused = server.client.get(format!("{}/api/v1/products", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), 401, "revoked: refused from the next request on");
    assert_eq!(refused.headers()["www-authenticate"], "Bearer realm=\"ordo\"");
    assert_eq!(revoke(t.clone(), id.clone()).await, 404, "revoked once");
    let (_, listed) = server.get(t, "/api/v1/tokens").await;
    let shop = listed.as_array().unwrap().iter().find(|l| l["id"] == id.as_str()).unwrap();
    assert!(!shop["revoked_at"].is_null(), "{shop}");

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(server.get(&brief, "/api/v1/products").await.0, 401, "expired");
    let (_, audit) = server.get(t, "/api/v1/audit?limit=50").await;
    assert!(audit.to_string().contains("token.revoke"), "{audit}");
}

async fn log_in_form(server: &Server, username: &str, password: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    crate::common::post_login(&client, &server.base, username, password).await
}

#[tokio::test]
async fn fifty_wrong_passwords_slow_down_and_lock_until_an_admin_lifts_it() {
    let server = Server::start().await;
    let password = "the right password";
    server.ordo.access().create_user("fran", password, Role::Finance, &Actor::system()).await.unwrap();

    // Fifty wrong passwords as fast as a script sends them: a few are checked, then each
    // attempt is told to wait, without the password being looked at.
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let answer = log_in_form(&server, "fran", "guess").await;
        let status = answer.status().as_u16();
        if status == 429 {
            let wait: i64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=3600).contains(&wait), "{wait}");
            assert!(answer.text().await.unwrap().contains("Too many failed log-ins"));
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..4], [401, 401, 401, 401], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "slowed down: {statuses:?}");

    // An attacker who waits out each delay reaches the lockout at the tenth failure in a row:
    // the clock is moved instead of waiting.
    let clock = Clock::simulated(chrono::Utc::now());
    let ordo = server.ordo.with_clock(clock.clone());
    let mut failures = 4;
    let mut locked = false;
    for _ in 0..30 {
        match ordo.access().log_in("fran", "guess", None).await {
            Err(AppError::Unauthenticated) => failures += 1,
            Err(AppError::TooManyAttempts { retry_after_s }) if failures >= 10 => {
                assert!(retry_after_s > 3_000, "locked for about an hour: {retry_after_s}");
                locked = true;
                break;
            }
            Err(AppError::TooManyAttempts { retry_after_s }) => clock.set(clock.now() + chrono::Duration::seconds(retry_after_s)),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert!(locked && failures == 10, "failures {failures}");
    let right = log_in_form(&server, "fran", password).await;
    assert_eq!(right.status(), 429, "locked: even the right password waits");

    let (_, audit) = server.get(&server.admin, "/api/v1/audit?limit=50").await;
    assert!(audit.to_string().contains("login.lock"), "each lockout is audited: {audit}");
    let unlock = server.post(&server.admin, "/api/v1/users/fran/unlock", Value::Null).await;
    assert_eq!(unlock.0, 204, "{unlock:?}");
    let right = log_in_form(&server, "fran", password).await;
    assert_eq!(right.status(), 303, "the admin lifted the lock");
    let (_, audit) = server.get(&server.admin, "/api/v1/audit?limit=50").await;
    assert!(audit.to_string().contains("login.unlock"), "{audit}");
}

/// Ordo always keeps an administrator who can log in: two demoting each other at once, one
/// of them stays; the last can be neither demoted nor disabled.
async fn the_last_administrator_stays_even_when_two_step_down_at_once(server: Server) {
    let access = server.ordo.access();
    for name in ["ada", "bea"] {
        access.create_user(name, "a long enough password", Role::Admin, &Actor::system()).await.unwrap();
    }
    let (ordo_a, ordo_b) = (server.ordo.clone(), server.ordo.clone());
    let (a, b) = tokio::join!(
        tokio::spawn(async move { ordo_a.access().set_user_role("ada", Role::Ops, &Actor::system()).await }),
        tokio::spawn(async move { ordo_b.access().set_user_role("bea", Role::Ops, &Actor::system()).await }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_ok() != b.is_ok(), "one of the two stays an administrator: {:?} {:?}", a.map(|_| ()), b.map(|_| ()));
    let last = if a.is_ok() { "bea" } else { "ada" };
    let refused = |e: AppResult<()>| matches!(e, Err(AppError::Invalid(ref f)) if f.message.contains("last administrator"));
    assert!(refused(access.set_user_role(last, Role::Ops, &Actor::system()).await));
    assert!(refused(access.set_user_disabled(last, true, &Actor::system()).await));
    let admins = access.users().await.unwrap().into_iter().filter(|u| u.role == Role::Admin && u.disabled_at.is_none()).count();
    assert_eq!(admins, 1);
}

crate::common::on_both_engines!(
    the_last_administrator_stays_even_when_two_step_down_at_once,
    the_last_administrator_stays_on_sqlite,
    the_last_administrator_stays_on_postgres
);

/// A guesser who sends passwords all at once gets no more answers than one who sends them one
/// after another: three free, the fourth answered and slowed down, the rest told to wait.
async fn wrong_passwords_sent_at_once_are_throttled_as_if_sent_in_turn(server: Server) {
    server.ordo.access().create_user("gus", "the right password", Role::Finance, &Actor::system()).await.unwrap();
    // A clock that stands still: the wait after the fourth failure never runs out.
    let ordo = server.ordo.with_clock(Clock::simulated(chrono::Utc::now()));
    let address: IpAddr = "203.0.113.9".parse().unwrap();
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let ordo = ordo.clone();
        guesses.spawn(async move { ordo.access().log_in("gus", "guess", Some(address)).await.map(|_| ()) });
    }
    let (mut answered, mut waiting) = (0, 0);
    while let Some(outcome) = guesses.join_next().await {
        match outcome.unwrap() {
            Err(AppError::Unauthenticated) => answered += 1,
            Err(AppError::TooManyAttempts { .. }) => waiting += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((answered, waiting), (4, 12), "four checked, the rest told to wait");
    let right = ordo.access().log_in("gus", "the right password", Some(address)).await;
    assert!(matches!(right, Err(AppError::TooManyAttempts { .. })), "the right password waits too: {:?}", right.map(|_| ()));
}

crate::common::on_both_engines!(
    wrong_passwords_sent_at_once_are_throttled_as_if_sent_in_turn,
    wrong_passwords_at_once_on_sqlite,
    wrong_passwords_at_once_on_postgres
);

#[tokio::test]
async fn one_address_guessing_many_accounts_is_locked_too() {
    let server = Server::start().await;
    let clock = Clock::simulated(chrono::Utc::now());
    let ordo = server.ordo.with_clock(clock.clone());
    let address: IpAddr = "203.0.113.7".parse().unwrap();
    let mut failures = 0;
    for n in 0..200 {
        match ordo.access().log_in(&format!("user{n}"), "guess", Some(address)).await {
            Err(AppError::Unauthenticated) => failures += 1,
            Err(AppError::TooManyAttempts { retry_after_s }) if retry_after_s > 3_000 => break,
            Err(AppError::TooManyAttempts { retry_after_s }) => clock.set(clock.now() + chrono::Duration::seconds(retry_after_s)),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert_eq!(failures, 50, "the address locks at its fiftieth failure");
    let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
    assert!(matches!(ordo.access().log_in("someone", "guess", Some(elsewhere)).await, Err(AppError::Unauthenticated)), "other addresses are not locked");
}

#[tokio::test]
async fn a_disabled_user_or_a_new_password_ends_the_sessions() {
    let server = Server::start().await;
    let ops = crate::common::Browserless::log_in(&server, "olga", Role::Ops).await;
    assert_eq!(ops.get("/dashboard").await.0, 200);
    assert_eq!(server.post(&server.admin, "/api/v1/users/olga/disable", Value::Null).await.0, 204);
    assert_eq!(ops.get("/dashboard").await.0, 303, "the session ended");
    assert_eq!(log_in_form(&server, "olga", "a long enough password").await.status(), 401, "disabled");
    assert_eq!(server.post(&server.admin, "/api/v1/users/olga/enable", Value::Null).await.0, 204);
    let ops = crate::common::Browserless::log_in_as(&server, "olga", "a long enough password").await;
    assert_eq!(ops.get("/dashboard").await.0, 200);
    let (status, short) = server.put(&server.admin, "/api/v1/users/olga/password", json!({"password": "short"})).await;
    assert_eq!((status, short["error"]["field"].as_str()), (422, Some("password")));
    assert_eq!(server.put(&server.admin, "/api/v1/users/olga/password", json!({"password": "a brand new password"})).await.0, 204);
    assert_eq!(ops.get("/dashboard").await.0, 303, "a new password ends the sessions");
    assert_eq!(log_in_form(&server, "olga", "a long enough password").await.status(), 401);
    assert_eq!(log_in_form(&server, "olga", "a brand new password").await.status(), 303);
    assert_eq!(server.post(&server.admin, "/api/v1/users/nobody/disable", Value::Null).await.0, 404);
}

#[tokio::test]
async fn forms_need_their_token_and_this_sites_origin_and_api_answers_carry_security_headers() {
    let server = Server::start().await;
    let password = "a long enough password";
    server.ordo.access().create_user("rita", password, Role::Ops, &Actor::system()).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = client.post(format!("{}/login", server.base)).form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let bare = vec![("username", "rita".to_owned()), ("password", password.to_owned())];
    assert_eq!(login(bare.clone(), None).await.unwrap().status(), 403, "a log-in form without its token");
    let page = client.get(format!("{}/login", server.base)).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let mut with_token = bare.clone();
    with_token.push(("form_token", token.clone()));
    let foreign = client
        .post(format!("{}/login", server.base))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403, "a log-in posted from another site");
    let wrong = client.post(format!("{}/login", server.base)).header("cookie", "ordo_login=".to_owned() + &"0".repeat(64)).form(&with_token).send().await.unwrap();
    assert_eq!(wrong.status(), 403, "a token that is not the cookie's");

    let rita = crate::common::Browserless::log_in_as(&server, "rita", password).await;
    let session = rita.cookie().to_owned();
    // A cancel posted without the page's token, as another site would make a browser do.
    let (_, order) = {
        crate::orders::shop(&server, 5).await;
        server.post(&server.admin, "/api/v1/orders", crate::orders::order("CS1", json!([{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}]))).await
    };
    let cancel = format!("{}/dashboard/orders/{}/cancel", server.base, order["id"].as_str().unwrap());
    let forged = client.post(&cancel).header("cookie", &session).form(&[("reason", "forged")]).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("nothing was done"));
    let (_, still) = server.get(&server.admin, &format!("/api/v1/orders/{}", order["id"].as_str().unwrap())).await;
    assert_eq!(still["status"], "allocated", "the forged form changed nothing");
    let logout = client.post(format!("{}/logout", server.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(logout.status(), 403, "log-out needs the token too");
    assert_eq!(rita.get("/dashboard").await.0, 200, "so the session goes on");
    let (status, _) = rita.post(&format!("/dashboard/orders/{}/cancel", order["id"].as_str().unwrap()), &[("reason", "customer asked")]).await;
    assert_eq!(status, 303, "the page's own form works");

    let answer = server.client.get(format!("{}/api/v1/products", server.base)).bearer_auth(&server.admin).send().await.unwrap();
    for (header, value) in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("cache-control", "no-store"), ("referrer-policy", "no-referrer")] {
        assert_eq!(answer.headers().get(header).map(|v| v.to_str().unwrap()), Some(value), "{header}");
    }
}

/// Connector secrets are sealed before they are stored: neither the connector's row nor the
/// database's files (on SQLite) hold them in plain text, and only the configured key opens them.
async fn connector_secrets_are_sealed_at_rest(server: Server) {
    const WEBHOOK_SECRET: &str = "shpss_plain-webhook-secret-4711";
    const ACCESS_TOKEN: &str = "shpat_plain-access-token-0815";
    let t = &server.admin;
    crate::orders::shop(&server, 1).await;
    let connector = json!({"kind": "shopify", "base_url": "https://ordo-test.myshopify.com", "webhook_secrets": [WEBHOOK_SECRET],
        "credentials": {"access_token": ACCESS_TOKEN}});
    assert_eq!(server.put(t, "/api/v1/channels/web/connector", connector).await.0, 200);

    let mut tx = server.ordo.storage().read().await.unwrap();
    let row = tx.connector("web").await.unwrap().unwrap();
    drop(tx);
    let (secrets, credentials) = (row.webhook_secrets.clone().unwrap(), row.credentials.clone().unwrap());
    for plain in [WEBHOOK_SECRET, ACCESS_TOKEN] {
        assert!(!secrets.contains(plain) && !credentials.contains(plain), "{plain} stored as it is: {row:?}");
    }
    let key = ordo_app::SecretKey::from_text(crate::common::TEST_SECRET_KEY).unwrap();
    let opened: Vec<String> = serde_json::from_str(&key.open(&secrets).unwrap()).unwrap();
    assert_eq!(opened, [WEBHOOK_SECRET], "the configured key opens what was sealed");
    assert!(key.open(&credentials).unwrap().contains(ACCESS_TOKEN));
    let other = ordo_app::SecretKey::from_text("another key entirely, thirty-two characters or more").unwrap();
    assert!(other.open(&secrets).is_err(), "another key does not");

    if let Some(path) = server.database_url().strip_prefix("sqlite://") {
        let dir = std::path::Path::new(path).parent().unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            for plain in [WEBHOOK_SECRET, ACCESS_TOKEN] {
                assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} is in a database file");
            }
        }
    }
}

crate::common::on_both_engines!(connector_secrets_are_sealed_at_rest, connector_secrets_are_sealed_at_rest_on_sqlite, connector_secrets_are_sealed_at_rest_on_postgres);
