//! Opens the same store location again and again, for each backend: memory (one shared store),
//! SQLite (a temporary data directory) and PostgreSQL (a fresh schema per test in the database
//! named by `AHV_TEST_POSTGRES_URL`).

use std::sync::atomic::{AtomicU64, Ordering};

use ahv_store::{Location, Store, StoreOptions};

/// Which backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Sqlite,
    Postgres,
}

/// A store location that can be reopened (a "restart").
pub struct Factory {
    pub kind: Kind,
    pub options: StoreOptions,
    pub dir: Option<tempfile::TempDir>,
    pub pg: Option<(String, String)>,
    memory: Option<Store>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Factory {
    /// A fresh location, or `None` (with the reason printed) when the backend is unavailable.
    pub async fn new(kind: Kind, options: StoreOptions) -> Option<Factory> {
        let mut f = Factory {
            kind,
            options: options.clone(),
            dir: None,
            pg: None,
            memory: None,
        };
        match kind {
            Kind::Memory => f.memory = Some(Store::memory(options)),
            Kind::Sqlite => f.dir = Some(tempfile::tempdir().unwrap()),
            Kind::Postgres => {
                let Ok(base) = std::env::var("AHV_TEST_POSTGRES_URL") else {
                    // CI sets AHV_REQUIRE_POSTGRES=1 so a missing server fails loudly.
                    assert!(
                        std::env::var("AHV_REQUIRE_POSTGRES").is_err(),
                        "AHV_REQUIRE_POSTGRES is set but AHV_TEST_POSTGRES_URL is not"
                    );
                    eprintln!(
                        "SKIPPED: AHV_TEST_POSTGRES_URL is not set, so the PostgreSQL conformance tests do not run"
                    );
                    return None;
                };
                let schema = format!(
                    "ahv_t_{}_{}_{}",
                    std::process::id(),
                    nanos(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                let pool = sqlx::PgPool::connect(&base)
                    .await
                    .expect("AHV_TEST_POSTGRES_URL must be reachable");
                sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                f.pg = Some((url, schema));
            }
        }
        Some(f)
    }

    /// The location to open.
    pub fn location(&self) -> Location {
        match self.kind {
            Kind::Memory => Location::Memory,
            Kind::Sqlite => Location::dir(self.dir.as_ref().unwrap().path()),
            Kind::Postgres => Location::Postgres(self.pg.as_ref().unwrap().0.clone()),
        }
    }

    /// Opens (or, for memory, hands out again) the store.
    pub async fn open(&self) -> Store {
        self.try_open().await.unwrap()
    }

    /// Opens the store, returning the error.
    pub async fn try_open(&self) -> Result<Store, ahv_store::StoreError> {
        match &self.memory {
            Some(m) => Ok(m.clone()),
            None => Store::open(&self.location(), self.options.clone()).await,
        }
    }

    /// Runs raw SQL against the backing database behind the store's back (fault injection).
    pub async fn raw_sql(&self, sql: &str) {
        match self.kind {
            Kind::Memory => panic!("no SQL on the memory backend"),
            Kind::Sqlite => {
                let path = self
                    .dir
                    .as_ref()
                    .unwrap()
                    .path()
                    .join(ahv_store::SQLITE_FILE);
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Kind::Postgres => {
                let pool = sqlx::PgPool::connect(&self.pg.as_ref().unwrap().0)
                    .await
                    .unwrap();
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// Drops the PostgreSQL schema (other backends clean up by themselves).
    pub async fn cleanup(self) {
        let (Some((_, schema)), Ok(base)) = (&self.pg, std::env::var("AHV_TEST_POSTGRES_URL"))
        else {
            return;
        };
        if let Ok(pool) = sqlx::PgPool::connect(&base).await {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
