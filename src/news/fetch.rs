//! The polite, safe HTTP fetcher used by the news crawler.
//!
//! *Polite*: robots.txt is fetched once per origin and honoured (Allow /
//! Disallow for our product token, `Crawl-delay`), requests to one host are
//! spaced by at least [`Politeness::per_host_interval`], a global semaphore
//! caps concurrency, `Retry-After` on 429/503 is waited out (up to a cap),
//! and validators make repeat fetches conditional.
//!
//! *Safe*: source URLs come from configuration and redirects from remote
//! servers, so every hop is checked before anything is sent:
//!
//! * only `http`/`https`; redirects are followed here, never by reqwest, so
//!   each hop goes through robots and the address policy;
//! * the hop's host is resolved and refused if any address is loopback,
//!   private, link-local, CGNAT, multicast, … ([`classify`]), unless the
//!   request allows a private address for *its own* host;
//! * the connection then goes to exactly the addresses that were checked
//!   (see [`Fetcher`] on pinning), so DNS cannot be rebound in between;
//! * bodies are read chunk by chunk and abandoned past the size cap;
//! * error messages carry the URL without credentials or query string.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::{Host, Url};

use super::charset;

/// RFC 9309 asks crawlers to parse at least the first 500 KiB of robots.txt;
/// anything past that is cut off rather than rejected.
const ROBOTS_MAX_BYTES: usize = 512 * 1024;
/// RFC 9309: follow at least five consecutive redirects for robots.txt.
const ROBOTS_MAX_REDIRECTS: usize = 5;
/// A `Crawl-delay` above this is treated as this (a typo such as 86400 should
/// not park a fetch for a day).
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(3600);
/// RFC 9309 §2.4: a cached robots.txt should not be used for more than a day.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// An unreachable robots.txt blocks its origin for this long (the rest of a
/// crawl run), then is tried again.
const ROBOTS_UNREACHABLE_TTL: Duration = Duration::from_secs(3600);
/// Beyond this many hosts the pinned-client cache is simply cleared.
const MAX_CACHED_CLIENTS: usize = 256;

