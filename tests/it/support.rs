//! Test support: fresh databases on both backends, temp project folders,
//! and the real `tickerd` binary.
//!
//! PostgreSQL and Redis are required: a missing service fails the test with
//! a message saying how to start it (`.ci/run` does), never skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tickerd::settings::{Secret, Settings};
use tickerd::storage::Storage;

pub fn pg_admin_url() -> String {
    std::env::var("IT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("IT_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/tickerd.db", dir.path().display()),
            Backend::Postgres => {
                let admin = pg_admin_url();
                let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for this test and is not reachable at {admin}: {e}. Start it (bash .ci/run does).")
                });
                let name = format!("tickerd_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .expect("create test database");
                pool.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                format!("{base}/{name}")
            }
        };
        TestDb { url, _dir: dir }
    }

    pub async fn storage(&self) -> Storage {
        Storage::open(&Secret::new(&self.url))
            .await
            .expect("open and migrate the test database")
    }
}

/// A temporary project folder: settings, schedules, jobs/ (with the real
/// calendars), reports/ and a database.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

impl Project {
    pub async fn new(backend: Backend) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::new(backend).await;
        let jobs = dir.path().join("jobs");
        std::fs::create_dir_all(jobs.join("calendars")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for cal in ["XKRX.toml", "XNYS.toml"] {
            std::fs::copy(
                repo.join("jobs/calendars").join(cal),
                jobs.join("calendars").join(cal),
            )
            .unwrap();
        }
        let p = Project { dir, db };
        p.write_config("");
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// tickerd.toml with this project's folders and database, plus `extra`.
    pub fn write_config(&self, extra: &str) {
        let d = self.dir.path().display();
        let text = format!(
            "database_url = \"{}\"\nreports_dir = \"{d}/reports\"\njobs_dir = \"{d}/jobs\"\ndata_dir = \"{d}/data\"\nheartbeat_secs = 1\nheartbeat_timeout_secs = 5\nqueue_poll_ms = 200\ndrain_grace_secs = 10\n{extra}",
            self.db.url
        );
        std::fs::write(self.path("tickerd.toml"), text).unwrap();
    }

    pub fn write_schedules(&self, text: &str) {
        std::fs::write(self.path("schedules.toml"), text).unwrap();
    }

    pub fn write_job_params(&self, job: &str, text: &str) {
        std::fs::write(self.path(&format!("jobs/{job}.toml")), text).unwrap();
    }

    pub fn settings(&self) -> Settings {
        let text = std::fs::read_to_string(self.path("tickerd.toml")).unwrap();
        toml::from_str(&text).expect("test settings parse")
    }

    /// The binary with this project's config and schedules, and none of the
    /// machine's own settings.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tickerd"));
        c.arg("--config")
            .arg(self.path("tickerd.toml"))
            .arg("--schedules")
            .arg(self.path("schedules.toml"))
            .args(args)
            .current_dir(self.dir.path());
        for var in [
            "DATABASE_URL",
            "REDIS_URL",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "MILVUS_URI",
        ] {
            c.env_remove(var);
        }
        c.env("RUST_LOG", "info");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run tickerd")
    }

    /// Starts `tickerd daemon` with its logs going to `log_name`.
    pub fn spawn_daemon(&self, log_name: &str) -> std::process::Child {
        let log = std::fs::File::create(self.path(log_name)).unwrap();
        self.cmd(&["daemon"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn daemon")
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn signal(child: &std::process::Child, sig: i32) {
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Waits for a child to exit, killing it after `limit`.
pub fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `check` until it returns Some, failing after `limit`. This waits
/// for a condition (a run recorded, a log line), it does not paper over one.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_or_show(limit, what, String::new, check).await
}

/// [`eventually`], and on timeout the failure shows `evidence()` (a
/// daemon's log, say), so a rare timeout in CI can be diagnosed from the
/// failure alone.
pub async fn eventually_or_show<T, F, Fut>(
    limit: Duration,
    what: &str,
    evidence: impl Fn() -> String,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "timed out after {limit:?} waiting for: {what}\n{}",
                evidence()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Milvus for the vector tests (`.ci/run` starts Milvus Lite and sets it).
pub fn milvus_uri() -> String {
    std::env::var("IT_MILVUS_URI").unwrap_or_else(|_| "http://127.0.0.1:19530".into())
}
