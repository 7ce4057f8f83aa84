//! What every ReplyLog must do, checked against each implementation (SQLite here, DynamoDB on
//! moto in the end-to-end tests): one claim per dedupe id, released on failure, kept when sent,
//! taken over when its worker died, and the per-recipient limit over a sliding 24 hours.

use chrono::{DateTime, Duration, TimeZone, Utc};
use invite_router::ports::{CLAIM_TIMEOUT_SECONDS, Claim, ReplyLog};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("literal")
        + Duration::minutes(minutes)
}

pub async fn check<R: ReplyLog>(log: &R) {
    let ann = "ann@example.com";
    // One claim per id; a second claimer is told it is handled.
    assert_eq!(
        log.claim("id-1", ann, at(0), 3).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        log.claim("id-1", ann, at(1), 3).await.unwrap(),
        Claim::AlreadyHandled
    );
    // Released on a failed send: the retry may claim it.
    log.settle("id-1", false).await.unwrap();
    assert_eq!(
        log.claim("id-1", ann, at(2), 3).await.unwrap(),
        Claim::Claimed
    );
    // Sent: handled for good, however late the redelivery.
    log.settle("id-1", true).await.unwrap();
    assert_eq!(
        log.claim("id-1", ann, at(600), 3).await.unwrap(),
        Claim::AlreadyHandled
    );
    // A claim whose worker died blocks only until the claim timeout.
    assert_eq!(
        log.claim("id-2", ann, at(3), 3).await.unwrap(),
        Claim::Claimed
    );
    let before_timeout = at(3) + Duration::seconds(CLAIM_TIMEOUT_SECONDS - 1);
    assert_eq!(
        log.claim("id-2", ann, before_timeout, 3).await.unwrap(),
        Claim::AlreadyHandled
    );
    let after_timeout = at(3) + Duration::seconds(CLAIM_TIMEOUT_SECONDS + 1);
    assert_eq!(
        log.claim("id-2", ann, after_timeout, 3).await.unwrap(),
        Claim::Claimed
    );
    log.settle("id-2", true).await.unwrap();

    // The limit counts the last 24 hours per recipient: id-1 (at 2) and id-2 are two of three.
    assert_eq!(
        log.claim("id-3", ann, at(20), 3).await.unwrap(),
        Claim::Claimed
    );
    log.settle("id-3", true).await.unwrap();
    assert_eq!(
        log.claim("id-4", ann, at(30), 3).await.unwrap(),
        Claim::RateLimited
    );
    // Others are not affected.
    assert_eq!(
        log.claim("id-5", "bob@example.com", at(30), 3)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // A day after the first two, there is room again.
    assert_eq!(
        log.claim("id-4", ann, at(24 * 60 + 15), 3).await.unwrap(),
        Claim::Claimed
    );
}
