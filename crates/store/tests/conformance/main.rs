//! The storage conformance suite: every test runs against memory, SQLite and PostgreSQL
//! (PostgreSQL when `AHV_TEST_POSTGRES_URL` is set; otherwise those tests print why they skip).

#![allow(
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod factory;
mod scenario;
mod sqlite_only;
mod suite;

use std::future::Future;

use ahv_store::StoreOptions;
use factory::{Factory, Kind};

async fn run<F, Fut>(kind: Kind, options: StoreOptions, test: F)
where
    F: FnOnce(Factory) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(f) = Factory::new(kind, options).await {
        test(f).await;
    }
}

macro_rules! conformance {
    ($($name:ident $(with $opts:expr)?),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() {
                crate::run(crate::Kind::Memory, conformance!(@opts $($opts)?), crate::suite::$name).await
            } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $name() {
                crate::run(crate::Kind::Sqlite, conformance!(@opts $($opts)?), crate::suite::$name).await
            } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() {
                crate::run(crate::Kind::Postgres, conformance!(@opts $($opts)?), crate::suite::$name).await
            } )*
        }
    };
    (@opts) => { ahv_store::StoreOptions::default() };
    (@opts $opts:expr) => { $opts };
}

conformance! {
    append_and_wait_durable_in_order,
    group_commit_batches,
    recovery_reproduces_the_engine,
    snapshot_and_tail_equal_full_replay,
    event_retention_is_bounded with crate::suite::small_retention(),
    meta_get_set,
    newer_schema_is_refused,
    write_failure_fails_the_request_and_stops_changes,
    recovering_again_supersedes_the_old_log,
    resume_after_refusals_and_a_restart_is_exact,
}
