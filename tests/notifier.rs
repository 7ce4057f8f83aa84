//! The notifier's orchestration with an in-memory mailer that can fail, and the real SQLite reply
//! log: idempotent on redelivery, the rate limit, and which failures are retried.

mod support;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use invite_router::core::model::{
    NoticeKind, REJECTED_SCHEMA_VERSION, Reason, RejectedMessage, SourceInfo,
};
use invite_router::core::reply::Reply;
use invite_router::local::SqliteReplyLog;
use invite_router::notifier::{Notified, Notifier, ReplyReport};
use invite_router::ports::{Classified, ErrorKind, Mailer, PortError};
use invite_router::service::BatchRecord;

/// Records what it sends; the next sends can be made to fail.
#[derive(Clone, Default)]
struct MemoryMailer {
    sent: Arc<Mutex<Vec<Reply>>>,
    failures: Arc<Mutex<Vec<PortError>>>,
    /// The next send never returns: its worker dies (is dropped) mid-send.
    hang_next: Arc<Mutex<bool>>,
}

impl MemoryMailer {
    fn fail_next(&self, error: PortError) {
        self.failures.lock().unwrap().push(error);
    }

    fn sent(&self) -> Vec<Reply> {
        self.sent.lock().unwrap().clone()
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, reply: &Reply) -> Result<(), PortError> {
        let hang = std::mem::take(&mut *self.hang_next.lock().unwrap());
        if hang {
            std::future::pending::<()>().await;
        }
        if let Some(error) = self.failures.lock().unwrap().pop() {
            return Err(error);
        }
        self.sent.lock().unwrap().push(reply.clone());
        Ok(())
    }
}

fn refusal(id: u32, sender: &str) -> String {
    serde_json::to_string(&RejectedMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Refusal,
        dedupe_id: format!("{id:064x}"),
        sender: sender.into(),
        reason: Reason::NoCalendar,
        explanation: Reason::NoCalendar.explanation().into(),
        subject: Some(format!("Lunch #{id}")),
        language: "en".into(),
        received_at: None,
        source: SourceInfo {
            key: format!("incoming/{id}"),
            ..SourceInfo::default()
        },
    })
    .unwrap()
}

type Clock = Arc<Mutex<DateTime<Utc>>>;

fn notifier(limit: u32) -> (Notifier<MemoryMailer, SqliteReplyLog>, MemoryMailer, Clock) {
    let mailer = MemoryMailer::default();
    let now: Clock = Arc::new(Mutex::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap(),
    ));
    let clock = now.clone();
    let notifier = Notifier::new(
        mailer.clone(),
        SqliteReplyLog::in_memory().unwrap(),
        "invite-router@replies.example.org",
        limit,
    )
    .with_clock(Arc::new(move || *clock.lock().unwrap()));
    (notifier, mailer, now)
}

#[tokio::test]
async fn a_redelivered_refusal_is_answered_once() {
    let (notifier, mailer, _) = notifier(10);
    let body = refusal(1, "ann@example.com");
    assert!(matches!(
        notifier.notify(&body).await.unwrap(),
        Notified::Sent { .. }
    ));
    assert_eq!(notifier.notify(&body).await.unwrap(), Notified::AlreadySent);
    // The same message wrapped by SNS (raw delivery off) is the same refusal.
    let wrapped = serde_json::json!({"Type": "Notification", "Message": body}).to_string();
    assert_eq!(
        notifier.notify(&wrapped).await.unwrap(),
        Notified::AlreadySent
    );
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "ann@example.com");
}

/// A worker that claimed a reply and died before settling (a crash, a timeout) leaves a claim
/// behind. The retry must not take it for a sent reply: within the claim's lifetime it is retried
/// (transient), after it the retry takes the claim over and sends.
#[tokio::test]
async fn a_claimed_but_unsent_reply_is_sent_by_a_later_retry() {
    let (notifier, mailer, clock) = notifier(10);
    let notifier = notifier.with_claim_seconds(150);
    let body = refusal(7, "ann@example.com");
    *mailer.hang_next.lock().unwrap() = true;
    let died =
        tokio::time::timeout(std::time::Duration::from_millis(50), notifier.notify(&body)).await;
    assert!(died.is_err(), "the first worker should have hung");
    assert!(mailer.sent().is_empty());

    // SQS redelivers before the claim expires: not "already sent", a retry.
    *clock.lock().unwrap() += Duration::seconds(60);
    let early = notifier
        .notify(&body)
        .await
        .expect_err("an in-flight claim");
    assert_eq!(early.kind(), ErrorKind::Transient, "{early}");
    assert!(mailer.sent().is_empty());

    // After the claim's lifetime, the retry sends, once.
    *clock.lock().unwrap() += Duration::seconds(100);
    assert!(matches!(
        notifier.notify(&body).await.unwrap(),
        Notified::Sent { .. }
    ));
    assert_eq!(notifier.notify(&body).await.unwrap(), Notified::AlreadySent);
    assert_eq!(mailer.sent().len(), 1);
}

