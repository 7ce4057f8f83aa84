//! Who sent the email, and may they speak for the event? Answered from the headers SES adds
//! (spam and virus verdicts, the topmost `Authentication-Results`), from the From field, and from
//! the ORGANIZER and its SENT-BY delegate under the configured delegation policy.
//!
//! What is trusted: SES's verdicts, and the topmost `Authentication-Results` (the one SES
//! prepends; anything below it may have been written by the sender). What is not: everything the
//! message says about itself, SENT-BY included, until a rule here has tied it to what SES checked.

use crate::core::SenderPolicy;
use crate::core::mime::TrustHeaders;
use crate::core::model::{Organizer, Reason};

/// Who may send for an organizer through SENT-BY (`DELEGATION`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Delegation {
    /// A delegate in the organizer's own organizational domain (a colleague can act for a
    /// colleague: the residual risk of this default).
    #[default]
    SameDomain,
    /// Only these (organizer, delegate) pairs, lower-case (`DELEGATES`).
    Listed(Vec<(String, String)>),
    /// Nobody but the organizer.
    Off,
}

/// What SES's checks say about the From domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Authentication {
    /// DMARC passed, or SPF or DKIM passed for a domain aligned with the From domain.
    Aligned,
    /// DMARC failed, nothing passed, or what passed is another organization's domain.
    Failed,
    /// No `Authentication-Results` at all: the mail did not come through SES (a local run).
    #[default]
    Unknown,
}

/// The reason to refuse the email on its sender's trustworthiness alone, if any. Order matters:
/// a virus or spam verdict is reported before authentication, since either makes the rest moot.
pub fn trust_verdict(
    trust: &TrustHeaders,
    from: Option<&str>,
    policy: &SenderPolicy,
) -> Option<Reason> {
    trust_verdict_given(trust, authentication(trust, from), policy)
}

/// [`trust_verdict`] when the caller already judged `authentication` (it needs it for the reply).
pub fn trust_verdict_given(
    trust: &TrustHeaders,
    authentication: Authentication,
    policy: &SenderPolicy,
) -> Option<Reason> {
    if is_fail(trust.virus_verdict.as_deref()) {
        return Some(Reason::Virus);
    }
    if is_fail(trust.spam_verdict.as_deref()) {
        return Some(Reason::Spam);
    }
    // DMARC judges one mailbox; a message naming several could be judged on one and act as
    // another.
    if trust.from_fields != 1 || trust.from_mailboxes != 1 {
        return Some(Reason::SenderUnauthenticated);
    }
    match authentication {
        Authentication::Aligned => None,
        Authentication::Failed => Some(Reason::SenderUnauthenticated),
        Authentication::Unknown if policy.require_authentication => {
            Some(Reason::SenderUnauthenticated)
        }
        Authentication::Unknown => None,
    }
}

fn is_fail(verdict: Option<&str>) -> bool {
    verdict.is_some_and(|value| value.trim().eq_ignore_ascii_case("FAIL"))
}

/// RFC 8601 results, read as DMARC's relaxed alignment reads them: `dmarc=pass` is enough;
/// `dmarc=fail` is never overridden; otherwise (none, temperror, permerror, absent) an SPF pass
/// for the envelope-from domain, or a DKIM pass for `header.d` / `header.i`, counts only when
/// that domain has the From domain's organizational domain.
pub fn authentication(trust: &TrustHeaders, from: Option<&str>) -> Authentication {
    let Some(results) = trust.authentication_results.as_deref() else {
        return Authentication::Unknown;
    };
    let from_domain = from.and_then(domain_of);
    let from_domain = from_domain.as_deref();
    let mut aligned_pass = false;
    let mut verdict = None;
    for_each_method_result(&strip_comments(results), |method, result, identity| {
        let is = |name: &str, value: &str| name.eq_ignore_ascii_case(value);
        if verdict.is_some() {
            return;
        }
        if is(method, "dmarc") && is(result, "pass") {
            verdict = Some(Authentication::Aligned);
        } else if is(method, "dmarc") && is(result, "fail") {
            verdict = Some(Authentication::Failed);
        } else if (is(method, "spf") || is(method, "dkim")) && is(result, "pass") {
            aligned_pass |= identity
                .is_some_and(|identity| aligned(domain_of(identity).as_deref(), from_domain));
        }
    });
    match verdict {
        Some(verdict) => verdict,
        None if aligned_pass => Authentication::Aligned,
        None => Authentication::Failed,
    }
}

