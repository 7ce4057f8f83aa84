//! What every ReplyLog must do, checked against each implementation (SQLite here, DynamoDB on
//! moto in the end-to-end tests): one claim per dedupe id, released on failure, kept when sent,
//! taken over when its worker died, and the per-recipient limit over a sliding 24 hours.

use chrono::{DateTime, Duration, TimeZone, Utc};
use invite_router::ports::{Claim, ClaimTerms, ReplyLog};

/// Three replies a day; a claim lives five minutes.
const TERMS: ClaimTerms = ClaimTerms {
    rate_limit: 3,
    claim_seconds: 300,
};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0)
        .single()
        .expect("literal")
        + Duration::minutes(minutes)
}

pub async fn check<R: ReplyLog>(log: &R) {
    let ann = "ann@example.com";
    // One claim per id; a second claimer is told another worker holds it (not that it was sent).
    assert_eq!(
        log.claim("id-1", ann, at(0), TERMS).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        log.claim("id-1", ann, at(1), TERMS).await.unwrap(),
        Claim::InFlight
    );
    // Released on a failed send: the retry may claim it.
    log.settle("id-1", false).await.unwrap();
    assert_eq!(
        log.claim("id-1", ann, at(2), TERMS).await.unwrap(),
        Claim::Claimed
    );
    // Sent: handled for good, however late the redelivery.
    log.settle("id-1", true).await.unwrap();
    assert_eq!(
        log.claim("id-1", ann, at(600), TERMS).await.unwrap(),
        Claim::AlreadyHandled
    );
    // A claim whose worker died blocks only until the claim's lifetime, and is never taken for
    // a sent reply.
    assert_eq!(
        log.claim("id-2", ann, at(3), TERMS).await.unwrap(),
        Claim::Claimed
    );
    let before_timeout = at(3) + Duration::seconds(TERMS.claim_seconds - 1);
    assert_eq!(
        log.claim("id-2", ann, before_timeout, TERMS).await.unwrap(),
        Claim::InFlight
    );
    let after_timeout = at(3) + Duration::seconds(TERMS.claim_seconds + 1);
    assert_eq!(
        log.claim("id-2", ann, after_timeout, TERMS).await.unwrap(),
        Claim::Claimed
    );
    log.settle("id-2", true).await.unwrap();

    // The limit counts the last 24 hours per recipient: id-1 (at 2) and id-2 are two of three.
    assert_eq!(
        log.claim("id-3", ann, at(20), TERMS).await.unwrap(),
        Claim::Claimed
    );
    log.settle("id-3", true).await.unwrap();
    assert_eq!(
        log.claim("id-4", ann, at(30), TERMS).await.unwrap(),
        Claim::RateLimited
    );
    // Others are not affected.
    assert_eq!(
        log.claim("id-5", "bob@example.com", at(30), TERMS)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // A day after the first two, there is room again.
    assert_eq!(
        log.claim("id-4", ann, at(24 * 60 + 15), TERMS)
            .await
            .unwrap(),
        Claim::Claimed
    );
}
