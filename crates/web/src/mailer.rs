//! Delivery of the courier outbox over SMTP. Every node runs [`deliver`]: it claims due messages
//! (a claim leases them, so two nodes never send one message), sends each through one pooled
//! SMTP connection, and marks it sent, or failed with the next attempt after an exponential
//! back-off, or `abandoned` after the retry policy's last attempt.
//!
//! `GATEHOUSE_SMTP_URL` follows lettre's URL form: `smtp://user:pass@host:587?tls=required`
//! (STARTTLS required), `smtp://host:25?tls=opportunistic`, `smtps://user:pass@host:465`
//! (implicit TLS), or plain `smtp://host:port` for a relay on a trusted network. TLS is rustls;
//! the server's certificate must chain to a root the system trusts or to one of the extra CA
//! certificates configured (`[smtp] ca_file`), and must name the URL's host. Logs name a message
//! by id and template type, never by recipient, subject or body.

use crate::state::AppState;
use gatehouse_domain::courier::{CourierMessage, MessageStatus, RetryPolicy};
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
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
    #[error("the SMTP CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCaCertificate,
    #[error("the SMTP CA file holds an invalid certificate: {0}")]
    InvalidCaCertificate(String),
    #[error(
        "an SMTP CA file is configured but GATEHOUSE_SMTP_URL uses no TLS (smtp://…?tls=required or smtps://…)"
    )]
    CaFileWithoutTls,
}

/// How `GATEHOUSE_SMTP_URL` asks for TLS (lettre's reading of the same URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    /// `smtp://` without `tls`: plain text.
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic,
    /// `smtp://…?tls=required`: STARTTLS or no delivery.
    Required,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// The URL's host and TLS mode.
fn host_and_tls(url: &str) -> Result<(String, TlsMode), MailerError> {
    let url = url::Url::parse(url).map_err(|_| MailerError::InvalidUrl)?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let mode = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => TlsMode::Plain,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtp", Some("required")) => TlsMode::Required,
        ("smtps", _) => TlsMode::Implicit,
        _ => return Err(MailerError::InvalidUrl),
    };
    let host = url.host_str().ok_or(MailerError::InvalidUrl)?.to_owned();
    Ok((host, mode))
}

/// TLS for `host` trusting the system's roots plus the certificates in `ca_pem`. Certificates
/// are still verified in full (chain, validity, host name): the extra roots only add trust.
fn tls_with_extra_roots(host: &str, ca_pem: &[u8]) -> Result<TlsParameters, MailerError> {
    let marker = b"-----BEGIN CERTIFICATE-----";
    if !ca_pem.windows(marker.len()).any(|w| w == marker) {
        return Err(MailerError::NoCaCertificate);
    }
    let roots = Certificate::from_pem(ca_pem)
        .map_err(|e| MailerError::InvalidCaCertificate(e.to_string()))?;
    TlsParameters::builder(host.to_owned())
        .add_root_certificate(roots)
        .build_rustls()
        .map_err(|e| MailerError::InvalidCaCertificate(e.to_string()))
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
    /// A mailer for `url` sending as `from`. `ca_pem` (PEM, one or more certificates) adds
    /// roots to trust for the server's TLS certificate, keeping the URL's host, port,
    /// credentials and TLS mode; it is refused with a URL that uses no TLS.
    pub fn new(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<Self, MailerError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailerError::InvalidUrl)?
            .timeout(Some(Duration::from_secs(30)));
        if let Some(ca_pem) = ca_pem {
            let (host, mode) = host_and_tls(url)?;
            let with_mode: fn(TlsParameters) -> Tls = match mode {
                TlsMode::Plain => return Err(MailerError::CaFileWithoutTls),
                TlsMode::Opportunistic => Tls::Opportunistic,
                TlsMode::Required => Tls::Required,
                TlsMode::Implicit => Tls::Wrapper,
            };
            builder = builder.tls(with_mode(tls_with_extra_roots(&host, ca_pem)?));
        }
        let transport = builder.build();
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

/// A delivery failure as stored with the message: the SMTP status, or the kind of failure and
/// its root cause (a network or TLS error such as `invalid peer certificate: UnknownIssuer`;
/// never message content).
fn smtp_error(err: &lettre::transport::smtp::Error) -> String {
    let cause = std::iter::successors(std::error::Error::source(err), |e| e.source())
        .last()
        .map_or_else(|| err.to_string(), ToString::to_string);
    match err.status() {
        Some(code) => format!("SMTP server answered {code}"),
        None if err.is_timeout() => "SMTP server timed out".to_owned(),
        None if err.is_tls() => format!("TLS with the SMTP server failed: {cause}"),
        None => format!("cannot deliver to the SMTP server: {cause}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Gatehouse <no-reply@id.example>";

    #[test]
    fn reads_the_tls_mode_as_lettre_does() {
        for (url, mode) in [
            ("smtp://relay.internal:25", TlsMode::Plain),
            (
                "smtp://u:p@mail.example:587?tls=opportunistic",
                TlsMode::Opportunistic,
            ),
            (
                "smtp://u:p@mail.example:587?tls=required",
                TlsMode::Required,
            ),
            ("smtps://u:p@mail.example:465", TlsMode::Implicit),
        ] {
            let (host, read) = host_and_tls(url).expect("valid");
            assert_eq!(read, mode, "{url}");
            assert!(host == "relay.internal" || host == "mail.example", "{url}");
        }
        assert!(host_and_tls("smtp://mail.example?tls=maybe").is_err());
        assert!(host_and_tls("http://mail.example").is_err());
    }

    #[test]
    fn a_ca_file_needs_a_tls_url() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            Mailer::new("smtp://relay.internal:25", FROM, Some(pem)),
            Err(MailerError::CaFileWithoutTls)
        ));
    }

    #[test]
    fn a_ca_file_without_a_valid_certificate_is_refused() {
        let url = "smtps://mail.example:465";
        assert!(matches!(
            Mailer::new(
                url,
                FROM,
                Some(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            ),
            Err(MailerError::NoCaCertificate)
        ));
        assert!(matches!(
            Mailer::new(url, FROM, Some(b"")),
            Err(MailerError::NoCaCertificate)
        ));
        // Well-formed PEM around bytes that are no X.509 certificate.
        assert!(matches!(
            Mailer::new(
                url,
                FROM,
                Some(b"-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n")
            ),
            Err(MailerError::InvalidCaCertificate(_))
        ));
    }

    /// The pooled transport needs a runtime.
    #[tokio::test]
    async fn a_url_without_a_ca_file_builds() {
        for url in [
            "smtp://relay.internal:25",
            "smtp://u:p@mail.example:587?tls=required",
            "smtps://u:p@mail.example:465",
        ] {
            assert!(Mailer::new(url, FROM, None).is_ok(), "{url}");
        }
        assert!(matches!(
            Mailer::new("smtp://mail.example?tls=maybe", FROM, None),
            Err(MailerError::InvalidUrl)
        ));
    }
}