/// Calls `f(method, result, identity)` for each `method=result` of an `Authentication-Results`
/// value (comments already removed), once with no identity and once per identity it vouches for,
/// in order. The first element is the authserv-id. RFC 8601 puts properties after the result
/// (`spf=pass smtp.mailfrom=a@example.com`); SES writes them as elements of their own after it
/// (`spf=pass client-ip=192.0.2.1; envelope-from=a@example.com; helo=...;`), so an element that
/// names no method belongs to the method before it. Nothing is allocated: this runs per email.
fn for_each_method_result<'r>(
    results: &'r str,
    mut f: impl FnMut(&'r str, &'r str, Option<&'r str>),
) {
    const IDENTITIES: [&str; 5] = [
        "smtp.mailfrom",
        "smtp.mail",
        "envelope-from",
        "header.d",
        "header.i",
    ];
    let mut current: Option<(&str, &str)> = None;
    for element in results.split(';').skip(1) {
        for (index, word) in element.split_whitespace().enumerate() {
            let Some((name, value)) = word.split_once('=') else {
                continue;
            };
            if index == 0 && is_method(name) {
                current = Some((name, value));
                f(name, value, None);
            } else if IDENTITIES
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
                && let Some((method, result)) = current
            {
                f(method, result, Some(value));
            }
        }
    }
}

/// RFC 8601 method names are plain tokens; properties are `ptype.property`; the rest are the
/// elements SES writes after its SPF result.
fn is_method(name: &str) -> bool {
    !name.contains('.')
        && !["client-ip", "envelope-from", "helo"]
            .iter()
            .any(|element| element.eq_ignore_ascii_case(name))
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

/// The domain of an address (`user@Example.COM`, `@example.com`) or a bare domain, lower-case,
/// without a trailing dot or quotes.
fn domain_of(text: &str) -> Option<String> {
    let text = text
        .trim()
        .trim_matches(|c| c == '"' || c == '<' || c == '>');
    let domain = text.rsplit_once('@').map_or(text, |(_, domain)| domain);
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty() && !domain.contains(char::is_whitespace)).then_some(domain)
}

/// The organizational domain (registrable domain by the Public Suffix List), or the domain
/// itself when the list has no rule for it.
fn organizational_domain(domain: &str) -> &str {
    psl::domain_str(domain).unwrap_or(domain)
}

/// DMARC's relaxed alignment: the same organizational domain.
fn aligned(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => organizational_domain(a) == organizational_domain(b),
        _ => false,
    }
}

/// Whether the From address is the organizer, or the organizer's SENT-BY delegate and the
/// delegation policy allows that delegate for that organizer.
pub fn may_speak_for(sender: Option<&str>, organizer: &Organizer, delegation: &Delegation) -> bool {
    let Some(sender) = sender else {
        return false;
    };
    sender == organizer.address
        || (organizer.sent_by.as_deref() == Some(sender)
            && delegate_allowed(&organizer.address, sender, delegation))
}

fn delegate_allowed(organizer: &str, delegate: &str, delegation: &Delegation) -> bool {
    match delegation {
        Delegation::Off => false,
        Delegation::SameDomain => aligned(
            domain_of(organizer).as_deref(),
            domain_of(delegate).as_deref(),
        ),
        Delegation::Listed(pairs) => pairs
            .iter()
            .any(|(boss, assistant)| boss == organizer && assistant == delegate),
    }
}

