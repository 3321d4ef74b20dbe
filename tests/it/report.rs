//! `mongoctl report` against a real server with real data behind every section (sizes, a
//! recorded growth history, index usage, a slow COLLSCAN with the profiler on, a backup with
//! a drill), then the page opened in headless Chromium: no console message, no request
//! leaving the page, every section present, the growth chart with one point per snapshot,
//! and a screenshot that is not blank. Also: a user who may read only one database gets the
//! other sections and the page names the ones it may not read.
//!
//! Chromium is found in `$CHROMIUM` (scripts/test exports it, see scripts/install-chromium),
//! else `chromium` / `chromium-browser` on PATH. Without it the browser test fails, in CI
//! always, elsewhere unless `MONGOCTL_SKIP_CHROMIUM` is set (then it says it skipped).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::StreamExt;
use serde_json::Value;

use crate::common;
use crate::stats::{load, workspace};
use crate::support::mongoctl;

/// The section ids of the page, in order (`crate::report::SECTIONS`).
const SECTIONS: [&str; 11] = [
    "cluster",
    "thresholds",
    "sizes",
    "growth",
    "indexes",
    "drift",
    "conformance",
    "audit",
    "backups",
    "slow_operations",
    "tenants",
];

fn section<'a>(j: &'a Value, id: &str) -> &'a Value {
    &j[id]
}

fn data<'a>(j: &'a Value, id: &str) -> &'a Value {
    let s = section(j, id);
    assert_eq!(s["status"], "ok", "section {id}: {s:#}");
    &s["data"]
}

/// The page's `<figure …>` whose opening tag contains `marker`, up to its `</figure>`.
fn figure<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no figure with {marker}"));
    let rest = &html[start..];
    &rest[..rest.find("</figure>").expect("an unclosed figure")]
}