const ACCEPT: &str = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,\
                      application/feed+json,application/xml;q=0.9,*/*;q=0.8";

// ---------------------------------------------------------------------------
// Configuration and public types
// ---------------------------------------------------------------------------

/// How the fetcher behaves; deserialises from configuration with durations
/// as (possibly fractional) seconds, e.g. `timeout_secs = 30`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Politeness {
    /// Sent as `User-Agent`; its product token (the part before `/`) is the
    /// name looked up in robots.txt.
    pub user_agent: String,
    /// Deadline for one request (connect, headers and body), not counting
    /// politeness waits. A value too large to add to the clock (e.g.
    /// `Duration::MAX`) means no deadline.
    #[serde(rename = "timeout_secs", deserialize_with = "seconds")]
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// Minimum gap between the starts of two requests to one host.
    #[serde(rename = "per_host_interval_secs", deserialize_with = "seconds")]
    pub per_host_interval: Duration,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    pub max_redirects: usize,
    /// The longest `Retry-After` that is waited out; longer ones fail fast.
    #[serde(rename = "retry_after_cap_secs", deserialize_with = "seconds")]
    pub retry_after_cap: Duration,
    /// Retries after 429/503 with an acceptable `Retry-After`.
    pub max_retries: u32,
    pub respect_robots: bool,
}

impl Default for Politeness {
    fn default() -> Self {
        Politeness {
            user_agent: concat!("tickerd/", env!("CARGO_PKG_VERSION"), " (news crawler)")
                .to_string(),
            timeout: Duration::from_secs(30),
            max_body_bytes: 5 * 1024 * 1024,
            per_host_interval: Duration::from_secs(1),
            concurrency: 8,
            max_redirects: 5,
            retry_after_cap: Duration::from_secs(60),
            max_retries: 2,
            respect_robots: true,
        }
    }
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(|e| {
        serde::de::Error::custom(format!("{secs} is not a usable number of seconds: {e}"))
    })
}

/// HTTP cache validators from a previous 200, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    pub url: &'a Url,
    /// Sent as `If-None-Match` / `If-Modified-Since`.
    pub validators: Option<&'a Validators>,
    /// This request's own host may resolve to a private/loopback/link-local
    /// address (a source with `allow_private = true`); redirects to any
    /// OTHER host get no such allowance.
    pub allow_private_host: bool,
}

/// What a fetch produced.
// One value per fetch, moved once: boxing `Page` would only make matching
// on it clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// 304: the validators still match.
    NotModified,
    Page {
        /// After redirects.
        final_url: Url,
        status: u16,
        /// Decoded with [`charset::decode_with_tld`].
        text: String,
        encoding: &'static str,
        content_type: Option<String>,
        /// From this response, to send next time.
        validators: Validators,
        /// Size of the body as received.
        bytes: usize,
    },
}

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    Broadcast,
    Multicast,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedCgnat,
    Documentation,
    /// Benchmarking, IETF protocol assignments, future use, discard-only.
    Reserved,
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Multicast => "multicast",
            AddressClass::SharedCgnat => "shared (CGNAT)",
            AddressClass::Documentation => "documentation",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// Fetch failures. `url` fields hold the URL without credentials, fragment
/// or query string (a query shows as `?…`), so messages are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("robots.txt disallows {url}")]
    RobotsDisallowed { url: String },
    /// robots.txt answered 429/5xx or could not be fetched: RFC 9309 says to
    /// treat the whole origin as disallowed for now.
    #[error("not fetching {url}: its robots.txt is unreachable ({cause})")]
    RobotsUnreachable { url: String, cause: String },
    #[error("refused to connect to {host} at {addr}: {why} address")]
    Refused {
        host: String,
        addr: IpAddr,
        why: AddressClass,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: body exceeds the {limit}-byte limit")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: timed out")]
    Timeout { url: String },
    #[error("{url}: rate limited{}", retry_after.map(|d| format!(" (Retry-After {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
    },
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects { url: String, limit: usize },
    #[error("{url}: bad redirect: {why}")]
    BadRedirect { url: String, why: String },
    #[error("{url}: only http and https URLs with a host are fetched")]
    UnsupportedUrl { url: String },
    #[error("{url}: {cause}")]
    Network { url: String, cause: String },
}

// ---------------------------------------------------------------------------
// Address policy
// ---------------------------------------------------------------------------

/// The class of a non-public address, or `None` for a public one.
/// IPv4-mapped/-compatible, NAT64 and 6to4 IPv6 addresses are judged by the
/// IPv4 address they carry.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedCgnat,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => return None,
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let class = match s[0] {
        0xfc00..=0xfdff => AddressClass::Private,
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        // Site-local (deprecated) behaves like private space.
        0xfec0..=0xfeff => AddressClass::Private,
        0xff00..=0xffff => AddressClass::Multicast,
        0x2001 if s[1] == 0x0db8 => AddressClass::Documentation,
        // 64:ff9b:1::/48, NAT64 for local use.
        0x0064 if s[1] == 0xff9b && s[2] == 1 => AddressClass::Private,
        // 100::/64, discard-only.
        0x0100 if s[1..4] == [0, 0, 0] => AddressClass::Reserved,
        // Anything else in ::/8 (other than the forms handled above).
        0x0000..=0x00ff => AddressClass::Reserved,
        _ => return None,
    };
    Some(class)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), -compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`)
/// address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The fetcher
// ---------------------------------------------------------------------------

/// The fetcher. Cheap to share behind an `Arc`; all state is internal.
///
/// **Address pinning.** Each host gets its own `reqwest::Client` built with
/// `resolve_to_addrs(host, checked)`, cached per host and rebuilt when the
/// checked address set changes. A client therefore can only ever open
/// connections — fresh or pooled — to addresses that passed the policy for
/// that host under the allowance that was checked. The alternative, one
/// client with a policy-enforcing `reqwest::dns::Resolve`, sees only a host
/// name: it cannot know the per-request `allow_private_host`, and its shared
/// connection pool could hand a connection opened under one request's
/// allowance to another request for the same host. Its failures would also
/// surface as opaque connect errors instead of [`FetchError::Refused`]. The
/// cost of per-host clients is a client build (TLS roots) per host, once.
/// IP-literal hosts are checked directly; hyper does not resolve them. System
/// proxies are disabled, since a proxy would resolve names itself.
pub struct Fetcher {
    p: Politeness,
    /// Product token matched against robots.txt `User-agent` lines.
    robots_agent: String,
    slots: Arc<Semaphore>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Gate>>>>,
    robots: Mutex<HashMap<String, Arc<OnceCell<CachedRobots>>>>,
    clients: Mutex<HashMap<String, Pinned>>,
    requests: AtomicU64,
}

/// Per-host spacing state.
#[derive(Default)]
struct Gate {
    /// When the last request to the host was sent.
    last: Option<Instant>,
    /// A server-requested pause (`Retry-After`).
    not_before: Option<Instant>,
}

/// A client that connects only to `addrs`.
#[derive(Clone)]
struct Pinned {
    addrs: Vec<SocketAddr>,
    client: reqwest::Client,
}

/// A robots.txt verdict for one origin.
enum Robots {
    AllowAll,
    Rules(texting_robots::Robot),
    /// Disallows everything; the cause is for the error message.
    Unreachable(String),
}

/// A verdict and when it was reached.
type CachedRobots = (Instant, Arc<Robots>);

impl Robots {
    /// `Ok(())` if `url` may be fetched.
    fn check(&self, url: &Url) -> Result<(), FetchError> {
        match self {
            Robots::AllowAll => Ok(()),
            Robots::Rules(robot) if robot.allowed(url.as_str()) => Ok(()),
            Robots::Rules(_) => Err(FetchError::RobotsDisallowed { url: redact(url) }),
            Robots::Unreachable(cause) => Err(FetchError::RobotsUnreachable {
                url: redact(url),
                cause: cause.clone(),
            }),
        }
    }

    fn ttl(&self) -> Duration {
        match self {
            Robots::Unreachable(_) => ROBOTS_UNREACHABLE_TTL,
            _ => ROBOTS_TTL,
        }
    }

    fn crawl_delay(&self) -> Option<Duration> {
        let Robots::Rules(robot) = self else {
            return None;
        };
        let delay = Duration::try_from_secs_f32(robot.delay?).ok()?;
        Some(delay.min(MAX_CRAWL_DELAY))
    }
}

/// What to do with a body longer than the limit.
#[derive(Clone, Copy)]
enum Overflow {
    Fail,
    Truncate,
}

/// The parts of a response the caller needs; the body only for 2xx.
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Where to send one request: the URL and the client pinned to its checked
/// addresses.
struct Hop<'a> {
    url: &'a Url,
    host: &'a str,
    client: reqwest::Client,
}

impl Fetcher {
    /// Validates `p` and builds a fetcher.
    pub fn new(p: Politeness) -> anyhow::Result<Fetcher> {
        anyhow::ensure!(p.concurrency > 0, "concurrency must be at least 1");
        anyhow::ensure!(p.max_body_bytes > 0, "max_body_bytes must be positive");
        anyhow::ensure!(
            !p.user_agent.trim().is_empty() && HeaderValue::from_str(&p.user_agent).is_ok(),
            "user_agent must be a non-empty, valid header value"
        );
        let robots_agent = product_token(&p.user_agent);
        Ok(Fetcher {
            slots: Arc::new(Semaphore::new(p.concurrency)),
            robots_agent,
            p,
            gates: Mutex::default(),
            robots: Mutex::default(),
            clients: Mutex::default(),
            requests: AtomicU64::new(0),
        })
    }

    /// HTTP requests sent so far (robots.txt, redirects and retries included).
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Fetches one URL politely, following redirects and retries itself.
    pub async fn fetch(&self, req: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        let private_ok = req.allow_private_host.then(|| req.url.host_str()).flatten();
        let mut url = fetchable(req.url)?;
        let mut redirects = 0;
        let mut retries = 0;
        loop {
            let hop = self.prepare(&url, private_ok).await?;
            let interval = self.robots_interval(&url, private_ok).await?;
            let exchange = self
                .exchange(
                    &hop,
                    interval,
                    req.validators,
                    self.p.max_body_bytes,
                    Overflow::Fail,
                )
                .await?;
            let status = exchange.status;
            if status == StatusCode::NOT_MODIFIED && req.validators.is_some() {
                return Ok(Fetched::NotModified);
            }
            if is_redirect(status) {
                redirects += 1;
                if redirects > self.p.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: redact(req.url),
                        limit: self.p.max_redirects,
                    });
                }
                url = redirect_target(&url, &exchange.headers)?;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                let wait = retry_after(&exchange.headers, chrono::Utc::now());
                match wait {
                    Some(wait)
                        if wait <= self.p.retry_after_cap && retries < self.p.max_retries =>
                    {
                        retries += 1;
                        tracing::debug!(url = %redact(&url), ?wait, retries, "waiting out Retry-After");
                        self.defer_host(hop.host, wait).await;
                        continue;
                    }
                    None if status == StatusCode::SERVICE_UNAVAILABLE => {}
                    _ => {
                        return Err(FetchError::RateLimited {
                            url: redact(&url),
                            retry_after: wait,
                        })
                    }
                }
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: redact(&url),
                    status: status.as_u16(),
                });
            }
            return Ok(page(url, exchange));
        }
    }

    /// Checks `url`'s host against the address policy and returns a hop
    /// whose client connects only to the checked addresses. Nothing is sent.
    async fn prepare<'u>(
        &self,
        url: &'u Url,
        private_ok: Option<&str>,
    ) -> Result<Hop<'u>, FetchError> {
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::UnsupportedUrl { url: redact(url) })?;
        let addrs = within(self.deadline(), url, resolve(url)).await?;
        if private_ok != Some(host) {
            for addr in &addrs {
                if let Some(why) = classify(addr.ip()) {
                    return Err(FetchError::Refused {
                        host: host.to_string(),
                        addr: addr.ip(),
                        why,
                    });
                }
            }
        }
        let client = self
            .pinned_client(url, host, addrs)
            .map_err(|e| FetchError::Network {
                url: redact(url),
                cause: format!("cannot build HTTP client: {}", error_chain(&e)),
            })?;
        Ok(Hop { url, host, client })
    }

    /// The cached client for `host` if it is pinned to these addresses, else
    /// a new one (replacing the old).
    fn pinned_client(
        &self,
        url: &Url,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> reqwest::Result<reqwest::Client> {
        let cached = lock(&self.clients)
            .get(host)
            .filter(|c| c.addrs == addrs)
            .map(|c| c.client.clone());
        if let Some(client) = cached {
            return Ok(client);
        }
        // Built without holding the lock: loading TLS roots takes a moment.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .user_agent(self.p.user_agent.as_str());
        if let Some(Host::Domain(domain)) = url.host() {
            builder = builder.resolve_to_addrs(domain, &addrs);
        }
        let client = builder.build()?;
        let mut clients = lock(&self.clients);
        if clients.len() >= MAX_CACHED_CLIENTS {
            clients.clear();
        }
        clients.insert(
            host.to_string(),
            Pinned {
                addrs,
                client: client.clone(),
            },
        );
        Ok(client)
    }

    /// The spacing to keep for `url`'s host, after checking robots.txt.
    async fn robots_interval(
        &self,
        url: &Url,
        private_ok: Option<&str>,
    ) -> Result<Duration, FetchError> {
        if !self.p.respect_robots {
            return Ok(self.p.per_host_interval);
        }
        let robots = self.robots_for(url, private_ok).await?;
        robots.check(url)?;
        Ok(robots.crawl_delay().map_or(self.p.per_host_interval, |d| {
            d.max(self.p.per_host_interval)
        }))
    }

    /// The robots.txt verdict for `url`'s origin (scheme, host and port),
    /// fetching it the first time and again once it has expired; concurrent
    /// fetches for one origin share a single robots.txt request.
    async fn robots_for(
        &self,
        url: &Url,
        private_ok: Option<&str>,
    ) -> Result<Arc<Robots>, FetchError> {
        let origin = url.origin().ascii_serialization();
        let cell = {
            let mut cache = lock(&self.robots);
            let cell = cache.entry(origin).or_default();
            let expired = cell
                .get()
                .is_some_and(|(at, robots)| at.elapsed() >= robots.ttl());
            if expired {
                *cell = Arc::default();
            }
            cell.clone()
        };
        let (_, robots) = cell
            .get_or_try_init(|| async {
                let robots = self.load_robots(url, private_ok).await?;
                Ok::<_, FetchError>((Instant::now(), robots))
            })
            .await?;
        Ok(robots.clone())
    }

    /// Fetches and interprets robots.txt per RFC 9309: 2xx → rules; 4xx →
    /// allow all; 5xx, network failure or a refused redirect → unreachable,
    /// i.e. disallow all (for [`ROBOTS_UNREACHABLE_TTL`]). 429 counts as
    /// unreachable (as Google does), not as a 4xx "unavailable": a server
    /// asking us to slow down is no licence to crawl freely. Only a refusal
    /// of the page's own host is an error.
    async fn load_robots(
        &self,
        page: &Url,
        private_ok: Option<&str>,
    ) -> Result<Arc<Robots>, FetchError> {
        let mut url = robots_url(page)?;
        for hop_index in 0..=ROBOTS_MAX_REDIRECTS {
            let hop = match self.prepare(&url, private_ok).await {
                Ok(hop) => hop,
                Err(e @ FetchError::Refused { .. }) if hop_index == 0 => return Err(e),
                Err(e) => return Ok(robots_unreachable(&url, &e)),
            };
            let limit = ROBOTS_MAX_BYTES.min(self.p.max_body_bytes);
            let exchange = match self
                .exchange(
                    &hop,
                    self.p.per_host_interval,
                    None,
                    limit,
                    Overflow::Truncate,
                )
                .await
            {
                Ok(exchange) => exchange,
                Err(e) => return Ok(robots_unreachable(&url, &e)),
            };
            let status = exchange.status;
            if is_redirect(status) {
                match redirect_target(&url, &exchange.headers) {
                    Ok(next) => url = next,
                    Err(_) => return Ok(Arc::new(Robots::AllowAll)),
                }
                continue;
            }
            let verdict = match status.as_u16() {
                200..=299 => self.parse_robots(&url, &exchange.body),
                400..=499 if status != StatusCode::TOO_MANY_REQUESTS => Robots::AllowAll,
                _ => {
                    tracing::info!(robots = %redact(&url), %status, "robots.txt unreachable");
                    Robots::Unreachable(format!("HTTP {}", status.as_u16()))
                }
            };
            tracing::debug!(robots = %redact(&url), %status, "robots.txt loaded");
            return Ok(Arc::new(verdict));
        }
        // RFC 9309 §2.3.1.2: after five redirects it may be taken as unavailable.
        Ok(Arc::new(Robots::AllowAll))
    }

    fn parse_robots(&self, url: &Url, body: &[u8]) -> Robots {
        match texting_robots::Robot::new(&self.robots_agent, body) {
            Ok(robot) => {
                if robot.delay.is_some_and(|d| d > 60.0) {
                    tracing::warn!(robots = %redact(url), delay = ?robot.delay, "long Crawl-delay");
                }
                Robots::Rules(robot)
            }
            Err(e) => {
                // The parser is forgiving; if it still gives up there are no
                // rules we could honour.
                tracing::warn!(robots = %redact(url), error = %e, "unparseable robots.txt; allowing all");
                Robots::AllowAll
            }
        }
    }

    /// Sends one request for `hop` once the host's turn comes, and reads the
    /// body of a 2xx response under the size limit. The deadline covers
    /// sending and reading, not the politeness wait.
    async fn exchange(
        &self,
        hop: &Hop<'_>,
        interval: Duration,
        validators: Option<&Validators>,
        limit: usize,
        overflow: Overflow,
    ) -> Result<Exchange, FetchError> {
        let _permit = self.take_turn(hop.host, interval).await?;
        let deadline = self.deadline();
        within(deadline, hop.url, async {
            let mut request = hop
                .client
                .get(hop.url.clone())
                .header(header::ACCEPT, ACCEPT);
            if let Some(v) = validators {
                request = with_validators(request, v);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut response = request
                .send()
                .await
                .map_err(|e| network_error(hop.url, e))?;
            let status = response.status();
            let body = if status.is_success() {
                read_body(&mut response, hop.url, limit, overflow).await?
            } else {
                Vec::new()
            };
            Ok(Exchange {
                status,
                headers: response.headers().clone(),
                body,
            })
        })
        .await
    }

    /// Waits until `host` may be contacted again and a global slot is free;
    /// records the request start. The host's lock is held while waiting, so
    /// requests to one host go out one at a time, `interval` apart.
    async fn take_turn(
        &self,
        host: &str,
        interval: Duration,
    ) -> Result<OwnedSemaphorePermit, FetchError> {
        let gate = lock(&self.gates)
            .entry(host.to_string())
            .or_default()
            .clone();
        let mut gate = gate.lock().await;
        let spaced = gate.last.and_then(|last| last.checked_add(interval));
        if let Some(at) = spaced.max(gate.not_before) {
            tokio::time::sleep_until(at).await;
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FetchError::Network {
                url: host.to_string(),
                cause: "fetcher is shutting down".into(),
            })?;
        gate.last = Some(Instant::now());
        Ok(permit)
    }

    /// Holds all requests to `host` back for `wait` (a `Retry-After`).
    async fn defer_host(&self, host: &str, wait: Duration) {
        let gate = lock(&self.gates)
            .entry(host.to_string())
            .or_default()
            .clone();
        let mut gate = gate.lock().await;
        let until = Instant::now().checked_add(wait);
        gate.not_before = gate.not_before.max(until);
    }

    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.p.timeout)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent even if a holder panicked mid-update.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The robots.txt product token: `"tickerd/0.1 (…)"` → `"tickerd"`.
fn product_token(user_agent: &str) -> String {
    let token: String = user_agent
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if token.is_empty() {
        "*".to_string()
    } else {
        token
    }
}

/// A copy of `url` fit to request: http(s) with a host, no fragment.
fn fetchable(url: &Url) -> Result<Url, FetchError> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(FetchError::UnsupportedUrl { url: redact(url) });
    }
    let mut url = url.clone();
    url.set_fragment(None);
    Ok(url)
}

fn robots_url(page: &Url) -> Result<Url, FetchError> {
    let mut url = page.join("/robots.txt").map_err(|e| FetchError::Network {
        url: redact(page),
        cause: format!("cannot form robots.txt URL: {e}"),
    })?;
    // Credentials in a source URL are for its pages, not for robots.txt.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

fn robots_unreachable(url: &Url, error: &FetchError) -> Arc<Robots> {
    tracing::info!(robots = %redact(url), %error, "robots.txt unreachable");
    Arc::new(Robots::Unreachable(error.to_string()))
}

/// `url` for messages: no credentials, fragment or query (shown as `?…`).
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    let had_query = shown.query().is_some();
    shown.set_query(None);
    let mut text = String::from(shown);
    if had_query {
        text.push_str("?…");
    }
    text
}

/// Addresses of `url`'s host: the literal itself, or a DNS lookup.
/// Sorted and de-duplicated so that the pinned-client cache can compare sets.
async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, FetchError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let mut addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|e| FetchError::Network {
                url: redact(url),
                cause: format!("cannot resolve {domain}: {e}"),
            })?
            .collect(),
        None => return Err(FetchError::UnsupportedUrl { url: redact(url) }),
    };
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(FetchError::Network {
            url: redact(url),
            cause: "host has no addresses".into(),
        });
    }
    Ok(addrs)
}

/// Runs `fut` under `deadline` (none if `None`), mapping expiry to `Timeout`.
async fn within<T>(
    deadline: Option<Instant>,
    url: &Url,
    fut: impl Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut)
            .await
            .unwrap_or_else(|_| Err(FetchError::Timeout { url: redact(url) })),
        None => fut.await,
    }
}

fn with_validators(
    mut request: reqwest::RequestBuilder,
    v: &Validators,
) -> reqwest::RequestBuilder {
    let valid = |s: &Option<String>| s.as_deref().and_then(|s| HeaderValue::from_str(s).ok());
    if let Some(etag) = valid(&v.etag) {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    if let Some(date) = valid(&v.last_modified) {
        request = request.header(header::IF_MODIFIED_SINCE, date);
    }
    request
}

/// Reads the body chunk by chunk, never holding more than `limit` bytes: a
/// declared length over the limit fails (or truncates) before reading.
async fn read_body(
    response: &mut reqwest::Response,
    url: &Url,
    limit: usize,
    overflow: Overflow,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: redact(url),
        limit,
    };
    let declared = header_str(response.headers(), header::CONTENT_LENGTH)
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) && matches!(overflow, Overflow::Fail) {
        return Err(too_large());
    }
    let capacity = declared.map_or(0, |len| len.min(limit as u64) as usize);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| network_error(url, e))? {
        let room = limit - body.len();
        if chunk.len() > room {
            match overflow {
                Overflow::Fail => return Err(too_large()),
                Overflow::Truncate => {
                    body.extend_from_slice(&chunk[..room]);
                    break;
                }
            }
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The absolute http(s) URL a redirect points at.
fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let bad = |why: String| FetchError::BadRedirect {
        url: redact(from),
        why,
    };
    let location = header_str(headers, header::LOCATION)
        .ok_or_else(|| bad("no usable Location header".into()))?;
    let target = from
        .join(location.trim())
        .map_err(|e| bad(format!("Location is not a URL: {e}")))?;
    fetchable(&target)
}

/// A `Retry-After` value as a wait from `now`: delta-seconds or an HTTP date
/// (a date in the past means no wait).
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = header_str(headers, header::RETRY_AFTER)?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn page(final_url: Url, exchange: Exchange) -> Fetched {
    let content_type = header_str(&exchange.headers, header::CONTENT_TYPE).map(str::to_string);
    let tld = final_url.domain().and_then(|d| d.rsplit('.').next());
    let decoded = charset::decode_with_tld(&exchange.body, content_type.as_deref(), tld);
    let validators = Validators {
        etag: header_str(&exchange.headers, header::ETAG).map(str::to_string),
        last_modified: header_str(&exchange.headers, header::LAST_MODIFIED).map(str::to_string),
    };
    Fetched::Page {
        final_url,
        status: exchange.status.as_u16(),
        text: decoded.text,
        encoding: decoded.encoding,
        content_type,
        validators,
        bytes: exchange.body.len(),
    }
}

fn network_error(url: &Url, e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout { url: redact(url) };
    }
    FetchError::Network {
        url: redact(url),
        cause: error_chain(&e.without_url()),
    }
}

/// "outer: inner: innermost", skipping repeats.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wiremock::matchers::{header as header_is, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const ARTICLE: &[u8] = include_bytes!("../../tests/fixtures/news/crawl/article.euckr.html");

    /// Settings for tests on the real clock: no spacing, a real deadline.
    fn quick() -> Politeness {
        Politeness {
            user_agent: "tickerd-test/1.0 (+tests)".into(),
            timeout: Duration::from_secs(10),
            per_host_interval: Duration::ZERO,
            ..Politeness::default()
        }
    }

    /// Settings for paused-clock tests. No deadline: with the clock paused,
    /// tokio jumps to the next timer whenever the runtime idles on I/O, and a
    /// pending deadline would fire while the mock server is answering.
    fn paused(interval: Duration) -> Politeness {
        Politeness {
            timeout: Duration::MAX,
            per_host_interval: interval,
            ..quick()
        }
    }

    fn fetcher(p: Politeness) -> Fetcher {
        Fetcher::new(p).expect("valid politeness")
    }

    /// `Connection: close`, so no idle pooled connection starts hyper's idle
    /// timer, which would otherwise make a paused clock jump during I/O.
    fn reply(status: u16) -> ResponseTemplate {
        ResponseTemplate::new(status).insert_header("connection", "close")
    }

    fn url(server: &MockServer, p: &str) -> Url {
        Url::parse(&format!("{}{p}", server.uri())).expect("mock URL")
    }

    fn on_localhost(server: &MockServer, p: &str) -> Url {
        let port = server.address().port();
        Url::parse(&format!("http://localhost:{port}{p}")).expect("localhost URL")
    }

    fn local(url: &Url) -> FetchRequest<'_> {
        FetchRequest {
            url,
            validators: None,
            allow_private_host: true,
        }
    }

    async fn paths(server: &MockServer) -> Vec<String> {
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_string())
            .collect()
    }

    async fn robots(server: &MockServer, body: &str) {
        Mock::given(method("GET"))
            .and(path("/robots.txt"))
            .respond_with(reply(200).set_body_string(body))
            .mount(server)
            .await;
    }

    async fn page(server: &MockServer, p: &str, body: &str) {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(
                reply(200)
                    .set_body_string(body)
                    .insert_header("content-type", "text/html; charset=utf-8"),
            )
            .mount(server)
            .await;
    }

    fn text_of(fetched: &Fetched) -> &str {
        match fetched {
            Fetched::Page { text, .. } => text,
            Fetched::NotModified => panic!("expected a page"),
        }
    }

    #[test]
    fn address_classes() {
        let cases: [(&str, Option<AddressClass>); 24] = [
            ("127.0.0.1", Some(AddressClass::Loopback)),
            ("127.8.9.10", Some(AddressClass::Loopback)),
            ("10.1.2.3", Some(AddressClass::Private)),
            ("172.16.0.1", Some(AddressClass::Private)),
            ("172.31.255.255", Some(AddressClass::Private)),
            ("192.168.1.1", Some(AddressClass::Private)),
            ("169.254.169.254", Some(AddressClass::LinkLocal)),
            ("100.64.0.1", Some(AddressClass::SharedCgnat)),
            ("0.0.0.0", Some(AddressClass::Unspecified)),
            ("255.255.255.255", Some(AddressClass::Broadcast)),
            ("224.0.0.251", Some(AddressClass::Multicast)),
            ("192.0.2.7", Some(AddressClass::Documentation)),
            ("::1", Some(AddressClass::Loopback)),
            ("::", Some(AddressClass::Unspecified)),
            ("fd12:3456::1", Some(AddressClass::Private)),
            ("fe80::1", Some(AddressClass::LinkLocal)),
            ("ff02::1", Some(AddressClass::Multicast)),
            ("::ffff:127.0.0.1", Some(AddressClass::Loopback)),
            ("::ffff:10.0.0.1", Some(AddressClass::Private)),
            ("64:ff9b::a9fe:a9fe", Some(AddressClass::LinkLocal)),
            ("2002:c0a8:0101::1", Some(AddressClass::Private)),
            ("172.32.0.1", None),
            ("223.130.195.95", None),
            ("2001:4860:4860::8888", None),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().expect("test address");
            assert_eq!(classify(ip), want, "{ip}");
        }
    }

    #[test]
    fn politeness_deserializes_with_seconds_and_defaults() {
        let p: Politeness = serde_json::from_str(
            r#"{"user_agent":"tickerd/9 (+ops)","timeout_secs":2.5,"per_host_interval_secs":3,"max_retries":1}"#,
        )
        .expect("deserializes");
        assert_eq!(p.timeout, Duration::from_millis(2500));
        assert_eq!(p.per_host_interval, Duration::from_secs(3));
        assert_eq!(p.max_retries, 1);
        assert_eq!(p.max_body_bytes, 5 * 1024 * 1024, "defaults fill the rest");
        assert_eq!(
            (p.concurrency, p.max_redirects, p.respect_robots),
            (8, 5, true)
        );
        assert_eq!(p.retry_after_cap, Duration::from_secs(60));
        assert!(
            serde_json::from_str::<Politeness>(r#"{"timeout":5}"#).is_err(),
            "unknown field"
        );
        assert!(serde_json::from_str::<Politeness>(r#"{"timeout_secs":-1}"#).is_err());
        assert!(Fetcher::new(Politeness {
            concurrency: 0,
            ..Politeness::default()
        })
        .is_err());
        assert_eq!(product_token(&Politeness::default().user_agent), "tickerd");
    }

    #[test]
    fn politeness_reads_the_job_config_toml() {
        let toml = r#"
            user_agent = "tickerd/0.1 (news crawler; +https://example.com/tickerd)"
            timeout_secs = 20
            max_body_bytes = 5242880
            per_host_interval_secs = 1.0
            concurrency = 8
            max_redirects = 5
            retry_after_cap_secs = 60
            max_retries = 2
            respect_robots = true
        "#;
        let p: Politeness = toml::from_str(toml).expect("deserializes");
        assert_eq!(
            p,
            Politeness {
                user_agent: "tickerd/0.1 (news crawler; +https://example.com/tickerd)".into(),
                timeout: Duration::from_secs(20),
                ..Politeness::default()
            }
        );
        assert_eq!(product_token(&p.user_agent), "tickerd");
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T06:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(v).expect("header"),
            );
            retry_after(&h, now)
        };
        assert_eq!(with("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            with("Tue, 24 Nov 2026 06:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(with("Tue, 24 Nov 2026 05:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(with("soon"), None);
    }

    #[test]
    fn redaction_drops_credentials_and_query() {
        let u = Url::parse("https://user:hunter2@example.com/a/b?token=abc#frag").expect("url");
        assert_eq!(redact(&u), "https://example.com/a/b?…");
    }

    #[test]
    fn fetcher_and_its_futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        fn assert_shareable<T: Send + Sync>() {}
        assert_shareable::<Fetcher>();
        let f = fetcher(quick());
        let u = Url::parse("http://example.com/").expect("url");
        let fut = f.fetch(local(&u));
        assert_send(&fut);
    }

    #[tokio::test]
    async fn loopback_without_allowance_is_refused_before_any_request() {
        let server = MockServer::start().await;
        page(&server, "/page", "hi").await;
        let f = fetcher(quick());
        let u = Url::parse(&format!(
            "http://user:hunter2@{}/page?token=abc",
            server.address()
        ))
        .expect("url");
        let err = f
            .fetch(FetchRequest {
                url: &u,
                validators: None,
                allow_private_host: false,
            })
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, FetchError::Refused { host, why: AddressClass::Loopback, .. } if host == "127.0.0.1"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            !message.contains("hunter2") && !message.contains("token"),
            "{message}"
        );
        assert_eq!(paths(&server).await, Vec::<String>::new());
        assert_eq!(f.requests_made(), 0);
    }

    #[tokio::test]
    async fn redirect_to_another_private_host_is_refused() {
        let server = MockServer::start().await;
        let secret = format!("http://127.0.0.1:{}/secret", server.address().port());
        let start = on_localhost(&server, "/start");
        // With robots on, the redirect target's robots.txt is refused too;
        // with robots off, the hop check alone must stop it.
        for (respect_robots, expected) in [
            (true, vec!["/robots.txt", "/start"]),
            (false, vec!["/start"]),
        ] {
            server.reset().await;
            Mock::given(path("/start"))
                .respond_with(reply(302).insert_header("location", secret.as_str()))
                .mount(&server)
                .await;
            Mock::given(path("/secret"))
                .respond_with(reply(200))
                .expect(0)
                .mount(&server)
                .await;
            let f = fetcher(Politeness {
                respect_robots,
                ..quick()
            });
            let err = f.fetch(local(&start)).await.expect_err("refused");
            assert!(
                matches!(&err, FetchError::Refused { host, why: AddressClass::Loopback, .. } if host == "127.0.0.1"),
                "{err:?}"
            );
            assert_eq!(
                paths(&server).await,
                expected,
                "respect_robots = {respect_robots}"
            );
        }
    }

    #[tokio::test]
    async fn pinned_client_connects_only_to_the_checked_addresses() {
        let server = MockServer::start().await;
        page(&server, "/pinned", "pinned").await;
        let f = fetcher(quick());
        // `.invalid` never resolves, so only the pin can route this name.
        let u = Url::parse(&format!(
            "http://pinned.invalid:{}/pinned",
            server.address().port()
        ))
        .expect("url");
        let client = f
            .pinned_client(&u, "pinned.invalid", vec![*server.address()])
            .expect("client");
        let hop = Hop {
            url: &u,
            host: "pinned.invalid",
            client,
        };
        let exchange = f
            .exchange(&hop, Duration::ZERO, None, 1024, Overflow::Fail)
            .await
            .expect("reached through the pinned address");
        assert_eq!(exchange.body, b"pinned");
    }

    #[tokio::test]
    async fn redirect_on_the_same_allowed_host_is_followed() {
        let server = MockServer::start().await;
        Mock::given(path("/old"))
            .respond_with(reply(301).insert_header("location", "/new#top"))
            .mount(&server)
            .await;
        page(&server, "/new", "moved here").await;
        let f = fetcher(quick());
        let fetched = f
            .fetch(local(&on_localhost(&server, "/old")))
            .await
            .expect("followed");
        match &fetched {
            Fetched::Page {
                final_url, status, ..
            } => {
                assert_eq!(final_url.as_str(), on_localhost(&server, "/new").as_str());
                assert_eq!(*status, 200);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(text_of(&fetched), "moved here");
    }

    #[tokio::test]
    async fn redirect_loops_stop() {
        let server = MockServer::start().await;
        Mock::given(path("/loop"))
            .respond_with(reply(302).insert_header("location", "/loop"))
            .mount(&server)
            .await;
        let f = fetcher(Politeness {
            max_redirects: 2,
            ..quick()
        });
        let u = url(&server, "/loop");
        let err = f.fetch(local(&u)).await.expect_err("loop");
        assert_eq!(
            err,
            FetchError::TooManyRedirects {
                url: redact(&u),
                limit: 2
            }
        );
        assert_eq!(
            paths(&server).await,
            ["/robots.txt", "/loop", "/loop", "/loop"]
        );
    }

    #[tokio::test]
    async fn robots_disallow_blocks_without_requesting_the_path() {
        let server = MockServer::start().await;
        robots(&server, "User-agent: *\nDisallow: /private/\n").await;
        page(&server, "/private/report", "secret").await;
        page(&server, "/public", "ok").await;
        let f = fetcher(quick());
        let blocked = url(&server, "/private/report");
        let err = f.fetch(local(&blocked)).await.expect_err("disallowed");
        assert_eq!(
            err,
            FetchError::RobotsDisallowed {
                url: redact(&blocked)
            }
        );
        let fetched = f
            .fetch(local(&url(&server, "/public")))
            .await
            .expect("allowed");
        assert_eq!(text_of(&fetched), "ok");
        assert_eq!(
            paths(&server).await,
            ["/robots.txt", "/public"],
            "robots.txt fetched once"
        );
    }

    #[tokio::test]
    async fn robots_group_for_our_agent_wins() {
        let server = MockServer::start().await;
        robots(
            &server,
            "User-agent: *\nAllow: /\n\nUser-agent: tickerd-test\nDisallow: /\n",
        )
        .await;
        page(&server, "/news", "x").await;
        let err = fetcher(quick())
            .fetch(local(&url(&server, "/news")))
            .await
            .expect_err("disallowed");
        assert!(
            matches!(err, FetchError::RobotsDisallowed { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn robots_5xx_disallows_the_origin_and_4xx_allows_it() {
        let failing = MockServer::start().await;
        Mock::given(path("/robots.txt"))
            .respond_with(reply(503))
            .mount(&failing)
            .await;
        page(&failing, "/news", "x").await;
        let f = fetcher(quick());
        let news = url(&failing, "/news");
        let err = f.fetch(local(&news)).await.expect_err("disallowed");
        assert_eq!(
            err,
            FetchError::RobotsUnreachable {
                url: redact(&news),
                cause: "HTTP 503".into()
            }
        );
        let again = f
            .fetch(local(&url(&failing, "/other")))
            .await
            .expect_err("still");
        assert!(
            matches!(again, FetchError::RobotsUnreachable { .. }),
            "{again:?}"
        );
        assert_eq!(
            paths(&failing).await,
            ["/robots.txt"],
            "the verdict is cached"
        );

        let missing = MockServer::start().await;
        page(&missing, "/news", "x").await;
        let fetched = f
            .fetch(local(&on_localhost(&missing, "/news")))
            .await
            .expect("allowed");
        assert_eq!(text_of(&fetched), "x");
    }

    #[tokio::test(start_paused = true)]
    async fn unreachable_robots_is_retried_after_its_ttl() {
        let server = MockServer::start().await;
        Mock::given(path("/robots.txt"))
            .respond_with(reply(503))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        robots(&server, "User-agent: *\nAllow: /\n").await;
        page(&server, "/news", "back").await;
        let f = fetcher(paused(Duration::ZERO));
        let news = url(&server, "/news");
        let err = f.fetch(local(&news)).await.expect_err("unreachable");
        assert!(
            matches!(err, FetchError::RobotsUnreachable { .. }),
            "{err:?}"
        );
        tokio::time::advance(ROBOTS_UNREACHABLE_TTL).await;
        let fetched = f
            .fetch(local(&news))
            .await
            .expect("robots.txt fetched again");
        assert_eq!(text_of(&fetched), "back");
        assert_eq!(
            paths(&server).await,
            ["/robots.txt", "/robots.txt", "/news"]
        );
    }

    #[tokio::test]
    async fn oversized_robots_is_read_up_to_the_rfc_minimum() {
        let server = MockServer::start().await;
        let padding = "# nothing to see here\n".repeat(40_000);
        robots(
            &server,
            &format!("User-agent: *\nDisallow: /private/\n{padding}"),
        )
        .await;
        let f = fetcher(quick());
        let err = f
            .fetch(local(&url(&server, "/private/a")))
            .await
            .expect_err("disallowed");
        assert!(
            matches!(err, FetchError::RobotsDisallowed { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn concurrent_first_fetches_share_one_robots_request() {
        let server = MockServer::start().await;
        robots(&server, "User-agent: *\nAllow: /\n").await;
        page(&server, "/a", "a").await;
        page(&server, "/b", "b").await;
        let f = fetcher(quick());
        let (a, b) = (url(&server, "/a"), url(&server, "/b"));
        let (ra, rb) = futures::join!(f.fetch(local(&a)), f.fetch(local(&b)));
        assert!(ra.is_ok() && rb.is_ok());
        let robots_requests = paths(&server)
            .await
            .iter()
            .filter(|p| *p == "/robots.txt")
            .count();
        assert_eq!(robots_requests, 1);
        assert_eq!(f.requests_made(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn per_host_interval_spaces_requests_to_one_host_only() {
        let server = MockServer::start().await;
        robots(&server, "User-agent: *\nAllow: /\n").await;
        page(&server, "/a", "a").await;
        page(&server, "/b", "b").await;
        let f = fetcher(paused(Duration::from_secs(2)));

        let start = Instant::now();
        f.fetch(local(&url(&server, "/a"))).await.expect("a");
        let after_a = Instant::now();
        f.fetch(local(&url(&server, "/b"))).await.expect("b");
        let after_b = Instant::now();
        // robots.txt at 0 s, /a at 2 s, /b at 4 s.
        assert_eq!(after_a - start, Duration::from_secs(2));
        assert_eq!(after_b - after_a, Duration::from_secs(2));

        // Another host (same server, other name) has its own spacing.
        f.fetch(local(&on_localhost(&server, "/a")))
            .await
            .expect("other host");
        assert_eq!(
            Instant::now() - after_b,
            Duration::from_secs(2),
            "only its own robots.txt → page gap"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn crawl_delay_raises_the_interval() {
        let server = MockServer::start().await;
        robots(
            &server,
            "User-agent: *\nCrawl-delay: 5\nDisallow: /private/\n",
        )
        .await;
        page(&server, "/a", "a").await;
        page(&server, "/b", "b").await;
        let f = fetcher(paused(Duration::from_secs(1)));
        let start = Instant::now();
        f.fetch(local(&url(&server, "/a"))).await.expect("a");
        let after_a = Instant::now();
        f.fetch(local(&url(&server, "/b"))).await.expect("b");
        assert_eq!(after_a - start, Duration::from_secs(5), "robots.txt → /a");
        assert_eq!(Instant::now() - after_a, Duration::from_secs(5), "/a → /b");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out() {
        let server = MockServer::start().await;
        robots(&server, "").await;
        Mock::given(path("/quote"))
            .respond_with(reply(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        page(&server, "/quote", "fresh").await;
        let f = fetcher(paused(Duration::ZERO));
        let start = Instant::now();
        let fetched = f
            .fetch(local(&url(&server, "/quote")))
            .await
            .expect("retried");
        assert_eq!(text_of(&fetched), "fresh");
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
        assert_eq!(paths(&server).await, ["/robots.txt", "/quote", "/quote"]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded() {
        let server = MockServer::start().await;
        robots(&server, "").await;
        Mock::given(path("/busy"))
            .respond_with(reply(503).insert_header("retry-after", "2"))
            .mount(&server)
            .await;
        let f = fetcher(paused(Duration::ZERO));
        let u = url(&server, "/busy");
        let err = f.fetch(local(&u)).await.expect_err("gives up");
        assert_eq!(
            err,
            FetchError::RateLimited {
                url: redact(&u),
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            paths(&server).await.len(),
            1 + 3,
            "robots.txt + first try + 2 retries"
        );
    }

    #[tokio::test]
    async fn long_retry_after_fails_fast() {
        let server = MockServer::start().await;
        robots(&server, "").await;
        Mock::given(path("/quote"))
            .respond_with(reply(429).insert_header("retry-after", "3600"))
            .mount(&server)
            .await;
        let f = fetcher(quick());
        let u = url(&server, "/quote");
        let started = std::time::Instant::now();
        let err = f.fetch(local(&u)).await.expect_err("rate limited");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err,
            FetchError::RateLimited {
                url: redact(&u),
                retry_after: Some(Duration::from_secs(3600))
            }
        );
        assert_eq!(paths(&server).await, ["/robots.txt", "/quote"]);
    }

    #[tokio::test]
    async fn other_statuses_are_errors() {
        let server = MockServer::start().await;
        let f = fetcher(quick());
        let u = url(&server, "/gone?id=7");
        let err = f.fetch(local(&u)).await.expect_err("404");
        assert_eq!(
            err,
            FetchError::Status {
                url: redact(&u),
                status: 404
            }
        );
        assert_eq!(
            err.to_string(),
            format!("{}/gone?… answered HTTP 404", server.uri())
        );
    }

    #[tokio::test]
    async fn conditional_get_gives_not_modified() {
        let server = MockServer::start().await;
        Mock::given(path("/feed.xml"))
            .and(header_is("if-none-match", "\"v1\""))
            .respond_with(reply(304))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(path("/feed.xml"))
            .respond_with(
                reply(200)
                    .insert_header("etag", "\"v1\"")
                    .insert_header("last-modified", "Tue, 24 Nov 2026 06:00:00 GMT")
                    .set_body_string("<rss/>"),
            )
            .mount(&server)
            .await;
        let f = fetcher(quick());
        let u = url(&server, "/feed.xml");
        let Fetched::Page { validators, .. } = f.fetch(local(&u)).await.expect("first") else {
            panic!("expected a page");
        };
        assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(
            validators.last_modified.as_deref(),
            Some("Tue, 24 Nov 2026 06:00:00 GMT")
        );
        let second = f
            .fetch(FetchRequest {
                validators: Some(&validators),
                ..local(&u)
            })
            .await
            .expect("second");
        assert_eq!(second, Fetched::NotModified);
        let received = server.received_requests().await.unwrap_or_default();
        let last = received.last().expect("requests were made");
        assert_eq!(
            last.headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok()),
            Some("Tue, 24 Nov 2026 06:00:00 GMT")
        );
    }

    #[tokio::test]
    async fn declared_length_over_the_cap_is_rejected_before_reading() {
        let server = MockServer::start().await;
        Mock::given(path("/big"))
            .respond_with(reply(200).set_body_bytes(vec![b'x'; 2 * 1024 * 1024]))
            .mount(&server)
            .await;
        let f = fetcher(Politeness {
            max_body_bytes: 1024 * 1024,
            ..quick()
        });
        let u = url(&server, "/big");
        let err = f.fetch(local(&u)).await.expect_err("too large");
        assert_eq!(
            err,
            FetchError::TooLarge {
                url: redact(&u),
                limit: 1024 * 1024
            }
        );
    }

    #[tokio::test]
    async fn declared_length_is_enough_to_reject() {
        // Headers promise 100 MiB and the server then sends nothing: only a
        // fetcher that trusts Content-Length answers before the deadline.
        let (addr, server) = raw_server(RawBody::Promise(100 * 1024 * 1024)).await;
        let f = fetcher(Politeness {
            max_body_bytes: 1024 * 1024,
            respect_robots: false,
            ..quick()
        });
        let u = Url::parse(&format!("http://{addr}/big")).expect("url");
        let err = f.fetch(local(&u)).await.expect_err("too large");
        assert!(
            matches!(
                err,
                FetchError::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            ),
            "{err:?}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn streamed_body_is_abandoned_past_the_cap() {
        const TOTAL: usize = 20 * 1024 * 1024;
        let (addr, server) = raw_server(RawBody::Stream(TOTAL)).await;
        let f = fetcher(Politeness {
            max_body_bytes: 1024 * 1024,
            respect_robots: false,
            ..quick()
        });
        let u = Url::parse(&format!("http://{addr}/stream")).expect("url");
        let err = f.fetch(local(&u)).await.expect_err("too large");
        assert!(
            matches!(
                err,
                FetchError::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            ),
            "{err:?}"
        );
        drop(f);
        let sent = server.await.expect("server task");
        assert!(
            sent < TOTAL,
            "the server could write all {sent} bytes: the body was not abandoned"
        );
    }

    #[tokio::test]
    async fn euc_kr_article_decodes_end_to_end() {
        let server = MockServer::start().await;
        Mock::given(path("/news/0005412345"))
            .respond_with(reply(200).set_body_raw(ARTICLE.to_vec(), "text/html"))
            .mount(&server)
            .await;
        let f = fetcher(quick());
        let fetched = f
            .fetch(local(&url(&server, "/news/0005412345")))
            .await
            .expect("page");
        let Fetched::Page {
            text,
            encoding,
            bytes,
            content_type,
            ..
        } = &fetched
        else {
            panic!("expected a page");
        };
        assert_eq!(*encoding, "EUC-KR");
        assert_eq!(*bytes, ARTICLE.len());
        assert_eq!(content_type.as_deref(), Some("text/html"));
        assert!(text.contains(
            "<h1 class=\"headline\">코스피, 외국인 매수에 2,610선 회복…반도체 강세</h1>"
        ));
        let body = super::super::parse::extract_body(text, None).expect("body");
        assert!(
            body.starts_with("외국인이 사흘 연속 순매수에 나서면서"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn connection_failures_are_network_errors_without_credentials() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let u = Url::parse(&format!("http://bob:hunter2@127.0.0.1:{port}/x?key=abc")).expect("url");
        let err = fetcher(Politeness {
            respect_robots: false,
            ..quick()
        })
        .fetch(local(&u))
        .await
        .expect_err("nothing listens");
        assert!(matches!(err, FetchError::Network { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("http://127.0.0.1:{port}/x?…: ")),
            "{message}"
        );
        assert!(
            !message.contains("hunter2") && !message.contains("key=abc"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn unsupported_urls() {
        let f = fetcher(quick());
        for raw in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "data:text/plain,hi",
        ] {
            let u = Url::parse(raw).expect("url");
            let err = f.fetch(local(&u)).await.expect_err("unsupported");
            assert!(
                matches!(err, FetchError::UnsupportedUrl { .. }),
                "{raw}: {err:?}"
            );
        }
        assert_eq!(f.requests_made(), 0);
    }

    enum RawBody {
        /// Headers with this Content-Length, then silence until the client leaves.
        Promise(usize),
        /// No Content-Length; this many bytes until the connection breaks.
        Stream(usize),
    }

    /// A one-connection HTTP server for bodies wiremock cannot produce. The
    /// task's result is how many body bytes it managed to write.
    async fn raw_server(body: RawBody) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return 0;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return 0,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            match body {
                RawBody::Promise(len) => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len}\r\n\r\n");
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return 0;
                    }
                    // Wait for the client to hang up.
                    let _ = socket.read(&mut buf).await;
                    0
                }
                RawBody::Stream(total) => {
                    let head =
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n";
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return 0;
                    }
                    let chunk = vec![b'a'; 64 * 1024];
                    let mut sent = 0;
                    while sent < total {
                        if socket.write_all(&chunk).await.is_err() {
                            break;
                        }
                        sent += chunk.len();
                    }
                    sent
                }
            }
        });
        (addr, task)
    }
}
