//! The professional pages and the client portal, driven in a real headless Chromium (Debian's
//! `chromium` and `chromium-driver`; `scripts/test.sh` installs them when missing) against the
//! `kring` binary serving a fresh demo network.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use kring_store::Store;
use serde_json::{json, Value};

fn kring() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kring"));
    c.env_remove("KRING_DATABASE")
        .env_remove("KRING_ADDR")
        .env("KRING_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(addr: &str, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a child process when the test ends, however it ends.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser(driver_port: u16) -> Client {
    let caps = json!({"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"]
    }});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromedriver accepts a session")
}

/// A fresh two-factor code: Kring refuses a code used before, so a second sign-in by the
/// same person within one 30-second step waits for the next step.
fn code_for(secret: &str) -> String {
    static USED: std::sync::Mutex<Vec<(String, i64)>> = std::sync::Mutex::new(Vec::new());
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let mut used = USED.lock().unwrap();
    let mut now = now_ms();
    if let Some(&(_, step)) = used.iter().find(|(s, _)| s == secret) {
        while now / 30_000 <= step {
            std::thread::sleep(Duration::from_millis((30_000 - now % 30_000 + 100) as u64));
            now = now_ms();
        }
    }
    used.retain(|(s, _)| s != secret);
    used.push((secret.to_string(), now / 30_000));
    kring_server::auth::accounts::current_code(secret, now).unwrap()
}