#[tokio::test]
async fn the_report_of_a_real_server_opens_in_chromium_with_every_section_and_no_network() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    let p = ws.path();
    // Thresholds: levels the data below crosses (storage, backup age), one it does not (the
    // drill is fresh) and one that does not apply on a standalone.
    let manifest = p.join("mongoctl.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["alerts"] = serde_json::json!({
        "storageBudget": {"warn": 0.001, "critical": 1000000, "domains": {"shop": "10MB"}, "total": "1GB"},
        "backupAgeHours": {"warn": 0.000001, "critical": 100000},
        "drillAgeDays": {"critical": 30},
        "replicationLagSeconds": {"warn": 10}
    });
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    load(p, &uri, &client, 600).await;

    // Growth: three earlier snapshots (10 days apart) and one recorded now from the server.
    let history = client
        .database("st_meta")
        .collection::<Document>("stats_history");
    let now = bson::DateTime::now().timestamp_millis();
    let day = 86_400_000i64;
    for k in 0..3i64 {
        history
            .insert_one(doc! {
                "at": bson::DateTime::from_millis(now - (3 - k) * 10 * day),
                "databases": [{"domain": "shop", "database": "st_shop", "documents": 300 + k * 100,
                    "dataSize": 20_000 + k * 5_000, "storageSize": 0, "indexSize": 0,
                    "totalSize": 8_000 + k * 4_000}],
            })
            .await
            .unwrap();
    }
    mongoctl(p, &["stats", "--record"])
        .uri(&uri)
        .run()
        .expect_code(0);

    // Index usage: status_1 used, customer_1_created_1 not; an index the spec lacks.
    let orders = client.database("st_shop").collection::<Document>("orders");
    orders
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"created": -1})
                .build(),
        )
        .await
        .unwrap();
    let paid = orders
        .find(doc! {"status": "paid"})
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(paid, 150);

    // A slow operation: the profiler records everything on shop; a find on an unindexed field.
    mongoctl(p, &["profile", "set", "--level", "2", "--domain", "shop"])
        .uri(&uri)
        .run()
        .expect_code(0);
    let found = orders
        .find(doc! {"note": "xxxxxxx"})
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(found, 12);
    let profile = client
        .database("st_shop")
        .collection::<Document>("system.profile");
    let deadline = Instant::now() + Duration::from_secs(10);
    while profile
        .count_documents(
            doc! {"ns": "st_shop.orders", "planSummary": "COLLSCAN", "command.filter.note": "xxxxxxx"},
        )
        .await
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the profiler never recorded the find"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mongoctl(p, &["profile", "set", "--level", "0", "--domain", "shop"])
        .uri(&uri)
        .run()
        .expect_code(0);

    // A backup and its drill (a scratch mongod).
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let shop_backup = backups.join("shop");
    mongoctl(
        p,
        &[
            "backup",
            "--db",
            "st_shop",
            "--out",
            shop_backup.to_str().unwrap(),
        ],
    )
    .uri(&uri)
    .run()
    .expect_code(0);
    // (MONGODB_URI: the drill restores into a scratch mongod and records itself there.)
    mongoctl(p, &["backup", "drill", shop_backup.to_str().unwrap()])
        .env("MONGODB_URI", &uri)
        .run()
        .expect_code(0);

    let page = tmp.path().join("report.html");
    let out = mongoctl(
        p,
        &[
            "report",
            "--out",
            page.to_str().unwrap(),
            "--backups",
            backups.to_str().unwrap(),
            "-o",
            "json",
        ],
    )
    .uri(&uri)
    .run();
    out.expect_code(0);
    let j = out.json();

    // The gathered data, against the server.
    let c = data(&j, "cluster");
    assert_eq!(c["topology"], "standalone");
    let version = client
        .database("admin")
        .run_command(doc! {"buildInfo": 1})
        .await
        .unwrap();
    assert_eq!(c["version"], version.get_str("version").unwrap());
    let sizes = data(&j, "sizes");
    let mut objects = 0;
    for name in ["st_shop", "st_logs"] {
        let row = sizes["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["database"] == name)
            .unwrap();
        let db_stats = client
            .database(name)
            .run_command(doc! {"dbStats": 1, "scale": 1})
            .await
            .unwrap();
        let stat = |k: &str| mongoctl::model::as_f64(db_stats.get(k).unwrap()).unwrap() as i64;
        assert_eq!(
            row["documents"].as_i64().unwrap(),
            stat("objects"),
            "{name}"
        );
        assert_eq!(row["indexes"].as_i64().unwrap(), stat("indexes"), "{name}");
        objects += stat("objects");
    }
    // (st_shop's count includes its system.profile entries, as dbStats counts them.)
    assert!(objects >= 600 + 60 + 10 + 150);
    assert_eq!(sizes["totals"]["documents"].as_i64().unwrap(), objects);
    let colls: Vec<(String, i64)> = sizes["databases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["collection_stats"].as_array().unwrap().iter())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["documents"].as_i64().unwrap(),
            )
        })
        .collect();
    for (name, n) in [
        ("orders", 600),
        ("customers", 60),
        ("scratch", 10),
        ("events", 150),
    ] {
        assert!(colls.contains(&(name.to_string(), n)), "{colls:?}");
    }
    let growth = data(&j, "growth");
    let shop_growth = growth["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["database"] == "st_shop")
        .unwrap();
    assert_eq!(shop_growth["samples"], 4);
    assert_eq!(shop_growth["points"].as_array().unwrap().len(), 4);
    assert_eq!(shop_growth["projections"].as_array().unwrap().len(), 3);
    let flagged: Vec<(String, Vec<String>)> = data(&j, "indexes")["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                serde_json::from_value(i["flags"].clone()).unwrap(),
            )
        })
        .collect();
    assert!(
        flagged
            .iter()
            .any(|(n, f)| n == "customer_1_created_1" && f.contains(&"unused".to_string())),
        "{flagged:?}"
    );
    assert!(
        flagged
            .iter()
            .any(|(n, f)| n == "created_-1" && f.contains(&"unmanaged".to_string())),
        "{flagged:?}"
    );
    assert!(!flagged.iter().any(|(n, _)| n == "status_1"), "{flagged:?}");
    let drift = data(&j, "drift");
    assert!(
        drift["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |l| l["target"] == "st_shop.orders index created_-1" && l["action"] == "drop index"
            )
            || drift["unmanaged"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == "st_shop.orders index created_-1"),
        "{drift:#}"
    );
    assert_eq!(data(&j, "conformance")["violating_documents"], 0);
    assert_eq!(data(&j, "audit")["findings"], serde_json::json!([]));
    let slow = data(&j, "slow_operations");
    let scan = slow["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["ns"] == "st_shop.orders" && o["collscan"] == true)
        .unwrap_or_else(|| panic!("no COLLSCAN in {slow:#}"));
    assert_eq!(scan["suggested_index"], serde_json::json!({"note": 1}));
    let b = data(&j, "backups");
    let row = &b["backups"][0];
    assert_eq!(row["name"], "shop");
    assert_eq!(row["complete"], true);
    assert_eq!(row["last_drill"]["passed"], true, "{row:#}");
    let drills = b["recorded_drills"].as_array().unwrap();
    assert_eq!(drills.len(), 1, "{b:#}");
    assert_eq!(drills[0]["passed"], true);
    assert_eq!(drills[0]["backup"], shop_backup.to_str().unwrap());
    assert_eq!(section(&j, "tenants")["status"], "no_data");

    // Thresholds: health --check's evaluation, and each budget against the recorded growth.
    let th = data(&j, "thresholds");
    let findings = th["evaluation"]["findings"].as_array().unwrap();
    let finding = |kind: &str| {
        findings
            .iter()
            .filter(|f| f["kind"] == kind)
            .map(|f| {
                (
                    f["severity"].as_str().unwrap(),
                    f["message"].as_str().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let storage = finding("storageBudget");
    assert_eq!(storage.len(), 2, "{th:#}");
    assert!(storage.iter().all(|(s, _)| *s == "WARNING"), "{storage:?}");
    assert!(
        storage.iter().any(|(_, m)| m.contains("(domain shop: ")),
        "{storage:?}"
    );
    assert!(
        storage.iter().any(|(_, m)| m.contains("(all domains: ")),
        "{storage:?}"
    );
    let age = finding("backupAgeHours");
    assert_eq!(age.len(), 1, "{th:#}");
    assert!(age[0].1.contains("(backup shop in "), "{age:?}");
    assert!(
        finding("drillAgeDays").is_empty(),
        "the drill is fresh: {th:#}"
    );
    assert_eq!(
        th["evaluation"]["not_applicable"],
        serde_json::json!([{"kind": "replicationLagSeconds", "reason": "not a replica set"}])
    );
    let budgets = th["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 2, "{th:#}");
    let (shop_budget, all_budget) = (&budgets[0], &budgets[1]);
    assert_eq!(shop_budget["scope"], "domain shop");
    assert_eq!(all_budget["scope"], "all domains");
    assert_eq!(shop_budget["budget"], 10_000_000);
    assert_eq!(all_budget["budget"], 1_000_000_000);
    let used = shop_budget["used"].as_i64().unwrap();
    assert!(used >= 4096, "{shop_budget:#}");
    assert!(
        all_budget["used"].as_i64().unwrap() > used,
        "logs counts too"
    );
    let percent = shop_budget["percent"].as_f64().unwrap();
    assert!((percent - used as f64 * 100.0 / 1e7).abs() < 1e-9);
    // The rate is the growth part's: shop's snapshots; logs has one, so none of its own.
    let rate = shop_growth["total_size_per_day"].as_f64().unwrap();
    assert!(rate > 0.0, "{shop_growth:#}");
    assert_eq!(shop_budget["bytes_per_day"].as_f64(), Some(rate));
    assert_eq!(all_budget["bytes_per_day"].as_f64(), Some(rate));
    let days = shop_budget["days_to_budget"].as_f64().unwrap();
    assert!(
        (days - (1e7 - used as f64) / rate).abs() < 1e-6,
        "{shop_budget:#}"
    );
    // (The report's clock ran a little earlier than this one: either day is right.)
    let day_of = |back: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds((days * 86_400.0) as i64 - back))
            .format("%Y-%m-%d")
            .to_string()
    };
    let on = shop_budget["reached_on"].as_str().unwrap().to_string();
    assert!(on == day_of(0) || on == day_of(300), "{shop_budget:#}");

    // The page itself: self-contained.
    let html = std::fs::read_to_string(&page).unwrap();
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(!html.contains("<script"), "the page needs no script");
    let external: BTreeSet<&str> = url_like(&html)
        .into_iter()
        .filter(|u| *u != "http://www.w3.org/2000/svg")
        .collect();
    assert!(
        external.is_empty(),
        "external URLs in the page: {external:?}"
    );

    let Some(chromium) = chromium() else { return };
    let browsed = open_in_chromium(&chromium, &page, tmp.path());
    assert!(
        browsed.console.is_empty(),
        "console messages: {:#?}",
        browsed.console
    );
    assert!(
        browsed.page_served,
        "the page was not loaded through the test's proxy: the request check saw nothing"
    );
    assert!(
        browsed.from_page.is_empty(),
        "the page made requests: {:#?}",
        browsed.from_page
    );
    for id in SECTIONS {
        assert!(
            browsed
                .dom
                .contains(&format!("<section id=\"{id}\" data-status=\"")),
            "section {id} not in the rendered DOM"
        );
    }
    let chart = figure(&browsed.dom, "data-database=\"st_shop\"");
    assert_eq!(
        chart.matches("<circle").count(),
        4,
        "one point per snapshot"
    );
    assert_eq!(chart.matches("<polygon").count(), 3, "30, 90, 365 days");
    let bars = figure(&browsed.dom, "id=\"sizes-chart\"");
    // A background and one bar per collection (orders, customers, scratch, events).
    assert_eq!(bars.matches("<rect").count(), 1 + 4, "{bars}");

    let slow = &browsed.dom[browsed.dom.find("<section id=\"slow_operations\"").unwrap()..];
    let slow = &slow[..slow.find("</section>").unwrap()];
    assert!(slow.contains("COLLSCAN ⚠"), "{slow}");
    assert!(slow.contains("{\"note\":1}"), "no suggested index: {slow}");
    let thresholds_html = &browsed.dom[browsed.dom.find("<section id=\"thresholds\"").unwrap()..];
    let thresholds_html = &thresholds_html[..thresholds_html.find("</section>").unwrap()];
    assert!(
        thresholds_html.contains("data-kind=\"backupAgeHours\""),
        "{thresholds_html}"
    );
    assert!(
        thresholds_html.contains(&format!("days ({on})")),
        "no budget date: {thresholds_html}"
    );
    assert!(thresholds_html.contains("<meter"), "{thresholds_html}");
    let backups_html = &browsed.dom[browsed.dom.find("<section id=\"backups\"").unwrap()..];
    assert!(backups_html.contains("last drill"), "{backups_html}");

    let shot = tmp.path().join("report.png");
    screenshot(&chromium, &page, &shot, tmp.path());
    let colors = distinct_colors(&shot);
    assert!(
        colors > 50,
        "the screenshot looks blank: {colors} distinct colours"
    );
}

#[tokio::test]
async fn a_partly_privileged_user_gets_the_other_sections_and_the_page_names_the_missing_ones() {
    let server = common::auth_standalone().await;
    let root_uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &root_uri, &client, 600).await;
    client
        .database("admin")
        .run_command(doc! {
            "createUser": "shop_reader",
            "pwd": "reader-pw-456",
            "roles": [{"role": "read", "db": "st_shop"}],
        })
        .await
        .unwrap();
    let uri = format!(
        "mongodb://shop_reader:reader-pw-456@127.0.0.1:{}/?authSource=admin",
        server.ports()[0]
    );
    let (out, html) = report_of(ws.path(), &uri, &[]);
    assert!(!out.all().contains("reader-pw-456"), "{}", out.all());
    let j = out.json();
    // What it may read: st_shop's sizes.
    let sizes = data(&j, "sizes");
    let rows = sizes["databases"].as_array().unwrap();
    let shop = rows.iter().find(|d| d["database"] == "st_shop").unwrap();
    assert_eq!(shop["documents"], 600 + 60 + 10);
    let logs = rows.iter().find(|d| d["database"] == "st_logs").unwrap();
    assert_eq!(
        logs["unavailable"]["missing_privilege"],
        "dbStats on st_logs"
    );
    // What it may not: the server's status, the users and roles, the history.
    let cluster = section(&j, "cluster");
    assert_eq!(cluster["status"], "unavailable", "{cluster:#}");
    assert_eq!(cluster["missing_privilege"], "serverStatus on the cluster");
    assert!(
        cluster["reason"]
            .as_str()
            .unwrap()
            .starts_with("standalone, version 6."),
        "{cluster:#}"
    );
    let audit = section(&j, "audit");
    assert_eq!(audit["status"], "unavailable", "{audit:#}");
    let growth = section(&j, "growth");
    assert_eq!(growth["status"], "unavailable", "{growth:#}");
    assert_eq!(growth["missing_privilege"], "find on st_meta.stats_history");

    assert!(
        !html.contains("reader-pw-456"),
        "the password is in the page"
    );
    let list = &html[html
        .find("id=\"unavailable-sections\"")
        .expect("no list of unavailable sections")..];
    let list = &list[..list.find("</div>").unwrap()];
    for title in ["Cluster", "Growth and capacity", "Audit"] {
        assert!(list.contains(title), "{title} not named in {list}");
    }
    assert!(list.contains("serverStatus on the cluster"), "{list}");
    assert!(!list.contains("Sizes"), "{list}");
    for (id, status) in [
        ("cluster", "unavailable"),
        ("sizes", "ok"),
        ("audit", "unavailable"),
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\" data-status=\"{status}\"")),
            "{id} should be {status}"
        );
    }
}

