//! Embedded migrations, one folder per dialect with the same numbered files.

use crate::{ConnectError, Store, store_error, with_pool};
use gatehouse_domain::store::StoreResult;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

type Embedded = (i64, &'static str, &'static str);

macro_rules! embed {
    ($dialect:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../migrations/", $dialect, "/", $name, ".sql")))),*]
    };
}

pub(crate) const SQLITE: &[Embedded] = embed!("sqlite":
    1 "0001_create_tenants",
    2 "0002_create_signing_keys",
    3 "0003_create_oauth2_clients",
    4 "0004_create_access_tokens",
    5 "0005_create_identities",
    6 "0006_create_sessions",
    7 "0007_create_selfservice_flows",
    8 "0008_create_courier_messages",
    9 "0009_create_audit_events",
    10 "0010_create_throttles_and_ip_bans",
    11 "0011_create_webhook_deliveries",
    12 "0012_add_courier_html_body",
    13 "0013_index_identity_addresses",
    14 "0014_create_oauth2_scopes",
    15 "0015_create_oauth2_codes",
    16 "0016_add_oauth2_client_owner",
    17 "0017_create_oauth2_consents",
    18 "0018_create_oauth2_pending_authorizations",
    19 "0019_create_oauth2_refresh_tokens",
    20 "0020_create_oauth2_grant_revocations",
    21 "0021_create_bff_sessions",
    22 "0022_add_bff_refresh_lease",
    23 "0023_create_social_login",
    24 "0024_create_magic_links",
    25 "0025_create_tenant_api_keys",
    26 "0026_create_console",
);

pub(crate) const POSTGRES: &[Embedded] = embed!("postgres":
    1 "0001_create_tenants",
    2 "0002_create_signing_keys",
    3 "0003_create_oauth2_clients",
    4 "0004_create_access_tokens",
    5 "0005_create_identities",
    6 "0006_create_sessions",
    7 "0007_create_selfservice_flows",
    8 "0008_create_courier_messages",
    9 "0009_create_audit_events",
    10 "0010_create_throttles_and_ip_bans",
    11 "0011_create_webhook_deliveries",
    12 "0012_add_courier_html_body",
    13 "0013_index_identity_addresses",
    14 "0014_create_oauth2_scopes",
    15 "0015_create_oauth2_codes",
    16 "0016_add_oauth2_client_owner",
    17 "0017_create_oauth2_consents",
    18 "0018_create_oauth2_pending_authorizations",
    19 "0019_create_oauth2_refresh_tokens",
    20 "0020_create_oauth2_grant_revocations",
    21 "0021_create_bff_sessions",
    22 "0022_add_bff_refresh_lease",
    23 "0023_create_social_login",
    24 "0024_create_magic_links",
    25 "0025_create_tenant_api_keys",
    26 "0026_create_console",
);

fn migrator(embedded: &[Embedded]) -> Migrator {
    let migrations = embedded
        .iter()
        .map(|(version, name, sql)| {
            let description = name
                .split_once('_')
                .map_or(*name, |(_, d)| d)
                .replace('_', " ");
            Migration::new(
                *version,
                description.into(),
                MigrationType::Simple,
                AssertSqlSafe(*sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// One migration and whether this database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: &'static str,
    pub applied: bool,
}

impl Store {
    fn embedded(&self) -> &'static [Embedded] {
        match self {
            Store::Sqlite(_) => SQLITE,
            Store::Postgres(_) => POSTGRES,
        }
    }

    /// Applies every pending migration (under the backend's migration lock, so several nodes
    /// starting at once apply each migration exactly once).
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = migrator(self.embedded());
        with_pool!(self, |pool| migrator.run(pool).await).map_err(ConnectError::Migrate)
    }

    /// Every embedded migration and whether it has been applied.
    pub async fn migration_status(&self) -> StoreResult<Vec<MigrationStatus>> {
        let applied: Vec<i64> = with_pool!(self, |pool| {
            let exists: bool = match self {
                Store::Sqlite(_) => sqlx::query_scalar(
                    "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                ),
                Store::Postgres(_) => sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL"),
            }
            .fetch_one(pool)
            .await
            .map_err(store_error)?;
            if exists {
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(pool)
                .await
                .map_err(store_error)?
            } else {
                Vec::new()
            }
        });
        Ok(self
            .embedded()
            .iter()
            .map(|(version, name, _)| MigrationStatus {
                version: *version,
                name,
                applied: applied.contains(version),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dialect: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations folder exists")
            .map(|e| {
                e.expect("readable entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_dialects_have_the_same_numbered_migrations() {
        assert_eq!(files("sqlite"), files("postgres"));
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (dialect, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let names: Vec<String> = embedded
                .iter()
                .map(|(_, n, _)| format!("{n}.sql"))
                .collect();
            assert_eq!(names, files(dialect), "{dialect}");
            // Numbers are assigned per feature, so they rise but may skip.
            let mut previous = 0;
            for (version, name, _) in embedded {
                assert!(*version > previous, "{name} out of order");
                assert!(name.starts_with(&format!("{version:04}_")), "{name}");
                previous = *version;
            }
        }
    }
}
