//! A running Ordo server for tests, on a fresh database.

use std::time::Duration;

use ordo::serve::{self, HttpOptions};
use ordo_app::domain::access::Role;
use ordo_app::{Ordo, Settings, StorageOptions};
use serde_json::Value;
use tempfile::TempDir;

pub struct Server {
    pub base: String,
    url: String,
    pub ordo: Ordo,
    pub admin: String,
    pub client: reqwest::Client,
    _dir: TempDir,
    inbox_stop: tokio::sync::watch::Sender<bool>,
}

/// The secret test servers take EasyPost's tracking webhooks signed with (NFKD-normalised
/// before use: "ﬁ" signs as "fi").
pub const TEST_EASYPOST_SECRET: &str = "whsec_easypost-ﬁrst";

/// The key test servers seal connector secrets with.
pub const TEST_SECRET_KEY: &str = "a test key of at least thirty-two characters";

/// `ordo`'s HTTP server on a free port of 127.0.0.1 and its inbox processor, as `ordo serve`
/// runs them; the address, and what stops the processor when dropped.
async fn serve_in_process(ordo: &Ordo) -> (String, tokio::sync::watch::Sender<bool>) {
    let options = HttpOptions { request_timeout: Duration::from_secs(30), body_limit_bytes: 64 * 1024, secure_cookies: false };
    let app = serve::app(ordo.clone(), &options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let processor = ordo.clone();
    tokio::spawn(async move { processor.channels().run_inbox(stopped).await });
    (base, stop)
}

/// What test servers are configured with.
fn test_settings() -> Settings {
    Settings {
        base_currency: ordo_app::domain::Currency::EUR,
        secret_key: Some(ordo_app::SecretKey::from_text(TEST_SECRET_KEY).unwrap()),
        carrier_webhook_secrets: vec![TEST_EASYPOST_SECRET.to_owned()],
        audit_key: Some(ordo_app::domain::audit::ChainKey::from_text("the test servers' audit key, thirty-two characters").unwrap()),
        ..Settings::default()
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var("ORDO_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

impl Server {
    /// A server on a fresh SQLite file.
    pub async fn start() -> Server {
        Self::start_on(None).await
    }

    /// A server on a fresh SQLite file, or on a fresh PostgreSQL database under `postgres`.
    pub async fn start_on(postgres: Option<&str>) -> Server {
        Self::start_with(postgres, false).await
    }

    /// A server on the demo business, on a fresh SQLite file.
    pub async fn start_demo() -> Server {
        Self::start_with(None, true).await
    }

    /// A server on the demo business after `days` of trading, on a fresh SQLite file or
    /// PostgreSQL database; the demo's summary. The trading is done before the server and its
    /// inbox processor start, as `ordo demo` does before `ordo serve`.
    pub async fn start_demo_trading(postgres: Option<&str>, days: u32) -> (Server, ordo_demo::DemoSummary) {
        let dir = tempfile::tempdir().unwrap();
        let url = match postgres {
            None => format!("sqlite://{}", dir.path().join("ordo.db").display()),
            Some(base) => ordo_storage::testing::create_postgres_database(base).await.unwrap(),
        };
        let ordo = Ordo::open(&url, &StorageOptions::default(), test_settings()).await.unwrap();
        let http = std::sync::Arc::new(ordo_connectors::Http::new().unwrap());
        let summary = ordo_demo::build_demo(&ordo, days, None, http, &ordo_app::NoProgress).await.unwrap();
        ordo.close().await;
        (Self::start_at(dir, url, StorageOptions::default(), false).await, summary)
    }

    async fn start_with(postgres: Option<&str>, demo: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = match postgres {
            None => format!("sqlite://{}", dir.path().join("ordo.db").display()),
            Some(base) => ordo_storage::testing::create_postgres_database(base).await.unwrap(),
        };
        Self::start_at(dir, url, StorageOptions::default(), demo).await
    }

    /// A server on the database at `url` (its folder `dir`, kept while the server lives),
    /// opened with `storage`.
    pub async fn start_at(dir: TempDir, url: String, storage: StorageOptions, demo: bool) -> Server {
        // Server errors show in the failing test's output.
        let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
        let ordo = Ordo::open(&url, &storage, test_settings()).await.unwrap();
        let url = url.clone();
        if demo {
            ordo_demo::build_demo(&ordo, 0, None, std::sync::Arc::new(ordo_connectors::Http::new().unwrap()), &ordo_app::NoProgress).await.unwrap();
        }
        let admin = ordo.access().create_bootstrap_token().await.unwrap().unwrap().token;
        let (base, stop) = serve_in_process(&ordo).await;
        Server { base, url, ordo, admin, client: reqwest::Client::new(), _dir: dir, inbox_stop: stop }
    }

    /// A second Ordo on the same database, with its own HTTP server and inbox processor, as
    /// another `ordo serve` would be.
    pub async fn another_instance(&self) -> Server {
        let settings = self.ordo.settings().clone();
        let ordo = Ordo::open(&self.url, &StorageOptions::default(), settings).await.unwrap();
        let admin = ordo.access().create_token(Role::Admin, "second instance", &ordo_app::Actor::system()).await.unwrap().token;
        let (base, stop) = serve_in_process(&ordo).await;
        let dir = tempfile::tempdir().unwrap();
        Server { base, url: self.url.clone(), ordo, admin, client: reqwest::Client::new(), _dir: dir, inbox_stop: stop }
    }

    /// The database the server runs on, for a second process to open.
    pub fn ordo_url(&self) -> String {
        self.url.clone()
    }

    /// The database this server keeps its data in.
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// Stops the server's inbox processor, so a test can run the inbox's rounds itself.
    pub async fn stop_inbox(&self) {
        self.inbox_stop.send_replace(true);
        // A round under way finishes first.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Runs `statements` on the server's database directly, as its administrator would.
    pub async fn run_sql(&self, statements: &[&str]) {
        if self.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&pool).await.unwrap();
            }
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }

    pub async fn token(&self, role: Role) -> String {
        self.ordo.access().create_token(role, &format!("test {role}"), &ordo_app::Actor::system()).await.unwrap().token
    }

    /// POSTs JSON with a token; returns the status and the body.
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let response =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let response =
            self.client.put(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A signed-in dashboard user's client: the session cookie on every request, redirects shown.
pub struct Browserless {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browserless {
    pub async fn log_in(server: &Server, username: &str, role: Role) -> Browserless {
        let password = "a long enough password";
        server.ordo.access().create_user(username, password, role, &ordo_app::Actor::system()).await.unwrap();
        Self::log_in_as(server, username, password).await
    }

    /// Logs in as a user who exists already.
    pub async fn log_in_as(server: &Server, username: &str, password: &str) -> Browserless {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let answer = post_login(&client, &server.base, username, password).await;
        assert_eq!(answer.status(), 303);
        let cookie = answer.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        Browserless { client, base: server.base.clone(), cookie }
    }

    /// The session cookie, `name=value`.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let answer = self.client.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// Posts a form as the page would, with the session's form token; the status and where it
    /// sends the browser next.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let token = ordo_app::form_token(self.cookie.split_once('=').map_or("", |(_, key)| key));
        let mut form = form.to_vec();
        form.push(("form_token", &token));
        let answer = self.client.post(format!("{}{path}", self.base)).header("cookie", &self.cookie).form(&form).send().await.unwrap();
        let status = answer.status().as_u16();
        let location = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(answer.text().await.unwrap()))
    }
}

/// Logs in through the form as a browser does: the log-in page first, for its token and cookie.
pub async fn post_login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::Response {
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = page.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned()).unwrap_or_default();
    let html = page.text().await.unwrap();
    let token = html.split("name=\"form_token\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_default().to_owned();
    client
        .post(format!("{base}/login"))
        .header("cookie", cookie)
        .form(&[("username", username), ("password", password), ("form_token", &token)])
        .send()
        .await
        .unwrap()
}

/// Minor units of a decimal string such as "12.90" or "-3.00".
pub fn minor(text: &str) -> i64 {
    let negative = text.starts_with('-');
    let value: i64 = text.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap();
    if negative { -value } else { value }
}

/// An account's balance (debit less credit) in minor units, from the trial balance.
pub async fn balance(server: &Server, code: &str) -> i64 {
    let (status, trial) = server.get(&server.admin, "/api/v1/ledger/trial-balance").await;
    assert_eq!(status, 200, "{trial}");
    trial["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == code)
        .map_or(0, |a| minor(a["debit"].as_str().unwrap()) - minor(a["credit"].as_str().unwrap()))
}

/// Runs `story` (an `async fn(Server)`) as two tests: on a fresh SQLite file, and on a fresh
/// PostgreSQL database when `ORDO_TEST_POSTGRES_URL` is set (a SKIP line otherwise).
macro_rules! on_both_engines {
    ($story:ident, $on_sqlite:ident, $on_postgres:ident) => {
        #[tokio::test]
        async fn $on_sqlite() {
            $story($crate::common::Server::start().await).await;
        }

        #[tokio::test]
        async fn $on_postgres() {
            let Some(url) = $crate::common::postgres_url() else {
                println!("SKIP {}: ORDO_TEST_POSTGRES_URL is not set", stringify!($on_postgres));
                return;
            };
            $story($crate::common::Server::start_on(Some(&url)).await).await;
        }
    };
}
pub(crate) use on_both_engines;

/// A story told on the demo business after `$days` of trading (the server and the demo's
/// summary), once on SQLite and once on PostgreSQL when `ORDO_TEST_POSTGRES_URL` is set.
macro_rules! on_both_engines_after_demo {
    ($story:ident, $days:expr, $on_sqlite:ident, $on_postgres:ident) => {
        #[tokio::test]
        async fn $on_sqlite() {
            $story($crate::common::Server::start_demo_trading(None, $days).await).await;
        }

        #[tokio::test]
        async fn $on_postgres() {
            let Some(url) = $crate::common::postgres_url() else {
                println!("SKIP {}: ORDO_TEST_POSTGRES_URL is not set", stringify!($on_postgres));
                return;
            };
            $story($crate::common::Server::start_demo_trading(Some(&url), $days).await).await;
        }
    };
}
pub(crate) use on_both_engines_after_demo;

/// A receiver on 127.0.0.1 that keeps the body of every POST to `path` and answers 204: its
/// URL, and what it kept.
pub async fn receiver(path: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let got: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        path,
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}
