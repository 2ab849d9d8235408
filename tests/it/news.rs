//! News end to end through the binary: `news_crawl` against local HTTP
//! servers replaying real-format feeds and pages (with the hostile cases:
//! robots.txt, 304, 429, a huge body, a redirect to loopback, malformed
//! XML), dedup, links, `news relink`, and `news_impact` over stored bars.

use crate::support::{stderr, stdout, Backend, Project};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCHEDULES: &str =
    "[jobs.news_crawl]\ncron = \"0 */10 * * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.news_impact]\ncron = \"0 0 22 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.ohlc_daily]\ncron = \"0 0 22 * * *\"\ntimezone = \"UTC\"\nretries = 0\n";

const UNIVERSE: &str = "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,삼성전자;Samsung Electronics,\n\
XKRX,000660,SK hynix,KRW,1,true,SK하이닉스;SK hynix;하이닉스,\n\
XKRX,017670,SK Telecom,KRW,2,true,SK텔레콤;SK Telecom,\n\
XKRX,035720,Kakao,KRW,3,true,카카오;Kakao,\n\
XNYS,JPM,JPMorgan Chase,USD,2,true,JPMorgan;JP Morgan,\n\
XNYS,XOM,Exxon Mobil,USD,3,true,ExxonMobil;Exxon Mobil,\n";

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Markets</title><link>https://wire.example.com/</link><description>d</description>
<item><title>JPMorgan raises dividend after stress test</title>
<link>https://wire.example.com/jpm-dividend?utm_source=rss&amp;utm_medium=feed</link>
<description><![CDATA[<p><b>JPMorgan Chase</b> (NYSE: JPM) lifted its quarterly dividend after clearing the Fed's stress test.</p>]]></description>
<pubDate>Fri, 20 Nov 2026 21:05:00 GMT</pubDate></item>
<item><title>Samsung Electronics wins HBM order from US chip designer</title>
<link>https://wire.example.com/samsung-hbm</link>
<description><![CDATA[Samsung Electronics (KRX: 005930) will supply high-bandwidth memory for accelerators, a deal that narrows the gap with SK hynix in the race for AI memory chips this year.]]></description>
<pubDate>Tue, 24 Nov 2026 01:15:00 +0000</pubDate></item>
<item><title>Oil steadies as traders weigh OPEC+ output plans</title>
<link>https://wire.example.com/oil</link>
<description><![CDATA[Brent crude held near $78 a barrel; a refiner's CEO said AI data centres will keep power demand high.]]></description>
<pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"#;

/// The same wire stories: one exact copy under another URL, one
/// syndicated copy with a line added (a near duplicate).
const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Partner</title><id>urn:partner</id><updated>2026-11-24T03:00:00Z</updated>
<entry><title>JPMorgan raises dividend after stress test</title><id>urn:p:1</id>
<link href="https://partner.example.org/news/jpm-dividend"/>
<updated>2026-11-20T21:10:00Z</updated>
<summary type="html">&lt;p&gt;&lt;b&gt;JPMorgan Chase&lt;/b&gt; (NYSE: JPM) lifted its quarterly dividend after clearing the Fed's stress test.&lt;/p&gt;</summary></entry>
<entry><title>Samsung Electronics wins HBM order from US chip designer</title><id>urn:p:2</id>
<link href="https://partner.example.org/news/samsung-hbm"/>
<updated>2026-11-24T02:30:00Z</updated>
<summary>Samsung Electronics (KRX: 005930) will supply high-bandwidth memory for accelerators, a deal that narrows the gap with SK hynix in the race for AI memory chips this year. Shares rose 2%.</summary></entry>
</feed>"#;

const LIST: &str = r#"<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><title>주요뉴스</title></head><body>
<ul class="realtimeNewsList"><li class="newsList">
<dl><dd class="articleSubject"><a href="/article/1">SK하이닉스, HBM4 양산 돌입</a></dd>
<dd class="articleSummary">SK하이닉스가 차세대 메모리 양산에 들어갔다. <span class="press">샘플경제</span> <span class="wdate">2026-11-24 10:12</span></dd></dl>
<dl><dd class="articleSubject"><a href="/article/2">카카오, AI 검색 공개</a></dd>
<dd class="articleSummary">카카오가 생성형 AI 검색을 내놓았다. <span class="press">샘플일보</span> <span class="wdate">2026-11-24 16:45</span></dd></dl>
</li></ul></body></html>"#;

const ARTICLE_1: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><nav>홈 | 증권</nav>
<div id="articleBody"><p>SK하이닉스가 24일 차세대 고대역폭메모리 양산에 들어갔다고 밝혔다.</p><p>삼성전자와의 경쟁이 치열해질 전망이다.</p></div><footer>무단전재 금지</footer></body></html>"#;

/// Article 2 is served as EUC-KR bytes, declared only in a meta tag.
const ARTICLE_2: &str = r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head><body>
<div id="articleBody"><p>카카오가 24일 생성형 인공지능 검색 서비스를 공개했다.</p><p>카카오의 주가는 3% 올랐다.</p></div></body></html>"#;

fn euc_kr(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

struct Served {
    server: MockServer,
}

impl Served {
    async fn start() -> Served {
        let server = MockServer::start().await;
        let get = |p: &str| Mock::given(method("GET")).and(path(p.to_string()));
        get("/robots.txt")
            .respond_with(
                ResponseTemplate::new(200).set_body_string("User-agent: *\nDisallow: /private/\n"),
            )
            .mount(&server)
            .await;
        // The feed answers 304 to its own ETag.
        get("/rss.xml")
            .and(header("If-None-Match", "\"rss-v1\""))
            .respond_with(ResponseTemplate::new(304))
            .with_priority(1)
            .mount(&server)
            .await;
        get("/rss.xml")
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/rss+xml; charset=utf-8")
                    .insert_header("ETag", "\"rss-v1\"")
                    .set_body_string(RSS),
            )
            .mount(&server)
            .await;
        get("/atom.xml")
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/atom+xml")
                    .set_body_string(ATOM),
            )
            .mount(&server)
            .await;
        get("/list.html")
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "text/html; charset=utf-8")
                    .set_body_string(LIST),
            )
            .mount(&server)
            .await;
        get("/article/1")
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "text/html; charset=utf-8")
                    .set_body_string(ARTICLE_1),
            )
            .mount(&server)
            .await;
        get("/article/2")
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "text/html")
                    .set_body_raw(euc_kr(ARTICLE_2), "text/html"),
            )
            .mount(&server)
            .await;
        // Busy once, then fine.
        get("/busy.xml")
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        get("/busy.xml")
            .respond_with(
                ResponseTemplate::new(200).set_body_string(
                    RSS.replace("wire.example.com", "busy.example.com")
                        .replace("Oil steadies", "Crude steadies")
                        .replace("JPMorgan raises", "JPMorgan Chase raises")
                        .replace("Samsung Electronics wins", "Samsung wins"),
                ),
            )
            .mount(&server)
            .await;
        get("/huge.xml")
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string("<rss>".to_string() + &"x".repeat(3 << 20)),
            )
            .mount(&server)
            .await;
        get("/broken.xml")
            .respond_with(ResponseTemplate::new(200).set_body_string(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>Half",
            ))
            .mount(&server)
            .await;
        get("/private/feed.xml")
            .respond_with(ResponseTemplate::new(200).set_body_string(RSS))
            .mount(&server)
            .await;
        // Sent from "localhost" to the loopback address: another host.
        let port = server.address().port();
        get("/go")
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("http://127.0.0.1:{port}/secret.xml")),
            )
            .mount(&server)
            .await;
        get("/secret.xml")
            .respond_with(ResponseTemplate::new(200).set_body_string(RSS))
            .mount(&server)
            .await;
        Served { server }
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.server.uri())
    }

    async fn hits(&self, p: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .count()
    }
}

