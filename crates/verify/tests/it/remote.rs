//! Keys fetched over HTTP: discovery, the JWKS cache, refresh on an unknown `kid`, rotation.

use crate::support::{Issuer, ManualClock, TestKey};
use gatehouse_verify::{JwksError, Validator, ValidatorConfig, VerifyError};
use serde_json::json;
use std::time::Duration;

fn config(issuer: &Issuer, clock: &ManualClock) -> ValidatorConfig {
    ValidatorConfig::new(&issuer.url)
        .audience("https://api.example")
        .clock(clock.reader())
}

#[tokio::test]
async fn discovers_the_jwks_and_validates_with_it() {
    let key = TestKey::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let clock = ManualClock::default();
    let validator = Validator::discover(config(&issuer, &clock), reqwest::Client::new())
        .await
        .expect("discovers");
    assert_eq!(issuer.jwks_fetches(), 1, "loaded at discovery");

    let claims = validator
        .verify(&key.token(&issuer.url, json!({})))
        .await
        .expect("valid");
    assert_eq!(claims.client_id(), Some("bff-client"));
    // The synchronous path uses the same keys.
    validator
        .validate(&key.token(&issuer.url, json!({})))
        .expect("valid");
    assert_eq!(issuer.jwks_fetches(), 1, "keys parsed once, not per token");
}