async fn sign_in(c: &Client, base: &str, person: &Value) {
    c.goto(&format!("{base}/inloggen")).await.unwrap();
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(person["username"].as_str().unwrap())
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(person["password"].as_str().unwrap())
        .await
        .unwrap();
    c.find(Locator::Css("button.utrecht-button--primary-action"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if let Some(secret) = person["totp_secret"].as_str() {
        let field = c.wait().for_element(Locator::Id("code")).await.unwrap();
        field.send_keys(&code_for(secret)).await.unwrap();
        c.find(Locator::Css("button.utrecht-button--primary-action"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    // Signed in once the page carries the sign-out button: the form post has landed (going
    // elsewhere before that would abort it).
    c.wait()
        .for_element(Locator::Css("form[action='/uitloggen'] button"))
        .await
        .expect("signed in");
}

/// The text of the first element matching `css`, once the page is there (navigation can make
/// an element stale between finding and reading it: then it is found again).
async fn text(c: &Client, css: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                return t;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {css} on the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to 10 s) until the first `css` element's text contains `expected`; returns it.
async fn wait_text(c: &Client, css: &str, expected: &str) -> String {
    let start = Instant::now();
    loop {
        let t = text(c, css).await;
        if t.contains(expected) || start.elapsed() > Duration::from_secs(10) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to 10 s) until the page holds `n` elements matching `css` (after a form posts,
/// the old page stays until the new one arrives).
async fn wait_count(c: &Client, css: &str, n: usize) -> Vec<fantoccini::elements::Element> {
    let start = Instant::now();
    loop {
        let found = c.find_all(Locator::Css(css)).await.unwrap();
        if found.len() == n || start.elapsed() > Duration::from_secs(10) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On the circle page: chooses the member (the first option matching `member`, a CSS
/// attribute selector on the option), ticks one category, sets the end date and saves; returns
/// the rows once the new member is listed (or after 10 s).
async fn add_member(
    c: &Client,
    member: &str,
    category: &str,
    end: &str,
    rows_before: usize,
) -> Vec<fantoccini::elements::Element> {
    c.find(Locator::Css(&format!("select#member option{member}")))
        .await
        .expect("the member is offered")
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(&format!(
        "input[name='category'][value='{category}']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let field = c.find(Locator::Id("end")).await.unwrap();
    c.execute(
        &format!("arguments[0].value = '{end}'"),
        vec![serde_json::to_value(&field).unwrap()],
    )
    .await
    .unwrap();
    c.find(Locator::Css(
        "form[action$='/kring'] button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_count(c, "tbody tr", rows_before + 1).await
}

/// axe-core (npm `axe-core`, installed by scripts/test.sh into target/browser-deps), read once.
fn axe_source() -> &'static str {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::env::var("KRING_AXE_JS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/browser-deps/node_modules/axe-core/axe.min.js"
            )
            .into()
        });
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("axe-core is missing at {path} ({e}): scripts/test.sh installs it")
        })
    })
}

/// Runs axe-core on the page as it is and fails on any violation of serious or critical
/// impact, naming the rule and the elements.
async fn axe(c: &Client, page: &str) {
    c.execute(axe_source(), vec![])
        .await
        .expect("axe-core loads");
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let serious: Vec<&Value> = result
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{page}: axe-core finds {serious:?}");
}

/// At 360 px wide the page needs no sideways scrolling (tables scroll in their own box).
async fn narrow(c: &Client, page: &str) {
    c.set_window_size(360, 800).await.unwrap();
    let wide = c
        .execute(
            "const w = document.documentElement.clientWidth;
             const over = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.kring-table-scroll'))
               .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
               .slice(0, 5);
             return [document.documentElement.scrollWidth - w, over];",
            vec![],
        )
        .await
        .unwrap();
    if wide[0].as_i64().unwrap_or(0) > 1 {
        shot(c, &format!("narrow-{}", page.replace(' ', "-"))).await;
    }
    c.set_window_size(1200, 900).await.unwrap();
    assert!(
        wide[0].as_i64().unwrap_or(0) <= 1,
        "{page}: {} px too wide at 360 px: {}",
        wide[0],
        wide[1]
    );
}

/// Saves a screenshot of the page under target/screenshots (for people to look at).
async fn shot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

/// Clicks the first element matching `css` after scrolling it to the middle of the window.
async fn click(c: &Client, css: &str) {
    let e = c
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css} on the page"));
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'});",
        vec![serde_json::to_value(&e).unwrap()],
    )
    .await
    .unwrap();
    e.click().await.unwrap();
}

async fn sign_out(c: &Client) {
    c.find(Locator::Css("form[action='/uitloggen'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("username")).await.unwrap();
}

/// A fresh demo network served by the `kring` binary, with Chromium's WebDriver beside it.
struct Demo {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    people: Vec<Value>,
    db: String,
    port: u16,
    server: Option<Killed>,
    driver_port: u16,
    _driver: Killed,
}

impl Demo {
    fn start() -> Demo {
        assert!(
            Path::new("/usr/bin/chromedriver").exists(),
            "Chromium's WebDriver is missing: scripts/test.sh installs chromium and chromium-driver"
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("demo");
        let out = kring()
            .args(["demo", "--no-serve", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let creds: Value =
            serde_json::from_slice(&std::fs::read(data.join("demo-credentials.json")).unwrap())
                .unwrap();
        let people = creds["people"].as_array().unwrap().clone();
        let db = format!("sqlite:{}", data.join("kring.db").display());
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let server = Killed(
            kring()
                .arg("--config")
                .arg(data.join("kring.toml"))
                .args(["--database", &db, "--addr", &addr, "serve"])
                .env("KRING_ACCESS_LOG", data.join("access-log.db"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let driver_port = free_port();
        let driver = Killed(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for(&addr, "kring serve");
        wait_for(&format!("127.0.0.1:{driver_port}"), "chromedriver");
        Demo {
            dir,
            data,
            people,
            db,
            port,
            server: Some(server),
            driver_port,
            _driver: driver,
        }
    }

    /// The access log as AuditEvent NDJSON, after the server has stopped.
    fn exported_log(&mut self) -> String {
        self.server.take();
        let export = self.dir.path().join("log.ndjson");
        let out = kring()
            .args(["--database", &self.db, "audit", "export", "--out"])
            .arg(&export)
            .env("KRING_ACCESS_LOG", self.data.join("access-log.db"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&export).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn professionals_and_clients_use_the_pages_in_chromium() {
    let mut demo = Demo::start();
    let (people, db) = (demo.people.clone(), demo.db.clone());
    let base = format!("http://127.0.0.1:{}", demo.port);
    let c = browser(demo.driver_port).await;

    // 1. A case director of the wijkteam signs in with two factors and sees their clients.
    let director = people
        .iter()
        .find(|p| p["role"] == "regisseur")
        .or_else(|| {
            people
                .iter()
                .find(|p| p["organisation"] == "wijkteam-noord")
        })
        .unwrap();
    sign_in(&c, &base, director).await;
    assert_eq!(wait_text(&c, "h1", "Mijn cliënten").await, "Mijn cliënten");
    c.wait()
        .for_element(Locator::Css("tbody a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // 2. The client page shows only what the director may see, each part with its reasons.
    let crisis = wait_text(&c, "#sec-crisis-plan", "Crisisplan").await;
    assert!(crisis.contains("Crisisplan"), "{crisis}");
    let medication = text(&c, "section[aria-labelledby='sec-medication']").await;
    assert!(medication.contains("Niet met u gedeeld"), "{medication}");
    click(&c, "section[aria-labelledby='sec-reports'] summary").await;
    let reasons = text(&c, "section[aria-labelledby='sec-reports'] details").await;
    assert!(
        reasons.contains("kring van deze cliënt") && reasons.contains("lopend lidmaatschap"),
        "{reasons}"
    );
    assert!(
        !text(&c, "main").await.contains("CareTeam/"),
        "names, not ids"
    );
    axe(&c, "client page").await;
    narrow(&c, "client page").await;
    shot(&c, "client-page").await;

    // 3. The circle page: add a professional with reports until an end date, then end it
    //    after a confirmation. Members are named, dates are Dutch.
    c.find(Locator::LinkText("Kring beheren"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Kring van").await;
    axe(&c, "circle page").await;
    let rows_before = c.find_all(Locator::Css("tbody tr")).await.unwrap().len();
    let end = chrono::Utc::now().date_naive() + chrono::Duration::days(200);
    let end_iso = end.to_string();
    let end_nl = kring_server::pages::dates::day(end, kring_server::pages::i18n::Lang::Nl);
    let rows = add_member(
        &c,
        "[value^='PractitionerRole/ggz-rivierland']",
        "reports",
        &end_iso,
        rows_before,
    )
    .await;
    assert_eq!(
        rows.len(),
        rows_before + 1,
        "the new member is listed: {}",
        text(&c, "main").await
    );
    assert!(wait_text(&c, ".utrecht-alert--ok", "staat nu in de kring")
        .await
        .contains(&end_nl));
    let last = rows.last().unwrap().text().await.unwrap();
    assert!(
        last.contains(&end_nl)
            && last.contains("rapportages")
            && !last.contains("PractitionerRole/"),
        "{last}"
    );
    // A date far in the future is refused by the form itself (and by the server: API test),
    // and nothing is stored.
    let rows = add_member(
        &c,
        "[value^='PractitionerRole/huisarts']",
        "reports",
        "2099-01-01",
        rows_before + 1,
    )
    .await;
    assert_eq!(rows.len(), rows_before + 1);
    assert!(c.find(Locator::Css("input#end:invalid")).await.is_ok());
    c.goto(c.current_url().await.unwrap().as_ref())
        .await
        .unwrap();
    let end_buttons = c
        .find_all(Locator::Css("form[action$='/beeindigen'] button"))
        .await
        .unwrap();
    end_buttons.last().unwrap().click().await.unwrap();
    wait_text(&c, "h1", "Lidmaatschap beëindigen").await;
    c.find(Locator::Css(
        "form[action$='/beeindigen'] button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    assert!(wait_text(&c, ".utrecht-alert--ok", "beëindigd")
        .await
        .contains("beëindigd"));
    let last = c
        .find_all(Locator::Css("tbody tr"))
        .await
        .unwrap()
        .last()
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        last.contains("beëindigd op"),
        "the membership ended yesterday: {last}"
    );
    // A team can be a member instead of a person.
    let rows_before = c.find_all(Locator::Css("tbody tr")).await.unwrap().len();
    let rows = add_member(
        &c,
        "[value^='CareTeam/team-']",
        "crisis-plan",
        &end_iso,
        rows_before,
    )
    .await;
    let last = rows.last().unwrap().text().await.unwrap();
    assert!(last.contains("Team ") && last.contains(&end_nl), "{last}");

    // 4. English on request; the keyboard reaches the skip link first.
    c.find(Locator::Css("a[lang='en']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(wait_text(&c, "h1", "Circle of")
        .await
        .starts_with("Circle of"));
    let html_lang = c
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(html_lang.as_deref(), Some("en"));
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{e004}")
        .await
        .unwrap();
    let focused = c
        .active_element()
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap();
    assert!(
        focused
            .as_deref()
            .is_some_and(|c| c.contains("utrecht-skip-link")),
        "{focused:?}"
    );
    c.find(Locator::Css("a[lang='nl']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Kring van").await;
    sign_out(&c).await;

    // 5. Emergency access: a professional outside the adult client's circle states a reason and
    //    sees the crisis plan, medication and contacts — not the reports.
    let client = people.iter().find(|p| p["kind"] == "client").unwrap();
    let patient = client["patient"].as_str().unwrap();
    let store = kring_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let p: Value =
        serde_json::from_slice(&store.read("Patient", patient).await.unwrap().unwrap().body)
            .unwrap();
    let bsn = p["identifier"][0]["value"].as_str().unwrap().to_string();
    let circle = String::from_utf8(
        store
            .read("CareTeam", &format!("{patient}-circle"))
            .await
            .unwrap()
            .unwrap()
            .body,
    )
    .unwrap();
    let outsider = people
        .iter()
        .find(|x| {
            x["kind"] == "professional"
                && !circle.contains(&format!(
                    "{}-role\"",
                    x["practitioner"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("Practitioner/")
                ))
        })
        .unwrap();
    sign_in(&c, &base, outsider).await;
    c.goto(&format!("{base}/noodtoegang")).await.unwrap();
    c.find(Locator::Id("bsn"))
        .await
        .unwrap()
        .send_keys(&bsn)
        .await
        .unwrap();
    c.find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("Client in crisis op de locatie, regisseur niet bereikbaar")
        .await
        .unwrap();
    c.find(Locator::Css(
        "form[action='/noodtoegang'] button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let banner = wait_text(&c, ".utrecht-alert--warning", "noodtoegang").await;
    assert!(banner.contains("noodtoegang"), "{banner}");
    assert!(text(&c, "#sec-crisis-plan").await.contains("Crisisplan"));
    let crisis_section = text(&c, "section[aria-labelledby='sec-crisis-plan']").await;
    assert!(
        !crisis_section.contains("Niet met u gedeeld"),
        "{crisis_section}"
    );
    let reports = text(&c, "section[aria-labelledby='sec-reports']").await;
    assert!(reports.contains("Niet met u gedeeld"), "{reports}");
    sign_out(&c).await;

    // 6. The client records that an organisation may not see their medication, then withdraws it.
    sign_in(&c, &base, client).await;
    assert_eq!(wait_text(&c, "h1", "Mijn Kring").await, "Mijn Kring");
    c.find(Locator::LinkText("Toestemming"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(wait_text(&c, "h1", "Toestemming").await, "Toestemming");
    let org = c
        .find(Locator::Css("#organisation option:nth-child(2)"))
        .await
        .unwrap();
    org.click().await.unwrap();
    c.find(Locator::Css("#category option[value='medication']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("input[name='choice'][value='deny']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(
        "form[action='/toestemming'] button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    assert!(wait_text(&c, ".utrecht-alert--ok", "vastgelegd")
        .await
        .contains("vastgelegd"));
    let listed = text(&c, "main").await;
    assert!(listed.contains("mag niet zien: medicatie"), "{listed}");
    let withdraw = c
        .find_all(Locator::Css("form[action='/toestemming/intrekken'] button"))
        .await
        .unwrap();
    let before = withdraw.len();
    withdraw.last().unwrap().click().await.unwrap();
    // Withdrawing asks first, and says what it means.
    wait_text(&c, "h1", "Keuze intrekken?").await;
    assert!(text(&c, "main").await.contains("Weet u het zeker?"));
    axe(&c, "withdraw confirmation").await;
    click(&c, "form[action='/toestemming/intrekken'] button").await;
    assert!(wait_text(&c, ".utrecht-alert--ok", "ingetrokken")
        .await
        .contains("ingetrokken"));
    let after = wait_count(
        &c,
        "form[action='/toestemming/intrekken'] button",
        before - 1,
    )
    .await
    .len();
    assert_eq!(after + 1, before, "withdrawn");

    // 7. "Who looked at my file?": the emergency access of step 5 is there, marked, in plain
    //    Dutch, with a chart per day.
    c.find(Locator::LinkText("Wie keek?"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Wie keek in mijn dossier?").await;
    wait_text(&c, "tr.emergency", "NOODTOEGANG").await;
    let mut marked = Vec::new();
    for row in c.find_all(Locator::Css("tr.emergency")).await.unwrap() {
        marked.push(row.text().await.unwrap());
    }
    assert!(
        marked.iter().any(|r| r.contains("crisisplan"))
            && marked.iter().all(|r| r.contains("NOODTOEGANG")),
        "{marked:?}"
    );
    // Each emergency access shows the reason the outsider gave.
    assert!(
        marked
            .iter()
            .all(|r| r.contains("Opgegeven reden: Client in crisis op de locatie")),
        "{marked:?}"
    );
    assert!(
        c.find(Locator::Css("figure svg[role='img'] title"))
            .await
            .is_ok(),
        "the chart has a text alternative"
    );
    // The client's own views are left out unless asked for.
    let table = text(&c, "tbody").await;
    assert!(!table.contains("U zelf"), "{table}");
    click(&c, "#eigen").await;
    click(&c, "form[action='/wie-keek'] button").await;
    let table = wait_text(&c, "tbody", "U zelf").await;
    assert!(
        table.contains("U zelf") && table.contains("op uw eigen verzoek"),
        "{table}"
    );
    sign_out(&c).await;

    // 8. The privacy officer of the outsider's organisation filters the log on emergency access.
    let officer = people
        .iter()
        .find(|p| p["role"] == "privacy-officer" && p["organisation"] == outsider["organisation"])
        .unwrap();
    sign_in(&c, &base, officer).await;
    assert!(
        wait_text(&c, "h1", "Toezicht").await.contains("Toezicht"),
        "the officer starts at the review queue"
    );
    c.goto(&format!("{base}/toegangslog")).await.unwrap();
    wait_text(&c, "h1", "Toegangslog").await;
    c.find(Locator::Css("#only option[value='emergency']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(
        "form[action='/toegangslog'] button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_text(&c, "tr.emergency", patient).await;
    let mut rows = Vec::new();
    for row in c.find_all(Locator::Css("tr.emergency")).await.unwrap() {
        rows.push(row.text().await.unwrap());
    }
    assert!(rows.iter().any(|r| r.contains("CarePlan/")), "{rows:?}");
    assert!(
        c.find_all(Locator::Css("tbody tr:not(.emergency)"))
            .await
            .unwrap()
            .is_empty(),
        "only emergency access is listed"
    );

    // 9. Oversight: the officer checks the live log now; the outsider's emergency access is a
    //    case in the queue. The officer reads the evidence, warns the outsider and decides.
    c.goto(&format!("{base}/toezicht")).await.unwrap();
    wait_text(&c, "h1", "Toezicht").await;
    c.find(Locator::Css("form[action='/toezicht/controleren'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = wait_text(&c, ".utrecht-alert--ok", "Controle klaar").await;
    // The count is the officer's own queue (the rows below), and the share explained is
    // written as Dutch writes it.
    let rows = c
        .find_all(Locator::Css("main tbody tr"))
        .await
        .unwrap()
        .len();
    let own = if rows == 1 {
        "1 open zaak voor uw organisatie".to_string()
    } else {
        format!("{rows} open zaken voor uw organisatie")
    };
    assert!(done.contains(&own), "{done} / {rows} rows");
    let main = text(&c, "main").await;
    assert!(
        main.contains("Laatste controle:") && main.contains(&own),
        "{main}"
    );
    // (WebDriver gives the non-breaking space before % as a plain one.)
    let share: String = main
        .find("% verklaard")
        .map(|i| {
            let before: Vec<char> = main[..i]
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| !c.is_whitespace())
                .collect();
            before.into_iter().rev().collect()
        })
        .unwrap_or_default();
    assert!(
        share.contains(',') && !share.contains('.'),
        "the share explained in Dutch notation: {share:?} in {main}"
    );
    // The queue names the staff member (the family name is enough to find the row) and the
    // client by number.
    let practitioner_id = outsider["practitioner"].as_str().unwrap();
    let pr: Value = serde_json::from_slice(
        &store
            .read(
                "Practitioner",
                practitioner_id.trim_start_matches("Practitioner/"),
            )
            .await
            .unwrap()
            .unwrap()
            .body,
    )
    .unwrap();
    let practitioner = pr["name"][0]["family"].as_str().unwrap();
    let queue = text(&c, "tbody").await;
    assert!(!queue.contains("Practitioner/"), "names, not ids: {queue}");
    assert!(
        queue.contains(practitioner) && queue.contains("noodtoegang"),
        "{queue}"
    );
    let link = c
        .find(Locator::XPath(&format!(
            "//tbody//tr[contains(., '{practitioner}') and contains(., '{patient}')]//a"
        )))
        .await
        .unwrap();
    link.click().await.unwrap();
    wait_text(&c, "h1", "Zaak").await;
    let case_url = c.current_url().await.unwrap();
    let evidence = text(&c, "tbody").await;
    assert!(evidence.contains("NOODTOEGANG"), "{evidence}");
    let main = text(&c, "main").await;
    assert!(main.contains("Gezocht naar een verklaring"), "{main}");
    assert!(
        main.contains("Noodtoegang verklaard op")
            && main.contains("Client in crisis op de locatie, regisseur niet bereikbaar"),
        "the case shows the declaration and the reason given: {main}"
    );
    axe(&c, "oversight case").await;
    shot(&c, "oversight-case").await;
    c.find(Locator::Css("form[action$='/waarschuwing'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, ".utrecht-alert--ok", "verstuurd").await;
    c.find(Locator::Id("decision-warn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("note"))
        .await
        .unwrap()
        .send_keys("Besproken met de medewerker; reden was niet dringend.")
        .await
        .unwrap();
    c.find(Locator::Css("form[action$='/besluit'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(wait_text(&c, ".utrecht-alert--ok", "Besluit vastgelegd")
        .await
        .contains("waarschuwen"));
    c.goto(&format!("{base}/toezicht?besloten=1"))
        .await
        .unwrap();
    let decided = wait_text(&c, "tbody", practitioner).await;
    assert!(decided.contains("waarschuwen"), "{decided}");
    // The case might be a data breach: one action puts it in the register, scoped from the
    // log, and the 72 hours count down on the officer's start page.
    c.goto(case_url.as_str()).await.unwrap();
    wait_text(&c, "h1", "Zaak").await;
    c.find(Locator::Css("form[action$='/datalek'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Datalek #").await;
    assert!(wait_text(&c, ".utrecht-alert--ok", "register")
        .await
        .contains("toegangslog"));
    let incident = text(&c, "main").await;
    assert!(
        incident.contains("Cliënten: 1") && incident.contains("uur om te melden"),
        "{incident}"
    );
    axe(&c, "data breach").await;
    narrow(&c, "data breach").await;
    shot(&c, "officer-breach").await;
    c.goto(&format!("{base}/toezicht")).await.unwrap();
    assert!(wait_text(&c, "main", "Datalek #")
        .await
        .contains("om te melden"));
    c.goto(&format!("{base}/privacy/datalekken")).await.unwrap();
    wait_text(&c, "h1", "Datalekken").await;
    axe(&c, "breach register").await;
    narrow(&c, "breach register").await;
    // The week's spot-check sample of what is only unexplained, one click from the queue.
    c.goto(&format!("{base}/toezicht")).await.unwrap();
    c.find(Locator::Css("a[href='/toezicht/steekproef']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Steekproef week van").await;
    let sample = text(&c, "main").await;
    assert!(
        sample.contains("Deze week waren er geen")
            || sample.contains("Deze week was er 1")
            || sample.contains("willekeurig gekozen"),
        "{sample}"
    );
    assert!(!sample.contains("er 0 "), "a count in words: {sample}");
    axe(&c, "spot-check sample").await;
    narrow(&c, "spot-check sample").await;
    shot(&c, "officer-sample").await;
    c.goto(&format!("{base}/toezicht/rapport")).await.unwrap();
    wait_text(&c, "h1", "Maandrapport toezicht").await;
    let figures = text(&c, "main table").await;
    assert!(
        figures.contains("Noodtoegang") && figures.contains("Beoordeeld"),
        "{figures}"
    );
    // Percentages in Dutch notation: a decimal comma and a space before the sign.
    assert!(
        figures.contains(",") && (figures.contains(" %") || figures.contains("\u{a0}%")),
        "{figures}"
    );
    let calibration = text(&c, "table[aria-labelledby='calibration-title']").await;
    assert!(
        calibration.contains("Onterecht gevonden") && calibration.contains("50–70"),
        "{calibration}"
    );
    axe(&c, "monthly report").await;
    narrow(&c, "monthly report").await;
    shot(&c, "officer-report").await;
    c.execute(
        "document.getElementById('calibration-title').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    shot(&c, "officer-report-calibration").await;
    assert!(c
        .find(Locator::Css("figure svg[role='img'] title"))
        .await
        .is_ok());
    assert!(c
        .find(Locator::Css("a[href^='/toezicht/rapport.pdf']"))
        .await
        .is_ok());
    sign_out(&c).await;

    // 10. The outsider sees the officer's warning when signing in, and marks it read.
    sign_in(&c, &base, outsider).await;
    let warning = wait_text(&c, "section.utrecht-alert--warning", "privacyfunctionaris").await;
    assert!(warning.contains("geen reden"), "{warning}");
    c.find(Locator::Css("form[action^='/meldingen/'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Mijn cliënten").await;
    assert!(c
        .find_all(Locator::Css("section.utrecht-alert--warning"))
        .await
        .unwrap()
        .is_empty());

    // 11. Pages need a session: signed out, they lead to the sign-in page.
    sign_out(&c).await;
    c.goto(&format!("{base}/clienten")).await.unwrap();
    assert_eq!(wait_text(&c, "h1", "Inloggen").await, "Inloggen");
    c.close().await.unwrap();

    // 12. The officer's decision and warning are in the access log, like every access.
    let log = demo.exported_log();
    for interaction in [
        "review-run",
        "review-case",
        "review-warning",
        "review-decision",
    ] {
        assert!(
            log.contains(&format!("\"code\":\"{interaction}\"")),
            "{interaction} not logged"
        );
    }
}

/// A WebDriver extension command of the Web Authentication spec, such as adding a virtual
/// authenticator (`POST /session/{id}/webauthn/authenticator`).
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// Clicks the primary button of the sign-in form after typing username and password.
async fn password_step(c: &Client, base: &str, person: &Value) {
    c.goto(&format!("{base}/inloggen")).await.unwrap();
    for (field, key) in [("username", "username"), ("password", "password")] {
        c.find(Locator::Id(field))
            .await
            .unwrap()
            .send_keys(person[key].as_str().unwrap())
            .await
            .unwrap();
    }
    c.find(Locator::Css("button.utrecht-button--primary-action"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_professional_adds_a_passkey_and_signs_in_with_it_in_chromium() {
    let mut demo = Demo::start();
    let c = browser(demo.driver_port).await;
    // Passkeys work at the origin Kring names (http://localhost:<port> by default), never at
    // a bare IP address.
    let base = format!("http://localhost:{}", demo.port);
    c.issue_cmd(WebAuthnCommand {
        path: "authenticator".into(),
        body: json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                     "hasUserVerification": true, "isUserConsenting": true,
                     "isUserVerified": true}),
    })
    .await
    .expect("Chromium offers a virtual authenticator");
    let person = demo
        .people
        .iter()
        .find(|p| p["kind"] == "professional")
        .unwrap()
        .clone();

    // 1. Signed in with password and TOTP, the professional adds a passkey.
    sign_in(&c, &base, &person).await;
    c.find(Locator::LinkText("Beveiliging"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(wait_text(&c, "h1", "Beveiliging").await, "Beveiliging");
    assert!(text(&c, "main").await.contains("nog geen passkey"));
    c.wait()
        .for_element(Locator::Css(
            "form#passkey-add:not([hidden]) input[name='name']",
        ))
        .await
        .unwrap()
        .send_keys("laptop werk")
        .await
        .unwrap();
    c.find(Locator::Css(
        "form#passkey-add button.utrecht-button--primary-action",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let added = wait_text(&c, ".utrecht-alert--ok", "toegevoegd").await;
    assert!(added.contains("De passkey is toegevoegd"), "{added}");
    let row = text(&c, "tbody tr").await;
    assert!(row.contains("laptop werk"), "{row}");
    sign_out(&c).await;

    // 2. After the password, the passkey replaces the code.
    password_step(&c, &base, &person).await;
    c.wait()
        .for_element(Locator::Css("button#passkey-signin:not([hidden])"))
        .await
        .expect("the passkey is offered at the second step")
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("form[action='/uitloggen'] button"))
        .await
        .expect("signed in with the passkey");
    c.goto(&format!("{base}/beveiliging")).await.unwrap();
    let row = wait_text(&c, "tbody tr", "laptop werk").await;
    // The pages show days in Dutch time.
    let today = kring_server::pages::dates::day(
        kring_server::pages::dates::today(),
        kring_server::pages::i18n::Lang::Nl,
    );
    assert!(
        row.matches(today.as_str()).count() >= 1 && !row.contains('—'),
        "the passkey's last use is shown: {row}"
    );

    // 3. Removing the passkey takes it away from the second step.
    c.find(Locator::Css(
        "form[action='/beveiliging/passkeys/verwijderen'] button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    assert!(wait_text(&c, "main", "nog geen passkey")
        .await
        .contains("nog geen passkey"));
    sign_out(&c).await;
    password_step(&c, &base, &person).await;
    c.wait().for_element(Locator::Id("code")).await.unwrap();
    assert!(c
        .find_all(Locator::Css("button#passkey-signin"))
        .await
        .unwrap()
        .is_empty());

    // 4. At an address where browsers refuse passkeys, the page says where they work.
    let colleague = demo
        .people
        .iter()
        .filter(|p| p["kind"] == "professional")
        .nth(1)
        .unwrap()
        .clone();
    let ip_base = format!("http://127.0.0.1:{}", demo.port);
    sign_in(&c, &ip_base, &colleague).await;
    c.goto(&format!("{ip_base}/beveiliging")).await.unwrap();
    let note = wait_text(&c, ".utrecht-alert--info:not([hidden])", "localhost").await;
    assert!(note.contains(&base), "{note}");
    c.close().await.unwrap();

    // 5. Adding and removing the passkey, and the sign-in with it, are in the access log.
    let log = demo.exported_log();
    let account = format!("account/{}", person["username"].as_str().unwrap());
    let mine: Vec<&str> = log.lines().filter(|l| l.contains(&account)).collect();
    let count = |code: &str| {
        mine.iter()
            .filter(|l| l.contains(&format!("\"code\":\"{code}\"")))
            .count()
    };
    assert!(count("account-update") >= 2, "added and removed");
    assert_eq!(
        count("sign-in"),
        2,
        "the sign-in with TOTP, then the one with the passkey"
    );
}

/// Every kind of demo login signs in (with a second factor, clients and parents too) and
/// reaches a start page with content, which passes axe-core and works at 360 px; a client one
/// may not see gives exactly the page of an id that names no client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_role_reaches_a_useful_start_page_in_chromium() {
    let mut demo = Demo::start();
    let people = demo.people.clone();
    let base = format!("http://127.0.0.1:{}", demo.port);
    let c = browser(demo.driver_port).await;
    let pick = |f: &dyn Fn(&Value) -> bool| people.iter().find(|p| f(p)).cloned();
    let roles: Vec<(&str, Value, &str, &str)> = vec![
        (
            "professional",
            pick(&|p| p["role"] == "regisseur").unwrap(),
            "Mijn cliënten",
            "tbody tr",
        ),
        (
            "privacy-officer",
            pick(&|p| p["role"] == "privacy-officer").unwrap(),
            "Toezicht",
            "main",
        ),
        (
            "administrator",
            pick(&|p| p["role"] == "administrator" && p["organisation"] == "jeugdhulp-de-brug")
                .unwrap(),
            "Beheer",
            "tbody tr",
        ),
        (
            "client",
            pick(&|p| p["kind"] == "client").unwrap(),
            "Mijn Kring",
            "main section",
        ),
        (
            "parent",
            pick(&|p| p["kind"] == "representative").unwrap(),
            "Mijn Kring",
            "main section",
        ),
        (
            "supporter",
            pick(&|p| p["kind"] == "supporter").unwrap(),
            "plan",
            "main section",
        ),
    ];
    for (label, person, title, content) in &roles {
        assert!(
            person["totp_secret"].is_string(),
            "{label} has a second factor"
        );
        sign_in(&c, &base, person).await;
        let h1 = wait_text(&c, "h1", title).await;
        assert!(h1.contains(title), "{label}: {h1}");
        assert!(
            c.find(Locator::Css(content)).await.is_ok(),
            "{label}: the start page has content: {}",
            text(&c, "main").await
        );
        axe(&c, label).await;
        narrow(&c, label).await;
        shot(&c, &format!("start-{label}")).await;
        if *label == "administrator" {
            // The administrator manages the circle of a client of their organisation.
            c.find(Locator::Css("tbody tr a[href$='/kring']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let h1 = wait_text(&c, "h1", "Kring van").await;
            assert!(h1.starts_with("Kring van"), "{h1}");
            assert!(!text(&c, "main").await.contains("PractitionerRole/"));
            axe(&c, "administrator's circle page").await;
            narrow(&c, "administrator's circle page").await;
            shot(&c, "admin-circle").await;
            // The evidence of continuity: the demo's backup and its restore drill.
            c.goto(&format!("{base}/beheer/continuiteit"))
                .await
                .unwrap();
            let h1 = wait_text(&c, "h1", "Continuïteit").await;
            assert!(h1.starts_with("Continuïteit"), "{h1}");
            let main = text(&c, "main").await;
            assert!(main.contains("Geslaagd"), "the demo's drill passed: {main}");
            assert!(main.contains("MB/s"), "the demo's backup is listed: {main}");
            assert!(!main.contains("Mislukt"), "{main}");
            axe(&c, "continuity page").await;
            narrow(&c, "continuity page").await;
            shot(&c, "admin-continuity").await;
        }
        if *label == "professional" {
            // A client outside one's circles looks exactly like an id that names nobody, and
            // offers emergency access.
            let mut mine = Vec::new();
            for a in c.find_all(Locator::Css("tbody a")).await.unwrap() {
                mine.push(a.attr("href").await.unwrap().unwrap_or_default());
            }
            let stranger = (1..400)
                .map(|i| format!("client-{i:04}"))
                .find(|id| !mine.contains(&format!("/clienten/{id}")))
                .unwrap();
            let mut pages = Vec::new();
            for id in [stranger.as_str(), "client-9999"] {
                c.goto(&format!("{base}/clienten/{id}")).await.unwrap();
                wait_text(&c, "h1", "niet gevonden").await;
                pages.push(text(&c, "main").await);
            }
            assert_eq!(
                pages[0], pages[1],
                "the same page for a hidden and an unknown client"
            );
            assert!(c
                .find(Locator::Css("main a[href='/noodtoegang']"))
                .await
                .is_ok());
            axe(&c, "no client").await;
            shot(&c, "no-client").await;
        }
        sign_out(&c).await;
    }
    c.close().await.unwrap();
    // Every sign-in passed the second step, and the professional's look at a hidden client is
    // a denied attempt on that client in the log.
    let log = demo.exported_log();
    assert!(log
        .lines()
        .any(|l| l.contains("\"outcomeDesc\":\"denied\"") && l.contains("page-view")));
}

/// The id of the first round card (`article`) holding a form for `action`, if any.
async fn card_with(c: &Client, card: Option<&str>, action: &str) -> Option<String> {
    let scope = card.map(|id| format!("#{id} ")).unwrap_or_default();
    let found = c
        .execute(
            &format!(
                "const i = document.querySelector(\"{scope}form input[name='action'][value='{action}']\");
                 return i ? i.closest('article').id : null;"
            ),
            vec![],
        )
        .await
        .unwrap();
    found.as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_does_its_daily_work_in_chromium() {
    let demo = Demo::start();
    let base = format!("http://127.0.0.1:{}", demo.port);
    let c = browser(demo.driver_port).await;
    let linde: Vec<&Value> = demo
        .people
        .iter()
        .filter(|p| p["organisation"] == "zorggroep-de-linde" && p["practitioner"].is_string())
        .collect();
    assert!(linde.len() > 1, "the location has professionals");

    // 1. A professional of the location opens the round and finds a high-risk dose to prepare.
    let mut found = None;
    for p in &linde {
        sign_in(&c, &base, p).await;
        c.goto(&format!("{base}/medicatie")).await.unwrap();
        wait_text(&c, "h1", "Medicatieronde").await;
        if let Some(card) = card_with(&c, None, "prepare").await {
            let location = c
                .find(Locator::Id("locatie"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default();
            found = Some((*p, card, location));
            break;
        }
        sign_out(&c).await;
    }
    let (giver, card, location) = found.expect("a high-risk dose is due at a location");
    let round = format!("{base}/medicatie?locatie={location}");
    axe(&c, "round").await;
    narrow(&c, "round").await;
    shot(&c, "round").await;
    let button =
        |action: &str| format!("#{card} form:has(input[name='action'][value='{action}']) button");
    click(&c, &button("prepare")).await;
    wait_text(&c, ".utrecht-alert--ok", "Klaargezet").await;
    // The page offers the preparer neither "given" nor the check; sent anyway (the page's own
    // form, its action changed), each is refused in Dutch and nothing is stored.
    assert!(card_with(&c, Some(&card), "give").await.is_none());
    assert!(card_with(&c, Some(&card), "check").await.is_none());
    for (action, says) in [
        ("give", "Een tweede collega moet"),
        ("check", "iemand anders doen"),
    ] {
        c.execute(
            "const i = document.querySelector('#' + arguments[0] + \" form input[name='action'][value='refuse']\");
             const f = i.form.cloneNode(true);
             f.querySelector(\"input[name='action']\").value = arguments[1];
             document.body.appendChild(f);
             f.submit();",
            vec![json!(card), json!(action)],
        )
        .await
        .unwrap();
        let refused = wait_text(&c, ".utrecht-alert--error", says).await;
        assert!(refused.contains(says), "{action}: {refused}");
    }
    assert!(text(&c, &format!("#{card}"))
        .await
        .contains("wacht op dubbele controle"));
    axe(&c, "round with a refusal").await;
    shot(&c, "round-refused").await;
    sign_out(&c).await;

    // 2. A colleague does the double check.
    let mut checked = false;
    for p in linde.iter().filter(|p| p["username"] != giver["username"]) {
        sign_in(&c, &base, p).await;
        c.goto(&round).await.unwrap();
        wait_text(&c, "h1", "Medicatieronde").await;
        if card_with(&c, Some(&card), "check").await.is_some() {
            click(&c, &button("check")).await;
            wait_text(&c, ".utrecht-alert--ok", "dubbele controle is vastgelegd").await;
            checked = true;
            sign_out(&c).await;
            break;
        }
        sign_out(&c).await;
    }
    assert!(checked, "a colleague at the location can check the dose");

    // 3. The giver gives it: it counts, with who gave and who checked.
    sign_in(&c, &base, giver).await;
    c.goto(&round).await.unwrap();
    click(&c, &button("give")).await;
    wait_text(&c, ".utrecht-alert--ok", "Afgetekend als gegeven").await;
    let done = text(&c, &format!("#{card}")).await;
    assert!(
        // Given on time, or late when the dose was due more than an hour before the test.
        (done.contains("Gegeven") || done.contains("Te laat gegeven"))
            && done.contains("gecontroleerd door"),
        "{done}"
    );
    shot(&c, "round-given").await;
    c.goto(&format!("{base}/medicatie/controles?locatie={location}"))
        .await
        .unwrap();
    wait_text(&c, "h1", "Dubbele controles").await;
    axe(&c, "double checks").await;
    narrow(&c, "double checks").await;
    shot(&c, "double-checks").await;

    // 4. The client's medication, reports, plan and crisis plan.
    let client_page = c.find(Locator::Css(&format!("#{card} h3 a"))).await.ok();
    let href = match client_page {
        Some(a) => a.attr("href").await.unwrap().unwrap(),
        None => {
            c.goto(&round).await.unwrap();
            c.find(Locator::Css(&format!("#{card} h3 a")))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap()
                .unwrap()
        }
    };
    let client = href.trim_end_matches("/medicatie").to_string();
    c.goto(&format!("{base}{client}/medicatie")).await.unwrap();
    wait_text(&c, "h1", "Medicatie").await;
    assert!(text(&c, "main").await.contains("risicovol"));
    axe(&c, "client medication").await;
    narrow(&c, "client medication").await;
    shot(&c, "client-medication").await;

    c.goto(&format!("{base}{client}/rapportages"))
        .await
        .unwrap();
    click(&c, "select#kind option[value='visit']").await;
    c.find(Locator::Id("text"))
        .await
        .unwrap()
        .send_keys("Medicatie gegeven na dubbele controle. Rustige ochtend.")
        .await
        .unwrap();
    click(
        &c,
        "form[action$='/rapportages'] button.utrecht-button--primary-action",
    )
    .await;
    wait_text(&c, ".utrecht-alert--ok", "rapportage is opgeslagen").await;
    assert!(text(&c, "main article").await.contains("Rustige ochtend."));
    axe(&c, "reports").await;
    narrow(&c, "reports").await;
    shot(&c, "reports").await;

    c.goto(&format!("{base}{client}/plan")).await.unwrap();
    wait_text(&c, "h1", "plan").await;
    click(&c, "details:has(form[action$='/plan/afspraken']) summary").await;
    c.find(Locator::Id("description"))
        .await
        .unwrap()
        .send_keys("Samen boodschappen doen op zaterdag")
        .await
        .unwrap();
    click(&c, "form[action$='/plan/afspraken'] button").await;
    let said = wait_text(&c, ".utrecht-alert", "afspraak is toegevoegd").await;
    assert!(said.contains("afspraak is toegevoegd"), "{said}");
    let index = c
        .execute(
            "const h = [...document.querySelectorAll(\"article h3[id^='agr-']\")].find(h => h.textContent.includes('Samen boodschappen'));
             return h ? h.id.slice(4) : null;",
            vec![],
        )
        .await
        .unwrap();
    let index = index
        .as_str()
        .expect("the new agreement is listed")
        .to_string();
    click(
        &c,
        &format!("article[aria-labelledby='agr-{index}'] summary"),
    )
    .await;
    click(
        &c,
        &format!("#agr-status-{index} option[value='in-progress']"),
    )
    .await;
    click(
        &c,
        &format!("article[aria-labelledby='agr-{index}'] button"),
    )
    .await;
    let said = wait_text(&c, "main", "afspraak is gewijzigd").await;
    shot(&c, "plan-changed").await;
    assert!(said.contains("afspraak is gewijzigd"), "{said}");
    let agreement = text(&c, &format!("article[aria-labelledby='agr-{index}']")).await;
    assert!(agreement.contains("Bezig"), "{agreement}");
    axe(&c, "plan").await;
    narrow(&c, "plan").await;
    shot(&c, "plan").await;

    c.goto(&format!("{base}{client}/crisisplan/bewerken"))
        .await
        .unwrap();
    wait_text(&c, "h1", "Crisisplan").await;
    c.find(Locator::Id("rood_contact"))
        .await
        .unwrap()
        .send_keys("\nHuisartsenpost: 0900-1234567")
        .await
        .unwrap();
    let with_client = c.find(Locator::Id("with_client")).await.unwrap();
    if with_client.prop("checked").await.unwrap().as_deref() != Some("true") {
        click(&c, "#with_client").await;
    }
    axe(&c, "crisis plan edit").await;
    narrow(&c, "crisis plan edit").await;
    click(&c, "form button.utrecht-button--primary-action").await;
    wait_text(&c, ".utrecht-alert--ok", "crisisplan is opgeslagen").await;
    let plan = text(&c, "main").await;
    assert!(
        plan.contains("Huisartsenpost: 0900-1234567")
            && plan.contains("Samen met de cliënt opgesteld"),
        "{plan}"
    );
    assert!(
        c.find(Locator::Css("button[data-print]"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "the print button works with the script"
    );
    axe(&c, "crisis plan").await;
    narrow(&c, "crisis plan").await;
    shot(&c, "crisis-plan").await;

    // 5. "My clients" says what needs attention.
    c.goto(&format!("{base}/clienten")).await.unwrap();
    wait_text(&c, "th", "Cliënt").await;
    assert!(text(&c, "main").await.contains("Wat speelt er"));
    axe(&c, "my clients").await;
    narrow(&c, "my clients").await;
    shot(&c, "my-clients").await;
}

/// A reference of the form `Type/id` shown to a person (`Patient/client-0003` …): pages show
/// names instead.
fn type_slash_id(text: &str) -> Option<String> {
    const TYPES: &[&str] = &[
        "Patient/",
        "Practitioner/",
        "PractitionerRole/",
        "Organization/",
        "CareTeam/",
        "RelatedPerson/",
        "CarePlan/",
        "Communication/",
        "Consent/",
        "Goal/",
        "MedicationRequest/",
        "Appointment/",
    ];
    TYPES.iter().find_map(|t| {
        text.match_indices(t).find_map(|(i, _)| {
            let rest = &text[i + t.len()..];
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .collect();
            (!id.is_empty()).then(|| format!("{t}{id}"))
        })
    })
}

/// Chooses the option `value` of the select `id`.
async fn choose(c: &Client, id: &str, value: &str) {
    click(c, &format!("#{id} option[value='{value}']")).await;
}

/// A choice on the consent page: an organisation of the circle (the first), a kind of data,
/// permit or deny.
async fn consent_choice(c: &Client, category: &str, choice: &str) {
    click(c, "#organisation option:nth-child(2)").await;
    choose(c, "category", category).await;
    click(c, &format!("#choice-{choice}")).await;
    click(
        c,
        "form[action='/toestemming'] button.utrecht-button--primary-action",
    )
    .await;
}

/// Every client and parent of the demo signs in to their own Kring and goes through every
/// page of it: whose record it is, what is new, the plan, the crisis plan (and its PDF), the
/// medication, the reports written for them, the circle in words, consent, who looked, and
/// the whole record to take along (PDF, FHIR Bundle, NDJSON). Every page passes axe-core,
/// works at 360 px and shows no `Type/id`. Then a child of 12–15 and their parent decide
/// together: a proposal of either is shown to the other, counts only once both agree, and a
/// refusal is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_parents_use_their_own_kring_in_chromium() {
    let demo = Demo::start();
    let people = demo.people.clone();
    let base = format!("http://127.0.0.1:{}", demo.port);
    let c = browser(demo.driver_port).await;
    let portal: Vec<&Value> = people
        .iter()
        .filter(|p| p["kind"] == "client" || p["kind"] == "representative")
        .collect();
    assert!(portal.len() >= 3, "the demo has clients and parents");
    for (n, person) in portal.iter().enumerate() {
        let label = format!("{}-{n}", person["kind"].as_str().unwrap_or_default());
        sign_in(&c, &base, person).await;
        assert_eq!(wait_text(&c, "h1", "Mijn Kring").await, "Mijn Kring");
        let whose = text(&c, "main > p.kring-muted").await;
        let parent = person["kind"] == "representative";
        assert!(
            whose.contains(if parent {
                "het dossier van uw kind"
            } else {
                "uw dossier"
            }),
            "{label}: {whose}"
        );
        let mut tabs = Vec::new();
        for a in c.find_all(Locator::Css("nav.kring-tabs a")).await.unwrap() {
            tabs.push(a.attr("href").await.unwrap().unwrap_or_default());
        }
        assert_eq!(tabs.len(), 10, "{label}: {tabs:?}");
        for href in &tabs {
            c.goto(&format!("{base}{href}")).await.unwrap();
            c.wait()
                .for_element(Locator::Css("nav.kring-tabs a[aria-current='page']"))
                .await
                .unwrap_or_else(|_| panic!("{label}: {href} is a portal page"));
            let main = text(&c, "main").await;
            assert!(!main.contains("Dat lukte niet"), "{label}: {href}: {main}");
            assert_eq!(type_slash_id(&main), None, "{label}: {href}: {main}");
            assert!(
                text(&c, "main > p.kring-muted").await == whose,
                "{label}: {href} says whose record it is"
            );
            let page = href.rsplit('/').next().unwrap_or("start").to_string();
            axe(&c, &format!("{label} {href}")).await;
            narrow(&c, &format!("{label} {page}")).await;
            shot(&c, &format!("portal-{label}-{page}")).await;
        }
        // A message to someone of the circle: sent, and only the parties read it.
        if n == 0 {
            let messages = tabs.iter().find(|h| h.ends_with("/berichten")).unwrap();
            c.goto(&format!("{base}{messages}")).await.unwrap();
            wait_text(&c, "h1", "Berichten").await;
            click(&c, "input[name='to']").await;
            c.find(Locator::Id("text"))
                .await
                .unwrap()
                .send_keys("Kunnen we donderdag bellen?")
                .await
                .unwrap();
            click(&c, "main form button[type='submit']").await;
            wait_text(&c, "[role='status']", "verstuurd").await;
            assert!(text(&c, "#list-title + article")
                .await
                .contains("Kunnen we donderdag bellen?"));
            shot(&c, &format!("portal-{label}-message-sent")).await;
        }
        // The reports page shows only what was written for the client.
        let reports = tabs.iter().find(|h| h.ends_with("/rapportages")).unwrap();
        c.goto(&format!("{base}{reports}")).await.unwrap();
        wait_text(&c, "h1", "Rapportages").await;
        for card in c.find_all(Locator::Css("main article")).await.unwrap() {
            let t = card.text().await.unwrap();
            assert!(t.contains("voor de cliënt"), "{label}: {t}");
        }
        // The record to take along: every download is there and whole.
        c.goto(&format!("{base}/mijn/gegevens")).await.unwrap();
        wait_text(&c, "h1", "Mijn gegevens").await;
        let got = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 Promise.all(['/mijn/gegevens/dossier.ndjson', '/mijn/gegevens/dossier.json', '/mijn/gegevens/dossier.pdf']
                   .map(u => fetch(u).then(r => r.text().then(t => [r.status, r.headers.get('content-type'), t]))))
                   .then(done);",
                vec![],
            )
            .await
            .unwrap();
        let patient = person["patient"].as_str().unwrap();
        let (ndjson, bundle, pdf) = (&got[0], &got[1], &got[2]);
        assert_eq!(ndjson[0], 200, "{label}: {ndjson}");
        let lines: Vec<Value> = ndjson[2]
            .as_str()
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if parent && lines.is_empty() {
            // A parent whose child is 16 reads nothing: the page says so.
            continue;
        }
        assert!(
            lines
                .iter()
                .any(|r| r["resourceType"] == "Patient" && r["id"] == patient),
            "{label}: the download holds the client"
        );
        let bundle: Value = serde_json::from_str(bundle[2].as_str().unwrap()).unwrap();
        assert_eq!(bundle["type"], "collection");
        assert_eq!(
            bundle["entry"].as_array().unwrap().len(),
            lines.len(),
            "{label}: the Bundle and the NDJSON hold the same"
        );
        assert_eq!(pdf[1], "application/pdf");
        assert!(pdf[2].as_str().unwrap().starts_with("%PDF"));
        sign_out(&c).await;
    }

    // A parent of several children chooses whose record the portal shows; every page then
    // says so, and the other child's pages answer as for nobody.
    let parent = portal
        .iter()
        .find(|p| p["kind"] == "representative")
        .copied()
        .unwrap();
    let first_child = parent["patient"].as_str().unwrap();
    sign_in(&c, &base, parent).await;
    wait_text(&c, "h1", "Mijn Kring").await;
    let mut other = None;
    for o in c.find_all(Locator::Css("#kind option")).await.unwrap() {
        let value = o.attr("value").await.unwrap().unwrap_or_default();
        let label = o.text().await.unwrap();
        if value != first_child && !label.contains("niet meer") && other.is_none() {
            other = Some((value, label));
        }
    }
    let (other, label) = other.expect("the demo's parent has another child under 16");
    let before = text(&c, "main > p.kring-muted").await;
    click(&c, &format!("#kind option[value='{other}']")).await;
    click(&c, "form[action='/mijn/kind'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "dit kind").await;
    let after = text(&c, "main > p.kring-muted").await;
    let name = label.split(" (").next().unwrap();
    assert!(
        after != before && after.contains(name),
        "{before} → {after}"
    );
    axe(&c, "parent chose a child").await;
    narrow(&c, "parent chose a child").await;
    shot(&c, "portal-parent-chose-child").await;
    c.goto(&format!("{base}/clienten/{other}/plan"))
        .await
        .unwrap();
    assert!(text(&c, "main > p.kring-muted").await.contains(name));
    c.goto(&format!("{base}/clienten/{first_child}/plan"))
        .await
        .unwrap();
    assert_eq!(
        wait_text(&c, "h1", "Cliënt niet gevonden").await,
        "Cliënt niet gevonden"
    );
    // Back to the first child for what follows.
    c.goto(&format!("{base}/mijn")).await.unwrap();
    click(&c, &format!("#kind option[value='{first_child}']")).await;
    click(&c, "form[action='/mijn/kind'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "dit kind").await;
    assert_eq!(text(&c, "main > p.kring-muted").await, before);
    sign_out(&c).await;

    // The adult client writes in their plan — a goal of their own, a comment, their agreement —
    // and asks for a correction; their case director reads it all and answers.
    let adult = portal
        .iter()
        .find(|p| {
            p["kind"] == "client"
                && !people
                    .iter()
                    .any(|r| r["kind"] == "representative" && r["patient"] == p["patient"])
        })
        .copied()
        .expect("the demo has an adult client");
    let patient = adult["patient"].as_str().unwrap();
    sign_in(&c, &base, adult).await;
    c.goto(&format!("{base}/clienten/{patient}/plan"))
        .await
        .unwrap();
    click(&c, "#reactie").await;
    c.find(Locator::Id("reactie"))
        .await
        .unwrap()
        .send_keys("Ik wil graag meer hulp bij het vinden van werk.")
        .await
        .unwrap();
    click(&c, "form[action='/mijn/plan/reactie'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "reactie is bewaard").await;
    click(&c, "form[action='/mijn/plan/akkoord'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "akkoord").await;
    assert!(text(&c, "main")
        .await
        .contains("U bent akkoord met dit plan"));
    click(
        &c,
        "section[aria-labelledby='agreed-title'] details summary",
    )
    .await;
    c.find(Locator::Id("own-goal"))
        .await
        .unwrap()
        .send_keys("Zelf mijn post bijhouden")
        .await
        .unwrap();
    click(&c, "form[action='/mijn/plan/doel'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "doel is bewaard").await;
    assert!(text(&c, "main").await.contains("Zelf mijn post bijhouden"));
    axe(&c, "portal plan after writing").await;
    narrow(&c, "portal plan after writing").await;
    shot(&c, "portal-plan-written").await;
    c.goto(&format!("{base}/mijn/gegevens")).await.unwrap();
    click(
        &c,
        "section[aria-labelledby='requests-title'] details summary",
    )
    .await;
    click(&c, "#kind-correction").await;
    c.find(Locator::Id("request-text"))
        .await
        .unwrap()
        .send_keys("Mijn telefoonnummer klopt niet meer.")
        .await
        .unwrap();
    click(&c, "form[action='/mijn/gegevens/verzoek'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "verzoek is verstuurd").await;
    assert!(text(&c, "main")
        .await
        .contains("Verstuurd, nog geen antwoord"));
    axe(&c, "portal requests").await;
    shot(&c, "portal-request-sent").await;
    sign_out(&c).await;
    // The case director of that client answers on the plan page.
    // Case directors first: the one who answers is the one directing this client's circle.
    let mut directors: Vec<&Value> = people
        .iter()
        .filter(|p| p["kind"] == "professional")
        .collect();
    directors.sort_by_key(|p| p["role"] != "regisseur");
    let mut answered = false;
    for d in directors {
        sign_in(&c, &base, d).await;
        c.goto(&format!("{base}/clienten/{patient}/plan"))
            .await
            .unwrap();
        wait_text(&c, "h1", "").await;
        if c.find(Locator::Css("form[action$='/plan/verzoeken']"))
            .await
            .is_ok()
        {
            let main = text(&c, "main").await;
            assert!(
                main.contains("Ik wil graag meer hulp bij het vinden van werk.")
                    && main.contains("Mijn telefoonnummer klopt niet meer."),
                "{main}"
            );
            let answer = c
                .find(Locator::Css("form[action$='/plan/verzoeken'] textarea"))
                .await
                .unwrap();
            answer.send_keys("Aangepast in uw gegevens.").await.unwrap();
            click(&c, "form[action$='/plan/verzoeken'] button").await;
            wait_text(&c, ".utrecht-alert--ok", "antwoord is bewaard").await;
            axe(&c, "plan with a request answered").await;
            shot(&c, "plan-request-answered").await;
            answered = true;
            sign_out(&c).await;
            break;
        }
        sign_out(&c).await;
    }
    assert!(answered, "the client's case director answers the request");
    sign_in(&c, &base, adult).await;
    c.goto(&format!("{base}/mijn/gegevens")).await.unwrap();
    let main = wait_text(&c, "main", "Aangepast in uw gegevens.").await;
    assert!(main.contains("Gedaan"), "{main}");
    sign_out(&c).await;

    // A child of 12–15 and their parent decide together.
    let child = people
        .iter()
        .find(|p| {
            p["kind"] == "client"
                && people
                    .iter()
                    .any(|r| r["kind"] == "representative" && r["patient"] == p["patient"])
        })
        .expect("the demo has a child of 12 to 15 with a parent");
    let parent = people
        .iter()
        .find(|r| r["kind"] == "representative" && r["patient"] == child["patient"])
        .unwrap();
    // The parent proposes: it does not count yet, and says so.
    sign_in(&c, &base, parent).await;
    c.goto(&format!("{base}/toestemming")).await.unwrap();
    assert!(text(&c, "main")
        .await
        .contains("beslissen het kind en een ouder met gezag samen"));
    consent_choice(&c, "medication", "deny").await;
    let said = wait_text(&c, ".utrecht-alert--ok", "voorstel").await;
    assert!(said.contains("pas als de ander ook ja zegt"), "{said}");
    let waiting = text(&c, "section[aria-labelledby='waiting-other-title']").await;
    assert!(
        waiting.contains("mag niet zien: medicatie") && waiting.contains("Telt nog niet"),
        "{waiting}"
    );
    let current = text(&c, "section[aria-labelledby='current-title']").await;
    assert!(
        !current.contains("mag niet zien: medicatie"),
        "not in force: {current}"
    );
    axe(&c, "consent with a proposal").await;
    shot(&c, "portal-consent-proposed").await;
    sign_out(&c).await;
    // The child sees the parent's proposal and agrees: now it counts.
    sign_in(&c, &base, child).await;
    c.goto(&format!("{base}/toestemming")).await.unwrap();
    let proposals = wait_text(
        &c,
        "section[aria-labelledby='waiting-me-title']",
        "medicatie",
    )
    .await;
    assert!(
        proposals.contains("mag niet zien: medicatie"),
        "{proposals}"
    );
    shot(&c, "portal-consent-waiting-for-child").await;
    click(&c, "form[action='/toestemming/mee'] button").await;
    wait_text(&c, ".utrecht-alert--ok", "vastgelegd").await;
    let current = text(&c, "section[aria-labelledby='current-title']").await;
    assert!(current.contains("mag niet zien: medicatie"), "{current}");
    // Per organisation one answer, with the choice that makes it so (inside closed details).
    let answers = c
        .execute(
            "return document.querySelector(\"section[aria-labelledby='answers-title']\").textContent;",
            vec![],
        )
        .await
        .unwrap();
    let answers = answers.as_str().unwrap_or_default();
    assert!(
        answers.contains("Mag niet zien") && answers.contains("Omdat:"),
        "{answers}"
    );
    let in_force = c
        .find_all(Locator::Css(
            "section[aria-labelledby='current-title'] article",
        ))
        .await
        .unwrap()
        .len();
    // The child proposes in turn; the parent refuses, and the refusal is kept.
    consent_choice(&c, "reports", "permit").await;
    wait_text(&c, ".utrecht-alert--ok", "voorstel").await;
    sign_out(&c).await;
    sign_in(&c, &base, parent).await;
    c.goto(&format!("{base}/toestemming")).await.unwrap();
    let proposals = wait_text(
        &c,
        "section[aria-labelledby='waiting-me-title']",
        "rapportages",
    )
    .await;
    assert!(proposals.contains("mag zien: rapportages"), "{proposals}");
    click(&c, "form[action='/toestemming/weigeren'] button").await;
    let said = wait_text(&c, "main", "U zei nee").await;
    assert!(said.contains("U zei nee"), "{said}");
    assert!(c
        .find(Locator::Css("section[aria-labelledby='waiting-me-title']"))
        .await
        .is_err());
    assert_eq!(
        c.find_all(Locator::Css(
            "section[aria-labelledby='current-title'] article"
        ))
        .await
        .unwrap()
        .len(),
        in_force,
        "a refused proposal is not in force"
    );
    sign_out(&c).await;
}

/// The professional's answers in the browser test of the sharing aid: whatever the record
/// already knows, these end in sharing (co-treatment, consent or a conflict of duties).
const SHARING_ANSWERS: &[(&str, &str)] = &[
    ("task-needs", "yes"),
    ("protection-order", "no"),
    ("veilig-thuis", "no"),
    ("consent", "refused"),
    ("acute", "yes"),
    ("no-other-way", "yes"),
    ("sharing-helps", "yes"),
    ("good-professional", "no"),
    ("minimum", "yes"),
    ("others-privacy", "no"),
    ("endangers-if-told", "no"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_professional_decides_to_share_and_the_recipient_reads_in_chromium() {
    let demo = Demo::start();
    let people = demo.people.clone();
    let base = format!("http://127.0.0.1:{}", demo.port);
    let c = browser(demo.driver_port).await;
    let director = people
        .iter()
        .find(|p| p["role"] == "regisseur")
        .cloned()
        .expect("the demo has a case director");
    let recipient = people
        .iter()
        .find(|p| p["kind"] == "professional" && p["organisation"] != director["organisation"])
        .cloned()
        .expect("the demo has professionals of other organisations");
    let recipient_org = format!(
        "Organization/{}",
        recipient["organisation"].as_str().unwrap()
    );

    // The case director asks "Mag ik dit delen?" from a client's page.
    sign_in(&c, &base, &director).await;
    c.goto(&format!("{base}/clienten")).await.unwrap();
    click(&c, "tbody tr a").await;
    click(&c, "nav.kring-tabs a[href$='/delen']").await;
    assert_eq!(
        wait_text(&c, "h1", "Mag ik dit delen?").await,
        "Mag ik dit delen?"
    );
    let page = c.current_url().await.unwrap().to_string();
    let client = page
        .split("/clienten/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    axe(&c, "sharing aid start").await;
    narrow(&c, "sharing aid start").await;
    shot(&c, "sharing-1-start").await;
    choose(&c, "recipient", &recipient_org).await;
    click(&c, "#cat-crisis-plan").await;
    c.find(Locator::Id("purpose"))
        .await
        .unwrap()
        .send_keys("Weten wat te doen bij een crisis, ook buiten kantooruren")
        .await
        .unwrap();
    click(&c, "main form button[type='submit']").await;
    // One question at a time, each with its explanation and legal anchor, until the outcome.
    let mut asked = Vec::new();
    loop {
        let q = c
            .wait()
            .for_element(Locator::Css("fieldset[data-question], #outcome-title"))
            .await
            .unwrap();
        let Some(link) = q.attr("data-question").await.unwrap() else {
            break;
        };
        assert!(
            !text(&c, "#q-anchor").await.is_empty(),
            "{link} names its legal anchor"
        );
        if asked.is_empty() {
            axe(&c, "sharing aid question").await;
            narrow(&c, "sharing aid question").await;
            shot(&c, "sharing-2-question").await;
        }
        let answer = SHARING_ANSWERS
            .iter()
            .find(|(k, _)| *k == link)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("the aid asked {link}"));
        click(&c, &format!("input[value='{link}:{answer}']")).await;
        asked.push(link.clone());
        assert!(asked.len() < 16, "the aid ends: {asked:?}");
        click(&c, "main form button[type='submit']").await;
        // Wait for the next page (the question asked changes, or the outcome appears).
        c.wait()
            .for_element(Locator::Css(&format!(
                "#outcome-title, fieldset[data-question]:not([data-question='{link}'])"
            )))
            .await
            .unwrap();
    }
    let outcome = text(&c, "#outcome-title").await;
    assert!(outcome.starts_with("U mag delen"), "{asked:?}: {outcome}");
    axe(&c, "sharing aid outcome").await;
    narrow(&c, "sharing aid outcome").await;
    shot(&c, "sharing-3-outcome").await;
    click(
        &c,
        "form[action$='/delen/vastleggen'] button[type='submit']",
    )
    .await;
    wait_text(&c, "[role='status']", "gedeeld tot de einddatum").await;
    let grants = text(&c, "#grants-title + article").await;
    assert!(
        grants.contains("Loopt") && grants.contains("crisisplan"),
        "{grants}"
    );
    shot(&c, "sharing-4-recorded").await;
    sign_out(&c).await;

    // The recipient finds the client under "Met u gedeeld" and opens the crisis plan.
    sign_in(&c, &base, &recipient).await;
    c.goto(&format!("{base}/clienten")).await.unwrap();
    wait_text(&c, "#shared-title", "Met u gedeeld").await;
    click(
        &c,
        &format!("#shared-title ~ ul a[href='/clienten/{client}']"),
    )
    .await;
    c.goto(&format!("{base}/clienten/{client}/crisisplan"))
        .await
        .unwrap();
    let h1 = wait_text(&c, "h1", "Crisisplan").await;
    assert!(h1.contains("Crisisplan"), "{h1}");
    axe(&c, "shared crisis plan").await;
    shot(&c, "sharing-5-recipient-reads").await;
    sign_out(&c).await;

    // The case director withdraws the share; the recipient no longer has it.
    sign_in(&c, &base, &director).await;
    c.goto(&format!("{base}/clienten/{client}/delen"))
        .await
        .unwrap();
    click(&c, "form[action='/delen/intrekken'] button").await;
    wait_text(&c, "[role='status']", "ingetrokken").await;
    shot(&c, "sharing-6-withdrawn").await;
    sign_out(&c).await;
    sign_in(&c, &base, &recipient).await;
    c.goto(&format!("{base}/clienten")).await.unwrap();
    wait_text(&c, "h1", "Mijn cliënten").await;
    assert!(c
        .find(Locator::Css(&format!(
            "#shared-title ~ ul a[href='/clienten/{client}']"
        )))
        .await
        .is_err());
    sign_out(&c).await;

    // A privacy officer of an organisation of the network reviews the decisions.
    let mut reviewed = false;
    for officer in people.iter().filter(|p| p["role"] == "privacy-officer") {
        sign_in(&c, &base, officer).await;
        c.goto(&format!("{base}/privacy/delen")).await.unwrap();
        wait_text(&c, "h1", "Deelbesluiten").await;
        let main = text(&c, "main").await;
        sign_out(&c).await;
        if main.contains("Ingetrokken") {
            reviewed = true;
            sign_in(&c, &base, officer).await;
            c.goto(&format!("{base}/privacy/delen")).await.unwrap();
            wait_text(&c, "h1", "Deelbesluiten").await;
            axe(&c, "privacy officer sharing").await;
            narrow(&c, "privacy officer sharing").await;
            shot(&c, "sharing-7-privacy-officer").await;
            // The monthly report counts the month's sharing decisions.
            c.goto(&format!("{base}/toezicht/rapport")).await.unwrap();
            let figures = wait_text(&c, "main table", "Deelbesluiten").await;
            assert!(figures.contains("Delingen gemaakt"), "{figures}");
            break;
        }
    }
    assert!(
        reviewed,
        "the privacy officer of the client's organisation sees the decision"
    );

    // The worked examples for training, per role.
    sign_in(&c, &base, &director).await;
    c.goto(&format!("{base}/delen/oefenen")).await.unwrap();
    wait_text(&c, "h1", "Oefenen").await;
    axe(&c, "sharing training").await;
    click(&c, "main ul a").await;
    c.wait()
        .for_element(Locator::Css("fieldset[data-question]"))
        .await
        .unwrap();
    axe(&c, "sharing training case").await;
    narrow(&c, "sharing training case").await;
    shot(&c, "sharing-8-training").await;

    // The meldcode: the case director of a child keeps a case through its steps.
    c.goto(&format!("{base}/clienten")).await.unwrap();
    wait_text(&c, "h1", "Mijn cliënten").await;
    let mut rows = Vec::new();
    for a in c.find_all(Locator::Css("tbody tr a")).await.unwrap() {
        rows.push(a.attr("href").await.unwrap().unwrap_or_default());
    }
    let mut meldcode = None;
    for href in rows.iter().take(20) {
        c.goto(&format!("{base}{href}")).await.unwrap();
        c.wait().for_element(Locator::Css("h1")).await.unwrap();
        if c.find(Locator::Css("nav.kring-tabs a[href$='/meldcode']"))
            .await
            .is_ok()
        {
            meldcode = Some(format!("{href}/meldcode"));
            break;
        }
    }
    let meldcode = meldcode.expect("the case director of a child keeps meldcode cases");
    c.goto(&format!("{base}{meldcode}")).await.unwrap();
    wait_text(&c, "h1", "Meldcode").await;
    axe(&c, "meldcode start").await;
    c.find(Locator::Id("signals"))
        .await
        .unwrap()
        .send_keys("Blauwe plekken op beide armen; het kind wil niet naar huis")
        .await
        .unwrap();
    click(&c, "main form button[type='submit']").await;
    wait_text(&c, "[role='status']", "Stap 1").await;
    // Step 2 is due in five days; the client list says so.
    c.goto(&format!("{base}/clienten")).await.unwrap();
    wait_text(&c, "#meldcode-title", "Meldcode: wat nu").await;
    assert!(text(&c, "#meldcode-title + p + ul")
        .await
        .contains("Stap 2"));
    c.goto(&format!("{base}{meldcode}")).await.unwrap();
    wait_text(&c, "h1", "Meldcode").await;
    click(&c, "#with-veilig-thuis").await;
    c.find(Locator::Css("form textarea[name='text']"))
        .await
        .unwrap()
        .send_keys("Veilig Thuis om advies gevraagd")
        .await
        .unwrap();
    click(&c, "form[aria-labelledby^='next-'] button[type='submit']").await;
    wait_text(&c, "[role='status']", "Stap 2").await;
    click(&c, "#held-yes").await;
    c.find(Locator::Css("form textarea[name='text']"))
        .await
        .unwrap()
        .send_keys("Gesprek met moeder en kind")
        .await
        .unwrap();
    click(&c, "form[aria-labelledby^='next-'] button[type='submit']").await;
    wait_text(&c, "[role='status']", "Stap 3").await;
    for (q, a) in [
        ("suspicion", "yes"),
        ("unsafe_now", "no"),
        ("can_help", "yes"),
        ("help_accepted", "yes"),
    ] {
        click(&c, &format!("#{q}-{a}")).await;
    }
    c.execute(
        "document.getElementById('term').value = '2027-02-01';",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Css("form textarea[name='text']"))
        .await
        .unwrap()
        .send_keys("Zorgen, maar hulp is mogelijk en aanvaard")
        .await
        .unwrap();
    click(&c, "form[aria-labelledby^='next-'] button[type='submit']").await;
    wait_text(&c, "[role='status']", "Stap 4").await;
    let main = text(&c, "main").await;
    assert!(
        main.contains("hulp bieden of organiseren") && main.contains("Evaluatie"),
        "{main}"
    );
    axe(&c, "meldcode case").await;
    narrow(&c, "meldcode case").await;
    shot(&c, "meldcode-case").await;
    c.close().await.unwrap();
}
