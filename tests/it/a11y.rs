//! 无障碍 · 适老化: axe-core audits every page a demo account can reach, at 375 and 1280 px,
//! including error pages, empty states, forms showing validation errors and large-text mode;
//! and a keyboard-only member files a grievance and signs up for an activity.
//!
//! axe-core comes from npm (`.ci/run` installs it; the test installs it into target/axe when
//! npm is there and the file is not). ZHIJIA_AXE_JS names another copy.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::{browser, login, shot, viewport};
use crate::smoke::start_server;

const AXE_VERSION: &str = "4.14.1";

/// Rules below "serious" that we hold ourselves to anyway: one h1 and one main per page, and
/// all content inside landmarks.
const ALSO_FAIL: &[&str] = &["page-has-heading-one", "landmark-one-main", "region"];

static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The axe-core script, installed with npm on first use.
pub(crate) fn axe_source() -> &'static str {
    AXE.get_or_init(load_axe)
}

fn load_axe() -> String {
    let path = match std::env::var("ZHIJIA_AXE_JS") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe");
            let file = dir.join("node_modules/axe-core/axe.min.js");
            if !file.exists() {
                std::fs::create_dir_all(&dir).unwrap();
                let status = std::process::Command::new("npm")
                    .args([
                        "install",
                        "--no-save",
                        "--no-audit",
                        "--no-fund",
                        "--prefix",
                    ])
                    .arg(&dir)
                    .arg(format!("axe-core@{AXE_VERSION}"))
                    .status();
                assert!(
                    status.is_ok_and(|s| s.success()) && file.exists(),
                    "axe-core is missing: run `npm install --prefix target/axe axe-core@{AXE_VERSION}`, \
                     set ZHIJIA_AXE_JS, or ZHIJIA_BROWSER_TESTS=0 to skip the browser tests"
                );
            }
            file
        }
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read axe-core at {}: {e}", path.display()))
}

/// Run axe on the page shown now; the serious and critical violations (and `ALSO_FAIL`), one
/// line per element, prefixed with `label`.
pub(crate) async fn audit(c: &Client, axe: &str, label: &str) -> Vec<String> {
    let loaded = c
        .execute("return typeof window.axe !== 'undefined'", vec![])
        .await
        .unwrap();
    if loaded != serde_json::json!(true) {
        c.execute(axe, vec![]).await.unwrap();
    }
    let script = r#"
        var done = arguments[arguments.length - 1];
        var also = arguments[0];
        axe.run(document, {resultTypes: ['violations']}).then(function (r) {
            var out = [];
            r.violations.forEach(function (v) {
                if (v.impact !== 'serious' && v.impact !== 'critical' && also.indexOf(v.id) < 0) return;
                v.nodes.forEach(function (n) {
                    var why = (n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 240);
                    out.push(v.impact + ' ' + v.id + ' at ' + n.target.join(' ') + ': ' + why);
                });
            });
            done(out);
        }, function (e) { done(['axe failed: ' + e]); });
    "#;
    let found = c
        .execute_async(script, vec![serde_json::json!(ALSO_FAIL)])
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{label}: {}", v.as_str().unwrap_or_default()))
        .collect()
}

/// Whether the page scrolls sideways (it must not, at any width we test).
async fn overflows(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth > window.innerWidth + 1",
        vec![],
    )
    .await
    .unwrap()
        == serde_json::json!(true)
}

/// The first link on the page whose path matches `pattern` (a JS regular expression).
async fn first_link(c: &Client, pattern: &str) -> Option<String> {
    let v = c
        .execute(
            "var re = new RegExp(arguments[0]);
             var a = Array.from(document.querySelectorAll('a[href]'))
                .map(function (a) { return a.getAttribute('href'); })
                .find(function (h) { return re.test(h); });
             return a || null;",
            vec![serde_json::json!(pattern)],
        )
        .await
        .unwrap();
    v.as_str().map(str::to_string)
}

/// One stop of the tour: a path, or a form submitted empty to show its validation errors.
#[derive(Clone)]
enum Stop {
    Page(String),
    /// Path of a form page, and the form's CSS selector: submitted with browser validation off.
    Invalid(String, &'static str),
}

struct Tour<'a> {
    c: &'a Client,
    base: String,
    axe: &'a str,
    found: Vec<String>,
    pages: usize,
}