#[tokio::test]
async fn a_flood_from_one_sender_is_capped_per_24_hours() {
    let (notifier, mailer, clock) = notifier(3);
    let mut outcomes = Vec::new();
    for id in 0..5 {
        outcomes.push(
            notifier
                .notify(&refusal(id, "ann@example.com"))
                .await
                .unwrap()
                .code(),
        );
    }
    assert_eq!(
        outcomes,
        ["sent", "sent", "sent", "rate_limited", "rate_limited"]
    );
    // Someone else is still answered.
    assert!(matches!(
        notifier
            .notify(&refusal(9, "bob@example.com"))
            .await
            .unwrap(),
        Notified::Sent { .. }
    ));
    // A day later Ann is answered again.
    *clock.lock().unwrap() += Duration::hours(24) + Duration::minutes(1);
    assert!(matches!(
        notifier
            .notify(&refusal(10, "ann@example.com"))
            .await
            .unwrap(),
        Notified::Sent { .. }
    ));
    assert_eq!(mailer.sent().len(), 5);
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_a_permanent_one_is_not() {
    let (notifier, mailer, _) = notifier(10);
    let body = refusal(1, "ann@example.com");
    mailer.fail_next(PortError::transient(
        "SES SendEmail",
        "Throttling (HTTP 400)",
    ));
    let error = notifier.notify(&body).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    // The claim was released: the retry sends.
    assert!(matches!(
        notifier.notify(&body).await.unwrap(),
        Notified::Sent { .. }
    ));

    let suppressed = refusal(2, "gone@example.com");
    mailer.fail_next(PortError::permanent(
        "SES SendEmail",
        "BadRequestException (HTTP 400)",
    ));
    assert!(matches!(
        notifier.notify(&suppressed).await.unwrap(),
        Notified::Undeliverable(why) if why.contains("BadRequestException")
    ));
    // Handled for good: a redelivery does not knock again.
    assert_eq!(
        notifier.notify(&suppressed).await.unwrap(),
        Notified::AlreadySent
    );
    assert_eq!(mailer.sent().len(), 1);
}

#[tokio::test]
async fn what_is_not_a_refusal_is_dropped_not_retried() {
    let (notifier, mailer, _) = notifier(10);
    for body in [
        "not json",
        "{}",
        r#"{"Type":"Notification","Message":"nope"}"#,
    ] {
        let error = notifier.notify(body).await.unwrap_err();
        assert!(!error.is_transient(), "{body}: {error}");
    }
    assert!(mailer.sent().is_empty());
}

#[tokio::test]
async fn a_batch_reports_only_transient_failures() {
    let (notifier, mailer, _) = notifier(10);
    mailer.fail_next(PortError::transient("SES SendEmail", "HTTP 503"));
    let records: Vec<BatchRecord> = [refusal(1, "ann@example.com"), "garbage".to_owned()]
        .into_iter()
        .enumerate()
        .map(|(index, body)| BatchRecord {
            message_id: format!("m{index}"),
            receipt_handle: None,
            body,
        })
        .collect();
    let retried = |reports: Vec<ReplyReport>| -> Vec<String> {
        reports
            .into_iter()
            .filter(ReplyReport::must_retry)
            .map(|report| report.message_id)
            .collect()
    };
    let first = notifier.notify_batch(&records, 4).await;
    assert_eq!(
        first[1].failure,
        Some(ErrorKind::Permanent),
        "the garbage record is dropped"
    );
    assert_eq!(retried(first), vec!["m0".to_owned()]);
    let second = notifier.notify_batch(&records, 4).await;
    assert_eq!(
        second[0].notified.as_ref().map(Notified::code),
        Some("sent")
    );
    assert!(retried(second).is_empty());
    assert_eq!(mailer.sent().len(), 1);
}

#[tokio::test]
async fn the_sqlite_reply_log_keeps_the_contract() {
    support::reply_log_contract::check(&SqliteReplyLog::in_memory().unwrap()).await;
}
