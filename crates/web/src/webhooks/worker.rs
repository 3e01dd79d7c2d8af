//! The delivery worker every node runs: it claims due asynchronous deliveries (a claim leases
//! them, so two nodes never send one), sends each, and records `delivered`, or `failed` with the
//! next attempt after an exponential back-off, or `abandoned` after the hook's last attempt (at
//! once for a refused target or a hook no longer configured). Logs name a delivery by id and
//! hook, never by body.

use super::async_outcome;
use crate::state::AppState;
use gatehouse_domain::webhook::{AttemptOutcome, WebhookDelivery};
use tokio::sync::watch;

/// How long a claimed delivery is reserved for the worker that claimed it; longer than any
/// hook's timeout.
const LEASE: time::Duration = time::Duration::minutes(5);
/// Deliveries claimed at once.
const BATCH: u32 = 20;

/// Sends the deliveries due now; returns how many were claimed.
pub async fn deliver_due(state: &AppState) -> usize {
    let now = state.now();
    let claimed = match state.store.claim_due_deliveries(now, LEASE, BATCH).await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::warn!(error = %err, "cannot claim web hook deliveries");
            return 0;
        }
    };
    let count = claimed.len();
    // Side by side, so one slow receiver does not hold up the others.
    let mut attempts = tokio::task::JoinSet::new();
    for delivery in claimed {
        let state = state.clone();
        attempts.spawn(async move { attempt(&state, &delivery).await });
    }
    while attempts.join_next().await.is_some() {}
    count
}

async fn attempt(state: &AppState, delivery: &WebhookDelivery) {
    let webhooks = &state.webhooks;
    let (outcome, policy) = match webhooks.find(&delivery.webhook_id) {
        Some(hook) => {
            let answer = webhooks
                .sender
                .send(hook, delivery, state.now(), false)
                .await;
            (async_outcome(answer), webhooks.retry_policy(hook))
        }
        None => (
            AttemptOutcome::Refused {
                error: format!(
                    "web hook {:?} is no longer configured, so there is no secret to sign with",
                    delivery.webhook_id
                ),
            },
            gatehouse_domain::webhook::RetryPolicy {
                max_attempts: 1,
                first_retry: webhooks.settings.first_retry,
                max_delay: webhooks.settings.max_retry_delay,
            },
        ),
    };
    let now = state.now();
    let record = policy.record(delivery.attempts, outcome, now);
    state
        .metrics
        .webhook_delivery(&delivery.webhook_id, record.status.as_str());
    match state
        .store
        .record_delivery_attempt(delivery.tenant_id, delivery.id, &record, now)
        .await
    {
        Ok(()) if record.error.is_none() => tracing::info!(
            webhook.id = delivery.webhook_id,
            webhook.delivery_id = %delivery.id,
            webhook.status = record.status.as_str(),
            "web hook delivered"
        ),
        Ok(()) => tracing::warn!(
            webhook.id = delivery.webhook_id,
            webhook.delivery_id = %delivery.id,
            webhook.status = record.status.as_str(),
            webhook.attempts = delivery.attempts,
            reason = record.error.as_deref().unwrap_or_default(),
            "web hook delivery failed"
        ),
        Err(err) => tracing::warn!(
            webhook.delivery_id = %delivery.id,
            error = %err,
            "cannot record a web hook delivery attempt"
        ),
    }
}

/// The delivery loop: runs until shutdown; at once again while there is a backlog or when a
/// delivery was just queued on this node, otherwise every `poll_interval`.
pub async fn deliver(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let poll = state.webhooks.settings.poll_interval;
    loop {
        let claimed = deliver_due(&state).await;
        if *shutdown.borrow() {
            return;
        }
        if claimed == BATCH as usize {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = state.webhooks.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::send::Answer;

    #[test]
    fn answers_become_outcomes() {
        assert_eq!(
            async_outcome(Answer::Status {
                code: 204,
                body: Vec::new()
            }),
            AttemptOutcome::Delivered { status_code: 204 }
        );
        assert!(matches!(
            async_outcome(Answer::Status {
                code: 410,
                body: Vec::new()
            }),
            AttemptOutcome::Failed {
                status_code: Some(410),
                ..
            }
        ));
        assert!(matches!(
            async_outcome(Answer::Refused("no".into())),
            AttemptOutcome::Refused { .. }
        ));
    }
}
