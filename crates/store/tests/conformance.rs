//! Store conformance: every test runs on a fresh SQLite database and, when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database too.

use gatehouse_domain::cipher::Cipher;
use gatehouse_domain::ids::{TenantId, new_row_id};
use gatehouse_domain::keys::{KeyAlg, KeyStore, generate_key, plan_rotation};
use gatehouse_domain::oauth::client::{Client, ClientMetadata, GrantType, TokenStrategy};
use gatehouse_domain::oauth::scope::Scope;
use gatehouse_domain::oauth::store::{ClientFilter, ClientStore, TokenStore};
use gatehouse_domain::oauth::token::{AccessTokenClaims, RevokedAccessToken, mint_opaque};
use gatehouse_domain::secret::TokenHash;
use gatehouse_domain::store::{CleanupStore, StoreError, SystemStore};
use gatehouse_store::{PoolSettings, Store};
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = time::macros::datetime!(2026-03-01 12:00:00.123456 UTC);

/// One fresh, migrated store per backend.
async fn stores(test: &str) -> Vec<Store> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!("gatehouse-conformance-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = Store::connect(
        &format!("sqlite://{}", dir.join("test.db").display()),
        &PoolSettings::default(),
    )
    .await
    .expect("sqlite opens");
    sqlite.migrate().await.expect("sqlite migrates");
    out.push(sqlite);
    if let Some(base) = postgres_url() {
        let name = format!("gh_{}_{}", test, uuid::Uuid::new_v4().simple());
        let url = gatehouse_store::create_postgres_database(&base, &name[..name.len().min(63)])
            .await
            .expect("creates test database");
        let pg = Store::connect(
            &url,
            &PoolSettings {
                max_connections: 4,
                ..PoolSettings::default()
            },
        )
        .await
        .expect("postgres opens");
        pg.migrate().await.expect("postgres migrates");
        out.push(pg);
    }
    out
}

#[expect(
    clippy::disallowed_methods,
    reason = "tests choose their databases from the environment"
)]
fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

