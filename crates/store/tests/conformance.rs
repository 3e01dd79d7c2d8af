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

    async fn identity(store: &Store, email: &str) -> Uuid {
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