impl Tour<'_> {
    async fn visit(&mut self, who: &str, width: u32, stop: &Stop) {
        let label = match stop {
            Stop::Page(p) => format!("{who} {width}px {p}"),
            Stop::Invalid(p, _) => format!("{who} {width}px {p} (errors shown)"),
        };
        match stop {
            Stop::Page(p) => self.c.goto(&format!("{}{p}", self.base)).await.unwrap(),
            Stop::Invalid(p, form) => {
                self.c.goto(&format!("{}{p}", self.base)).await.unwrap();
                self.c
                    .find(Locator::Css(form))
                    .await
                    .unwrap_or_else(|_| panic!("{label}: no form {form}"));
                self.c
                    .execute(
                        "var f = document.querySelector(arguments[0]); f.noValidate = true;
                         f.querySelectorAll('[required]').forEach(function (e) { e.value = ''; });
                         f.requestSubmit();",
                        vec![serde_json::json!(form)],
                    )
                    .await
                    .unwrap();
                // Wait for the answer page (same URL on a 422): the form's old elements go stale.
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let shown = self
                        .c
                        .execute(
                            "return document.readyState === 'complete' &&
                                !!document.querySelector('.flash-error, .field-error, [role=alert]')",
                            vec![],
                        )
                        .await
                        .unwrap();
                    if shown == serde_json::json!(true) {
                        break;
                    }
                }
            }
        }
        self.pages += 1;
        self.found.extend(audit(self.c, self.axe, &label).await);
        if let Stop::Invalid(p, _) = stop {
            let name = format!("a11y-{who}-{}-errors-{width}.png", p.replace('/', "_"));
            let png = self.c.screenshot().await.unwrap();
            std::fs::write(crate::browser::shots_dir().join(name), png).unwrap();
        }
        if overflows(self.c).await {
            self.found.push(format!("{label}: scrolls sideways"));
        }
    }

    async fn run(&mut self, who: &str, stops: &[Stop]) {
        for width in [375, 1280] {
            viewport(self.c, width, if width == 375 { 812 } else { 900 }).await;
            for stop in stops {
                self.visit(who, width, stop).await;
            }
        }
    }

    /// Paths of `list`, plus the first link on it matching each pattern (a detail page).
    async fn discover(&self, list: &str, patterns: &[&str]) -> Vec<Stop> {
        self.c.goto(&format!("{}{list}", self.base)).await.unwrap();
        let mut out = vec![Stop::Page(list.to_string())];
        for p in patterns {
            let link = first_link(self.c, p).await;
            let link = link.unwrap_or_else(|| panic!("no link matching {p} on {list}"));
            out.push(Stop::Page(link));
        }
        out
    }
}