fn client(client_id: &str, name: &str) -> Client {
    Client {
        id: new_row_id(NOW),
        client_id: client_id.to_owned(),
        tenant_id: TenantId::DEFAULT,
        secret_hash: Some(TokenHash::of("secret")),
        registration_token_hash: None,
        active: true,
        created_at: NOW,
        updated_at: NOW,
        metadata: ClientMetadata {
            client_name: name.to_owned(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse("api:read").expect("valid"),
            audience: vec!["https://api.example".into()],
            metadata: serde_json::json!({"team": "batch"}),
            access_token_strategy: TokenStrategy::Opaque,
            ..ClientMetadata::default()
        },
    }
}

fn claims(client_id: &str, exp: OffsetDateTime) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://id.example".into(),
        sub: client_id.into(),
        aud: vec![],
        client_id: client_id.into(),
        scope: "api:read".into(),
        iat: NOW.unix_timestamp(),
        nbf: NOW.unix_timestamp(),
        exp: exp.unix_timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
        tenant_id: TenantId::DEFAULT,
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_reported() {
    for store in stores("migrations").await {
        store.migrate().await.expect("second run is a no-op");
        let status = store.migration_status().await.expect("status");
        assert!(
            status.iter().all(|m| m.applied),
            "{}: {status:?}",
            store.backend_name()
        );
        assert!(store.migrations_applied().await.expect("reads"));
        store.ping().await.expect("pings");
    }
}

#[tokio::test]
async fn clients_round_trip_with_conflicts_and_not_found() {
    for store in stores("clients").await {
        let mut c = client("batch", "Batch");
        store.insert_client(&c).await.expect("inserts");
        let dup = store.insert_client(&client("batch", "Other")).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict { .. })),
            "{}: {dup:?}",
            store.backend_name()
        );

        let found = store
            .find_client("batch")
            .await
            .expect("finds")
            .expect("exists");
        assert_eq!(found.metadata, c.metadata);
        assert_eq!(
            found.created_at,
            NOW,
            "{}: microseconds survive",
            store.backend_name()
        );
        assert!(found.secret_matches("secret"));

        c.active = false;
        c.metadata.client_name = "Renamed".into();
        store.update_client(&c).await.expect("updates");
        let found = store
            .find_client("batch")
            .await
            .expect("finds")
            .expect("exists");
        assert!(!found.active);
        assert_eq!(found.metadata.client_name, "Renamed");

        store.delete_client("batch").await.expect("deletes");
        assert!(store.find_client("batch").await.expect("reads").is_none());
        assert!(matches!(
            store.delete_client("batch").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.update_client(&c).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn clients_list_by_page_and_filter() {
    for store in stores("client_pages").await {
        for i in 0..5 {
            let mut c = client(&format!("c{i}"), if i % 2 == 0 { "even" } else { "odd" });
            c.id = new_row_id(NOW + Duration::milliseconds(i));
            store.insert_client(&c).await.expect("inserts");
        }
        let first = store
            .list_clients(&ClientFilter {
                limit: 2,
                ..Default::default()
            })
            .await
            .expect("lists");
        assert_eq!(
            first
                .iter()
                .map(|c| c.client_id.as_str())
                .collect::<Vec<_>>(),
            ["c0", "c1"]
        );
        let next = store
            .list_clients(&ClientFilter {
                limit: 10,
                after: Some(first[1].id),
                ..Default::default()
            })
            .await
            .expect("lists");
        assert_eq!(
            next.iter()
                .map(|c| c.client_id.as_str())
                .collect::<Vec<_>>(),
            ["c2", "c3", "c4"]
        );
        let even = store
            .list_clients(&ClientFilter {
                limit: 10,
                client_name: Some("even".into()),
                ..Default::default()
            })
            .await
            .expect("lists");
        assert_eq!(even.len(), 3);
        let other_tenant = store
            .list_clients(&ClientFilter {
                limit: 10,
                tenant_id: Some(TenantId(uuid::Uuid::new_v4())),
                ..Default::default()
            })
            .await
            .expect("lists");
        assert!(other_tenant.is_empty());
    }
}

#[tokio::test]
async fn opaque_tokens_are_found_by_hash_and_cleaned_up_after_expiry() {
    for store in stores("opaque").await {
        store
            .insert_client(&client("batch", "Batch"))
            .await
            .expect("inserts");
        let (live_token, live) = mint_opaque(claims("batch", NOW + Duration::hours(1)));
        let (_, expired) = mint_opaque(claims("batch", NOW - Duration::seconds(1)));
        store.insert_opaque_token(&live).await.expect("inserts");
        store.insert_opaque_token(&expired).await.expect("inserts");

        let found = store
            .find_opaque_token(&TokenHash::of(&live_token))
            .await
            .expect("reads")
            .expect("exists");
        assert_eq!(found.claims, live.claims);

        assert_eq!(store.delete_expired(NOW, 100).await.expect("cleans"), 1);
        assert!(
            store
                .find_opaque_token(&expired.hash)
                .await
                .expect("reads")
                .is_none()
        );
        assert!(
            store
                .delete_opaque_token(&live.hash)
                .await
                .expect("deletes")
        );
        assert!(
            !store
                .delete_opaque_token(&live.hash)
                .await
                .expect("deletes")
        );
    }
}

#[tokio::test]
async fn revoked_access_tokens_are_remembered_once_until_expiry() {
    for store in stores("revoked").await {
        let revoked = RevokedAccessToken {
            jti: "jti-1".into(),
            tenant_id: TenantId::DEFAULT,
            client_id: "batch".into(),
            expires_at: NOW + Duration::minutes(5),
        };
        store
            .insert_revoked_access_token(&revoked)
            .await
            .expect("inserts");
        store
            .insert_revoked_access_token(&revoked)
            .await
            .expect("second insert is not an error");
        assert!(store.is_access_token_revoked("jti-1").await.expect("reads"));
        assert!(!store.is_access_token_revoked("jti-2").await.expect("reads"));
        store
            .delete_expired(NOW + Duration::minutes(6), 100)
            .await
            .expect("cleans");
        assert!(!store.is_access_token_revoked("jti-1").await.expect("reads"));
    }
}

#[tokio::test]
async fn cleanup_deletes_in_batches() {
    for store in stores("batches").await {
        for i in 0..5 {
            let revoked = RevokedAccessToken {
                jti: format!("j{i}"),
                tenant_id: TenantId::DEFAULT,
                client_id: "batch".into(),
                expires_at: NOW,
            };
            store
                .insert_revoked_access_token(&revoked)
                .await
                .expect("inserts");
        }
        assert_eq!(
            store
                .delete_expired(NOW + Duration::seconds(1), 2)
                .await
                .expect("cleans"),
            2
        );
        assert_eq!(
            store
                .delete_expired(NOW + Duration::seconds(1), 10)
                .await
                .expect("cleans"),
            3
        );
    }
}

#[tokio::test]
async fn signing_keys_rotate_in_one_transaction() {
    let cipher = Cipher::new(&["conformance-cipher-secret-0123456789"]).expect("valid");
    for store in stores("keys").await {
        for alg in KeyAlg::ALL {
            store
                .insert_signing_key(&generate_key(alg, &cipher, NOW, NOW).expect("generates"))
                .await
                .expect("inserts");
        }
        let keys = store.list_signing_keys(NOW).await.expect("lists");
        assert_eq!(keys.len(), 2);
        let rotation = plan_rotation(
            &keys,
            KeyAlg::ES256,
            &cipher,
            NOW,
            Duration::seconds(10),
            Duration::hours(1),
        )
        .expect("plans");
        store.apply_key_rotation(&rotation).await.expect("rotates");
        let keys = store.list_signing_keys(NOW).await.expect("lists");
        assert_eq!(keys.len(), 3);
        let retired: Vec<_> = keys
            .iter()
            .filter(|k| k.published_until.is_some())
            .collect();
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].alg, KeyAlg::ES256);
        // Past the retention, the old key is no longer listed and cleanup removes it.
        let later = NOW + Duration::hours(2);
        assert_eq!(
            store.list_signing_keys(later).await.expect("lists").len(),
            2
        );
        store.delete_expired(later, 100).await.expect("cleans");
        assert_eq!(store.list_signing_keys(NOW).await.expect("lists").len(), 2);
    }
}

