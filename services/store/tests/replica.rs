use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection};
use switchyard_store::replica::WRITER_LOCK_KEY;
use switchyard_store::testing::TestDb;
use switchyard_store::Error;

/// The pid of the session holding the writer lock of the test's database, if any.
async fn holder(db: &TestDb) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT l.pid FROM pg_locks l \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.objid = ($1 & 4294967295)::oid",
    )
    .bind(WRITER_LOCK_KEY)
    .fetch_optional(db.store.pool())
    .await
    .unwrap()
}

async fn terminate(db: &TestDb, pid: i32) {
    let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert!(done, "terminating backend {pid}");
}

#[tokio::test]
async fn the_writer_lock_is_taken_again_after_its_session_dies_and_lost_to_a_second_writer() {
    let db = TestDb::new().await;
    let lock = db.store.acquire_writer_lock("writer one").await.unwrap();
    let first = holder(&db).await.expect("the lock is held");
    let store = db.store.clone();
    let keeper = tokio::spawn(async move { lock.hold(&store, Duration::from_millis(200)).await });

    // The lock's session dies (as in a database restart): it is taken again, by a new session.
    terminate(&db, first).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = loop {
        match holder(&db).await {
            Some(pid) if pid != first => break pid,
            _ => assert!(Instant::now() < deadline, "the lock was not taken again"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!keeper.is_finished());
    // A second writer is still refused.
    assert!(matches!(
        db.store.acquire_writer_lock("writer two").await,
        Err(Error::WriterLocked { .. })
    ));

    // Another writer waits for the lock (queued in Postgres), so when the session dies again
    // the lock goes to it first: the keeper says so.
    let options = (*db.store.pool().connect_options())
        .clone()
        .application_name("writer two");
    let mut two = options.connect().await.unwrap();
    let waiting = tokio::spawn(async move {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(WRITER_LOCK_KEY)
            .execute(&mut two)
            .await
            .unwrap();
        two
    });
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap()
        == 0
    {
        assert!(Instant::now() < deadline, "the second writer never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    terminate(&db, second).await;
    let two = waiting.await.unwrap();
    let lost = tokio::time::timeout(Duration::from_secs(10), keeper)
        .await
        .expect("the keeper returns")
        .unwrap();
    assert!(
        matches!(&lost, Error::WriterLocked { holder } if holder.contains("writer two")),
        "{lost}"
    );
    two.close().await.unwrap();
}