fn crawl_config(s: &Served) -> String {
    let port = s.server.address().port();
    let src = |name: &str, kind: &str, url: String, extra: &str| {
        format!("[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{extra}\n")
    };
    let mut t = String::from(
        "[politeness]\nper_host_interval_secs = 0.0\nmax_body_bytes = 1048576\ntimeout_secs = 10\n\n",
    );
    t += &src("wire", "feed", s.url("/rss.xml"), "allow_private = true");
    t += &src(
        "partner",
        "feed",
        s.url("/atom.xml"),
        "allow_private = true",
    );
    t += &src(
        "kr-list",
        "html",
        s.url("/list.html"),
        "allow_private = true\nfetch_body = true\nbody_selector = \"div#articleBody\"\n\
         [sources.list]\nitem = \"dl\"\ntitle = \"dd.articleSubject a\"\nlink = \"dd.articleSubject a\"\n\
         summary = \"dd.articleSummary\"\npublished = \"span.wdate\"\npublished_format = \"%Y-%m-%d %H:%M\"\ntimezone = \"Asia/Seoul\"",
    );
    t += &src("busy", "feed", s.url("/busy.xml"), "allow_private = true");
    t += &src("huge", "feed", s.url("/huge.xml"), "allow_private = true");
    t += &src(
        "broken",
        "feed",
        s.url("/broken.xml"),
        "allow_private = true",
    );
    t += &src(
        "disallowed",
        "feed",
        s.url("/private/feed.xml"),
        "allow_private = true",
    );
    t += &src(
        "redirector",
        "feed",
        format!("http://localhost:{port}/go"),
        "allow_private = true",
    );
    t += &src("not-allowed", "feed", s.url("/secret.xml"), "");
    t
}