fn pages(paths: &[&str]) -> Vec<Stop> {
    paths.iter().map(|p| Stop::Page((*p).to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_an_accessibility_audit_at_phone_and_desktop_width() {
    let Some((c, _driver)) = browser().await else {
        return;
    };
    let axe = axe_source();
    let server = start_server(true);
    let base = format!("http://{}", server.addr);
    let mut tour = Tour {
        c: &c,
        base: base.clone(),
        axe,
        found: Vec::new(),
        pages: 0,
    };

    // Logged out: the login page, with an error, the anonymous tracking page and a 404.
    let mut outside = pages(&[
        "/login",
        "/grievances/track",
        "/no-such-page",
        "/join",
        "/join/status",
    ]);
    outside.push(Stop::Invalid("/login".into(), "form[action='/login']"));
    outside.push(Stop::Invalid("/join".into(), "form[action='/join']"));
    tour.run("anonymous", &outside).await;

    // A member: every page of the portal, details found from the lists.
    viewport(&c, 375, 812).await;
    login(&c, &base, "demo-member").await;
    let mut member = pages(&[
        "/",
        "/services",
        "/grievances/new",
        "/benefits",
        "/showcase/mine",
        "/showcase/new",
        "/search?q=%E5%B7%A5%E4%BC%9A",
        "/search?q=zzzzqqq",
        "/notifications",
        "/me",
        "/me/password",
        "/me/privacy",
        "/me/card",
        "/me/membership",
        "/proposals",
        "/proposals/new",
        "/proposals/compiled",
        "/mailbox",
        "/mailbox/public",
        "/news/999999999",
    ]);
    member.extend(tour.discover("/news", &[r"^/news/\d+$"]).await);
    member.extend(tour.discover("/activities", &[r"^/activities/\d+$"]).await);
    member.extend(tour.discover("/grievances", &[r"^/grievances/WQ-"]).await);
    member.extend(
        tour.discover("/benefits", &[r"^/benefits/apply/\d+$"])
            .await,
    );
    member.extend(tour.discover("/surveys", &[r"^/surveys/\d+$"]).await);
    member.extend(tour.discover("/showcase", &[r"^/showcase/\d+$"]).await);
    member.push(Stop::Invalid(
        "/grievances/new".into(),
        "form[action='/grievances/new']",
    ));
    member.push(Stop::Invalid(
        "/me/password".into(),
        "form[action='/me/password']",
    ));
    tour.run("member", &member).await;

    // The same member in 长辈版 (large text).
    c.goto(&format!("{base}/me")).await.unwrap();
    crate::browser::click(&c, "form[action='/me/large-text'] button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("body.large"))
        .await
        .unwrap();
    tour.run(
        "member (长辈版)",
        &pages(&["/", "/activities", "/services", "/me", "/grievances/new"]),
    )
    .await;

    // A chair: the admin area, details found from the lists.
    viewport(&c, 375, 812).await;
    login(&c, &base, "demo-chair").await;
    let mut chair = pages(&[
        "/admin",
        "/admin/inbox",
        "/admin/dashboard",
        "/admin/benefits/budgets",
        "/admin/benefits/catalogue",
        "/admin/benefits/payouts",
        "/admin/news/new",
        "/admin/news/categories",
        "/admin/activities/new",
        "/admin/surveys/new",
        "/admin/showcase",
        "/admin/comments",
        "/admin/members/new",
        "/admin/members/import",
        "/admin/audit",
        "/admin/grievances/WQ-0000-XXXXX",
        "/admin/membership",
        "/admin/membership?done=1",
        "/admin/mailbox",
        "/admin/membership/dues",
        "/admin/card-check",
        "/admin/card-check?code=ZJC1.1.2.3",
    ]);
    chair.extend(tour.discover("/proposals", &[r"^/proposals/\d+$"]).await);
    chair.extend(
        tour.discover("/admin/mailbox", &[r"^/admin/mailbox/[0-9A-Za-z]{12,}$"])
            .await,
    );
    chair.extend(
        tour.discover(
            "/admin/membership",
            &[
                r"^/admin/membership/applications/\d+$",
                r"^/admin/membership/transfers/\d+$",
            ],
        )
        .await,
    );
    chair.extend(
        tour.discover("/admin/grievances", &[r"^/admin/grievances/WQ-"])
            .await,
    );
    chair.extend(
        tour.discover("/admin/benefits", &[r"^/admin/benefits/\d+$"])
            .await,
    );
    chair.extend(
        tour.discover(
            "/admin/news",
            &[r"^/admin/news/\d+$", r"^/admin/news/\d+/reads$"],
        )
        .await,
    );
    chair.extend(
        tour.discover(
            "/admin/activities",
            &[r"^/admin/activities/\d+$", r"^/admin/activities/\d+/edit$"],
        )
        .await,
    );
    chair.extend(
        tour.discover("/admin/surveys", &[r"^/admin/surveys/\d+$"])
            .await,
    );
    chair.extend(
        tour.discover("/admin/members", &[r"^/admin/members/\d+$"])
            .await,
    );
    chair.extend(tour.discover("/admin/org", &[r"^/admin/org/\d+$"]).await);
    chair.push(Stop::Invalid(
        "/admin/news/new".into(),
        "form[action='/admin/news/new']",
    ));
    chair.push(Stop::Invalid(
        "/admin/members/new".into(),
        "form[action='/admin/members']",
    ));
    tour.run("chair", &chair).await;

    // Finance and the administrator's own pages.
    viewport(&c, 375, 812).await;
    login(&c, &base, "demo-finance").await;
    tour.run("finance", &pages(&["/admin", "/admin/benefits/payouts"]))
        .await;
    viewport(&c, 375, 812).await;
    login(&c, &base, "demo-admin").await;
    tour.run(
        "admin",
        &pages(&[
            "/admin",
            "/admin/settings/calendar",
            "/admin/congress",
            "/admin/org",
            "/admin/audit",
        ]),
    )
    .await;

    shot(&c, "a11y-last-page-1280.png").await;
    let (visited, found) = (tour.pages, tour.found);
    c.close().await.unwrap();
    assert!(visited > 100, "the tour visited only {visited} pages");
    assert!(
        found.is_empty(),
        "{} accessibility violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const DOWN: &str = "\u{E015}";

/// Key presses, as a keyboard sends them: to whatever has focus.
async fn keys(c: &Client, text: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut seq = KeyActions::new("keyboard".into());
    for ch in text.chars() {
        seq = seq
            .then(KeyAction::Down { value: ch })
            .then(KeyAction::Up { value: ch });
    }
    c.perform_actions(seq).await.unwrap();
}

/// Press Tab until the focused element matches `css`; fails after 80 presses. Also checks
/// that focus is visible there (an outline or a box shadow).
async fn tab_to(c: &Client, css: &str) {
    for _ in 0..80 {
        let here = c
            .execute(
                "var e = document.activeElement; return !!e && e.matches(arguments[0]);",
                vec![serde_json::json!(css)],
            )
            .await
            .unwrap();
        if here == serde_json::json!(true) {
            let visible = c
                .execute(
                    "var s = getComputedStyle(document.activeElement);
                     return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                         || (s.boxShadow && s.boxShadow !== 'none');",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                visible,
                serde_json::json!(true),
                "no visible focus on {css}"
            );
            return;
        }
        keys(c, TAB).await;
    }
    panic!("Tab never reached {css}");
}

async fn wait_path(c: &Client, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let p = c.current_url().await.unwrap().path().to_string();
        if pred(&p) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never reached the expected page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_keyboard_only_a_member_files_a_grievance_and_signs_up_for_an_activity() {
    let Some((c, _driver)) = browser().await else {
        return;
    };
    let server = start_server(true);
    let base = format!("http://{}", server.addr);
    viewport(&c, 375, 812).await;

    // Log in: the account box has focus on arrival.
    c.goto(&format!("{base}/login")).await.unwrap();
    tab_to(&c, "#username").await;
    keys(&c, "demo-member").await;
    tab_to(&c, "#password").await;
    keys(&c, "zhijia-demo").await;
    keys(&c, ENTER).await;
    wait_path(&c, |p| p != "/login").await;

    // From the home page to 服务 → 维权申诉 → 我要申诉 by Tab and Enter.
    tab_to(&c, "a[href='/services']").await;
    keys(&c, ENTER).await;
    wait_path(&c, |p| p == "/services").await;
    tab_to(&c, "a[href='/grievances']").await;
    keys(&c, ENTER).await;
    wait_path(&c, |p| p == "/grievances").await;
    tab_to(&c, "a[href='/grievances/new']").await;
    keys(&c, ENTER).await;
    wait_path(&c, |p| p == "/grievances/new").await;
    tab_to(&c, "#category").await;
    keys(&c, DOWN).await;
    tab_to(&c, "#title").await;
    keys(&c, "夜班食堂没有热饭").await;
    tab_to(&c, "#description").await;
    keys(&c, "十一月起夜班食堂只有冷餐，已有三位同事胃不舒服。").await;
    tab_to(&c, "#desired_outcome").await;
    keys(&c, "夜班恢复热饭供应").await;
    tab_to(&c, "form[action='/grievances/new'] button[type=submit]").await;
    keys(&c, ENTER).await;
    let case = wait_path(&c, |p| p.starts_with("/grievances/WQ-")).await;
    let body = c.source().await.unwrap();
    assert!(body.contains("夜班食堂没有热饭"), "case page: {case}");
    shot(&c, "keyboard-grievance-375.png").await;

    // An activity open for sign-up: found by reading the list, reached by Tab and Enter.
    c.goto(&format!("{base}/activities")).await.unwrap();
    let links = c
        .execute(
            "return Array.from(document.querySelectorAll('a[href]'))
                .map(function (a) { return a.getAttribute('href'); })
                .filter(function (h) { return /^\\/activities\\/\\d+$/.test(h); });",
            vec![],
        )
        .await
        .unwrap();
    let mut open = None;
    for l in links.as_array().unwrap() {
        let l = l.as_str().unwrap();
        c.goto(&format!("{base}{l}")).await.unwrap();
        let src = c.source().await.unwrap();
        if src.contains("/signup\"") && !src.contains("field-1") {
            open = Some(l.to_string());
            break;
        }
    }
    let open = open.expect("the demo has an activity open for sign-up");
    c.goto(&format!("{base}/activities")).await.unwrap();
    tab_to(&c, &format!("a[href='{open}']")).await;
    keys(&c, ENTER).await;
    wait_path(&c, |p| p == open).await;
    tab_to(&c, "form[action$='/signup'] button[type=submit]").await;
    keys(&c, ENTER).await;
    c.wait()
        .for_element(Locator::Css("form[action$='/cancel']"))
        .await
        .unwrap();
    let body = c.source().await.unwrap();
    assert!(
        body.contains("已报名") || body.contains("候补第"),
        "no sign-up state on {open}"
    );
    shot(&c, "keyboard-signup-375.png").await;
    c.close().await.unwrap();
}
