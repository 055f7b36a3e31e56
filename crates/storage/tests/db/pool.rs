//! The helpers the binaries use around the pool.

use domain::ports::RepoError;
use sqlx::PgPool;
use storage::StorageError;

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn migrations_can_run_again_without_effect(pool: PgPool) {
    storage::migrate(&pool).await.unwrap();
    storage::ping(&pool).await.unwrap();
}

#[sqlx::test(migrator = "storage::MIGRATOR")]
async fn a_closed_pool_is_reported_unavailable(pool: PgPool) {
    pool.close().await;
    assert!(matches!(
        storage::ping(&pool).await,
        Err(RepoError::Unavailable(_))
    ));
}

#[tokio::test]
async fn connecting_proves_the_server_is_reachable() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let pool = storage::connect(&url, 1).await.unwrap();
    storage::ping(&pool).await.unwrap();

    let refused = storage::connect("postgres://nobody:secret-password@127.0.0.1:1/none", 1).await;
    let Err(error @ StorageError::Connect(_)) = refused else {
        panic!("connected to a closed port");
    };
    assert!(!error.to_string().contains("secret-password"), "{error}");
}
