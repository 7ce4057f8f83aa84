//! Any text as an `Authentication-Results` value: the RFC 8601 parser and the trust judgement
//! built on it. A panic or a hang is a bug; so is a pass from a header the grammar rejects.
#![no_main]

use invite_router::core::auth_results::parse;
use invite_router::core::itip::sender::{Authentication, authentication};
use invite_router::core::mime::TrustHeaders;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let parsed = parse(&value);
    let trust = TrustHeaders {
        authentication_results: Some(value.clone().into_owned()),
        from_fields: 1,
        from_mailboxes: 1,
        ..TrustHeaders::default()
    };
    let verdict = authentication(&trust, Some("a@example.com"), "amazonses.com");
    match parsed {
        Err(_) => assert_eq!(verdict, Authentication::Failed, "{value:?}"),
        Ok(results) => {
            for result in &results.results {
                assert!(!result.method.is_empty() && !result.result.is_empty());
            }
            if results.authserv_id != "amazonses.com" {
                assert_eq!(verdict, Authentication::Unknown, "{value:?}");
            }
        }
    }
});
