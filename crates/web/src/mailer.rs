//! Delivery of the courier outbox over SMTP. Every node runs [`deliver`]: it claims due messages
//! (a claim leases them, so two nodes never send one message), sends each through one pooled
//! SMTP connection, and marks it sent, or failed with the next attempt after an exponential
//! back-off, or `abandoned` after the retry policy's last attempt.
//!
//! `GATEHOUSE_SMTP_URL` follows lettre's URL form: `smtp://user:pass@host:587?tls=required`
//! (STARTTLS required), `smtp://host:25?tls=opportunistic`, `smtps://user:pass@host:465`
//! (implicit TLS), or plain `smtp://host:port` for a relay on a trusted network. Logs name a
//! message by id and template type, never by recipient, subject or body.

use crate::state::AppState;
use gatehouse_domain::courier::{CourierMessage, MessageStatus, RetryPolicy};
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use tokio::sync::watch;

/// How often an idle worker looks for due messages.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long a claimed message is reserved for the worker that claimed it.
const LEASE: time::Duration = time::Duration::minutes(2);
/// Messages claimed at once.
const BATCH: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("GATEHOUSE_SMTP_URL is not a valid SMTP URL (smtp://user:pass@host:port or smtps://…)")]
    InvalidUrl,
    #[error("the sender address {0:?} is not a valid mailbox")]
    InvalidSender(String),
}

/// An SMTP transport and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials.
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Result<Self, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailerError::InvalidUrl)?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = from
            .parse()
            .map_err(|_| MailerError::InvalidSender(from.to_owned()))?;
        Ok(Self { transport, from })
    }

    /// Sends one message: text only, or `multipart/alternative` (text, then HTML) when it has an
    /// HTML body. The error text names what failed, never the message's content.
    async fn send(&self, message: &CourierMessage) -> Result<(), String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| "the recipient is not a valid address".to_owned())?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject);
        let email = match &message.html_body {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                message.body.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.body.clone()),
        }
        .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| smtp_error(&e))
    }
}

/// A delivery failure as stored with the message: the SMTP status or the kind of failure.
fn smtp_error(err: &lettre::transport::smtp::Error) -> String {
    match err.status() {
        Some(code) => format!("SMTP server answered {code}"),
        None if err.is_timeout() => "SMTP server timed out".to_owned(),
        None if err.is_tls() => "TLS with the SMTP server failed".to_owned(),
        None => "cannot reach the SMTP server".to_owned(),
    }
}

/// Delivers the messages due now; returns how many were claimed.
pub async fn deliver_due(state: &AppState, mailer: &Mailer, policy: &RetryPolicy) -> usize {
    let now = state.now();
    let claimed = match state.store.claim_due_messages(now, LEASE, BATCH).await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::warn!(error = %err, "cannot claim courier messages");
            return 0;
        }
    };
    for message in &claimed {
        let result = mailer.send(message).await;
        let now = state.now();
        let stored = match &result {
            Ok(()) => state
                .store
                .mark_message_sent(message.tenant_id, message.id, now)
                .await
                .map(|()| MessageStatus::Sent),
            Err(reason) => {
                state
                    .store
                    .mark_message_failed(
                        message.tenant_id,
                        message.id,
                        reason,
                        policy.next_attempt(message.send_count, now),
                        policy.max_attempts,
                        now,
                    )
                    .await
            }
        };
        match (stored, result) {
            (Ok(status), Ok(())) => tracing::info!(
                courier.message_id = %message.id,
                courier.template_type = message.template_type,
                courier.status = status.as_str(),
                "message delivered"
            ),
            (Ok(status), Err(reason)) => tracing::warn!(
                courier.message_id = %message.id,
                courier.template_type = message.template_type,
                courier.status = status.as_str(),
                courier.attempts = message.send_count,
                reason,
                "message delivery failed"
            ),
            (Err(err), _) => tracing::warn!(
                courier.message_id = %message.id,
                error = %err,
                "cannot record a delivery attempt"
            ),
        }
    }
    claimed.len()
}

/// The delivery loop: runs until shutdown, at once again while there is a backlog.
pub async fn deliver(state: AppState, mailer: Mailer, mut shutdown: watch::Receiver<bool>) {
    let policy = RetryPolicy::default();
    loop {
        let claimed = deliver_due(&state, &mailer, &policy).await;
        if claimed == BATCH as usize {
            if *shutdown.borrow() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}
