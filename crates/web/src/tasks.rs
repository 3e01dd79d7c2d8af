//! Background work every node runs: key, IP-ban and scope-catalog reloads and the cleanup of
//! expired rows. All are safe with any number of nodes on one database.

use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// How often a node re-reads the signing keys (a rotation elsewhere reaches it within this).
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(5);
/// Rows deleted per statement.
const CLEANUP_BATCH: u32 = 500;

/// Reloads the signing keys periodically, and when a published key starts signing or stops
/// being published (rescheduled at once after a rotation on this node).
pub async fn reload_keys(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let mut wait = KEY_RELOAD_EVERY;
        if let Ok(set) = state.keys.current()
            && let Some(next) = set.next_change
        {
            let until = (next - state.now()).whole_milliseconds().max(0);
            wait = wait.min(Duration::from_millis(
                u64::try_from(until).unwrap_or(0) + 10,
            ));
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = state.keys.rotated.notified() => continue,
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(err) = state
            .keys
            .reload(state.store.as_ref(), &state.cipher, state.now())
            .await
        {
            tracing::warn!(error = %err, "cannot reload signing keys; keeping the current ones");
        }
    }
}

/// Deletes expired tokens and retired keys in small batches.
pub async fn cleanup(state: AppState, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        loop {
            match state.store.delete_expired(state.now(), CLEANUP_BATCH).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "deleted expired rows"),
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "cleanup of expired rows failed");
                    break;
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

/// Reloads the IP bans every few seconds, and at once when this node changed them.
pub async fn reload_ip_bans(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = state.ip_bans.changed.notified() => {}
            () = tokio::time::sleep(crate::ip_ban::RELOAD_EVERY) => {}
        }
        if let Err(err) = state
            .ip_bans
            .reload(state.store.as_ref(), state.now())
            .await
        {
            tracing::warn!(error = %err, "cannot reload IP bans; keeping the current list");
        }
    }
}

/// Reloads the scope catalog every few seconds, and at once when this node changed it.
pub async fn reload_scopes(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = state.scopes.changed.notified() => {}
            () = tokio::time::sleep(crate::oauth::catalog::RELOAD_EVERY) => {}
        }
        crate::oauth::catalog::reload(&state).await;
    }
}