/// `report --out <tmp>/report.html -o json <extra>` (exit 0): its output and the page.
fn report_of(ws: &Path, uri: &str, extra: &[&str]) -> (crate::support::Output, String) {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    let mut args = vec!["report", "--out", page.to_str().unwrap(), "-o", "json"];
    args.extend_from_slice(extra);
    let out = mongoctl(ws, &args).uri(uri).run();
    out.expect_code(0);
    let html = std::fs::read_to_string(&page).unwrap();
    (out, html)
}

/// Every `http://` / `https://` / `//host` reference in the page.
fn url_like(html: &str) -> Vec<&str> {
    let re = regex::Regex::new(r#"(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s<>)]*"#).unwrap();
    re.find_iter(html).map(|m| m.as_str()).collect()
}

/// The browser, or None (with a loud message) when it is missing and the skip was asked for.
fn chromium() -> Option<PathBuf> {
    let from_env = std::env::var_os("CHROMIUM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let on_path = || {
        ["chromium", "chromium-browser"].iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
    };
    if let Some(c) = from_env.or_else(on_path) {
        return Some(c);
    }
    let msg = "chromium not found ($CHROMIUM, or chromium / chromium-browser on PATH); run scripts/install-chromium";
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{msg} (the report's browser test is required in CI)");
    }
    if std::env::var_os("MONGOCTL_SKIP_CHROMIUM").is_none_or(|v| v.is_empty()) {
        panic!("{msg}; or set MONGOCTL_SKIP_CHROMIUM=1 to skip the browser test");
    }
    eprintln!("SKIPPED the report's browser test (MONGOCTL_SKIP_CHROMIUM is set): {msg}");
    None
}

/// Flags for a quiet, isolated headless run (`--no-sandbox`: Chromium refuses root without).
fn chromium_command(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-pings",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    cmd
}

/// Every request the proxy saw: its request line and its Referer.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The origin the test's proxy serves the page from.
const ORIGIN: &str = "http://report.test";

struct Browsed {
    dom: String,
    /// Console lines Chromium logged for the page.
    console: Vec<String>,
    /// The proxy served the page (so it did see the browser's requests).
    page_served: bool,
    /// Requests made by the page: sent with its Referer, or to its origin for anything else.
    from_page: Vec<String>,
}

/// Loads the page through a proxy the test owns (every request the browser makes goes to
/// it) and dumps the DOM. The browser's own background requests carry no Referer and go to
/// other hosts; anything the page asks for names the page as its Referer or its origin.
fn open_in_chromium(chromium: &Path, page: &Path, tmp: &Path) -> Browsed {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let html = std::fs::read(page).unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let html = html.clone();
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(stream, &html, &log));
        }
    });
    let out = chromium_command(chromium, &tmp.join("chromium-dom"))
        .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
        .arg("--dump-dom")
        .arg(format!("{ORIGIN}/report.html"))
        .output()
        .expect("running chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let seen = seen.lock().unwrap().clone();
    let page_url = format!("{ORIGIN}/report.html");
    Browsed {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect(),
        page_served: seen
            .iter()
            .any(|(line, _)| line.starts_with(&format!("GET {page_url} "))),
        from_page: seen
            .iter()
            .filter(|(line, referer)| {
                referer.as_deref().is_some_and(|r| r.starts_with(ORIGIN))
                    || (line.contains(ORIGIN) && !line.starts_with(&format!("GET {page_url} ")))
            })
            .map(|(line, _)| line.clone())
            .collect(),
    }
}

