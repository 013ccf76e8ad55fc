//! The warehouse's workload ahead, on the demo business: each location's week and hours,
//! the people it takes, the back-test beside it, and its capacity set from the page.

use ordo_app::domain::access::Role;

use crate::common::{on_both_engines_after_demo, Browserless, Server};

async fn the_workload_page_forecasts_each_location_and_takes_its_capacity((server, _): (Server, ordo_demo::DemoSummary)) {
    let workloads = server.ordo.fulfilment().workload().await.unwrap();
    let central = workloads.iter().find(|w| w.location == "central").expect("the central warehouse has a workload");
    let outlook = &central.outlook;
    assert_eq!(outlook.days.len(), 7);
    assert!(outlook.days[1..].iter().all(|d| d.work.lines > 0 && d.people_needed > 0), "{:?}", outlook.days);
    assert!(outlook.hours.len() > 24 && outlook.hours.iter().map(|h| h.work.lines).sum::<i64>() > 0);
    assert!(outlook.accuracy.days > 0 && outlook.accuracy.wape_bp.is_some(), "{:?}", outlook.accuracy);

    let floor = Browserless::log_in(&server, "wanda", Role::Warehouse).await;
    let (status, page) = floor.get("/dashboard/workload").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<figure id="workload-chart-central""#) && page.contains(r#"id="workload-days-central""#), "{page}");
    assert!(page.contains("Back-tested on the last") && page.contains("(the defaults)"), "{page}");
    // Each location has its own capacity form, so every label points at its own input.
    assert!(page.contains(r#"<form id="capacity-central""#) && page.contains(r#"<form id="capacity-overflow""#), "{page}");
    assert_no_id_repeats(&page);

    // A shift of 30 hours is refused, naming the field, and nothing changes; 10 hours is kept.
    let bad = [("lines_per_person_hour", "80"), ("people", "5"), ("shift_hours", "30")];
    let (status, page) = floor.post("/dashboard/workload/central/capacity", &bad).await;
    assert_eq!(status, 422);
    assert!(page.contains(r#"id="capacity-central-error">Not saved. shift_hours: must be between 1 and 24</p>"#), "{page}");
    assert!(
        page.contains(r#"<input id="capacity-central-shift_hours" name="shift_hours" type="number" value="30" required aria-invalid="true" aria-describedby="capacity-central-shift_hours-error">"#),
        "{page}"
    );
    assert!(!page.contains(r#"id="capacity-overflow-error""#) && page.matches(r#"aria-invalid="true""#).count() == 1, "{page}");
    assert_no_id_repeats(&page);
    assert!(!server.ordo.fulfilment().workload().await.unwrap().iter().any(|w| w.capacity_set));
    // The form's address opened by hand goes back to the page, as the other forms' do.
    assert_eq!(floor.get("/dashboard/workload/central/capacity").await.0, 303);
    let good = [("lines_per_person_hour", "80"), ("people", "5"), ("shift_hours", "10")];
    assert_eq!(floor.post("/dashboard/workload/central/capacity", &good).await.0, 303);
    let set = server.ordo.fulfilment().workload().await.unwrap().into_iter().find(|w| w.location == "central").unwrap();
    assert!(set.capacity_set && set.capacity.people == 5 && set.capacity.shift_hours == 10);
    let (_, audit) = server.get(&server.admin, "/api/v1/audit?action=location.capacity").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");

    // The same over the API, behind the same permissions.
    let warehouse = server.token(Role::Warehouse).await;
    let (status, listed) = server.get(&warehouse, "/api/v1/workload").await;
    assert_eq!(status, 200);
    let central = listed.as_array().unwrap().iter().find(|w| w["location"] == "central").unwrap();
    assert_eq!((central["capacity"]["people"].as_i64(), central["outlook"]["days"].as_array().map(Vec::len)), (Some(5), Some(7)), "{central}");
    let capacity = "/api/v1/locations/central/capacity";
    let (status, refused) = server.put(&warehouse, capacity, serde_json::json!({"lines_per_person_hour": 0, "people": 4, "shift_hours": 8})).await;
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("lines_per_person_hour")), "{refused}");
    let (status, kept) = server.put(&warehouse, capacity, serde_json::json!({"lines_per_person_hour": 70, "people": 4, "shift_hours": 8})).await;
    assert_eq!((status, kept["people"].as_i64()), (200, Some(4)), "{kept}");
    let (status, unknown) = server.put(&warehouse, "/api/v1/locations/nowhere/capacity", serde_json::json!({"lines_per_person_hour": 70, "people": 4, "shift_hours": 8})).await;
    assert_eq!(status, 404, "{unknown}");
    let service = server.token(Role::Service).await;
    assert_eq!(server.put(&service, capacity, serde_json::json!({"lines_per_person_hour": 70, "people": 4, "shift_hours": 8})).await.0, 403);

    // Tomorrow is a holiday, set on the locations page: a date that is none is refused naming
    // its line; then the holiday has no work and the day after takes its orders.
    let tomorrow = server.ordo.fulfilment().workload().await.unwrap()[0].outlook.days[1].day;
    let admin = Browserless::log_in(&server, "ada-calendar", Role::Admin).await;
    let bad = [("location", "central"), ("closed_weekdays", ""), ("closed_dates", "2026-12-25 Christmas Day\n2026-13-01 Nonsense")];
    let (status, page) = admin.post("/dashboard/locations/calendar", &bad).await;
    assert_eq!(status, 422);
    assert!(page.contains("closed_dates: line 2: must be a date as YYYY-MM-DD"), "{page}");
    assert_no_id_repeats(&page);
    let holiday = format!("{tomorrow} Stocktake");
    assert_eq!(admin.post("/dashboard/locations/calendar", &[("location", "central"), ("closed_weekdays", ""), ("closed_dates", &holiday)]).await.0, 303);
    let (_, locations) = admin.get("/dashboard/locations").await;
    assert!(locations.contains(&format!("<td>{tomorrow} (Stocktake)</td>")), "{locations}");
    let central = server.ordo.fulfilment().workload().await.unwrap().into_iter().find(|w| w.location == "central").unwrap();
    let (closed, after) = (&central.outlook.days[1], &central.outlook.days[2]);
    assert!(!closed.open && closed.work.lines == 0 && closed.inflow.lines > 0, "{closed:?}");
    assert_eq!(after.work.lines, closed.inflow.lines + after.inflow.lines, "{after:?}");
    let (_, page) = floor.get("/dashboard/workload").await;
    assert!(page.contains(&format!("closed: Stocktake; {} lines coming in wait for the next working day", closed.inflow.lines)), "{page}");
    assert!(page.contains("with the closed days&#39; orders"), "{page}");
    assert_eq!(floor.post("/dashboard/locations/calendar", &[("location", "central"), ("closed_weekdays", "sunday")]).await.0, 403, "the floor may not set it");

    // The page in Chromium too, where it is installed.
    if server.ordo.engine() == ordo_app::Engine::Sqlite {
        let Some((_driver, _profile, browser)) = crate::browser::open_browser("the_workload_page_forecasts_each_location").await else { return };
        server.ordo.access().create_user("ada", ordo_demo::DEMO_PASSWORD, Role::Admin, &ordo_app::Actor::system()).await.unwrap();
        crate::browser::log_in(&browser, &server, "ada").await;
        browser.goto(&format!("{}/dashboard/workload", server.base)).await.unwrap();
        let measure = "const bars = document.querySelectorAll('#workload-chart-central rect'); \
                       const tallest = Math.max(...Array.from(bars).map(b => b.getBoundingClientRect().height)); \
                       return [bars.length, Math.round(tallest), document.querySelectorAll('#workload-days-central tbody tr').length];";
        let drawn = browser.execute(measure, vec![]).await.unwrap();
        assert!(drawn[0].as_i64().unwrap() > 24 && drawn[1].as_i64().unwrap() > 10 && drawn[2] == 7, "{drawn}");
        browser.close().await.unwrap();
    }
}

/// No two elements on the page share an id, so a label's `for` names one input.
fn assert_no_id_repeats(page: &str) {
    let mut ids: Vec<&str> = page.split(" id=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    ids.sort_unstable();
    let repeated: Vec<&&str> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).collect();
    assert!(repeated.is_empty(), "ids used twice: {repeated:?}");
}

on_both_engines_after_demo!(the_workload_page_forecasts_each_location_and_takes_its_capacity, 16, workload_on_sqlite, workload_on_postgres);
