//! Any SQS body through the intake: S3 notifications (direct or SNS-wrapped), SES receipts,
//! test events and everything else. It must answer sources or an intake error, never panic.
#![no_main]

use invite_router::intake::{decode_s3_event_key, parse_record_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Ok(sources) = parse_record_body(&body) {
        for source in sources {
            // A decoded key is what S3 is asked for: never empty.
            assert!(!source.key.is_empty(), "an empty key from {body:?}");
        }
    }
    let _ = decode_s3_event_key(&body);
});