async fn count(p: &Project, sql: &str) -> i64 {
    let storage = p.db.storage().await;
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.unwrap())
}

fn report(p: &Project, rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(p.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn source<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["details"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("source {name} in {report}"))
}

async fn crawl_scenario(backend: Backend) {
    let s = Served::start().await;
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(p.path("jobs/universe.csv"), UNIVERSE).unwrap();
    p.write_job_params(
        "ohlc_daily",
        "universe = \"jobs/universe.csv\"\nprovider = \"files\"\n[providers.files]\npath = \"bars/{interval}/{exchange}/{code}.csv\"\n",
    );
    p.write_job_params("news_crawl", &crawl_config(&s));
    // The ticker master comes from the universe (ohlc_daily imports it).
    let out = p.run(&["stocks", "import", "jobs/universe.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let slot = "2026-11-24T10:00:00Z";
    let out = p.run(&["run", "news_crawl", "--slot", slot]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let r = report(&p, "reports/news_crawl/2026-11-24/100000.000Z.json");

    // Good sources: every entry stored once.
    assert_eq!(source(&r, "wire")["new"], 3, "{r}");
    let partner = source(&r, "partner");
    assert_eq!(partner["duplicates_exact"], 1, "same story, other URL: {r}");
    assert_eq!(
        partner["duplicates_near"], 1,
        "syndicated copy with a line added: {r}"
    );
    let kr = source(&r, "kr-list");
    assert_eq!(kr["new"], 2, "{r}");
    assert_eq!(kr["bodies_failed"], 0, "{r}");
    // 429 then 200: waited for Retry-After and got it.
    assert!(source(&r, "busy")["failed"].is_null(), "{r}");
    assert_eq!(s.hits("/busy.xml").await, 2);
    // Failures are reported per source, with the reason; the rest goes on.
    let failed = |name: &str| {
        source(&r, name)["failed"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
    };
    assert!(
        failed("huge").contains("too large") || failed("huge").contains("exceeds"),
        "{r}"
    );
    assert!(
        failed("broken").contains("xml") || failed("broken").contains("malformed"),
        "{r}"
    );
    assert!(failed("disallowed").contains("robots"), "{r}");
    assert_eq!(s.hits("/private/feed.xml").await, 0, "robots.txt honoured");
    assert!(failed("redirector").contains("127.0.0.1"), "{r}");
    assert!(failed("not-allowed").contains("127.0.0.1"), "{r}");
    assert_eq!(s.hits("/secret.xml").await, 0, "loopback never requested");

    // Stored articles: canonical URLs without tracking parameters, the
    // EUC-KR body decoded, times in UTC from the source's zone.
    assert_eq!(
        count(&p, "SELECT count(*) FROM news WHERE canonical_url = 'https://wire.example.com/jpm-dividend'").await,
        1
    );
    let storage = p.db.storage().await;
    let body: String = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT body FROM news WHERE title LIKE '카카오%'").fetch_one(pool).await.unwrap());
    assert!(body.contains("카카오의 주가는 3% 올랐다"), "{body}");
    let published: chrono::DateTime<chrono::Utc> = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT published_at FROM news WHERE title LIKE 'SK하이닉스%'").fetch_one(pool).await.unwrap());
    assert_eq!(
        published.to_rfc3339(),
        "2026-11-24T01:12:00+00:00",
        "10:12 in Seoul"
    );
    // Near duplicates share the cluster of the first copy.
    assert_eq!(
        count(
            &p,
            "SELECT count(DISTINCT cluster_id) FROM news WHERE title LIKE 'Samsung%'"
        )
        .await,
        1
    );

    // Links: several stocks per article, evidence kept; the oil story with
    // "CEO" and "AI" links nothing.
    let links = |code: &str| {
        format!("SELECT count(*) FROM news_stock_match m JOIN stocks s ON s.id = m.stock_id WHERE s.code = '{code}'")
    };
    assert!(count(&p, &links("JPM")).await >= 1);
    assert!(count(&p, &links("005930")).await >= 1);
    assert!(
        count(&p, &links("035720")).await >= 1,
        "카카오 with particles"
    );
    assert_eq!(
        count(&p, "SELECT count(*) FROM news_stock_match m JOIN news n ON n.id = m.news_id WHERE n.title LIKE 'Oil%'").await,
        0
    );
    assert_eq!(
        count(&p, &links("017670")).await,
        0,
        "SK hynix news is not SK Telecom news"
    );
    let evidence: String = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT m.evidence FROM news_stock_match m JOIN stocks s ON s.id = m.stock_id WHERE s.code = 'JPM' LIMIT 1").fetch_one(pool).await.unwrap());
    assert!(evidence.contains("\"rule\""), "{evidence}");

    // A rerun: 304 for the feed with an ETag, known URLs elsewhere, nothing new.
    let before = count(&p, "SELECT count(*) FROM news").await;
    let links_before = count(&p, "SELECT count(*) FROM news_stock_match").await;
    let out = p.run(&["run", "news_crawl", "--slot", slot, "--force"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let r = report(&p, "reports/news_crawl/2026-11-24/100000.000Z.json");
    assert_eq!(source(&r, "wire")["not_modified"], true, "{r}");
    assert_eq!(r["counts"]["articles_new"], 0, "{r}");
    assert_eq!(count(&p, "SELECT count(*) FROM news").await, before);
    assert_eq!(
        count(&p, "SELECT count(*) FROM news_stock_match").await,
        links_before
    );

    // Relink after the ticker master changed: SK Telecom gains an alias
    // that the hynix story mentions? No: drop Kakao's aliases instead, and
    // its links go away; relinking twice changes nothing the second time.
    std::fs::write(
        p.path("jobs/universe.csv"),
        UNIVERSE.replace(
            "XKRX,035720,Kakao,KRW,3,true,카카오;Kakao,",
            "XKRX,035720,Kakao,KRW,3,false,카카오;Kakao,",
        ),
    )
    .unwrap();
    let out = p.run(&["stocks", "import", "jobs/universe.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.run(&["news", "relink", "--since", "2026-11-01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed"), "{}", stdout(&out));
    assert_eq!(
        count(&p, &links("035720")).await,
        0,
        "an inactive stock keeps no links"
    );
    let out = p.run(&["news", "relink", "--since", "2026-11-01"]);
    assert!(
        stdout(&out).contains("0 links added, 0 changed, 0 removed"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn crawl_sqlite() {
    crawl_scenario(Backend::Sqlite).await
}

#[tokio::test]
async fn crawl_postgres() {
    crawl_scenario(Backend::Postgres).await
}

/// Samsung's closes, 2 Nov .. 18 Dec 2026 (every KRX session), rising by
/// 100 won a session from 70,000.
fn samsung_daily() -> String {
    let cal_dir = format!("{}/jobs/calendars", env!("CARGO_MANIFEST_DIR"));
    let (cals, _) = tickerd::time::Calendars::load_dir(std::path::Path::new(&cal_dir));
    let krx = cals.get("XKRX").unwrap();
    let mut text = String::from("date,open,high,low,close,volume\n");
    let mut d = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let mut close = 70_000.0;
    while d <= chrono::NaiveDate::from_ymd_opt(2026, 12, 18).unwrap() {
        if krx.session(d).is_some() {
            text += &format!(
                "{d},{close},{},{},{close},1000000\n",
                close + 50.0,
                close - 50.0
            );
            close += 100.0;
        }
        d += chrono::Duration::days(1);
    }
    text
}

type Raw = (
    String,
    chrono::NaiveDate,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    String,
);

async fn impact_scenario(backend: Backend) {
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(p.path("jobs/universe.csv"), UNIVERSE).unwrap();
    p.write_job_params(
        "ohlc_daily",
        "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nlookback_days = 60\n[providers.files]\npath = \"bars/{interval}/{exchange}/{code}.csv\"\n",
    );
    std::fs::create_dir_all(p.path("bars/1d/XKRX")).unwrap();
    std::fs::write(p.path("bars/1d/XKRX/005930.csv"), samsung_daily()).unwrap();
    // Two articles on Samsung: one during Tuesday 10 Nov's session, one
    // after its close (16:00 Seoul).
    std::fs::write(
        p.path("feed.xml"),
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><title>Samsung Electronics shares jump on chip order</title><link>https://x.example/a</link><description>Samsung Electronics (KRX: 005930) rose in morning trade.</description><pubDate>Tue, 10 Nov 2026 10:00:00 +0900</pubDate></item>
<item><title>Samsung Electronics announces buyback after the close</title><link>https://x.example/b</link><description>Samsung Electronics (KRX: 005930) will buy back shares, it said after the market closed.</description><pubDate>Tue, 10 Nov 2026 16:00:00 +0900</pubDate></item>
</channel></rss>"#,
    )
    .unwrap();
    p.write_job_params(
        "news_crawl",
        "[[sources]]\nname = \"local\"\nkind = \"feed\"\nurl = \"feed.xml\"\n",
    );
    // Bars up to 1 December only: the 20-session horizons are still open.
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-12-01T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.run(&["run", "news_crawl", "--slot", "2026-12-01T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.run(&["run", "news_impact", "--slot", "2026-12-01T22:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    type Row = (
        String,
        String,
        f64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        String,
    );
    let rows = || async {
        let storage = p.db.storage().await;
        tickerd::on_db!(&storage.db, pool => {
            let rows: Vec<Raw> = sqlx::query_as(
                "SELECT n.canonical_url, i.ref_date, i.ref_close, i.ret_1d, i.ret_5d, i.ret_20d, i.status
                 FROM news_impact i JOIN news n ON n.id = i.news_id ORDER BY n.canonical_url",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            rows.into_iter().map(|r| (r.0, r.1.to_string(), r.2, r.3, r.4, r.5, r.6)).collect::<Vec<Row>>()
        })
    };
    let got = rows().await;
    assert_eq!(got.len(), 2, "{got:?}");
    // During the session: measured from Monday 9 Nov's close (the 6th
    // session of the month: 70,500); +1 is Tuesday's close.
    let (url, ref_date, ref_close, r1, r5, r20, status) = &got[0];
    assert_eq!(url, "https://x.example/a");
    assert_eq!(ref_date, "2026-11-09");
    assert_eq!(*ref_close, 70_500.0);
    let pct = |to: f64| ((to / 70_500.0 - 1.0) * 100.0 * 1e4).round() / 1e4;
    assert_eq!(*r1, Some(pct(70_600.0)));
    assert_eq!(*r5, Some(pct(71_000.0)));
    assert_eq!(*r20, None, "20 sessions after 9 Nov is 7 Dec: not yet");
    assert_eq!(status, "pending");
    // After the close: measured from Tuesday's close.
    assert_eq!(got[1].1, "2026-11-10");
    assert_eq!(got[1].2, 70_600.0);

    // Rerun of the same slot: nothing rewritten.
    let out = p.run(&[
        "run",
        "news_impact",
        "--slot",
        "2026-12-01T22:00:00Z",
        "--force",
    ]);
    assert!(out.status.success());
    let storage = p.db.storage().await;
    let l = tickerd::ledger::Ledger::new(storage);
    let at = "2026-12-01T22:00:00Z".parse().unwrap();
    let run = &l
        .runs_between(tickerd::jobs::JobName::NewsImpact, at, at)
        .await
        .unwrap()[0];
    assert_eq!(
        run.counts.as_ref().unwrap()["rows_written"].as_i64(),
        Some(0)
    );

    // The rest of the bars arrive: the rows complete and are not revisited.
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-12-18T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.run(&["run", "news_impact", "--slot", "2026-12-18T22:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let got = rows().await;
    assert!(got.iter().all(|r| r.6 == "complete"), "{got:?}");
    assert_eq!(got[0].5, Some(pct(72_500.0)), "20 sessions after 9 Nov");
}

#[tokio::test]
async fn impact_sqlite() {
    impact_scenario(Backend::Sqlite).await
}

#[tokio::test]
async fn impact_postgres() {
    impact_scenario(Backend::Postgres).await
}

#[tokio::test]
async fn validate_names_every_bad_source() {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(SCHEDULES);
    p.write_job_params(
        "news_crawl",
        "[[sources]]\nname = \"a\"\nkind = \"html\"\nurl = \"https://a.example/list\"\n\
         [sources.list]\nitem = \"li[\"\ntitle = \"a\"\nlink = \"a\"\ntimezone = \"Asia/Seoul\"\n\n\
         [[sources]]\nname = \"b\"\nkind = \"feed\"\nurl = \"ftp://b.example/feed\"\n\n\
         [[sources]]\nname = \"c\"\nkind = \"html\"\nurl = \"https://c.example/\"\n",
    );
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("source \"a\"") && text.contains("li["),
        "{text}"
    );
    assert!(
        text.contains("source \"b\"") && text.contains("ftp"),
        "{text}"
    );
    assert!(
        text.contains("source \"c\"") && text.contains("[sources.list]"),
        "{text}"
    );
    // The job refuses to run on it (permanent: retrying cannot help).
    let out = p.run(&["run", "news_crawl", "--slot", "2026-11-24T10:00:00Z"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("source \"b\"") || stdout(&out).contains("source \"b\""));
}

/// An article and its links are stored together or not at all. A link
/// that cannot be written (here: to a stock that does not exist) takes the
/// article with it, so the next crawl still finds the URL unknown and
/// stores both; before, the article stayed and its links were lost for
/// good, because a known URL is never relinked by a crawl.
async fn article_and_links_commit_together(backend: Backend) {
    use tickerd::news::link::{Evidence, Field, Link, Rule, RULES_VERSION};
    use tickerd::news::store::{insert_article, NewArticle};
    let db = crate::support::TestDb::new(backend).await;
    let storage = db.storage().await;
    let dir = tempfile::tempdir().unwrap();
    let universe = dir.path().join("universe.csv");
    std::fs::write(&universe, UNIVERSE).unwrap();
    tickerd::market::stocks::import(&storage, &universe, None)
        .await
        .unwrap();
    let stocks = tickerd::market::stocks::load(&storage, false)
        .await
        .unwrap();
    let jpm = stocks.iter().find(|s| s.code == "JPM").unwrap().id;
    let missing = stocks.iter().map(|s| s.id).max().unwrap() + 1000;
    let ledger = tickerd::ledger::Ledger::new(storage.clone());
    let owner = tickerd::ledger::Owner {
        id: "test:atomic".into(),
        host: "test-host".into(),
        pid: 1,
    };
    let run_id = match ledger
        .claim(
            tickerd::jobs::JobName::NewsCrawl,
            "2026-11-24T10:00:00Z".parse().unwrap(),
            tickerd::ledger::Trigger::Manual,
            &owner,
            tickerd::ledger::Rerun::Unfinished,
        )
        .await
        .unwrap()
    {
        tickerd::ledger::ClaimResult::Claimed(c) => c.run_id,
        tickerd::ledger::ClaimResult::Taken { .. } => panic!("a fresh database has no claim"),
    };
    let now = chrono::Utc::now();
    let article = NewArticle {
        canonical_url: "https://wire.example.com/jpm-dividend".into(),
        url: "https://wire.example.com/jpm-dividend".into(),
        source: "wire".into(),
        title: "JPMorgan raises dividend after stress test".into(),
        summary: None,
        body: None,
        language: Some("en".into()),
        language_confidence: Some(0.9),
        published_at: now,
        published_inferred: false,
        fetched_at: now,
        content_hash: "h1".into(),
        dup_sketch: 7,
        near_duplicate_of: None,
    };
    let link = |stock_id| Link {
        stock_id,
        relevance: 0.9,
        evidence: vec![Evidence {
            rule: Rule::ExchangeSymbol,
            field: Field::Title,
            start: 0,
            end: 8,
            text: "JPMorgan".into(),
            weight: 0.9,
            count: 1,
        }],
    };
    let counts = |storage: tickerd::storage::Storage| async move {
        tickerd::on_db!(&storage.db, pool => {
            let news: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM news").fetch_one(pool).await.unwrap();
            let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM news_stock_match").fetch_one(pool).await.unwrap();
            (news, links)
        })
    };

    let err = insert_article(
        &storage,
        &article,
        &[link(jpm), link(missing)],
        RULES_VERSION,
        run_id,
    )
    .await
    .expect_err("a link to a stock that does not exist must fail");
    assert!(
        format!("{err:#}").to_lowercase().contains("foreign key"),
        "{err:#}"
    );
    assert_eq!(counts(storage.clone()).await, (0, 0), "nothing half-stored");

    let id = insert_article(&storage, &article, &[link(jpm)], RULES_VERSION, run_id)
        .await
        .unwrap()
        .expect("the URL is still unknown, so it is stored now");
    assert_eq!(counts(storage.clone()).await, (1, 1));
    let cluster: Option<i64> = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar("SELECT cluster_id FROM news WHERE id = $1").bind(id).fetch_one(pool).await.unwrap());
    assert_eq!(cluster, Some(id), "a new cluster head is its own cluster");
    // The same URL again: nothing stored, nothing linked twice.
    let again = insert_article(&storage, &article, &[link(jpm)], RULES_VERSION, run_id)
        .await
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(counts(storage).await, (1, 1));
}

#[tokio::test]
async fn article_and_links_commit_together_sqlite() {
    article_and_links_commit_together(Backend::Sqlite).await
}

#[tokio::test]
async fn article_and_links_commit_together_postgres() {
    article_and_links_commit_together(Backend::Postgres).await
}
