//! Signing keys.

use crate::{Store, Ts, corrupt, store_error, with_pool};
use async_trait::async_trait;
use gatehouse_domain::keys::{KeyAlg, KeyRecord, KeyStore, Rotation};
use gatehouse_domain::store::StoreResult;
use sqlx::types::Json;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    private_key_sealed: Vec<u8>,
    public_jwk: Json<serde_json::Value>,
    created_at: Ts,
    signs_from: Ts,
    published_until: Option<Ts>,
}

impl KeyRow {
    fn into_record(self) -> StoreResult<KeyRecord> {
        let alg =
            KeyAlg::parse(&self.alg).ok_or_else(|| corrupt("signing key algorithm", &self.alg))?;
        Ok(KeyRecord {
            kid: self.kid,
            alg,
            private_key_sealed: self.private_key_sealed,
            public_jwk: self.public_jwk.0,
            created_at: self.created_at.0,
            signs_from: self.signs_from.0,
            published_until: self.published_until.map(|t| t.0),
        })
    }
}

const INSERT: &str = "INSERT INTO signing_keys \
    (kid, alg, private_key_sealed, public_jwk, created_at, signs_from, published_until) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The insert of one key, bound; expands inside `with_pool!` so each backend gets its own query.
macro_rules! insert_key {
    ($key:expr) => {
        sqlx::query(INSERT)
            .bind(&$key.kid)
            .bind($key.alg.as_str())
            .bind(&$key.private_key_sealed)
            .bind(Json(&$key.public_jwk))
            .bind(Ts($key.created_at))
            .bind(Ts($key.signs_from))
            .bind($key.published_until.map(Ts))
    };
}

#[async_trait]
impl KeyStore for Store {
    async fn list_signing_keys(&self, now: OffsetDateTime) -> StoreResult<Vec<KeyRecord>> {
        let rows: Vec<KeyRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT kid, alg, private_key_sealed, public_jwk, created_at, signs_from, published_until \
                 FROM signing_keys WHERE published_until IS NULL OR published_until > $1 \
                 ORDER BY signs_from, created_at",
            )
            .bind(Ts(now))
            .fetch_all(pool)
            .await
            .map_err(store_error)?
        });
        rows.into_iter().map(KeyRow::into_record).collect()
    }

    async fn insert_signing_key(&self, key: &KeyRecord) -> StoreResult<()> {
        with_pool!(self, |pool| {
            insert_key!(key).execute(pool).await.map_err(store_error)?;
        });
        Ok(())
    }

    async fn apply_key_rotation(&self, rotation: &Rotation) -> StoreResult<()> {
        let key = &rotation.new_key;
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            insert_key!(key)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            for (kid, until) in &rotation.retire {
                sqlx::query(
                    "UPDATE signing_keys SET published_until = $2 WHERE kid = $1 AND published_until IS NULL",
                )
                .bind(kid)
                .bind(Ts(*until))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)?;
        });
        Ok(())
    }
}
