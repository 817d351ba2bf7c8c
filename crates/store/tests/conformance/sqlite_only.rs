//! Faults that only a file on disk can have: garbage in `ahv.db`, someone else's SQLite file, a
//! read-only data directory, and a second process on the same directory.

use ahv_store::{Location, SQLITE_FILE, Store, StoreError, StoreOptions};

async fn open(dir: &std::path::Path) -> Result<Store, StoreError> {
    Store::open(&Location::dir(dir), StoreOptions::default()).await
}

#[tokio::test]
async fn corrupt_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SQLITE_FILE), vec![0x5a; 8192]).unwrap();
    let e = open(dir.path()).await.unwrap_err();
    assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("is not an agent-hypervisor database (not a valid SQLite file)"),
        "{e}"
    );
}

#[tokio::test]
async fn foreign_sqlite_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SQLITE_FILE);
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    sqlx::raw_sql("CREATE TABLE users (id INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let e = open(dir.path()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "`{}` is not an agent-hypervisor database: it has an unexpected table `users`",
            path.display()
        )
    );
    // Nothing of ours was created in it.
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n.0, 1);
}

#[tokio::test]
async fn read_only_data_directory_is_named_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permission bits; /sys is read-only even for root.
    let target = if std::fs::write(ro.join("probe"), b"x").is_ok() {
        std::path::PathBuf::from("/sys/kernel")
    } else {
        ro.clone()
    };
    let e = open(&target).await.unwrap_err();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "data directory `{}` is read-only",
            target.display()
        )),
        "{e}"
    );
}

#[tokio::test]
async fn second_opener_of_a_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await.unwrap();
    let e = open(dir.path()).await.unwrap_err();
    assert!(
        e.to_string().contains("another process holds `ahv.lock`"),
        "{e}"
    );
    first.close().await;
    open(dir.path()).await.unwrap().close().await;
}

#[tokio::test]
async fn data_directory_is_created_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/data");
    let store = open(&nested).await.unwrap();
    assert!(nested.join(SQLITE_FILE).exists());
    assert_eq!(store.kind(), "sqlite");
    store.close().await;
}