#[tokio::test]
async fn instance_settings_keep_the_first_value() {
    for store in stores("settings").await {
        assert_eq!(store.find_instance_setting("x").await.expect("reads"), None);
        assert_eq!(
            store
                .insert_instance_setting("x", "one")
                .await
                .expect("inserts"),
            "one"
        );
        assert_eq!(
            store
                .insert_instance_setting("x", "two")
                .await
                .expect("inserts"),
            "one"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------

mod identities {
    use super::{NOW, stores};
    use gatehouse_domain::identity::password::{HashParams, PasswordHash, hash_password};
    use gatehouse_domain::identity::schema::SchemaRegistry;
    use gatehouse_domain::identity::store::{IdentityFilter, IdentityStore};
    use gatehouse_domain::identity::{Identity, IdentityState};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::store::StoreError;
    use serde_json::json;
    use time::{Duration, OffsetDateTime};

    fn person(email: &str, at: OffsetDateTime) -> (Identity, Vec<String>) {
        let traits = json!({"email": email, "first_name": "Ada"});
        let facts = SchemaRegistry::with_default()
            .validate("default", &traits)
            .expect("valid traits");
        let identity = Identity::new(TenantId::DEFAULT, "default", traits, &facts, at);
        (identity, facts.identifiers)
    }

    fn bcrypt_hash() -> PasswordHash {
        let parts =
            bcrypt::hash_with_salt("imported password", 4, *b"0123456789abcdef").expect("hashes");
        PasswordHash::parse(&parts.format_for_version(bcrypt::Version::TwoB)).expect("parses")
    }

    #[tokio::test]
    async fn identities_round_trip_with_addresses_metadata_and_password() {
        for store in stores("identities").await {
            let (mut identity, identifiers) = person("ada@example.com", NOW);
            identity.metadata_public = Some(json!({"plan": "pro"}));
            identity.metadata_admin = Some(json!({"crm": 42}));
            identity.mark_verified("ada@example.com", NOW);
            let hash = bcrypt_hash();
            store
                .insert_identity(&identity, &identifiers, Some(&hash))
                .await
                .expect("inserts");

            let found = store
                .find_identity(TenantId::DEFAULT, identity.id)
                .await
                .expect("reads")
                .expect("exists");
            assert_eq!(found, identity, "{}", store.backend_name());
            assert!(found.verifiable_addresses[0].verified);
            assert_eq!(found.recovery_addresses[0].value, "ada@example.com");

            let (by_identifier, stored) = store
                .find_identity_by_identifier(TenantId::DEFAULT, "ada@example.com")
                .await
                .expect("reads")
                .expect("exists");
            assert_eq!(by_identifier, identity);
            assert_eq!(stored, Some(hash));
            assert!(
                store
                    .find_identity_by_identifier(TenantId::DEFAULT, "nobody@example.com")
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert!(
                store
                    .find_identity(TenantId::DEFAULT, uuid::Uuid::new_v4())
                    .await
                    .expect("reads")
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn a_taken_identifier_is_a_conflict_and_writes_nothing() {
        for store in stores("identity_conflict").await {
            let (first, identifiers) = person("ada@example.com", NOW);
            store
                .insert_identity(&first, &identifiers, None)
                .await
                .expect("inserts");
            let (second, identifiers) = person("ada@example.com", NOW);
            match store.insert_identity(&second, &identifiers, None).await {
                Err(StoreError::Conflict { constraint }) => {
                    assert_eq!(
                        constraint,
                        "identity_identifier",
                        "{}",
                        store.backend_name()
                    );
                }
                other => panic!("expected a conflict, got {other:?}"),
            }
            assert!(
                store
                    .find_identity(TenantId::DEFAULT, second.id)
                    .await
                    .expect("reads")
                    .is_none(),
                "the transaction rolled back"
            );
            // Changing another identity's email to the taken one conflicts too.
            let (mut third, identifiers) = person("grace@example.com", NOW);
            store
                .insert_identity(&third, &identifiers, None)
                .await
                .expect("inserts");
            third.traits = json!({"email": "ada@example.com"});
            let conflict = store
                .update_identity(&third, &["ada@example.com".to_owned()])
                .await;
            assert!(
                matches!(conflict, Err(StoreError::Conflict { .. })),
                "{conflict:?}"
            );
            let kept = store
                .find_identity_by_identifier(TenantId::DEFAULT, "grace@example.com")
                .await
                .expect("reads");
            assert!(kept.is_some(), "the failed update changed nothing");
        }
    }

    #[tokio::test]
    async fn updates_replace_traits_identifiers_addresses_and_password() {
        for store in stores("identity_update").await {
            let (mut identity, identifiers) = person("ada@example.com", NOW);
            store
                .insert_identity(&identity, &identifiers, None)
                .await
                .expect("inserts");
            let later = NOW + Duration::minutes(5);
            let traits = json!({"email": "ada@lovelace.example"});
            let facts = SchemaRegistry::with_default()
                .validate("default", &traits)
                .expect("valid");
            identity.traits = traits;
            identity.state = IdentityState::Inactive;
            identity.metadata_admin = Some(json!({"note": "moved"}));
            identity.updated_at = later;
            identity.set_addresses(&facts, later);
            let hash = hash_password(&HashParams::default(), "a new password").expect("hashes");
            store
                .update_identity_with_password(&identity, &facts.identifiers, &hash)
                .await
                .expect("updates");
            assert!(
                store
                    .find_identity_by_identifier(TenantId::DEFAULT, "ada@example.com")
                    .await
                    .expect("reads")
                    .is_none(),
                "the old identifier is gone"
            );
            let (found, stored) = store
                .find_identity_by_identifier(TenantId::DEFAULT, "ada@lovelace.example")
                .await
                .expect("reads")
                .expect("found by the new identifier");
            assert_eq!(found, identity);
            assert_eq!(found.state, IdentityState::Inactive);
            assert_eq!(stored, Some(hash));

            let upgraded = bcrypt_hash();
            store
                .update_password_hash(TenantId::DEFAULT, identity.id, &upgraded, later)
                .await
                .expect("sets");
            let (_, stored) = store
                .find_identity_by_identifier(TenantId::DEFAULT, "ada@lovelace.example")
                .await
                .expect("reads")
                .expect("found");
            assert_eq!(stored, Some(upgraded.clone()));

            let (ghost, ghost_ids) = person("ghost@example.com", NOW);
            assert!(matches!(
                store.update_identity(&ghost, &ghost_ids).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                store
                    .update_password_hash(TenantId::DEFAULT, ghost.id, &upgraded, later)
                    .await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn identities_list_by_page_and_identifier() {
        for store in stores("identity_list").await {
            let mut ids = Vec::new();
            for n in 0..5 {
                let (identity, identifiers) =
                    person(&format!("user{n}@example.com"), NOW + Duration::seconds(n));
                store
                    .insert_identity(&identity, &identifiers, None)
                    .await
                    .expect("inserts");
                ids.push(identity.id);
            }
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_identities(
                        TenantId::DEFAULT,
                        &IdentityFilter {
                            identifier: None,
                            after,
                            limit: 2,
                        },
                    )
                    .await
                    .expect("lists");
                assert!(page.identities.len() <= 2);
                seen.extend(page.identities.iter().map(|i| i.id));
                assert!(
                    page.identities
                        .iter()
                        .all(|i| !i.verifiable_addresses.is_empty())
                );
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(
                seen,
                ids,
                "{}: every identity once, in creation order",
                store.backend_name()
            );

            let page = store
                .list_identities(
                    TenantId::DEFAULT,
                    &IdentityFilter {
                        identifier: Some("user3@example.com".into()),
                        ..IdentityFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert_eq!(page.identities.len(), 1);
            assert_eq!(page.identities[0].id, ids[3]);
            assert!(page.next.is_none());
        }
    }

    #[tokio::test]
    async fn deleting_an_identity_removes_its_identifiers_and_credentials() {
        for store in stores("identity_delete").await {
            let (identity, identifiers) = person("ada@example.com", NOW);
            store
                .insert_identity(&identity, &identifiers, Some(&bcrypt_hash()))
                .await
                .expect("inserts");
            store
                .delete_identity(TenantId::DEFAULT, identity.id)
                .await
                .expect("deletes");
            assert!(matches!(
                store.delete_identity(TenantId::DEFAULT, identity.id).await,
                Err(StoreError::NotFound)
            ));
            assert!(
                store
                    .find_identity_by_identifier(TenantId::DEFAULT, "ada@example.com")
                    .await
                    .expect("reads")
                    .is_none()
            );
            // The identifier is free again.
            let (again, identifiers) = person("ada@example.com", NOW);
            store
                .insert_identity(&again, &identifiers, None)
                .await
                .expect("the identifier can be reused");
        }
    }
}