#[tokio::test]
async fn refuses_discovery_that_names_another_issuer() {
    let issuer = Issuer::start(&[&TestKey::new("k1")]).await;
    issuer.claim_issuer("https://evil.example");
    let error = Validator::discover(
        config(&issuer, &ManualClock::default()),
        reqwest::Client::new(),
    )
    .await
    .expect_err("issuer mismatch");
    assert_eq!(
        error,
        JwksError::IssuerMismatch {
            expected: issuer.url.clone(),
            found: "https://evil.example".to_owned(),
        }
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn discovery_fails_when_the_issuer_is_down() {
    let issuer = Issuer::start(&[&TestKey::new("k1")]).await;
    issuer.set_down(true);
    let error = Validator::discover(
        config(&issuer, &ManualClock::default()),
        reqwest::Client::new(),
    )
    .await
    .expect_err("down");
    assert!(
        matches!(error, JwksError::UnexpectedStatus { status: 503, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn picks_up_a_rotated_key_when_a_token_first_names_it() {
    let old = TestKey::new("old");
    let issuer = Issuer::start(&[&old]).await;
    let clock = ManualClock::default();
    let validator = Validator::with_jwks_uri(
        config(&issuer, &clock),
        issuer.jwks_uri(),
        reqwest::Client::new(),
    );
    assert_eq!(issuer.jwks_fetches(), 0, "nothing fetched before first use");
    validator
        .verify(&old.token(&issuer.url, json!({})))
        .await
        .expect("old key");
    assert_eq!(issuer.jwks_fetches(), 1);

    // The issuer rotates: the new key is published (next to the old one) and signs. Long after
    // the last fetch, the unknown kid triggers one refresh.
    let new = TestKey::new("new");
    issuer.publish(&[&old, &new]);
    clock.advance(31);
    validator
        .verify(&new.token(&issuer.url, json!({})))
        .await
        .expect("new key after refresh");
    assert_eq!(issuer.jwks_fetches(), 2);
    validator
        .verify(&old.token(&issuer.url, json!({})))
        .await
        .expect("old key still published");
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn refreshes_for_an_unknown_kid_at_most_once_per_interval() {
    let known = TestKey::new("known");
    let issuer = Issuer::start(&[&known]).await;
    let clock = ManualClock::default();
    let validator = Validator::discover(
        config(&issuer, &clock).jwks_refresh_interval(Duration::from_secs(10)),
        reqwest::Client::new(),
    )
    .await
    .expect("discovers");
    assert_eq!(issuer.jwks_fetches(), 1);

    // A kid the issuer never published: refused, and no fetch within the interval.
    let stranger = TestKey::new("stranger");
    for _ in 0..5 {
        assert_eq!(
            validator
                .verify(&stranger.token(&issuer.url, json!({})))
                .await,
            Err(VerifyError::UnknownKey)
        );
    }
    assert_eq!(issuer.jwks_fetches(), 1, "rate-limited");

    // Even once published, it is only fetched when the interval has passed.
    issuer.publish(&[&known, &stranger]);
    clock.advance(9);
    assert_eq!(
        validator
            .verify(&stranger.token(&issuer.url, json!({})))
            .await,
        Err(VerifyError::UnknownKey)
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    clock.advance(1);
    validator
        .verify(&stranger.token(&issuer.url, json!({})))
        .await
        .expect("fetched after the interval");
    assert_eq!(issuer.jwks_fetches(), 2);

    // Known keys never cause a fetch.
    for _ in 0..5 {
        validator
            .verify(&known.token(&issuer.url, json!({})))
            .await
            .expect("valid");
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_a_new_kid_share_one_fetch() {
    let old = TestKey::new("old");
    let issuer = Issuer::start(&[&old]).await;
    let clock = ManualClock::default();
    let validator = Validator::discover(config(&issuer, &clock), reqwest::Client::new())
        .await
        .expect("discovers");
    let new = TestKey::new("new");
    issuer.publish(&[&old, &new]);
    clock.advance(60);

    // Hold the refresh in flight while 20 requests with the new kid arrive.
    let gate = issuer.hold_jwks();
    let token = new.token(&issuer.url, json!({}));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (validator, token) = (validator.clone(), token.clone());
            tokio::spawn(async move { validator.verify(&token).await })
        })
        .collect();
    while issuer.jwks_fetches() < 2 {
        tokio::task::yield_now().await;
    }
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for task in tasks {
        task.await.expect("joins").expect("valid");
    }
    assert_eq!(issuer.jwks_fetches(), 2, "one refresh for all");
}

#[tokio::test]
async fn keeps_the_jwks_for_its_max_age_then_reloads_it() {
    let retired = TestKey::new("retired");
    let issuer = Issuer::start(&[&retired]).await;
    issuer.cache_control("public, max-age=120");
    let clock = ManualClock::default();
    let validator = Validator::discover(config(&issuer, &clock), reqwest::Client::new())
        .await
        .expect("discovers");
    let token = retired.token(&issuer.url, json!({}));

    // The issuer withdraws the key; until max-age has passed, the cached JWKS still holds it.
    issuer.publish(&[&TestKey::new("current")]);
    clock.advance(119);
    validator.verify(&token).await.expect("cached");
    assert_eq!(issuer.jwks_fetches(), 1);

    clock.advance(1);
    assert_eq!(validator.verify(&token).await, Err(VerifyError::UnknownKey));
    assert_eq!(issuer.jwks_fetches(), 2, "reloaded once expired");
}

#[tokio::test]
async fn bounds_max_age() {
    let key = TestKey::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    issuer.cache_control("no-store");
    let clock = ManualClock::default();
    let config = config(&issuer, &clock)
        .jwks_ttl_bounds(Duration::from_secs(45), Duration::from_secs(600))
        .jwks_refresh_interval(Duration::from_secs(1));
    let validator = Validator::discover(config, reqwest::Client::new())
        .await
        .expect("discovers");
    let token = key.token(&issuer.url, json!({}));
    clock.advance(44);
    validator.verify(&token).await.expect("valid");
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "no-store still kept for the minimum"
    );
    clock.advance(1);
    validator.verify(&token).await.expect("valid");
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn keeps_the_current_keys_while_the_issuer_is_down() {
    let key = TestKey::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    let clock = ManualClock::default();
    let validator = Validator::discover(config(&issuer, &clock), reqwest::Client::new())
        .await
        .expect("discovers");
    let token = key.token(&issuer.url, json!({}));

    issuer.set_down(true);
    clock.advance(301); // past the default 5 min TTL
    validator.verify(&token).await.expect("stale keys serve");
    assert_eq!(issuer.jwks_fetches(), 2, "tried once");
    validator.verify(&token).await.expect("stale keys serve");
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "retries wait for the refresh interval"
    );

    issuer.set_down(false);
    clock.advance(30);
    validator.verify(&token).await.expect("valid");
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn reports_unavailable_keys_when_none_could_ever_be_loaded() {
    let key = TestKey::new("k1");
    let issuer = Issuer::start(&[&key]).await;
    issuer.set_down(true);
    let clock = ManualClock::default();
    let validator = Validator::with_jwks_uri(
        config(&issuer, &clock),
        issuer.jwks_uri(),
        reqwest::Client::new(),
    );
    let token = key.token(&issuer.url, json!({}));
    for _ in 0..3 {
        assert!(matches!(
            validator.verify(&token).await,
            Err(VerifyError::KeysUnavailable(JwksError::UnexpectedStatus {
                status: 503,
                ..
            }))
        ));
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "retries wait for the refresh interval"
    );

    issuer.set_down(false);
    clock.advance(30);
    validator
        .verify(&token)
        .await
        .expect("valid once reachable");
}

#[tokio::test]
async fn refused_headers_never_cause_a_fetch() {
    let issuer = Issuer::start(&[]).await;
    let validator = Validator::with_jwks_uri(
        config(&issuer, &ManualClock::default()),
        issuer.jwks_uri(),
        reqwest::Client::new(),
    );
    // HS256 with an unknown kid: refused by the allow-list before any key lookup.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("whatever".into());
    let forged = jsonwebtoken::encode(
        &header,
        &json!({"iss": issuer.url, "exp": crate::support::NOW + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .expect("signs");
    assert!(matches!(
        validator.verify(&forged).await,
        Err(VerifyError::AlgorithmNotAllowed(_))
    ));
    assert_eq!(
        validator.verify("garbage").await,
        Err(VerifyError::Malformed)
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}