/// One proxied request: the page for its URL, 502 for anything else; records the request
/// line and its Referer.
fn serve(stream: TcpStream, html: &[u8], log: &Mutex<Vec<(String, Option<String>)>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut referer = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("referer")
        {
            referer = Some(v.trim().to_string());
        }
    }
    let line = line.trim().to_string();
    let is_page = line.starts_with(&format!("GET {ORIGIN}/report.html "));
    log.lock().unwrap().push((line, referer));
    let mut w = &stream;
    if is_page {
        let _ = write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            html.len()
        );
        let _ = w.write_all(html);
    } else {
        let _ = w.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
}

/// A screenshot of the page opened as a file, as a person would open it.
fn screenshot(chromium: &Path, page: &Path, shot: &Path, tmp: &Path) {
    let out = chromium_command(chromium, &tmp.join("chromium-shot"))
        .arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(
        out.status.success() && shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Distinct RGB colours in a PNG.
fn distinct_colors(png_file: &Path) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(png_file).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    bytes
        .chunks_exact(step)
        .map(|p| (p[0], p[1], p[2]))
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test]
async fn a_replica_set_report_shows_its_members_and_oplog_window() {
    let server = common::replica_set(1).await;
    let uri = server.uri();
    let ws = workspace();
    let client = server.client();
    load(ws.path(), &uri, &client, 100).await;
    // A base backup with its oplog and slices after it: a point-in-time window.
    let tmp = tempfile::tempdir().unwrap();
    let (backups, slices) = (tmp.path().join("backups"), tmp.path().join("oplog"));
    let base = backups.join("b1");
    let b = mongoctl(
        ws.path(),
        &[
            "backup",
            "--db",
            "st_shop",
            "--oplog",
            "--out",
            base.to_str().unwrap(),
        ],
    )
    .uri(&uri)
    .run();
    b.expect_code(0);
    let follow = |extra: &[&str]| {
        let mut a = vec![
            "backup",
            "oplog",
            "--follow",
            "--out",
            slices.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        mongoctl(ws.path(), &a).uri(&uri).run().expect_code(0);
    };
    follow(&["--from", base.to_str().unwrap(), "--once"]);
    client
        .database("st_shop")
        .collection::<Document>("orders")
        .insert_many((0..5).map(|i| doc! {"late": i}))
        .await
        .unwrap();
    follow(&["--once"]);
    let (out, html) = report_of(
        ws.path(),
        &uri,
        &[
            "--backups",
            backups.to_str().unwrap(),
            "--oplog-dir",
            slices.to_str().unwrap(),
        ],
    );
    let j = out.json();
    let c = data(&j, "cluster");
    let set = c["replication"]["set_name"].as_str().unwrap();
    assert_eq!(c["topology"], format!("replica set {set}"));
    let members = c["replication"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["state"], "PRIMARY");
    assert!(c["replication"]["oplog"]["window_hours"].as_f64().unwrap() >= 0.0);
    assert!(
        html.contains(&format!("Members of {set}")),
        "no members table"
    );
    assert!(
        html.contains("PRIMARY") && html.contains("Window "),
        "no oplog window"
    );
    let window = &data(&j, "backups")["backups"][0]["pitr_window"];
    let (from, to) = (window[0].as_str().unwrap(), window[1].as_str().unwrap());
    assert!(
        from < to,
        "the slices extend the base backup's window: {window}"
    );
    assert!(html.contains("restorable to (PITR)") && html.contains(&format!("{from} … {to}")));
}

#[tokio::test]
async fn the_tenants_part_lists_the_largest_tenants_and_those_over_quota() {
    use crate::support::{copy_workspace, repo};
    let server = common::standalone().await;
    let ws = copy_workspace(&repo().join("examples/tenants-demo"));
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("mongoctl.json")).unwrap())
            .unwrap();
    manifest["tenantClasses"] = serde_json::json!({"default": {"quota": {"maxDocuments": 10}}});
    crate::support::write(
        ws.path(),
        "mongoctl.json",
        &serde_json::to_string_pretty(&manifest).unwrap(),
    );
    crate::support::write(
        ws.path(),
        "tenants.json",
        r#"{"tenants": ["acme", "initech"]}"#,
    );
    mongoctl(ws.path(), &["apply", "--yes"])
        .uri(&server.uri())
        .run()
        .expect_code(0);
    server
        .client()
        .database("tdemo_chat_acme")
        .collection::<Document>("conversations")
        .insert_many((0..12).map(|i| doc! {"n": i}))
        .await
        .unwrap();
    let (out, html) = report_of(ws.path(), &server.uri(), &[]);
    let j = out.json();
    let t = data(&j, "tenants");
    let rows = t["tenants"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{t:#}");
    assert_eq!(rows[0]["tenant"], "acme", "the largest first: {t:#}");
    assert!(!rows[0]["over"].as_array().unwrap().is_empty(), "{t:#}");
    assert!(rows[1]["over"].as_array().unwrap().is_empty(), "{t:#}");
    let tenants = &html[html.find("<section id=\"tenants\"").unwrap()..];
    assert!(tenants.contains("1 over quota"), "{tenants}");
    assert!(tenants.contains("tenant acme"), "{tenants}");
}

#[tokio::test]
async fn verify_writes_the_report_with_its_own_drift_and_conformance() {
    let server = common::standalone().await;
    let uri = server.uri();
    let client = server.client();
    let ws = workspace();
    load(ws.path(), &uri, &client, 100).await;
    // Drift: a declared index dropped out of band; a document violating its schema.
    let shop = client.database("st_shop");
    shop.collection::<Document>("orders")
        .drop_index("status_1")
        .await
        .unwrap();
    shop.run_command(doc! {"collMod": "customers", "validationLevel": "off"})
        .await
        .unwrap();
    shop.collection::<Document>("customers")
        .insert_one(doc! {"nickname": "no name"})
        .await
        .unwrap();
    shop.run_command(doc! {"collMod": "customers", "validationLevel": "strict"})
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("verify-report.html");
    let out = mongoctl(ws.path(), &["verify", "--report", page.to_str().unwrap()])
        .uri(&uri)
        .run();
    out.expect_code(2);
    assert!(
        out.stdout.contains(&format!("Wrote {}", page.display())),
        "{}",
        out.stdout
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for id in SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
    }
    let drift = &html[html.find("<section id=\"drift\"").unwrap()..];
    let drift = &drift[..drift.find("</section>").unwrap()];
    assert!(drift.contains("st_shop.orders index status_1"), "{drift}");
    let conformance = &html[html.find("<section id=\"conformance\"").unwrap()..];
    let conformance = &conformance[..conformance.find("</section>").unwrap()];
    assert!(
        conformance.contains("1 stored document(s) violate their declared schema"),
        "{conformance}"
    );
}
