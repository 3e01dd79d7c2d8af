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
        owner_identity_id: None,
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
        email: None,
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
    use gatehouse_domain::identity::store::{AddressKind, IdentityFilter, IdentityStore};
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
    async fn identities_are_found_by_their_addresses_within_their_tenant() {
        for store in stores("identity_addresses").await {
            let (identity, identifiers) = person("grace@example.com", NOW);
            store
                .insert_identity(&identity, &identifiers, None)
                .await
                .expect("inserts");
            for kind in [AddressKind::Verifiable, AddressKind::Recovery] {
                let found = store
                    .find_identity_by_address(TenantId::DEFAULT, kind, "grace@example.com")
                    .await
                    .expect("reads")
                    .expect("found");
                assert_eq!(found, identity, "{}", store.backend_name());
                assert!(
                    store
                        .find_identity_by_address(TenantId::DEFAULT, kind, "nobody@example.com")
                        .await
                        .expect("reads")
                        .is_none()
                );
                let elsewhere = TenantId(uuid::Uuid::new_v4());
                assert!(
                    store
                        .find_identity_by_address(elsewhere, kind, "grace@example.com")
                        .await
                        .expect("reads")
                        .is_none()
                );
            }
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
    async fn an_identity_of_a_tenant_that_is_not_there_is_not_found_and_writes_nothing() {
        for store in stores("identity_without_tenant").await {
            // A tenant deleted while one of its users signs up, say.
            let (mut orphan, identifiers) = person("nobody@example.com", NOW);
            orphan.tenant_id = TenantId(uuid::Uuid::now_v7());
            let result = store.insert_identity(&orphan, &identifiers, None).await;
            assert!(
                matches!(result, Err(StoreError::NotFound)),
                "{}: {result:?}",
                store.backend_name()
            );
            assert!(
                store
                    .find_identity(orphan.tenant_id, orphan.id)
                    .await
                    .expect("reads")
                    .is_none()
            );
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
                            identifier_contains: None,
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

            // A search by part of an address; the pattern's wildcards are literal.
            let search = |text: &str| IdentityFilter {
                identifier_contains: Some(text.into()),
                ..IdentityFilter::default()
            };
            let found = store
                .list_identities(TenantId::DEFAULT, &search("er3@"))
                .await
                .expect("lists");
            assert_eq!(
                found.identities.iter().map(|i| i.id).collect::<Vec<_>>(),
                vec![ids[3]],
                "{}",
                store.backend_name()
            );
            let all = store
                .list_identities(TenantId::DEFAULT, &search("@example.com"))
                .await
                .expect("lists");
            assert_eq!(all.identities.len(), ids.len().min(100));
            for wildcard in ["%", "_ser", "user\\"] {
                let none = store
                    .list_identities(TenantId::DEFAULT, &search(wildcard))
                    .await
                    .expect("lists");
                assert!(
                    none.identities.is_empty(),
                    "{wildcard}: {}",
                    store.backend_name()
                );
            }
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

    #[tokio::test]
    async fn owned_clients_are_limited_listed_deactivated_and_released_with_their_owner() {
        use gatehouse_domain::ids::new_row_id;
        use gatehouse_domain::oauth::store::ClientStore;
        for store in stores("owned_clients").await {
            let (ada, ids) = person("ada@example.com", NOW);
            store
                .insert_identity(&ada, &ids, None)
                .await
                .expect("inserts");
            let (bob, ids) = person("bob@example.com", NOW);
            store
                .insert_identity(&bob, &ids, None)
                .await
                .expect("inserts");
            let owned = |n: u32, owner: uuid::Uuid| {
                let mut c = super::client(&format!("{owner}-{n}"), "mine");
                c.id = new_row_id(NOW);
                c.owner_identity_id = Some(owner);
                c
            };
            for n in 0..3 {
                assert!(
                    store
                        .insert_owned_client(&owned(n, ada.id), 3)
                        .await
                        .expect("inserts")
                );
            }
            assert!(
                !store
                    .insert_owned_client(&owned(3, ada.id), 3)
                    .await
                    .expect("answers"),
                "the fourth is over the limit"
            );
            assert!(
                store
                    .insert_owned_client(&owned(0, bob.id), 3)
                    .await
                    .expect("inserts")
            );
            assert!(matches!(
                store
                    .insert_owned_client(&owned(0, uuid::Uuid::now_v7()), 3)
                    .await,
                Err(StoreError::NotFound)
            ));

            let first = store
                .list_owned_clients(ada.id, None, 2)
                .await
                .expect("lists");
            assert_eq!(first.len(), 2);
            let rest = store
                .list_owned_clients(ada.id, Some(first[1].id), 2)
                .await
                .expect("lists");
            assert_eq!(rest.len(), 1);
            assert!(
                rest.iter()
                    .chain(&first)
                    .all(|c| c.owner_identity_id == Some(ada.id))
            );

            let adas = first[0].client_id.clone();
            assert!(
                !store
                    .deactivate_owned_client(bob.id, &adas, NOW)
                    .await
                    .expect("answers")
            );
            assert!(
                store
                    .find_client(&adas)
                    .await
                    .expect("reads")
                    .expect("found")
                    .active
            );
            assert!(
                store
                    .deactivate_owned_client(ada.id, &adas, NOW)
                    .await
                    .expect("answers")
            );
            assert!(
                !store
                    .find_client(&adas)
                    .await
                    .expect("reads")
                    .expect("found")
                    .active
            );

            store
                .delete_identity(TenantId::DEFAULT, ada.id)
                .await
                .expect("deletes");
            let released = store
                .find_client(&rest[0].client_id)
                .await
                .expect("reads")
                .expect("the client stays");
            assert!(!released.active);
            assert_eq!(released.owner_identity_id, None);
            assert!(
                store
                    .list_owned_clients(ada.id, None, 10)
                    .await
                    .expect("lists")
                    .is_empty()
            );
            let bobs = store
                .list_owned_clients(bob.id, None, 10)
                .await
                .expect("lists");
            assert!(bobs[0].active, "other people's clients are untouched");
        }
    }
}

// ---- Audit events, courier outbox, login throttling, IP bans ----

mod security {
    use super::{NOW, stores};
    use gatehouse_domain::audit::{
        AuditCursor, AuditEvent, AuditEventType, AuditFilter, AuditResult, AuditStore,
    };
    use gatehouse_domain::courier::{CourierFilter, CourierMessage, CourierStore, MessageStatus};
    use gatehouse_domain::ids::{TenantId, new_row_id};
    use gatehouse_domain::ip_ban::{IpBan, IpBanStore, IpNet};
    use gatehouse_domain::store::{CleanupStore, StoreError};
    use gatehouse_domain::throttle::{ThrottleKey, ThrottleKind, ThrottleStore};
    use std::collections::HashSet;
    use time::Duration;
    use uuid::Uuid;

    fn event(kind: AuditEventType, identity: Option<Uuid>, minutes: i64) -> AuditEvent {
        let at = NOW + Duration::minutes(minutes);
        let mut e = AuditEvent::new(TenantId::DEFAULT, kind, AuditResult::Success, at)
            .actor("self")
            .client(Some("192.0.2.7"), Some("test-agent"))
            .details(serde_json::json!({"method": "password"}));
        e.identity_id = identity;
        e
    }

    #[tokio::test]
    async fn audit_events_filter_by_identity_type_and_time_newest_first() {
        for store in stores("audit").await {
            let alice = Uuid::from_u128(0xa);
            let bob = Uuid::from_u128(0xb);
            let mut all = vec![
                event(AuditEventType::LoginFailed, Some(alice), 0),
                event(AuditEventType::LoginSucceeded, Some(alice), 1),
                event(AuditEventType::LoginFailed, Some(bob), 2),
                event(AuditEventType::Logout, Some(alice), 3),
                event(AuditEventType::IpBanned, None, 4).reason("abuse"),
            ];
            // Two events in the same microsecond still page in a stable order.
            let mut twin = event(AuditEventType::LoginFailed, Some(alice), 3);
            twin.id = Uuid::from_u128(u128::MAX);
            all.push(twin.clone());
            for e in &all {
                store.insert_audit_event(e).await.expect("inserts");
            }
            let other_tenant = TenantId(Uuid::from_u128(99));
            let list = |filter: AuditFilter| {
                let store = store.clone();
                async move {
                    store
                        .list_audit_events(TenantId::DEFAULT, &filter)
                        .await
                        .expect("lists")
                }
            };
            let everything = list(AuditFilter {
                limit: 100,
                ..AuditFilter::default()
            })
            .await;
            assert_eq!(everything.len(), 6, "{}", store.backend_name());
            assert_eq!(everything[0], all[4], "newest first, round trip");
            assert!(
                everything
                    .windows(2)
                    .all(|w| (w[0].created_at, w[0].id) > (w[1].created_at, w[1].id))
            );
            let alices = list(AuditFilter {
                identity_id: Some(alice),
                limit: 100,
                ..AuditFilter::default()
            })
            .await;
            assert_eq!(alices.len(), 4);
            let failures = list(AuditFilter {
                event_type: Some(AuditEventType::LoginFailed),
                since: Some(NOW + Duration::minutes(1)),
                until: Some(NOW + Duration::minutes(3)),
                limit: 100,
                ..AuditFilter::default()
            })
            .await;
            assert_eq!(failures.len(), 1, "until is exclusive");
            assert_eq!(failures[0].identity_id, Some(bob));
            // Pages of two, following the cursor, see every event once.
            let mut seen = Vec::new();
            let mut before = None;
            loop {
                let page = list(AuditFilter {
                    before,
                    limit: 2,
                    ..AuditFilter::default()
                })
                .await;
                if page.is_empty() {
                    break;
                }
                before = page.last().map(AuditCursor::of);
                seen.extend(page.into_iter().map(|e| e.id));
            }
            assert_eq!(seen, everything.iter().map(|e| e.id).collect::<Vec<_>>());
            assert!(
                store
                    .list_audit_events(
                        other_tenant,
                        &AuditFilter {
                            limit: 10,
                            ..AuditFilter::default()
                        }
                    )
                    .await
                    .expect("lists")
                    .is_empty()
            );
        }
    }

    fn message(recipient: &str, minutes: i64) -> CourierMessage {
        let at = NOW + Duration::minutes(minutes);
        CourierMessage::queued(
            new_row_id(at),
            TenantId::DEFAULT,
            recipient,
            "Subject".into(),
            format!("body for {recipient}"),
            "registration_code",
            at,
        )
    }

    #[tokio::test]
    async fn courier_messages_list_claim_retry_and_abandon() {
        for store in stores("courier").await {
            // One with an HTML alternative, the others text only: both round-trip.
            let a = message("a@example.com", 0)
                .with_html_body("<p>Your code: <b>123456</b></p>".to_owned());
            let b = message("b@example.com", 1);
            let c = message("a@example.com", 2);
            for m in [&a, &b, &c] {
                store.insert_courier_message(m).await.expect("inserts");
            }
            let to_a = store
                .list_courier_messages(
                    TenantId::DEFAULT,
                    &CourierFilter {
                        recipient: Some("a@example.com".into()),
                        limit: 10,
                        ..CourierFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert_eq!(
                to_a.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![c.id, a.id]
            );
            assert_eq!(to_a[1], a, "round trip");
            assert_eq!(to_a[0], c, "round trip without HTML");

            // Only due messages are claimed; a claimed one is leased away from other workers.
            let now = NOW + Duration::minutes(1);
            let claimed = store
                .claim_due_messages(now, Duration::minutes(5), 10)
                .await
                .expect("claims");
            assert_eq!(
                claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![a.id, b.id],
                "{}",
                store.backend_name()
            );
            assert!(claimed.iter().all(|m| m.send_count == 1));
            assert!(
                store
                    .claim_due_messages(now, Duration::minutes(5), 10)
                    .await
                    .expect("claims")
                    .is_empty()
            );

            store
                .mark_message_sent(TenantId::DEFAULT, a.id, now)
                .await
                .expect("marks");
            let status = store
                .mark_message_failed(
                    TenantId::DEFAULT,
                    b.id,
                    "421 try later",
                    now + Duration::minutes(2),
                    2,
                    now,
                )
                .await
                .expect("marks");
            assert_eq!(status, MessageStatus::Queued);
            let b_again = store
                .claim_due_messages(now + Duration::minutes(2), Duration::minutes(5), 10)
                .await
                .expect("claims");
            assert_eq!(
                b_again.iter().map(|m| m.id).collect::<Vec<_>>(),
                vec![b.id, c.id]
            );
            assert_eq!(b_again[0].send_count, 2);
            assert_eq!(b_again[0].last_error.as_deref(), Some("421 try later"));
            let status = store
                .mark_message_failed(TenantId::DEFAULT, b.id, "550 no such user", now, 2, now)
                .await
                .expect("marks");
            assert_eq!(status, MessageStatus::Abandoned);
            let sent = store
                .list_courier_messages(
                    TenantId::DEFAULT,
                    &CourierFilter {
                        status: Some(MessageStatus::Sent),
                        limit: 10,
                        ..CourierFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert_eq!(sent.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a.id]);
            assert!(matches!(
                store
                    .mark_message_sent(TenantId::DEFAULT, Uuid::nil(), now)
                    .await,
                Err(StoreError::NotFound)
            ));
            assert!(
                matches!(
                    store
                        .mark_message_failed(TenantId::DEFAULT, b.id, "again", now, 2, now)
                        .await,
                    Err(StoreError::NotFound)
                ),
                "an abandoned message takes no more failures"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_workers_never_claim_the_same_message() {
        for store in stores("courier_claims").await {
            let mut ids = HashSet::new();
            for i in 0..40 {
                let m = message(&format!("u{i}@example.com"), 0);
                ids.insert(m.id);
                store.insert_courier_message(&m).await.expect("inserts");
            }
            let mut workers = Vec::new();
            for _ in 0..6 {
                let store = store.clone();
                workers.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store
                            .claim_due_messages(NOW, Duration::minutes(5), 3)
                            .await
                            .expect("claims");
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|m| m.id));
                    }
                }));
            }
            let mut claimed = Vec::new();
            for w in workers {
                claimed.extend(w.await.expect("worker"));
            }
            let unique: HashSet<Uuid> = claimed.iter().copied().collect();
            assert_eq!(
                claimed.len(),
                40,
                "{}: no message twice",
                store.backend_name()
            );
            assert_eq!(unique, ids);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_throttle_failures_all_count() {
        for store in stores("throttle").await {
            let key = ThrottleKey::new(
                TenantId::DEFAULT,
                ThrottleKind::Identifier,
                "alice@example.com",
            );
            let other = ThrottleKey::new(TenantId::DEFAULT, ThrottleKind::Ip, "192.0.2.7");
            let mut tasks = Vec::new();
            for i in 0..60 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let at = NOW + Duration::milliseconds(i % 7);
                    store
                        .insert_throttle_failure(
                            TenantId::DEFAULT,
                            &key,
                            at,
                            at + Duration::hours(1),
                        )
                        .await
                }));
            }
            for t in tasks {
                t.await.expect("task").expect("inserts");
            }
            store
                .insert_throttle_failure(TenantId::DEFAULT, &other, NOW, NOW + Duration::minutes(1))
                .await
                .expect("inserts");
            let since = NOW - Duration::minutes(15);
            assert_eq!(
                store
                    .count_throttle_failures(TenantId::DEFAULT, &key, since)
                    .await
                    .expect("counts"),
                60,
                "{}",
                store.backend_name()
            );
            let newest = store
                .list_throttle_failures(TenantId::DEFAULT, &key, since, 5)
                .await
                .expect("lists");
            assert_eq!(newest.len(), 5);
            assert!(newest.windows(2).all(|w| w[0] >= w[1]));
            assert_eq!(newest[0], NOW + Duration::milliseconds(6));
            // Cleanup removes failures past their expiry; a success forgets a key at once.
            store
                .delete_expired(NOW + Duration::minutes(2), 500)
                .await
                .expect("cleans");
            assert_eq!(
                store
                    .count_throttle_failures(TenantId::DEFAULT, &other, since)
                    .await
                    .expect("counts"),
                0
            );
            assert_eq!(
                store
                    .delete_throttle_failures(TenantId::DEFAULT, &key)
                    .await
                    .expect("deletes"),
                60
            );
            assert_eq!(
                store
                    .count_throttle_failures(TenantId::DEFAULT, &key, since)
                    .await
                    .expect("counts"),
                0
            );
        }
    }

    #[tokio::test]
    async fn ip_bans_round_trip_expire_and_delete() {
        for store in stores("ip_bans").await {
            let forever = IpBan {
                id: new_row_id(NOW),
                cidr: IpNet::parse("2001:db8::/32").expect("valid"),
                reason: Some("abuse".into()),
                created_at: NOW,
                expires_at: None,
            };
            let brief = IpBan {
                id: new_row_id(NOW + Duration::seconds(1)),
                cidr: IpNet::parse("192.0.2.7").expect("valid"),
                reason: None,
                created_at: NOW,
                expires_at: Some(NOW + Duration::hours(1)),
            };
            store.insert_ip_ban(&forever).await.expect("inserts");
            store.insert_ip_ban(&brief).await.expect("inserts");
            assert_eq!(
                store.list_ip_bans().await.expect("lists"),
                vec![brief.clone(), forever.clone()]
            );
            assert_eq!(
                store.find_ip_ban(forever.id).await.expect("finds"),
                Some(forever.clone())
            );
            let later = NOW + Duration::hours(2);
            assert_eq!(
                store.list_active_ip_bans(later).await.expect("lists"),
                vec![forever.clone()]
            );
            store.delete_expired(later, 500).await.expect("cleans");
            assert_eq!(
                store.list_ip_bans().await.expect("lists"),
                vec![forever.clone()]
            );
            store.delete_ip_ban(forever.id).await.expect("deletes");
            assert!(matches!(
                store.delete_ip_ban(forever.id).await,
                Err(StoreError::NotFound)
            ));
            assert!(store.list_ip_bans().await.expect("lists").is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

mod sessions {
    use super::{NOW, stores};
    use gatehouse_domain::identity::store::IdentityStore;
    use gatehouse_domain::identity::{Identity, IdentityState};
    use gatehouse_domain::ids::{TenantId, new_row_id};
    use gatehouse_domain::secret::TokenHash;
    use gatehouse_domain::session::{
        AuthenticationMethod, Session, SessionLifetimes, SessionPage, SessionStore,
    };
    use gatehouse_domain::store::{CleanupStore, StoreError};
    use gatehouse_store::Store;
    use time::Duration;
    use uuid::Uuid;

    pub(super) async fn identity(store: &Store, email: &str) -> Uuid {
        let identity = Identity {
            id: new_row_id(NOW),
            tenant_id: TenantId::DEFAULT,
            schema_id: "default".into(),
            state: IdentityState::Active,
            traits: serde_json::json!({ "email": email }),
            verifiable_addresses: Vec::new(),
            recovery_addresses: Vec::new(),
            metadata_public: None,
            metadata_admin: None,
            created_at: NOW,
            updated_at: NOW,
        };
        store
            .insert_identity(&identity, &[email.to_owned()], None)
            .await
            .expect("inserts identity");
        identity.id
    }

    fn session(identity_id: Uuid, at: time::OffsetDateTime) -> Session {
        Session::start(
            TenantId::DEFAULT,
            identity_id,
            vec![AuthenticationMethod {
                method: "password".into(),
                completed_at: at,
            }],
            Some("192.0.2.1".into()),
            Some("Firefox".into()),
            &SessionLifetimes::default(),
            at,
        )
        .0
    }

    #[tokio::test]
    async fn sessions_round_trip_by_token_hash_and_id() {
        for store in stores("sessions_round_trip").await {
            let who = identity(&store, "a@example.com").await;
            let s = session(who, NOW);
            store.insert_session(&s).await.expect("inserts");
            let found = store
                .find_session_by_token(&s.token_hash)
                .await
                .expect("finds")
                .expect("exists");
            assert_eq!(found, s, "{}", store.backend_name());
            let by_id = store
                .find_session(TenantId::DEFAULT, s.id)
                .await
                .expect("finds")
                .expect("exists");
            assert_eq!(by_id, s);
            assert!(
                store
                    .find_session_by_token(&TokenHash::of("other"))
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert!(
                store
                    .find_session(TenantId(Uuid::from_u128(99)), s.id)
                    .await
                    .expect("reads")
                    .is_none(),
                "another tenant does not see it"
            );
            let mut dup = session(who, NOW);
            dup.token_hash = s.token_hash;
            let err = store.insert_session(&dup).await;
            assert!(
                matches!(err, Err(StoreError::Conflict { .. })),
                "{}: {err:?}",
                store.backend_name()
            );
        }
    }

    #[tokio::test]
    async fn touching_writes_at_most_once_a_minute_and_records_the_device() {
        for store in stores("sessions_touch").await {
            let who = identity(&store, "a@example.com").await;
            let s = session(who, NOW);
            store.insert_session(&s).await.expect("inserts");
            let t = TenantId::DEFAULT;
            let soon = NOW + Duration::seconds(30);
            assert!(
                !store
                    .touch_session(t, s.id, soon, Some("192.0.2.9"), None)
                    .await
                    .expect("touches")
            );
            let later = NOW + Duration::minutes(5);
            assert!(
                store
                    .touch_session(t, s.id, later, Some("192.0.2.9"), None)
                    .await
                    .expect("touches")
            );
            assert!(
                !store
                    .touch_session(t, s.id, later + Duration::seconds(1), None, None)
                    .await
                    .expect("touches")
            );
            let found = store
                .find_session(t, s.id)
                .await
                .expect("finds")
                .expect("exists");
            assert_eq!(found.last_seen_at, later);
            assert_eq!(found.device.last_seen_at, later);
            assert_eq!(found.device.first_seen_at, NOW);
            assert_eq!(found.device.ip_address.as_deref(), Some("192.0.2.9"));
            assert_eq!(
                found.device.user_agent.as_deref(),
                Some("Firefox"),
                "kept when absent"
            );
        }
    }

    #[tokio::test]
    async fn revoking_one_or_all_others_deactivates_only_those() {
        for store in stores("sessions_revoke").await {
            let t = TenantId::DEFAULT;
            let who = identity(&store, "a@example.com").await;
            let other = identity(&store, "b@example.com").await;
            let mine: Vec<Session> = (0..3)
                .map(|i| session(who, NOW + Duration::seconds(i)))
                .collect();
            for s in &mine {
                store.insert_session(s).await.expect("inserts");
            }
            let theirs = session(other, NOW);
            store.insert_session(&theirs).await.expect("inserts");

            assert!(
                !store
                    .revoke_session(t, Some(other), mine[0].id)
                    .await
                    .expect("runs"),
                "not another identity's session"
            );
            assert!(
                store
                    .revoke_session(t, Some(who), mine[0].id)
                    .await
                    .expect("runs")
            );
            assert!(
                !store
                    .revoke_session(t, None, mine[0].id)
                    .await
                    .expect("runs"),
                "already revoked"
            );
            let listed = store
                .list_identity_sessions(t, who, false)
                .await
                .expect("lists");
            assert_eq!(
                listed.iter().map(|s| s.id).collect::<Vec<_>>(),
                vec![mine[2].id, mine[1].id, mine[0].id],
                "newest first"
            );
            assert!(!listed[2].active);
            let active = store
                .list_identity_sessions(t, who, true)
                .await
                .expect("lists");
            assert_eq!(active.len(), 2);

            let count = store
                .revoke_identity_sessions(t, who, Some(mine[2].id))
                .await
                .expect("revokes");
            assert_eq!(count, 1, "{}", store.backend_name());
            let active = store
                .list_identity_sessions(t, who, true)
                .await
                .expect("lists");
            assert_eq!(
                active.iter().map(|s| s.id).collect::<Vec<_>>(),
                vec![mine[2].id]
            );
            assert_eq!(
                store
                    .revoke_identity_sessions(t, who, None)
                    .await
                    .expect("revokes"),
                1
            );
            let still = store
                .find_session(t, theirs.id)
                .await
                .expect("finds")
                .expect("exists");
            assert!(still.active, "other identities keep their sessions");
        }
    }

    #[tokio::test]
    async fn admin_listing_pages_through_a_tenant() {
        for store in stores("sessions_list").await {
            let t = TenantId::DEFAULT;
            let who = identity(&store, "a@example.com").await;
            let mut ids = Vec::new();
            for i in 0..5 {
                let s = session(who, NOW + Duration::seconds(i));
                store.insert_session(&s).await.expect("inserts");
                ids.push(s.id);
            }
            store
                .revoke_session(t, None, ids[1])
                .await
                .expect("revokes");
            let first = store
                .list_sessions(
                    t,
                    &SessionPage {
                        after: None,
                        limit: 2,
                        active_only: false,
                    },
                )
                .await
                .expect("lists");
            assert_eq!(first.iter().map(|s| s.id).collect::<Vec<_>>(), ids[..2]);
            let rest = store
                .list_sessions(
                    t,
                    &SessionPage {
                        after: Some(ids[1]),
                        limit: 10,
                        active_only: false,
                    },
                )
                .await
                .expect("lists");
            assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), ids[2..]);
            let active = store
                .list_sessions(
                    t,
                    &SessionPage {
                        after: None,
                        limit: 10,
                        active_only: true,
                    },
                )
                .await
                .expect("lists");
            assert_eq!(active.len(), 4);
            let elsewhere = store
                .list_sessions(
                    TenantId(Uuid::from_u128(99)),
                    &SessionPage {
                        after: None,
                        limit: 10,
                        active_only: false,
                    },
                )
                .await
                .expect("lists");
            assert!(elsewhere.is_empty());
        }
    }

    #[tokio::test]
    async fn sessions_go_with_their_identity_and_after_expiry() {
        for store in stores("sessions_cascade").await {
            let t = TenantId::DEFAULT;
            let who = identity(&store, "a@example.com").await;
            let keep = identity(&store, "b@example.com").await;
            let s = session(who, NOW);
            store.insert_session(&s).await.expect("inserts");
            let old = session(keep, NOW - Duration::hours(30));
            let fresh = session(keep, NOW);
            store.insert_session(&old).await.expect("inserts");
            store.insert_session(&fresh).await.expect("inserts");

            store
                .delete_identity(t, who)
                .await
                .expect("deletes identity");
            assert!(
                store.find_session(t, s.id).await.expect("reads").is_none(),
                "{}: cascaded",
                store.backend_name()
            );

            store.delete_expired(NOW, 500).await.expect("cleans");
            assert!(
                store
                    .find_session(t, old.id)
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert!(
                store
                    .find_session(t, fresh.id)
                    .await
                    .expect("reads")
                    .is_some()
            );
        }
    }
}

// ---- Web hook deliveries ----

mod webhook_deliveries {
    use super::*;
    use gatehouse_domain::webhook::{
        AttemptOutcome, DeliveryFilter, DeliveryStatus, RetryPolicy, WebhookDelivery, WebhookEvent,
        WebhookMode, WebhookStore,
    };
    use std::collections::HashSet;
    use uuid::Uuid;

    fn delivery(hook: &str, mode: WebhookMode, at: OffsetDateTime) -> WebhookDelivery {
        WebhookDelivery::new(
            hook,
            WebhookEvent::RegistrationAfter,
            mode,
            "https://hooks.example/in",
            "{\"a\": 1}".to_owned(),
            at,
            Duration::days(30),
        )
    }

    #[tokio::test]
    async fn deliveries_list_claim_retry_and_abandon() {
        let policy = RetryPolicy {
            max_attempts: 2,
            first_retry: Duration::seconds(30),
            max_delay: Duration::hours(1),
        };
        for store in stores("webhooks").await {
            let queued = delivery("crm", WebhookMode::Async, NOW);
            let mut blocking = delivery("gate", WebhookMode::Blocking, NOW + Duration::seconds(1));
            blocking.status = DeliveryStatus::Failed;
            blocking.attempts = 1;
            blocking.last_status_code = Some(502);
            for d in [&queued, &blocking] {
                store.insert_webhook_delivery(d).await.expect("inserts");
            }
            let all = store
                .list_webhook_deliveries(
                    TenantId::DEFAULT,
                    &DeliveryFilter {
                        limit: 10,
                        ..DeliveryFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert_eq!(
                all.iter().map(|d| d.id).collect::<Vec<_>>(),
                vec![blocking.id, queued.id]
            );
            assert_eq!(all[0].last_status_code, Some(502));
            let gate = store
                .list_webhook_deliveries(
                    TenantId::DEFAULT,
                    &DeliveryFilter {
                        webhook_id: Some("gate".into()),
                        status: Some(DeliveryStatus::Failed),
                        limit: 10,
                        ..DeliveryFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert_eq!(gate.len(), 1);

            // Only the asynchronous one is claimed; a failed blocking call is never retried.
            let claimed = store
                .claim_due_deliveries(NOW + Duration::minutes(1), Duration::minutes(5), 10)
                .await
                .expect("claims");
            assert_eq!(
                claimed.iter().map(|d| d.id).collect::<Vec<_>>(),
                vec![queued.id]
            );
            assert_eq!(claimed[0].attempts, 1);
            assert!(
                store
                    .claim_due_deliveries(NOW + Duration::minutes(2), Duration::minutes(5), 10)
                    .await
                    .expect("claims")
                    .is_empty(),
                "leased"
            );

            let now = NOW + Duration::minutes(2);
            let failed = policy.record(
                1,
                AttemptOutcome::Failed {
                    status_code: Some(500),
                    error: "the receiver answered 500".into(),
                },
                now,
            );
            store
                .record_delivery_attempt(TenantId::DEFAULT, queued.id, &failed, now)
                .await
                .expect("records");
            let again = store
                .claim_due_deliveries(failed.next_attempt_at, Duration::minutes(5), 10)
                .await
                .expect("claims");
            assert_eq!(again[0].attempts, 2);
            assert_eq!(again[0].status, DeliveryStatus::Failed);
            let last = policy.record(
                2,
                AttemptOutcome::Failed {
                    status_code: None,
                    error: "cannot connect to the receiver".into(),
                },
                now,
            );
            store
                .record_delivery_attempt(TenantId::DEFAULT, queued.id, &last, now)
                .await
                .expect("records");
            let found = store
                .find_webhook_delivery(TenantId::DEFAULT, queued.id)
                .await
                .expect("reads")
                .expect("found");
            assert_eq!(found.status, DeliveryStatus::Abandoned);
            assert_eq!(
                found.last_error.as_deref(),
                Some("cannot connect to the receiver")
            );
            assert!(
                matches!(
                    store
                        .record_delivery_attempt(TenantId::DEFAULT, queued.id, &last, now)
                        .await,
                    Err(StoreError::NotFound)
                ),
                "a finished delivery takes no more attempts"
            );
            assert!(
                store
                    .find_webhook_delivery(TenantId::DEFAULT, Uuid::nil())
                    .await
                    .expect("reads")
                    .is_none()
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_workers_never_claim_the_same_delivery() {
        for store in stores("webhook_claims").await {
            let mut ids = HashSet::new();
            for _ in 0..30 {
                let d = delivery("crm", WebhookMode::Async, NOW);
                ids.insert(d.id);
                store.insert_webhook_delivery(&d).await.expect("inserts");
            }
            let mut workers = Vec::new();
            for _ in 0..5 {
                let store = store.clone();
                workers.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store
                            .claim_due_deliveries(NOW, Duration::minutes(5), 3)
                            .await
                            .expect("claims");
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|d| d.id));
                    }
                }));
            }
            let mut claimed = Vec::new();
            for w in workers {
                claimed.extend(w.await.expect("worker"));
            }
            assert_eq!(claimed.len(), 30, "{}: none twice", store.backend_name());
            assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scope catalog

mod scopes {
    use super::{NOW, stores};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::oauth::catalog::{CatalogScope, ScopeFields, builtin_scopes};
    use gatehouse_domain::oauth::store::ScopeStore;
    use gatehouse_domain::store::StoreError;
    use time::Duration;

    fn own_scope(tenant_id: TenantId, name: &str) -> CatalogScope {
        let fields = ScopeFields::parse(
            "Read the API",
            "Read-only access to the example API",
            vec!["api_read".into()],
            true,
        )
        .expect("valid");
        CatalogScope::new(tenant_id, name, fields, NOW).expect("valid")
    }

    #[tokio::test]
    async fn scopes_migration_seeds_the_built_in_scopes_of_the_default_tenant() {
        for store in stores("scopes_seed").await {
            let stored = store.list_scopes(TenantId::DEFAULT).await.expect("lists");
            let mut expected = builtin_scopes(TenantId::DEFAULT, NOW);
            expected.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(stored.len(), expected.len());
            for (s, e) in stored.iter().zip(&expected) {
                // Times are the migration's; everything else matches the domain's list.
                let s = CatalogScope {
                    created_at: NOW,
                    updated_at: NOW,
                    ..s.clone()
                };
                assert_eq!(&s, e);
            }
            assert!(stored[0].created_at > NOW - Duration::days(3650));
            // The console tenant (migration 0026) has the same built-in rows, its own.
            let console = store.list_scopes(TenantId::CONSOLE).await.expect("lists");
            assert_eq!(console.len(), expected.len());
            for (s, e) in console.iter().zip(&expected) {
                let s = CatalogScope {
                    created_at: NOW,
                    updated_at: NOW,
                    tenant_id: TenantId::DEFAULT,
                    ..s.clone()
                };
                assert_eq!(&s, e);
            }
            assert_eq!(
                store.list_all_scopes().await.expect("lists").len(),
                expected.len() * 2
            );
        }
    }

    #[tokio::test]
    async fn scopes_round_trip_conflict_update_and_delete() {
        for store in stores("scopes_crud").await {
            let scope = own_scope(TenantId::DEFAULT, "api:read");
            store.insert_scope(&scope).await.expect("inserts");
            assert!(matches!(
                store.insert_scope(&scope).await,
                Err(StoreError::Conflict { .. })
            ));
            assert_eq!(
                store
                    .find_scope(TenantId::DEFAULT, "api:read")
                    .await
                    .expect("finds"),
                Some(scope.clone())
            );
            assert_eq!(
                store
                    .find_scope(TenantId::DEFAULT, "API:READ")
                    .await
                    .expect("finds"),
                None,
                "names are case-sensitive"
            );
            let missing_tenant = own_scope(TenantId(uuid::Uuid::from_u128(99)), "api:read");
            assert!(matches!(
                store.insert_scope(&missing_tenant).await,
                Err(StoreError::NotFound)
            ));

            let mut changed = scope.clone();
            changed.replace(
                ScopeFields::parse("Read", "", vec![], false).expect("valid"),
                NOW + Duration::minutes(1),
            );
            store.update_scope(&changed).await.expect("updates");
            let found = store
                .find_scope(TenantId::DEFAULT, "api:read")
                .await
                .expect("finds")
                .expect("exists");
            assert_eq!(found, changed);
            assert_eq!(found.created_at, NOW);
            let names: Vec<String> = store
                .list_scopes(TenantId::DEFAULT)
                .await
                .expect("lists")
                .into_iter()
                .map(|s| s.name)
                .collect();
            assert_eq!(names.first().map(String::as_str), Some("address"));
            assert!(names.contains(&"api:read".to_owned()));

            store
                .delete_scope(TenantId::DEFAULT, "api:read")
                .await
                .expect("deletes");
            assert!(matches!(
                store.delete_scope(TenantId::DEFAULT, "api:read").await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                store.update_scope(&changed).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization codes
// ---------------------------------------------------------------------------------------------

mod codes {
    use super::{NOW, stores};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::oauth::code::{CODE_LIFESPAN, CodeGrant, CodeStore, Redemption};
    use gatehouse_domain::oauth::scope::Scope;
    use gatehouse_domain::store::CleanupStore;
    use gatehouse_store::Store;
    use std::sync::Arc;
    use time::Duration;
    use uuid::Uuid;

    async fn grant(store: &Store, email: &str) -> CodeGrant {
        let identity_id = super::sessions::identity(store, email).await;
        CodeGrant {
            tenant_id: TenantId::DEFAULT,
            client_id: "web".into(),
            identity_id,
            session_id: Some(Uuid::now_v7()),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_sent: true,
            scope: Scope::parse("openid email offline_access").expect("valid"),
            nonce: Some("n-0S6".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            auth_time: NOW,
            amr: vec!["pwd".into()],
            issued_at: NOW,
            expires_at: NOW + CODE_LIFESPAN,
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_a_replay_shows_what_it_issued() {
        for store in stores("codes").await {
            let grant = grant(&store, "ada@example.com").await;
            let (code, hash) = grant.mint();
            store.insert_code(&hash, &grant).await.expect("inserts");
            match store.redeem_code(&code.hash(), NOW).await.expect("redeems") {
                Redemption::Redeemed(found) => assert_eq!(found, grant, "{}", store.backend_name()),
                other => panic!("{other:?}"),
            }
            let jtis = vec!["jti-1".to_owned(), "jti-2".to_owned()];
            store
                .record_code_tokens(&hash, &jtis)
                .await
                .expect("records");
            match store.redeem_code(&hash, NOW).await.expect("reads") {
                Redemption::Replayed {
                    grant: found,
                    issued,
                } => {
                    assert_eq!(found, grant);
                    assert_eq!(issued, jtis);
                }
                other => panic!("{other:?}"),
            }
            let (_, unknown) = grant.mint();
            assert_eq!(
                store.redeem_code(&unknown, NOW).await.expect("reads"),
                Redemption::Invalid
            );
        }
    }

    #[tokio::test]
    async fn an_expired_code_cannot_be_redeemed_and_is_cleaned_up() {
        for store in stores("codes_expiry").await {
            let grant = grant(&store, "late@example.com").await;
            let (_, hash) = grant.mint();
            store.insert_code(&hash, &grant).await.expect("inserts");
            let later = grant.expires_at + Duration::seconds(1);
            assert_eq!(
                store.redeem_code(&hash, later).await.expect("reads"),
                Redemption::Invalid
            );
            assert!(store.delete_expired(later, 100).await.expect("cleans") >= 1);
        }
    }

    #[tokio::test]
    async fn of_concurrent_redemptions_exactly_one_wins() {
        for store in stores("codes_race").await {
            let store = Arc::new(store);
            let grant = grant(&store, "race@example.com").await;
            let (_, hash) = grant.mint();
            store.insert_code(&hash, &grant).await.expect("inserts");
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    store.redeem_code(&hash, NOW).await.expect("redeems")
                }));
            }
            let mut won = 0;
            for task in tasks {
                match task.await.expect("joins") {
                    Redemption::Redeemed(_) => won += 1,
                    Redemption::Replayed { .. } => {}
                    Redemption::Invalid => panic!("a live code is never invalid"),
                }
            }
            assert_eq!(won, 1, "{}", store.backend_name());
        }
    }

    #[tokio::test]
    async fn consents_merge_scopes_list_newest_first_and_go_with_their_identity() {
        use gatehouse_domain::identity::store::IdentityStore;
        use gatehouse_domain::oauth::consent::{ConsentGrant, ConsentStore};
        for store in stores("consents").await {
            let owner = grant(&store, "consent@example.com").await.identity_id;
            let decision = |client: &str, scope: &str, remembered: bool, at| ConsentGrant {
                tenant_id: TenantId::DEFAULT,
                identity_id: owner,
                client_id: client.to_owned(),
                scope: Scope::parse(scope).expect("valid"),
                remembered,
                created_at: at,
                last_used_at: at,
            };
            store
                .save_consent(&decision("web", "openid email", false, NOW))
                .await
                .expect("saves");
            let later = NOW + Duration::minutes(5);
            let merged = store
                .save_consent(&decision("web", "openid profile", true, later))
                .await
                .expect("saves");
            assert_eq!(merged.scope.to_string(), "email openid profile");
            assert!(merged.remembered);
            assert_eq!(merged.created_at, NOW, "{}", store.backend_name());
            assert_eq!(
                store
                    .find_consent(TenantId::DEFAULT, owner, "web")
                    .await
                    .expect("reads"),
                Some(merged)
            );
            store
                .save_consent(&decision(
                    "cli",
                    "openid",
                    true,
                    later + Duration::minutes(1),
                ))
                .await
                .expect("saves");
            let listed: Vec<String> = store
                .list_consents(TenantId::DEFAULT, owner)
                .await
                .expect("lists")
                .into_iter()
                .map(|g| g.client_id)
                .collect();
            assert_eq!(listed, ["cli", "web"]);
            assert!(
                store
                    .delete_consent(TenantId::DEFAULT, owner, "cli")
                    .await
                    .expect("deletes")
            );
            assert!(
                !store
                    .delete_consent(TenantId::DEFAULT, owner, "cli")
                    .await
                    .expect("deletes")
            );
            store
                .delete_identity(TenantId::DEFAULT, owner)
                .await
                .expect("deletes identity");
            assert!(
                store
                    .list_consents(TenantId::DEFAULT, owner)
                    .await
                    .expect("lists")
                    .is_empty()
            );
        }
    }
}

mod refresh {
    use super::{NOW, postgres_url};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::oauth::code::{CODE_LIFESPAN, CodeGrant};
    use gatehouse_domain::oauth::grant::{GrantRevocation, GrantRevocationStore};
    use gatehouse_domain::oauth::refresh::{RefreshPolicy, RefreshStore, RefreshToken, Rotation};
    use gatehouse_domain::oauth::scope::Scope;
    use gatehouse_domain::store::CleanupStore;
    use gatehouse_store::{PoolSettings, Store};
    use std::sync::Arc;
    use time::Duration;
    use uuid::Uuid;

    /// Two stores (two nodes) on one fresh, migrated database per backend: two pools on one
    /// SQLite file, and two pools on one PostgreSQL database.
    pub(super) async fn two_nodes(test: &str) -> Vec<(Store, Store)> {
        let mut urls = Vec::new();
        let dir = std::env::temp_dir().join(format!("gatehouse-conformance-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        urls.push(format!("sqlite://{}", dir.join("test.db").display()));
        if let Some(base) = postgres_url() {
            let name = format!("gh_{}_{}", test, Uuid::new_v4().simple());
            urls.push(
                gatehouse_store::create_postgres_database(&base, &name[..name.len().min(63)])
                    .await
                    .expect("creates test database"),
            );
        }
        let settings = PoolSettings {
            max_connections: 4,
            ..PoolSettings::default()
        };
        let mut out = Vec::new();
        for url in urls {
            let a = Store::connect(&url, &settings).await.expect("opens");
            a.migrate().await.expect("migrates");
            let b = Store::connect(&url, &settings).await.expect("opens");
            b.migrate()
                .await
                .expect("migrates again, as a second node does");
            out.push((a, b));
        }
        out
    }

    async fn first_token(store: &Store, email: &str, policy: &RefreshPolicy) -> RefreshToken {
        let identity_id = super::sessions::identity(store, email).await;
        let grant = CodeGrant {
            tenant_id: TenantId::DEFAULT,
            client_id: "web".into(),
            identity_id,
            session_id: Some(Uuid::now_v7()),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_sent: true,
            scope: Scope::parse("openid email offline_access").expect("valid"),
            nonce: None,
            code_challenge: None,
            auth_time: NOW,
            amr: vec!["pwd".into()],
            issued_at: NOW,
            expires_at: NOW + CODE_LIFESPAN,
        };
        RefreshToken::first(&grant, policy, NOW)
    }

    #[tokio::test]
    async fn a_refresh_token_rotates_once_and_a_replay_is_reported() {
        for (store, _) in two_nodes("refresh_rotate").await {
            let policy = RefreshPolicy::default();
            let first = first_token(&store, "rt@example.com", &policy).await;
            let (_, h1) = RefreshToken::mint();
            store
                .insert_refresh_token(&h1, &first)
                .await
                .expect("inserts");
            assert_eq!(
                store.find_refresh_token(&h1).await.expect("reads"),
                Some(first.clone()),
                "{}",
                store.backend_name()
            );

            let later = NOW + Duration::minutes(5);
            let (_, h2) = RefreshToken::mint();
            let Rotation::Rotated {
                previous,
                successor,
            } = store
                .rotate_refresh_token(&h1, &h2, "web", &policy, later)
                .await
                .expect("rotates")
            else {
                panic!("a fresh token rotates");
            };
            assert_eq!(previous.family_id, first.family_id);
            assert_eq!(previous.used_at, Some(later));
            assert_eq!(successor, first.successor(&policy, later));
            assert_eq!(
                store.find_refresh_token(&h2).await.expect("reads"),
                Some(successor.clone())
            );

            // Presented again: a replay, reported with the record so the family can be revoked.
            let (_, h3) = RefreshToken::mint();
            match store
                .rotate_refresh_token(&h1, &h3, "web", &policy, later)
                .await
                .expect("reads")
            {
                Rotation::Reused { record } => assert_eq!(record.family_id, first.family_id),
                other => panic!("{other:?}"),
            }
            assert!(
                store
                    .find_refresh_token(&h3)
                    .await
                    .expect("reads")
                    .is_none()
            );

            // Another client's rotation of the live successor is invalid and leaves it unused.
            assert_eq!(
                store
                    .rotate_refresh_token(&h2, &h3, "mobile", &policy, later)
                    .await
                    .expect("reads"),
                Rotation::Invalid
            );
            let unused = store.find_refresh_token(&h2).await.expect("reads");
            assert_eq!(unused.and_then(|t| t.used_at), None);

            // Revoking the family ends the successor too.
            assert!(
                store
                    .revoke_refresh_family(first.family_id, later)
                    .await
                    .expect("revokes")
            );
            assert!(
                !store
                    .revoke_refresh_family(first.family_id, later)
                    .await
                    .expect("revokes")
            );
            assert_eq!(
                store
                    .rotate_refresh_token(&h2, &h3, "web", &policy, later)
                    .await
                    .expect("reads"),
                Rotation::Invalid
            );
            let (_, unknown) = RefreshToken::mint();
            assert_eq!(
                store
                    .rotate_refresh_token(&unknown, &h3, "web", &policy, later)
                    .await
                    .expect("reads"),
                Rotation::Invalid
            );
        }
    }

    #[tokio::test]
    async fn a_used_token_rotates_again_only_within_the_grace_period() {
        for (store, _) in two_nodes("refresh_grace").await {
            let policy = RefreshPolicy {
                reuse_grace: Duration::seconds(30),
                ..RefreshPolicy::default()
            };
            let first = first_token(&store, "grace@example.com", &policy).await;
            let (_, h1) = RefreshToken::mint();
            store
                .insert_refresh_token(&h1, &first)
                .await
                .expect("inserts");
            for (at, expect_rotated) in [
                (NOW, true),
                (NOW + Duration::seconds(10), true),
                (NOW + Duration::seconds(30), false),
            ] {
                let (_, next) = RefreshToken::mint();
                let rotation = store
                    .rotate_refresh_token(&h1, &next, "web", &policy, at)
                    .await
                    .expect("rotates");
                match rotation {
                    Rotation::Rotated { previous, .. } => {
                        assert!(expect_rotated, "{}: at {at}", store.backend_name());
                        assert_eq!(previous.used_at, Some(NOW), "the first use is kept");
                    }
                    Rotation::Reused { .. } => assert!(!expect_rotated, "at {at}"),
                    Rotation::Invalid => panic!("a live token is never invalid"),
                }
            }
        }
    }

    #[tokio::test]
    async fn expired_tokens_and_families_are_invalid_and_cleaned_up() {
        for (store, _) in two_nodes("refresh_expiry").await {
            let policy = RefreshPolicy {
                token_lifespan: Duration::days(10),
                family_lifespan: Duration::days(15),
                reuse_grace: Duration::ZERO,
            };
            let first = first_token(&store, "old@example.com", &policy).await;
            let (_, h1) = RefreshToken::mint();
            store
                .insert_refresh_token(&h1, &first)
                .await
                .expect("inserts");
            let (_, h2) = RefreshToken::mint();
            assert_eq!(
                store
                    .rotate_refresh_token(&h1, &h2, "web", &policy, first.expires_at)
                    .await
                    .expect("reads"),
                Rotation::Invalid,
                "the token expired"
            );
            // Rotated on day 9, the successor would live to day 19 but the family ends on day 15.
            let day9 = NOW + Duration::days(9);
            let Rotation::Rotated { successor, .. } = store
                .rotate_refresh_token(&h1, &h2, "web", &policy, day9)
                .await
                .expect("rotates")
            else {
                panic!("live on day 9");
            };
            assert_eq!(successor.expires_at, first.family_expires_at);
            let (_, h3) = RefreshToken::mint();
            assert_eq!(
                store
                    .rotate_refresh_token(&h2, &h3, "web", &policy, first.family_expires_at)
                    .await
                    .expect("reads"),
                Rotation::Invalid,
                "the family expired"
            );
            let after = first.family_expires_at + Duration::seconds(1);
            assert!(store.delete_expired(after, 100).await.expect("cleans") >= 3);
            assert!(
                store
                    .find_refresh_token(&h1)
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert!(
                store
                    .find_refresh_token(&h2)
                    .await
                    .expect("reads")
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn of_two_concurrent_rotations_on_two_nodes_exactly_one_wins() {
        for (a, b) in two_nodes("refresh_race").await {
            let (a, b) = (Arc::new(a), Arc::new(b));
            let policy = RefreshPolicy::default();
            let mut token = first_token(&a, "race@example.com", &policy).await;
            let (_, mut hash) = RefreshToken::mint();
            a.insert_refresh_token(&hash, &token)
                .await
                .expect("inserts");
            for round in 0..10 {
                let at = NOW + Duration::seconds(round);
                let mut tasks = Vec::new();
                for node in [a.clone(), b.clone()] {
                    let (_, next) = RefreshToken::mint();
                    tasks.push(tokio::spawn(async move {
                        let rotation = node
                            .rotate_refresh_token(&hash, &next, "web", &policy, at)
                            .await
                            .expect("rotates");
                        (rotation, next)
                    }));
                }
                let mut winners = Vec::new();
                for task in tasks {
                    match task.await.expect("joins") {
                        (Rotation::Rotated { successor, .. }, next) => {
                            winners.push((successor, next));
                        }
                        (Rotation::Reused { .. }, _) => {}
                        (Rotation::Invalid, _) => panic!("a live token is never invalid"),
                    }
                }
                assert_eq!(winners.len(), 1, "{}: round {round}", a.backend_name());
                (token, hash) = winners.remove(0);
            }
            assert_eq!(token.issued_at, NOW + Duration::seconds(9));
        }
    }

    #[tokio::test]
    async fn a_revocation_racing_a_rotation_leaves_no_live_successor() {
        for (a, b) in two_nodes("refresh_revoke_race").await {
            let (a, b) = (Arc::new(a), Arc::new(b));
            let policy = RefreshPolicy::default();
            let first = first_token(&a, "revoke-race@example.com", &policy).await;
            for round in 0..10 {
                let (_, hash) = RefreshToken::mint();
                let token = RefreshToken {
                    family_id: Uuid::now_v7(),
                    ..first.clone()
                };
                a.insert_refresh_token(&hash, &token)
                    .await
                    .expect("inserts");
                let (_, next) = RefreshToken::mint();
                let rotate = {
                    let a = a.clone();
                    tokio::spawn(async move {
                        a.rotate_refresh_token(&hash, &next, "web", &policy, NOW)
                            .await
                            .expect("rotates")
                    })
                };
                let revoke = {
                    let b = b.clone();
                    tokio::spawn(async move {
                        b.revoke_refresh_family(token.family_id, NOW)
                            .await
                            .expect("revokes")
                    })
                };
                rotate.await.expect("joins");
                assert!(revoke.await.expect("joins"), "round {round}");
                let successor = a.find_refresh_token(&next).await.expect("reads");
                assert!(
                    successor.is_none_or(|s| s.revoked_at.is_some()),
                    "{}: round {round}",
                    a.backend_name()
                );
            }
        }
    }

    #[tokio::test]
    async fn revoking_a_grant_revokes_its_families_and_only_those() {
        for (store, _) in two_nodes("refresh_grant").await {
            let policy = RefreshPolicy::default();
            let web = first_token(&store, "grant@example.com", &policy).await;
            let web_again = RefreshToken {
                family_id: Uuid::now_v7(),
                ..web.clone()
            };
            let other_client = RefreshToken {
                family_id: Uuid::now_v7(),
                client_id: "cli".into(),
                ..web.clone()
            };
            let mut hashes = Vec::new();
            for token in [&web, &web_again, &other_client] {
                let (_, hash) = RefreshToken::mint();
                store
                    .insert_refresh_token(&hash, token)
                    .await
                    .expect("inserts");
                hashes.push(hash);
            }
            let revoked = store
                .revoke_refresh_for_grant(TenantId::DEFAULT, web.identity_id, "web", NOW)
                .await
                .expect("revokes");
            assert_eq!(revoked, 2, "{}", store.backend_name());
            assert_eq!(
                store
                    .revoke_refresh_for_grant(TenantId::DEFAULT, web.identity_id, "web", NOW)
                    .await
                    .expect("revokes"),
                0
            );
            let found = |i: usize| {
                let store = &store;
                let hash = hashes[i];
                async move {
                    store
                        .find_refresh_token(&hash)
                        .await
                        .expect("reads")
                        .expect("kept")
                }
            };
            assert_eq!(found(0).await.revoked_at, Some(NOW));
            assert_eq!(found(1).await.revoked_at, Some(NOW));
            assert_eq!(found(2).await.revoked_at, None, "another client's grant");
        }
    }

    #[tokio::test]
    async fn deleting_a_client_deletes_its_refresh_tokens() {
        use gatehouse_domain::oauth::store::ClientStore;
        for (store, _) in two_nodes("refresh_client_delete").await {
            let policy = RefreshPolicy::default();
            store
                .insert_client(&super::client("web", "Web"))
                .await
                .expect("inserts client");
            let token = first_token(&store, "gone@example.com", &policy).await;
            let (_, hash) = RefreshToken::mint();
            store
                .insert_refresh_token(&hash, &token)
                .await
                .expect("inserts");
            store.delete_client("web").await.expect("deletes client");
            assert!(
                store
                    .find_refresh_token(&hash)
                    .await
                    .expect("reads")
                    .is_none(),
                "{}",
                store.backend_name()
            );
        }
    }

    #[tokio::test]
    async fn grant_revocations_cover_tokens_issued_up_to_the_latest_revocation() {
        for (store, _) in two_nodes("grant_revocations").await {
            let who = super::sessions::identity(&store, "revoked@example.com").await;
            let lifespan = Duration::hours(24);
            let revoked = |at| GrantRevocation::new(TenantId::DEFAULT, who, "web", lifespan, at);
            let asked = |since| store.grant_revoked_since(TenantId::DEFAULT, who, "web", since);
            assert!(!asked(NOW - Duration::hours(1)).await.expect("reads"));

            store
                .record_grant_revocation(&revoked(NOW))
                .await
                .expect("records");
            assert!(asked(NOW - Duration::hours(1)).await.expect("reads"));
            assert!(asked(NOW).await.expect("reads"), "{}", store.backend_name());
            assert!(!asked(NOW + Duration::seconds(1)).await.expect("reads"));
            assert!(
                !store
                    .grant_revoked_since(TenantId::DEFAULT, who, "cli", NOW - Duration::hours(1))
                    .await
                    .expect("reads"),
                "another client"
            );

            // A later revocation moves the time on; an earlier one recorded late does not move
            // it back.
            let later = NOW + Duration::minutes(10);
            store
                .record_grant_revocation(&revoked(later))
                .await
                .expect("records");
            store
                .record_grant_revocation(&revoked(NOW))
                .await
                .expect("records");
            assert!(asked(later).await.expect("reads"));

            // Kept until the tokens it covers have expired.
            assert_eq!(
                store
                    .delete_expired(later + lifespan - Duration::seconds(1), 100)
                    .await
                    .expect("cleans"),
                0
            );
            store
                .delete_expired(later + lifespan + Duration::seconds(1), 100)
                .await
                .expect("cleans");
            assert!(!asked(NOW).await.expect("reads"));
        }
    }
}

mod pending_authorizations {
    use super::{NOW, stores};
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::oauth::authorize::{AuthorizationRequest, Prompt, ResponseMode};
    use gatehouse_domain::oauth::pending::{PENDING_LIFESPAN, PendingAuthorization, PendingStore};
    use gatehouse_domain::oauth::scope::Scope;
    use gatehouse_domain::secret::TokenHash;
    use gatehouse_domain::store::CleanupStore;
    use std::sync::Arc;
    use time::Duration;
    use uuid::Uuid;

    fn pending() -> PendingAuthorization {
        PendingAuthorization {
            id: Uuid::now_v7(),
            tenant_id: TenantId::DEFAULT,
            request: AuthorizationRequest {
                client_id: "web".into(),
                redirect_uri: "https://app.example/cb".into(),
                redirect_uri_sent: true,
                scope: Scope::parse("openid email").expect("valid"),
                state: Some("s-1".into()),
                nonce: Some("n-1".into()),
                code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
                response_mode: ResponseMode::FormPost,
                prompt: [Prompt::Login, Prompt::Consent].into_iter().collect(),
                max_age: Some(300),
                login_hint: Some("ada@example.com".into()),
            },
            browser: TokenHash::of("browser-cookie"),
            created_at: NOW,
            expires_at: NOW + PENDING_LIFESPAN,
        }
    }

    #[tokio::test]
    async fn a_pending_request_round_trips_and_is_taken_once() {
        for store in stores("pending").await {
            let store = Arc::new(store);
            let p = pending();
            store.insert_pending(&p).await.expect("inserts");
            let found = store.find_pending(p.id).await.expect("reads");
            assert_eq!(found.as_ref(), Some(&p), "{}", store.backend_name());
            let takers = (0..4).map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_pending(p.id).await.expect("takes") })
            });
            let mut taken = 0;
            for taker in takers {
                if let Some(got) = taker.await.expect("joins") {
                    assert_eq!(got, p);
                    taken += 1;
                }
            }
            assert_eq!(taken, 1, "{}", store.backend_name());
            assert_eq!(store.find_pending(p.id).await.expect("reads"), None);
        }
    }

    #[tokio::test]
    async fn expired_pending_requests_are_cleaned_up() {
        for store in stores("pending_cleanup").await {
            let p = pending();
            store.insert_pending(&p).await.expect("inserts");
            store
                .delete_expired(NOW + PENDING_LIFESPAN + Duration::seconds(1), 100)
                .await
                .expect("cleans");
            assert_eq!(store.find_pending(p.id).await.expect("reads"), None);
        }
    }
}

mod bff {
    use super::NOW;
    use gatehouse_domain::bff::{BffLogin, BffSession, BffStore, BffTokens, SealedBffStore};
    use gatehouse_domain::cipher::Cipher;
    use gatehouse_domain::secret::TokenHash;
    use std::sync::Arc;
    use time::Duration;

    fn login(browser: &str) -> BffLogin {
        BffLogin {
            browser: TokenHash::of(browser),
            state: "state".into(),
            nonce: "nonce".into(),
            code_verifier: "verifier-0123456789".into(),
            return_url: "/orders".into(),
            created_at: NOW,
            expires_at: NOW + Duration::minutes(15),
        }
    }

    fn session(cookie: &str) -> BffSession {
        BffSession {
            id: TokenHash::of(cookie),
            subject: "user-1".into(),
            claims: serde_json::json!({"sub": "user-1", "email": "a@example.com"})
                .as_object()
                .cloned()
                .expect("object"),
            id_token: "id.token.value".into(),
            tokens: BffTokens {
                access_token: "access-token-value".into(),
                refresh_token: Some("refresh-token-value".into()),
                access_issued_at: NOW,
                access_expires_at: NOW + Duration::minutes(5),
            },
            version: 0,
            created_at: NOW,
            expires_at: NOW + Duration::hours(1),
        }
    }

    fn cipher(secret: &str) -> Arc<Cipher> {
        Arc::new(Cipher::new(&[secret]).expect("cipher"))
    }

    const SECRET: &str = "conformance-cipher-secret-0123456789abcdef";

    #[tokio::test]
    async fn a_sign_in_is_taken_once_even_by_two_nodes_at_once() {
        for (a, b) in super::refresh::two_nodes("bff_login").await {
            let a = SealedBffStore::new(Arc::new(a), cipher(SECRET));
            let b = SealedBffStore::new(Arc::new(b), cipher(SECRET));
            let started = login("browser-1");
            a.insert_bff_login(&started).await.expect("inserts");
            let (x, y) = tokio::join!(
                a.take_bff_login(&started.browser),
                b.take_bff_login(&started.browser)
            );
            let taken: Vec<BffLogin> = [x, y]
                .into_iter()
                .filter_map(|r| r.expect("reads"))
                .collect();
            assert_eq!(taken, vec![started.clone()], "one taker, verifier opened");
            assert!(
                a.take_bff_login(&started.browser)
                    .await
                    .expect("reads")
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn tokens_are_sealed_at_rest_and_bound_to_their_row() {
        for store in super::stores("bff_sealed").await {
            let raw: Arc<dyn BffStore> = Arc::new(store.clone());
            let sealed = SealedBffStore::new(raw.clone(), cipher(SECRET));
            let s = session("cookie-1");
            sealed.insert_bff_session(&s).await.expect("inserts");
            assert_eq!(
                sealed.find_bff_session(&s.id).await.expect("reads"),
                Some(s.clone())
            );
            let at_rest = raw
                .find_bff_session(&s.id)
                .await
                .expect("reads")
                .expect("stored");
            for clear in [
                "access-token-value",
                "refresh-token-value",
                "id.token.value",
            ] {
                let row = format!(
                    "{} {} {:?}",
                    at_rest.id_token, at_rest.tokens.access_token, at_rest.tokens.refresh_token
                );
                assert!(!row.contains(clear), "{clear} is stored in the clear");
            }
            // Another key cannot open it: the session reads as absent.
            let stranger = SealedBffStore::new(raw.clone(), cipher(&"x".repeat(40)));
            assert_eq!(stranger.find_bff_session(&s.id).await.expect("reads"), None);
            // Sealed values copied into another row do not open there.
            let copy = BffSession {
                id: TokenHash::of("cookie-2"),
                ..at_rest.clone()
            };
            raw.insert_bff_session(&copy).await.expect("inserts");
            assert_eq!(
                sealed.find_bff_session(&copy.id).await.expect("reads"),
                None
            );
            // A PKCE verifier is sealed too.
            let started = login("browser-2");
            sealed.insert_bff_login(&started).await.expect("inserts");
            let raw_login = raw
                .take_bff_login(&started.browser)
                .await
                .expect("reads")
                .expect("stored");
            assert_ne!(raw_login.code_verifier, started.code_verifier);
        }
    }

    #[tokio::test]
    async fn one_node_leases_a_refresh_and_one_token_update_wins() {
        for (a, b) in super::refresh::two_nodes("bff_lease").await {
            let a = SealedBffStore::new(Arc::new(a), cipher(SECRET));
            let b = SealedBffStore::new(Arc::new(b), cipher(SECRET));
            let s = session("cookie-3");
            a.insert_bff_session(&s).await.expect("inserts");
            let until = NOW + Duration::seconds(15);
            let (x, y) = tokio::join!(
                a.lease_bff_refresh(&s.id, 0, NOW, until),
                b.lease_bff_refresh(&s.id, 0, NOW, until)
            );
            assert!(x.expect("leases") ^ y.expect("leases"), "exactly one lease");
            assert!(
                !a.lease_bff_refresh(&s.id, 0, NOW + Duration::seconds(14), until)
                    .await
                    .expect("leases"),
                "still held"
            );
            assert!(
                a.lease_bff_refresh(&s.id, 0, until, until + Duration::seconds(15))
                    .await
                    .expect("leases"),
                "an expired lease can be taken over"
            );
            a.release_bff_refresh(&s.id, 0).await.expect("releases");
            assert!(
                b.lease_bff_refresh(&s.id, 0, NOW, until)
                    .await
                    .expect("leases"),
                "released"
            );
            let fresh = BffTokens {
                access_token: "access-2".into(),
                refresh_token: Some("refresh-2".into()),
                access_issued_at: NOW,
                access_expires_at: NOW + Duration::minutes(5),
            };
            let (x, y) = tokio::join!(
                a.update_bff_tokens(&s.id, 0, &fresh),
                b.update_bff_tokens(&s.id, 0, &fresh)
            );
            assert!(x.expect("updates") ^ y.expect("updates"), "one update");
            let now = b.find_bff_session(&s.id).await.expect("reads").expect("s");
            assert_eq!((now.version, now.tokens), (1, fresh));
            assert!(
                !a.lease_bff_refresh(&s.id, 0, NOW, until)
                    .await
                    .expect("leases"),
                "an old version cannot lease"
            );
            assert!(
                a.lease_bff_refresh(&s.id, 1, NOW, until)
                    .await
                    .expect("leases"),
                "storing tokens released the lease"
            );
        }
    }

    #[tokio::test]
    async fn sessions_slide_end_and_expire() {
        for store in super::stores("bff_expiry").await {
            let sealed = SealedBffStore::new(Arc::new(store.clone()), cipher(SECRET));
            let s = session("cookie-4");
            sealed.insert_bff_session(&s).await.expect("inserts");
            sealed
                .insert_bff_login(&login("browser-3"))
                .await
                .expect("inserts");
            let later = NOW + Duration::hours(2);
            sealed
                .update_bff_session_expiry(&s.id, later)
                .await
                .expect("slides");
            assert_eq!(
                sealed
                    .delete_expired_bff(NOW + Duration::minutes(90))
                    .await
                    .expect("cleans"),
                1,
                "the sign-in expired, the session slid"
            );
            let ended = sealed.delete_bff_session(&s.id).await.expect("deletes");
            assert_eq!(ended.map(|e| e.tokens), Some(s.tokens.clone()));
            assert_eq!(sealed.find_bff_session(&s.id).await.expect("reads"), None);
        }
    }
}

mod tenants {
    use super::{NOW, client, stores};
    use gatehouse_domain::audit::{
        AuditEvent, AuditEventType, AuditFilter, AuditResult, AuditStore,
    };
    use gatehouse_domain::identity::Identity;
    use gatehouse_domain::identity::schema::SchemaRegistry;
    use gatehouse_domain::identity::store::IdentityStore;
    use gatehouse_domain::ids::TenantId;
    use gatehouse_domain::oauth::store::ClientStore;
    use gatehouse_domain::session::{
        AuthenticationMethod, Session, SessionLifetimes, SessionStore,
    };
    use gatehouse_domain::store::StoreError;
    use gatehouse_domain::tenant::{
        ApiKey, MagicLinkSettings, Tenant, TenantSettings, TenantStore,
    };
    use gatehouse_store::{Store, TENANT_OWNED_TABLES};
    use serde_json::json;
    use std::collections::BTreeSet;
    use time::Duration;

    fn tenant(name: &str, minutes: i64) -> Tenant {
        let settings = TenantSettings::parse(
            Some("https://app.example/after-login".into()),
            &["https://app.example/".into()],
            MagicLinkSettings {
                enabled: true,
                lifespan_minutes: None,
            },
        )
        .expect("valid settings");
        Tenant::new(name.to_owned(), settings, NOW + Duration::minutes(minutes))
    }

    fn person(tenant: TenantId, email: &str) -> (Identity, Vec<String>) {
        let traits = json!({"email": email});
        let facts = SchemaRegistry::with_default()
            .validate("default", &traits)
            .expect("valid traits");
        (
            Identity::new(tenant, "default", traits, &facts, NOW),
            facts.identifiers,
        )
    }

    #[tokio::test]
    async fn tenants_round_trip_list_by_page_and_update() {
        for store in stores("tenants").await {
            let default = store
                .find_tenant(TenantId::DEFAULT)
                .await
                .expect("reads")
                .expect("the default tenant always exists");
            assert_eq!(default.name, "default");
            assert_eq!(default.settings, TenantSettings::default());

            let a = tenant("Alice's blog", 1);
            let b = tenant("Bob's shop", 2);
            store.insert_tenant(&a).await.expect("inserts");
            store.insert_tenant(&b).await.expect("inserts");
            assert!(matches!(
                store.insert_tenant(&a).await,
                Err(StoreError::Conflict { .. })
            ));
            let found = store
                .find_tenant(a.id)
                .await
                .expect("reads")
                .expect("exists");
            assert_eq!(found, a, "{}", store.backend_name());
            // A new tenant starts with the built-in scopes, its own.
            use gatehouse_domain::oauth::store::ScopeStore;
            let scopes = store.list_scopes(a.id).await.expect("lists");
            let mut builtin = gatehouse_domain::oauth::catalog::builtin_scopes(a.id, a.created_at);
            builtin.sort_by(|x, y| x.name.cmp(&y.name));
            assert_eq!(scopes, builtin, "{}", store.backend_name());

            // The built-in tenants first: the default one, then the console's.
            let first = store.list_tenants(None, 3).await.expect("lists");
            assert_eq!(
                first.iter().map(|t| t.id).collect::<Vec<_>>(),
                vec![TenantId::DEFAULT, TenantId::CONSOLE, a.id]
            );
            let rest = store.list_tenants(Some(a.id.0), 2).await.expect("lists");
            assert_eq!(rest, vec![b.clone()]);

            let mut renamed = a.clone();
            renamed.name = "Alice's Awesome Blog".into();
            renamed.settings.magic_link.enabled = false;
            renamed.updated_at = NOW + Duration::minutes(5);
            store.update_tenant(&renamed).await.expect("updates");
            assert_eq!(store.find_tenant(a.id).await.expect("reads"), Some(renamed));
            let ghost = tenant("ghost", 3);
            assert!(matches!(
                store.update_tenant(&ghost).await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn concurrent_console_apps_of_one_developer_stop_at_the_limit() {
        for store in stores("tenant_owned_race").await {
            let (dev, ids) = person(TenantId::CONSOLE, "dev@example.com");
            store
                .insert_identity(&dev, &ids, None)
                .await
                .expect("inserts");
            let mut tasks = Vec::new();
            for i in 0..8 {
                let store = store.clone();
                let app = tenant(&format!("app {i}"), 10 + i);
                tasks.push(tokio::spawn(async move {
                    store.insert_owned_tenant(&app, dev.id, NOW, 3).await
                }));
            }
            let mut stored = 0;
            for t in tasks {
                if t.await.expect("task").expect("answers") {
                    stored += 1;
                }
            }
            assert_eq!(stored, 3, "{}", store.backend_name());
            assert_eq!(
                store.list_owned_tenants(dev.id).await.expect("lists").len(),
                3
            );
        }
    }

    #[tokio::test]
    async fn console_apps_belong_to_their_developer_and_go_with_their_tenant() {
        for store in stores("tenant_owned").await {
            let (alice, alice_ids) = person(TenantId::CONSOLE, "alice@example.com");
            let (bob, bob_ids) = person(TenantId::CONSOLE, "bob@example.com");
            for (who, ids) in [(&alice, &alice_ids), (&bob, &bob_ids)] {
                store
                    .insert_identity(who, ids, None)
                    .await
                    .expect("inserts");
            }
            let blog = tenant("blog", 1);
            let notes = tenant("notes", 2);
            let shop = tenant("shop", 3);
            store
                .insert_owned_tenant(&blog, alice.id, NOW, 2)
                .await
                .expect("inserts");
            store
                .insert_owned_tenant(&notes, alice.id, NOW, 2)
                .await
                .expect("inserts");
            // A third app is past alice's limit of two: refused, nothing written.
            let third = tenant("third", 5);
            assert!(
                !store
                    .insert_owned_tenant(&third, alice.id, NOW, 2)
                    .await
                    .expect("answers")
            );
            assert_eq!(store.find_tenant(third.id).await.expect("reads"), None);
            store
                .insert_owned_tenant(&shop, bob.id, NOW, 2)
                .await
                .expect("inserts");
            // The app comes with its scope catalog, as any tenant does.
            use gatehouse_domain::oauth::store::ScopeStore;
            assert!(!store.list_scopes(blog.id).await.expect("lists").is_empty());

            let mine = store.list_owned_tenants(alice.id).await.expect("lists");
            assert_eq!(
                mine,
                vec![blog.clone(), notes.clone()],
                "{}",
                store.backend_name()
            );
            assert_eq!(
                store
                    .find_owned_tenant(alice.id, blog.id)
                    .await
                    .expect("reads"),
                Some(blog.clone())
            );
            for (owner, id) in [
                (bob.id, blog.id),
                (alice.id, shop.id),
                (alice.id, TenantId::CONSOLE),
                (alice.id, TenantId::DEFAULT),
            ] {
                assert_eq!(
                    store.find_owned_tenant(owner, id).await.expect("reads"),
                    None
                );
            }
            // An owner that is no identity: nothing is written.
            let ghost = tenant("ghost", 4);
            assert!(matches!(
                store
                    .insert_owned_tenant(&ghost, uuid::Uuid::now_v7(), NOW, 2)
                    .await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(store.find_tenant(ghost.id).await.expect("reads"), None);

            // Deleting the app takes its ownership along; the console tenant cannot go.
            store.delete_tenant(blog.id).await.expect("deletes");
            assert_eq!(
                store.list_owned_tenants(alice.id).await.expect("lists"),
                vec![notes.clone()]
            );
            // One app fewer: room for another.
            assert!(
                store
                    .insert_owned_tenant(&third, alice.id, NOW, 2)
                    .await
                    .expect("inserts")
            );
            assert!(matches!(
                store.delete_tenant(TenantId::CONSOLE).await,
                Err(StoreError::Conflict { .. })
            ));
            assert!(
                store
                    .find_tenant(TenantId::CONSOLE)
                    .await
                    .expect("reads")
                    .is_some()
            );
        }
    }

    #[tokio::test]
    async fn deleting_a_tenant_removes_what_it_owns_and_nothing_else() {
        for store in stores("tenant_delete").await {
            let b = tenant("doomed", 1);
            store.insert_tenant(&b).await.expect("inserts");
            // The same address in both tenants: two independent people.
            let (in_default, ids_default) = person(TenantId::DEFAULT, "ada@example.com");
            let (in_b, ids_b) = person(b.id, "ada@example.com");
            store
                .insert_identity(&in_default, &ids_default, None)
                .await
                .expect("inserts");
            store
                .insert_identity(&in_b, &ids_b, None)
                .await
                .expect("same address, other tenant");
            let start = |tenant, identity| {
                Session::start(
                    tenant,
                    identity,
                    vec![AuthenticationMethod {
                        method: "password".into(),
                        completed_at: NOW,
                    }],
                    None,
                    None,
                    &SessionLifetimes::default(),
                    NOW,
                )
                .0
            };
            let b_session = start(b.id, in_b.id);
            let default_session = start(TenantId::DEFAULT, in_default.id);
            store.insert_session(&b_session).await.expect("inserts");
            store
                .insert_session(&default_session)
                .await
                .expect("inserts");
            let mut b_client = client("b-client", "B");
            b_client.tenant_id = b.id;
            store.insert_client(&b_client).await.expect("inserts");
            store
                .insert_client(&client("default-client", "D"))
                .await
                .expect("inserts");
            let (key, _) = ApiKey::generate(b.id, "backend".into(), NOW);
            store.insert_api_key(&key).await.expect("inserts");
            store
                .insert_audit_event(&AuditEvent::new(
                    b.id,
                    AuditEventType::ApiKeyCreated,
                    AuditResult::Success,
                    NOW,
                ))
                .await
                .expect("inserts");

            assert!(matches!(
                store.delete_tenant(TenantId::DEFAULT).await,
                Err(StoreError::Conflict { .. })
            ));
            store.delete_tenant(b.id).await.expect("deletes");
            assert!(matches!(
                store.delete_tenant(b.id).await,
                Err(StoreError::NotFound)
            ));

            assert_eq!(store.find_tenant(b.id).await.expect("reads"), None);
            assert!(
                store
                    .find_session(b.id, b_session.id)
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert!(
                store
                    .find_session(TenantId::DEFAULT, default_session.id)
                    .await
                    .expect("reads")
                    .is_some()
            );
            assert_eq!(
                store.find_identity(b.id, in_b.id).await.expect("reads"),
                None
            );
            assert!(
                store
                    .find_client("b-client")
                    .await
                    .expect("reads")
                    .is_none()
            );
            assert_eq!(
                store.find_api_key_by_hash(&key.hash).await.expect("reads"),
                None
            );
            let events = store
                .list_audit_events(
                    b.id,
                    &AuditFilter {
                        limit: 10,
                        ..AuditFilter::default()
                    },
                )
                .await
                .expect("lists");
            assert!(events.is_empty(), "{}", store.backend_name());
            // The default tenant keeps its own.
            assert!(
                store
                    .find_identity(TenantId::DEFAULT, in_default.id)
                    .await
                    .expect("reads")
                    .is_some()
            );
            assert!(
                store
                    .find_client("default-client")
                    .await
                    .expect("reads")
                    .is_some()
            );
        }
    }

    /// Every table with a `tenant_id` column, read from the database's own catalog.
    async fn tables_with_tenant_id(store: &Store) -> BTreeSet<String> {
        let names: Vec<String> = match store {
            Store::Sqlite(pool) => sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND p.name = 'tenant_id'",
            )
            .fetch_all(pool)
            .await
            .expect("reads the catalog"),
            Store::Postgres(pool) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.columns \
                 WHERE column_name = 'tenant_id' AND table_schema = current_schema()",
            )
            .fetch_all(pool)
            .await
            .expect("reads the catalog"),
        };
        names.into_iter().collect()
    }

    #[tokio::test]
    async fn tenant_deletion_covers_every_table_with_a_tenant_id() {
        for store in stores("tenant_tables").await {
            let listed: BTreeSet<String> = TENANT_OWNED_TABLES
                .iter()
                .map(|t| (*t).to_owned())
                .collect();
            assert_eq!(
                tables_with_tenant_id(&store).await,
                listed,
                "{}: a table with a tenant_id column must be in TENANT_OWNED_TABLES",
                store.backend_name()
            );
        }
    }

    #[tokio::test]
    async fn api_keys_are_per_tenant_found_by_hash_and_touched_at_most_once_a_minute() {
        for store in stores("api_keys").await {
            let a = tenant("a", 1);
            let b = tenant("b", 2);
            store.insert_tenant(&a).await.expect("inserts");
            store.insert_tenant(&b).await.expect("inserts");
            let (key_a, secret_a) = ApiKey::generate(a.id, "prod".into(), NOW);
            let (key_b, _) = ApiKey::generate(b.id, "prod".into(), NOW + Duration::seconds(1));
            store.insert_api_key(&key_a).await.expect("inserts");
            store.insert_api_key(&key_b).await.expect("inserts");
            let (orphan, _) = ApiKey::generate(tenant("ghost", 3).id, "x".into(), NOW);
            assert!(matches!(
                store.insert_api_key(&orphan).await,
                Err(StoreError::NotFound)
            ));

            assert_eq!(
                store.list_api_keys(a.id).await.expect("lists"),
                vec![key_a.clone()]
            );
            let found = store
                .find_api_key_by_hash(&secret_a.hash())
                .await
                .expect("reads")
                .expect("found");
            assert_eq!(found, key_a, "{}", store.backend_name());

            store.touch_api_key(key_a.id, NOW).await.expect("touches");
            store
                .touch_api_key(key_a.id, NOW + Duration::seconds(30))
                .await
                .expect("touches");
            let seen = |s: &Store| {
                let s = s.clone();
                let id = a.id;
                async move { s.list_api_keys(id).await.expect("lists")[0].last_used_at }
            };
            assert_eq!(seen(&store).await, Some(NOW));
            store
                .touch_api_key(key_a.id, NOW + Duration::seconds(61))
                .await
                .expect("touches");
            assert_eq!(seen(&store).await, Some(NOW + Duration::seconds(61)));

            assert!(matches!(
                store.delete_api_key(a.id, key_b.id).await,
                Err(StoreError::NotFound)
            ));
            store.delete_api_key(b.id, key_b.id).await.expect("deletes");
            assert_eq!(
                store
                    .find_api_key_by_hash(&key_b.hash)
                    .await
                    .expect("reads"),
                None
            );
            assert_eq!(store.list_api_keys(a.id).await.expect("lists").len(), 1);
        }
    }

    #[tokio::test]
    async fn a_flow_is_found_by_its_id_alone_and_keeps_its_tenant() {
        use gatehouse_domain::flow::{Flavor, Flow, FlowKind, FlowStore};
        for store in stores("flows_by_id").await {
            let blog = tenant("Blog", 1);
            store.insert_tenant(&blog).await.expect("inserts");
            let flow = Flow::new(
                blog.id,
                FlowKind::Login,
                Flavor::Browser,
                None,
                Duration::hours(1),
                NOW,
            );
            store.insert_flow(&flow).await.expect("inserts");
            let found = store
                .find_flow_by_id(flow.id)
                .await
                .expect("reads")
                .expect("found");
            assert_eq!(found.tenant_id, blog.id, "{}", store.backend_name());
            assert!(
                store
                    .find_flow(TenantId::DEFAULT, flow.id)
                    .await
                    .expect("reads")
                    .is_none(),
                "another tenant does not see it"
            );
            assert!(
                store
                    .find_flow_by_id(uuid::Uuid::new_v4())
                    .await
                    .expect("reads")
                    .is_none()
            );
        }
    }
}
