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
    c.find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if let Some(secret) = person["totp_secret"].as_str() {
        let field = c.wait().for_element(Locator::Id("code")).await.unwrap();
        field.send_keys(&code_for(secret)).await.unwrap();
        c.find(Locator::Css("button.primary"))
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

/// On the circle page: ticks one category, sets the end date and saves the member chosen in
/// the form; returns the rows once the new member is listed (or after 10 s).
async fn add_member(
    c: &Client,
    category: &str,
    end: &str,
    rows_before: usize,
) -> Vec<fantoccini::elements::Element> {
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
    c.find(Locator::Css("form[action$='/kring'] button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_count(c, "tbody tr", rows_before + 1).await
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
    let why = c
        .find(Locator::Css(
            "section[aria-labelledby='sec-reports'] summary",
        ))
        .await
        .unwrap();
    why.click().await.unwrap();
    let reasons = text(&c, "section[aria-labelledby='sec-reports'] details").await;
    assert!(
        reasons.contains("kring van deze cliënt") && reasons.contains("Lidmaatschap"),
        "{reasons}"
    );

    // 3. The circle page: add a professional with reports until an end date, then end it.
    c.find(Locator::LinkText("Kring beheren"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Kring beheren").await;
    let rows_before = c.find_all(Locator::Css("tbody tr")).await.unwrap().len();
    let rows = add_member(&c, "reports", "2027-06-30", rows_before).await;
    assert_eq!(
        rows.len(),
        rows_before + 1,
        "the new member is listed: {}",
        text(&c, "main").await
    );
    let last = rows.last().unwrap().text().await.unwrap();
    assert!(
        last.contains("2027-06-30") && last.contains("rapportages"),
        "{last}"
    );
    let end_buttons = c
        .find_all(Locator::Css("form[action$='/beeindigen'] button"))
        .await
        .unwrap();
    end_buttons.last().unwrap().click().await.unwrap();
    wait_count(
        &c,
        "form[action$='/beeindigen'] button",
        end_buttons.len() - 1,
    )
    .await;
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
        !last.contains("2027-06-30"),
        "the membership ended yesterday: {last}"
    );
    // A team can be a member instead of a person.
    let rows_before = c.find_all(Locator::Css("tbody tr")).await.unwrap().len();
    c.find(Locator::Css(
        "select#member option[value^='CareTeam/team-']",
    ))
    .await
    .expect("the demo's teams are offered")
    .click()
    .await
    .unwrap();
    let rows = add_member(&c, "crisis-plan", "2027-03-31", rows_before).await;
    let last = rows.last().unwrap().text().await.unwrap();
    assert!(
        last.contains("CareTeam/team-") && last.contains("2027-03-31"),
        "{last}"
    );

    // 4. English on request; the keyboard reaches the skip link first.
    c.find(Locator::Css("a[lang='en']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        wait_text(&c, "h1", "Manage the circle").await,
        "Manage the circle"
    );
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
    assert_eq!(focused.as_deref(), Some("skip"));
    c.find(Locator::Css("a[lang='nl']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Kring beheren").await;
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
    c.find(Locator::Css("form[action='/noodtoegang'] button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let banner = wait_text(&c, "p.notice", "noodtoegang").await;
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
    c.find(Locator::Css("form[action='/toestemming'] button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(wait_text(&c, "p.ok", "vastgelegd")
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
    c.find(Locator::LinkText("Wie keek in mijn dossier?"))
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
    assert!(
        c.find(Locator::Css("figure svg[role='img'] title"))
            .await
            .is_ok(),
        "the chart has a text alternative"
    );
    let table = text(&c, "tbody").await;
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
    wait_text(&c, "h1", "Toegangslog").await;
    c.find(Locator::Css("#only option[value='emergency']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("form[action='/toegangslog'] button.primary"))
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
    assert!(wait_text(&c, "p.ok", "Controle klaar")
        .await
        .contains("zaken"));
    let practitioner = outsider["practitioner"].as_str().unwrap();
    let queue = text(&c, "tbody").await;
    assert!(
        queue.contains(practitioner) && queue.contains("noodtoegang"),
        "{queue}"
    );
    let link = c
        .find(Locator::XPath(&format!(
            "//tbody//tr[contains(., '{practitioner}') and contains(., 'Patient/{patient}')]//a"
        )))
        .await
        .unwrap();
    link.click().await.unwrap();
    wait_text(&c, "h1", "Zaak").await;
    let evidence = text(&c, "tbody").await;
    assert!(evidence.contains("NOODTOEGANG"), "{evidence}");
    let main = text(&c, "main").await;
    assert!(main.contains("Gezocht naar een verklaring"), "{main}");
    c.find(Locator::Css("form[action$='/waarschuwing'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "p.ok", "verstuurd").await;
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
    assert!(wait_text(&c, "p.ok", "Besluit vastgelegd")
        .await
        .contains("waarschuwen"));
    c.goto(&format!("{base}/toezicht?besloten=1"))
        .await
        .unwrap();
    let decided = wait_text(&c, "tbody", practitioner).await;
    assert!(decided.contains("waarschuwen"), "{decided}");
    c.goto(&format!("{base}/toezicht/rapport")).await.unwrap();
    wait_text(&c, "h1", "Maandrapport toezicht").await;
    let figures = text(&c, "main table").await;
    assert!(
        figures.contains("Noodtoegang") && figures.contains("Beoordeeld"),
        "{figures}"
    );
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
    let warning = wait_text(&c, "section.notice", "privacyfunctionaris").await;
    assert!(warning.contains("geen reden"), "{warning}");
    c.find(Locator::Css("form[action^='/meldingen/'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Mijn cliënten").await;
    assert!(c
        .find_all(Locator::Css("section.notice"))
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
    c.find(Locator::Css("button.primary"))
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
    c.find(Locator::Css("form#passkey-add button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let added = wait_text(&c, "p.ok", "toegevoegd").await;
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
    let note = wait_text(&c, "p.notice:not([hidden])", "localhost").await;
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