/// Parses `DELEGATES`: `boss@corp.example=assistant@corp.example;...` (commas also separate).
pub fn parse_delegates(text: &str) -> Option<Vec<(String, String)>> {
    text.split([';', ','])
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (organizer, delegate) = pair.split_once('=')?;
            let (organizer, delegate) = (organizer.trim(), delegate.trim());
            (organizer.contains('@') && delegate.contains('@'))
                .then(|| (organizer.to_lowercase(), delegate.to_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(spam: Option<&str>, virus: Option<&str>, auth: Option<&str>) -> TrustHeaders {
        TrustHeaders {
            spam_verdict: spam.map(str::to_owned),
            virus_verdict: virus.map(str::to_owned),
            authentication_results: auth.map(str::to_owned),
            from_fields: 1,
            from_mailboxes: 1,
        }
    }

    const FROM: Option<&str> = Some("a@example.com");
    const SES_PASS: &str = "amazonses.com; spf=pass (spf: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;";

    fn verdict(auth: &str) -> Option<Reason> {
        trust_verdict(
            &trust(None, None, Some(auth)),
            FROM,
            &SenderPolicy::default(),
        )
    }

    #[test]
    fn verdicts_in_order_virus_spam_authentication() {
        let lax = SenderPolicy::default();
        assert_eq!(
            trust_verdict(
                &trust(Some("PASS"), Some("PASS"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            None
        );
        assert_eq!(
            trust_verdict(
                &trust(Some("FAIL"), Some("FAIL"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            Some(Reason::Virus)
        );
        assert_eq!(
            trust_verdict(
                &trust(Some(" fail "), Some("PASS"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            Some(Reason::Spam)
        );
        assert_eq!(
            trust_verdict(&trust(Some("GRAY"), None, None), FROM, &lax),
            None
        );
    }

    #[test]
    fn dmarc_fail_or_no_pass_is_unauthenticated() {
        assert_eq!(
            verdict(
                "amazonses.com; spf=pass smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=fail header.from=example.com"
            ),
            Some(Reason::SenderUnauthenticated)
        );
        assert_eq!(
            verdict(
                "amazonses.com; spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=a@example.com; dkim=fail header.i=@example.com; dmarc=none header.from=example.com"
            ),
            Some(Reason::SenderUnauthenticated)
        );
        assert_eq!(
            verdict(
                "amazonses.com; spf=softfail smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=pass"
            ),
            None
        );
    }

    #[test]
    fn without_dmarc_only_an_aligned_pass_counts() {
        for dmarc in ["dmarc=none", "dmarc=temperror", "dmarc=permerror", ""] {
            // The attacker's own domain passes SPF and DKIM: not the From domain's.
            assert_eq!(
                verdict(&format!(
                    "amazonses.com; spf=pass smtp.mailfrom=x@evil.example; dkim=pass header.d=evil.example; {dmarc}"
                )),
                Some(Reason::SenderUnauthenticated),
                "{dmarc}"
            );
            // Aligned in the relaxed sense: a subdomain of the same organizational domain.
            assert_eq!(
                verdict(&format!(
                    "amazonses.com; spf=pass smtp.mailfrom=bounces@mail.example.com; {dmarc}"
                )),
                None,
                "{dmarc}"
            );
            assert_eq!(
                verdict(&format!(
                    "amazonses.com; spf=fail smtp.mailfrom=a@example.com; dkim=pass header.i=@calendar.example.com; {dmarc}"
                )),
                None,
                "{dmarc}"
            );
        }
        // A look-alike is another organization; so is a sibling under a public suffix.
        let from = Some("boss@corp.co.uk");
        let lookalike = trust(
            None,
            None,
            Some("amazonses.com; dkim=pass header.d=corp.co.uk.evil.example; dmarc=none"),
        );
        assert_eq!(authentication(&lookalike, from), Authentication::Failed);
        let sibling = trust(
            None,
            None,
            Some("amazonses.com; dkim=pass header.d=other.co.uk; dmarc=none"),
        );
        assert_eq!(authentication(&sibling, from), Authentication::Failed);
        let same = trust(
            None,
            None,
            Some("amazonses.com; dkim=pass header.d=mail.corp.co.uk; dmarc=none"),
        );
        assert_eq!(authentication(&same, from), Authentication::Aligned);
    }

    #[test]
    fn ses_writes_the_envelope_from_as_an_element_of_its_own() {
        let ses = |envelope_from: &str| {
            format!(
                "amazonses.com; spf=pass (spf: domain of x designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from={envelope_from}; helo=mail.example.net; dkim=none; dmarc=none header.from=example.com;"
            )
        };
        assert_eq!(verdict(&ses("bounces@mail.example.com")), None);
        assert_eq!(
            verdict(&ses("mallory@evil.example")),
            Some(Reason::SenderUnauthenticated)
        );
        // helo is not an identity SPF vouches for.
        assert_eq!(
            verdict(
                "amazonses.com; spf=pass client-ip=192.0.2.1; envelope-from=x@evil.example; helo=example.com; dmarc=none"
            ),
            Some(Reason::SenderUnauthenticated)
        );
    }

    #[test]
    fn a_pass_hidden_in_a_comment_does_not_count() {
        assert_eq!(
            verdict("amazonses.com; spf=fail (dkim=pass; spf=pass) smtp.mailfrom=a@example.com"),
            Some(Reason::SenderUnauthenticated)
        );
        assert_eq!(
            verdict(
                "amazonses.com; spf=pass (smtp.mailfrom=a@example.com) smtp.mailfrom=x@evil.example"
            ),
            Some(Reason::SenderUnauthenticated)
        );
    }

    #[test]
    fn exactly_one_sender() {
        let lax = SenderPolicy::default();
        for (fields, mailboxes) in [(0, 0), (2, 2), (1, 2), (1, 0)] {
            let headers = TrustHeaders {
                from_fields: fields,
                from_mailboxes: mailboxes,
                ..trust(None, None, Some(SES_PASS))
            };
            assert_eq!(
                trust_verdict(&headers, FROM, &lax),
                Some(Reason::SenderUnauthenticated),
                "{fields} fields, {mailboxes} mailboxes"
            );
        }
    }

    #[test]
    fn missing_results_are_unknown_unless_required() {
        assert_eq!(
            trust_verdict(&trust(None, None, None), FROM, &SenderPolicy::default()),
            None
        );
        let strict = SenderPolicy {
            require_authentication: true,
            ..SenderPolicy::default()
        };
        assert_eq!(
            trust_verdict(&trust(None, None, None), FROM, &strict),
            Some(Reason::SenderUnauthenticated)
        );
    }

    fn boss(sent_by: Option<&str>) -> Organizer {
        Organizer {
            address: "boss@corp.example".into(),
            name: None,
            sent_by: sent_by.map(str::to_owned),
        }
    }

    #[test]
    fn the_organizer_always_speaks_for_itself() {
        for delegation in [
            Delegation::SameDomain,
            Delegation::Off,
            Delegation::Listed(Vec::new()),
        ] {
            assert!(may_speak_for(
                Some("boss@corp.example"),
                &boss(None),
                &delegation
            ));
            assert!(!may_speak_for(None, &boss(None), &delegation));
            assert!(!may_speak_for(
                Some("mallory@corp.example"),
                &boss(None),
                &delegation
            ));
        }
    }

    #[test]
    fn a_delegate_speaks_only_as_the_policy_allows() {
        let colleague = boss(Some("assistant@corp.example"));
        let outsider = boss(Some("attacker@evil.example"));
        let same = Delegation::SameDomain;
        assert!(may_speak_for(
            Some("assistant@corp.example"),
            &colleague,
            &same
        ));
        assert!(!may_speak_for(
            Some("attacker@evil.example"),
            &outsider,
            &same
        ));
        // The delegate must be the one named: SENT-BY is not a wildcard.
        assert!(!may_speak_for(
            Some("other@corp.example"),
            &colleague,
            &same
        ));
        assert!(!may_speak_for(
            Some("assistant@corp.example"),
            &colleague,
            &Delegation::Off
        ));
        let listed = Delegation::Listed(
            parse_delegates("boss@corp.example=attacker@evil.example").expect("pairs"),
        );
        assert!(may_speak_for(
            Some("attacker@evil.example"),
            &outsider,
            &listed
        ));
        assert!(!may_speak_for(
            Some("assistant@corp.example"),
            &colleague,
            &listed
        ));
    }

    #[test]
    fn delegate_lists_parse_or_are_refused() {
        assert_eq!(
            parse_delegates(" Boss@Corp.example = a@corp.example ; c@x.example=d@x.example,"),
            Some(vec![
                ("boss@corp.example".into(), "a@corp.example".into()),
                ("c@x.example".into(), "d@x.example".into()),
            ])
        );
        assert_eq!(parse_delegates(""), Some(Vec::new()));
        assert_eq!(parse_delegates("boss@corp.example"), None);
        assert_eq!(parse_delegates("boss=assistant"), None);
    }
}
