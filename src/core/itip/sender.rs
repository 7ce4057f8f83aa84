//! Who sent the email, and may they speak for the event? Two questions, answered from the
//! headers SES adds (spam and virus verdicts, `Authentication-Results`) and from the From address
//! against the ORGANIZER and its SENT-BY delegate.

use crate::core::SenderPolicy;
use crate::core::mime::TrustHeaders;
use crate::core::model::{Organizer, Reason};

/// The reason to refuse the email on its sender's trustworthiness alone, if any.
/// Order matters: a virus or spam verdict is reported before authentication, since either makes
/// the rest moot.
pub fn trust_verdict(trust: &TrustHeaders, policy: &SenderPolicy) -> Option<Reason> {
    if is_fail(trust.virus_verdict.as_deref()) {
        return Some(Reason::Virus);
    }
    if is_fail(trust.spam_verdict.as_deref()) {
        return Some(Reason::Spam);
    }
    match trust.authentication_results.as_deref() {
        Some(results) if !authenticated(results) => Some(Reason::SenderUnauthenticated),
        Some(_) => None,
        // No header: the mail did not come through SES (a local run). Unknown is not failed,
        // unless the operator asked for authentication to be required.
        None if policy.require_authentication => Some(Reason::SenderUnauthenticated),
        None => None,
    }
}

fn is_fail(verdict: Option<&str>) -> bool {
    verdict.is_some_and(|value| value.trim().eq_ignore_ascii_case("FAIL"))
}

/// RFC 8601 results: authenticated when DMARC did not fail and SPF or DKIM passed.
fn authenticated(results: &str) -> bool {
    let without_comments = strip_comments(results);
    let mut dmarc_failed = false;
    let mut spf_or_dkim_passed = false;
    // The first element is the authserv-id; each later one is `method=result property...`.
    for resinfo in without_comments.split(';').skip(1) {
        let Some((method, rest)) = resinfo.trim().split_once('=') else {
            continue;
        };
        let result = rest.split_whitespace().next().unwrap_or_default();
        let method = method.trim();
        if method.eq_ignore_ascii_case("dmarc") && result.eq_ignore_ascii_case("fail") {
            dmarc_failed = true;
        }
        if (method.eq_ignore_ascii_case("spf") || method.eq_ignore_ascii_case("dkim"))
            && result.eq_ignore_ascii_case("pass")
        {
            spf_or_dkim_passed = true;
        }
    }
    !dmarc_failed && spf_or_dkim_passed
}

/// Drops `( ... )` comments, which may nest and may contain `;` or `=`.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether the From address is the organizer or the delegate named in its SENT-BY.
pub fn may_speak_for(sender: Option<&str>, organizer: Option<&Organizer>) -> bool {
    match (sender, organizer) {
        (Some(sender), Some(organizer)) => {
            sender == organizer.address || organizer.sent_by.as_deref() == Some(sender)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(spam: Option<&str>, virus: Option<&str>, auth: Option<&str>) -> TrustHeaders {
        TrustHeaders {
            spam_verdict: spam.map(str::to_owned),
            virus_verdict: virus.map(str::to_owned),
            authentication_results: auth.map(str::to_owned),
        }
    }

    const SES_PASS: &str = "amazonses.com; spf=pass (spf: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;";

    #[test]
    fn verdicts_in_order_virus_spam_authentication() {
        let lax = SenderPolicy::default();
        assert_eq!(
            trust_verdict(&trust(Some("PASS"), Some("PASS"), Some(SES_PASS)), &lax),
            None
        );
        assert_eq!(
            trust_verdict(&trust(Some("FAIL"), Some("FAIL"), Some(SES_PASS)), &lax),
            Some(Reason::Virus)
        );
        assert_eq!(
            trust_verdict(&trust(Some(" fail "), Some("PASS"), Some(SES_PASS)), &lax),
            Some(Reason::Spam)
        );
        assert_eq!(trust_verdict(&trust(Some("GRAY"), None, None), &lax), None);
    }

    #[test]
    fn dmarc_fail_or_no_pass_is_unauthenticated() {
        let lax = SenderPolicy::default();
        let dmarc_fail = "amazonses.com; spf=pass smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=fail header.from=example.com";
        assert_eq!(
            trust_verdict(&trust(None, None, Some(dmarc_fail)), &lax),
            Some(Reason::SenderUnauthenticated)
        );
        let nothing_passed = "amazonses.com; spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=a@example.com; dkim=fail header.i=@example.com; dmarc=none header.from=example.com";
        assert_eq!(
            trust_verdict(&trust(None, None, Some(nothing_passed)), &lax),
            Some(Reason::SenderUnauthenticated)
        );
        let dkim_only = "amazonses.com; spf=softfail smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=pass";
        assert_eq!(
            trust_verdict(&trust(None, None, Some(dkim_only)), &lax),
            None
        );
    }

    #[test]
    fn a_pass_hidden_in_a_comment_does_not_count() {
        let sneaky = "amazonses.com; spf=fail (dkim=pass; spf=pass) smtp.mailfrom=a@example.com";
        assert_eq!(
            trust_verdict(&trust(None, None, Some(sneaky)), &SenderPolicy::default()),
            Some(Reason::SenderUnauthenticated)
        );
    }

    #[test]
    fn missing_results_are_unknown_unless_required() {
        assert_eq!(
            trust_verdict(&trust(None, None, None), &SenderPolicy::default()),
            None
        );
        let strict = SenderPolicy {
            require_authentication: true,
        };
        assert_eq!(
            trust_verdict(&trust(None, None, None), &strict),
            Some(Reason::SenderUnauthenticated)
        );
    }

    #[test]
    fn organizer_or_delegate_may_speak() {
        let organizer = Organizer {
            address: "boss@example.com".into(),
            name: None,
            sent_by: Some("assistant@example.com".into()),
        };
        assert!(may_speak_for(Some("boss@example.com"), Some(&organizer)));
        assert!(may_speak_for(
            Some("assistant@example.com"),
            Some(&organizer)
        ));
        assert!(!may_speak_for(
            Some("mallory@example.net"),
            Some(&organizer)
        ));
        assert!(!may_speak_for(None, Some(&organizer)));
        assert!(!may_speak_for(Some("boss@example.com"), None));
    }
}
