//! One rule applied to one request: authenticate (authenticators in order), authorize, then
//! compute the headers the mutators set. The proxy applies them to the upstream request; the
//! decision API returns them.

use super::Gateway;
use super::authn::AuthnError;
use super::compiled::CompiledRule;
use super::error::GatewayError;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use gatehouse_domain::gateway::{AuthenticationSession, Mutator, authorize};
use std::sync::Arc;

/// Headers to set (`Some`) or to remove (`None`: the template rendered empty) upstream.
pub struct Mutations {
    pub headers: Vec<(HeaderName, Option<HeaderValue>)>,
}

async fn authenticate(
    gateway: &Gateway,
    rule: &CompiledRule,
    headers: &HeaderMap,
) -> Result<Arc<AuthenticationSession>, GatewayError> {
    let now = gateway.now();
    for authn in &rule.authenticators {
        match authn.authenticate(headers, &gateway.0.http, now).await {
            Ok(session) => return Ok(session),
            Err(AuthnError::NotResponsible) => {}
            Err(AuthnError::Unauthorized(reason)) => {
                tracing::debug!(rule.id = %rule.rule.id, %reason, "request not authenticated");
                return Err(GatewayError::Unauthorized(reason));
            }
            Err(AuthnError::Forbidden(reason)) => return Err(GatewayError::Forbidden(reason)),
            Err(AuthnError::Unavailable(reason)) => {
                tracing::warn!(rule.id = %rule.rule.id, %reason, "identity provider unavailable");
                return Err(GatewayError::AuthUnavailable);
            }
        }
    }
    Err(GatewayError::Unauthorized(
        "the request carries no accepted credential".into(),
    ))
}

/// Runs `rule` for a request with `headers` to `path`.
pub async fn decide(
    gateway: &Gateway,
    rule: &CompiledRule,
    headers: &HeaderMap,
    path: &str,
) -> Result<Mutations, GatewayError> {
    let session = authenticate(gateway, rule, headers).await?;
    authorize(&rule.rule.authorizer, &session, path)
        .map_err(|denied| GatewayError::Forbidden(denied.to_string()))?;
    let mut out = Vec::with_capacity(rule.headers.len() + 1);
    for (name, template) in &rule.headers {
        let rendered = template.render(&session);
        let value = if rendered.is_empty() {
            None
        } else if let Ok(v) = HeaderValue::from_str(&rendered) {
            Some(v)
        } else {
            tracing::debug!(rule.id = %rule.rule.id, header = %name, "rendered header value is not valid; not sent");
            None
        };
        out.push((name.clone(), value));
    }
    for mutator in &rule.rule.mutators {
        if let Mutator::IdToken(config) = mutator {
            let token = gateway
                .0
                .signer
                .sign(config, &session, gateway.now())
                .map_err(|e| {
                    tracing::error!(error = %e, rule.id = %rule.rule.id, "id_token signing failed");
                    GatewayError::Internal
                })?;
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| GatewayError::Internal)?;
            out.push((header::AUTHORIZATION, Some(value)));
        }
    }
    Ok(Mutations { headers: out })
}
