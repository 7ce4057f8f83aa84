//! Who sent the email, and may they speak for the event? Answered from the headers SES adds
//! (spam and virus verdicts, the topmost `Authentication-Results`), from the From field, and from
//! the ORGANIZER and its SENT-BY delegate under the configured delegation policy.
//!
//! What is trusted: SES's verdicts, and the topmost `Authentication-Results` (the one SES
//! prepends; anything below it may have been written by the sender). What is not: everything the
//! message says about itself, SENT-BY included, until a rule here has tied it to what SES checked.

use crate::core::auth_results;
use crate::core::mime::{MailContent, TrustHeaders};
use crate::core::model::{Organizer, Reason};
use crate::core::policy::{Delegation, SenderPolicy};

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

/// What the trust step of `core::analyze` learns about the sender: how SES authenticated the
/// From domain (also what decides whether they may be answered) and, when the sender alone is
/// reason enough, the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderJudgement {
    pub authentication: Authentication,
    pub refusal: Option<Reason>,
}

/// Judges the sender of `mail` once: its authentication, then the verdict on it.
pub fn judge(mail: &MailContent, policy: &SenderPolicy) -> SenderJudgement {
    let sender = mail.envelope.sender.as_deref();
    let authentication = authentication(&mail.trust, sender, &policy.trusted_authserv_id);
    SenderJudgement {
        authentication,
        refusal: trust_verdict(&mail.trust, authentication, policy),
    }
}

/// The reason to refuse the email on its sender's trustworthiness alone, given how SES
/// `authentication` judged it. Order matters: a virus or spam verdict is reported before
/// authentication, since either makes the rest moot.
fn trust_verdict(
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

/// The identities an SPF or DKIM pass vouches for: SPF's envelope-from (RFC 8601's
/// `smtp.mailfrom`, the older `smtp.mail`, SES's `envelope-from` element), DKIM's signing domain.
const VOUCHED_IDENTITIES: [&str; 5] = [
    "smtp.mailfrom",
    "smtp.mail",
    "envelope-from",
    "header.d",
    "header.i",
];

/// The topmost `Authentication-Results`, read by RFC 8601's grammar ([`auth_results`]) and
/// judged as DMARC's relaxed alignment judges it:
/// - a header from anyone but `trusted_authserv_id` says nothing: not known;
/// - a header the grammar cannot read is a failure (a pass is never guessed);
/// - any `dmarc=fail` wins over every pass;
/// - `dmarc=pass` counts only when its `header.from` is the From domain judged here;
/// - otherwise (none, temperror, permerror, absent) an SPF pass for the envelope-from domain, or
///   a DKIM pass for `header.d` / `header.i`, counts only when that domain has the From domain's
///   organizational domain.
pub fn authentication(
    trust: &TrustHeaders,
    from: Option<&str>,
    trusted_authserv_id: &str,
) -> Authentication {
    let Some(header) = trust.authentication_results.as_deref() else {
        return Authentication::Unknown;
    };
    let Ok(results) = auth_results::parse(header) else {
        return Authentication::Failed;
    };
    if !results
        .authserv_id
        .eq_ignore_ascii_case(trusted_authserv_id.trim())
    {
        return Authentication::Unknown;
    }
    let from_domain = from.and_then(domain_of);
    let from_domain = from_domain.as_deref();
    let dmarc = || {
        results
            .results
            .iter()
            .filter(|result| result.method == "dmarc")
    };
    if dmarc().any(|result| result.result == "fail") {
        return Authentication::Failed;
    }
    let dmarc_pass_for_from = dmarc().any(|result| {
        result.result == "pass"
            && result
                .property("header.from")
                .any(|domain| domain_of(domain).as_deref() == from_domain && from_domain.is_some())
    });
    let aligned_pass = results
        .results
        .iter()
        .filter(|result| {
            matches!(result.method.as_str(), "spf" | "dkim") && result.result == "pass"
        })
        .flat_map(|result| {
            VOUCHED_IDENTITIES
                .iter()
                .flat_map(move |name| result.property(name))
        })
        .any(|identity| aligned(domain_of(identity).as_deref(), from_domain));
    if dmarc_pass_for_from || aligned_pass {
        Authentication::Aligned
    } else {
        Authentication::Failed
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{DEFAULT_TRUSTED_AUTHSERV_ID, parse_delegates};

    fn trust(spam: Option<&str>, virus: Option<&str>, auth: Option<&str>) -> TrustHeaders {
        TrustHeaders {
            spam_verdict: spam.map(str::to_owned),
            virus_verdict: virus.map(str::to_owned),
            authentication_results: auth.map(str::to_owned),
            from_fields: 1,
            from_mailboxes: 1,
        }
    }

    /// What `check` does: authentication judged once, then the verdict.
    fn judged(trust: &TrustHeaders, from: Option<&str>, policy: &SenderPolicy) -> Option<Reason> {
        let authenticated = authentication(trust, from, &policy.trusted_authserv_id);
        trust_verdict(trust, authenticated, policy)
    }

    const FROM: Option<&str> = Some("a@example.com");
    const SES_PASS: &str = "amazonses.com; spf=pass (spf: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;";

    fn verdict(auth: &str) -> Option<Reason> {
        judged(
            &trust(None, None, Some(auth)),
            FROM,
            &SenderPolicy::default(),
        )
    }

    #[test]
    fn verdicts_in_order_virus_spam_authentication() {
        let lax = SenderPolicy::default();
        assert_eq!(
            judged(
                &trust(Some("PASS"), Some("PASS"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            None
        );
        assert_eq!(
            judged(
                &trust(Some("FAIL"), Some("FAIL"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            Some(Reason::Virus)
        );
        assert_eq!(
            judged(
                &trust(Some(" fail "), Some("PASS"), Some(SES_PASS)),
                FROM,
                &lax
            ),
            Some(Reason::Spam)
        );
        assert_eq!(judged(&trust(Some("GRAY"), None, None), FROM, &lax), None);
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
        assert_eq!(
            authentication(&lookalike, from, "amazonses.com"),
            Authentication::Failed
        );
        let sibling = trust(
            None,
            None,
            Some("amazonses.com; dkim=pass header.d=other.co.uk; dmarc=none"),
        );
        assert_eq!(
            authentication(&sibling, from, "amazonses.com"),
            Authentication::Failed
        );
        let same = trust(
            None,
            None,
            Some("amazonses.com; dkim=pass header.d=mail.corp.co.uk; dmarc=none"),
        );
        assert_eq!(
            authentication(&same, from, "amazonses.com"),
            Authentication::Aligned
        );
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

    /// RFC 8601's grammar against the forms that split-by-hand parsing got wrong: each row is
    /// (header, From, what SES's verdict must be).
    #[test]
    fn the_grammar_table() {
        use Authentication::{Aligned, Failed, Unknown};
        let from = "a@example.com";
        let table: &[(&str, &str, Authentication)] = &[
            // A quoted local part is one value: its `;` and `dmarc=pass` are text.
            (
                "amazonses.com; spf=pass smtp.mailfrom=\"x; dmarc=pass; y\"@evil.example; dmarc=fail header.from=example.com",
                from,
                Failed,
            ),
            // A `(` inside quotes opens no comment that could swallow the fail.
            (
                "amazonses.com; spf=pass client-ip=192.0.2.1; envelope-from=\"a (b\"@evil.example; dmarc=fail header.from=example.com; dkim=pass header.d=example.com",
                from,
                Failed,
            ),
            // A fake aligned SPF pass inside the attacker's quoted local part.
            (
                "amazonses.com; spf=pass smtp.mailfrom=\"; spf=pass smtp.mailfrom=a@example.com; \"@evil.example; dmarc=none header.from=example.com",
                from,
                Failed,
            ),
            // CFWS around `=`, and a fold between `dmarc=` and `fail`.
            (
                "amazonses.com; dkim=pass header.d=example.com; dmarc = fail header.from=example.com",
                from,
                Failed,
            ),
            (
                "amazonses.com; dkim=pass header.d=example.com; dmarc=\r\n fail header.from=example.com",
                from,
                Failed,
            ),
            (
                "amazonses.com; dmarc (policy) = (reject) fail header.from=example.com; spf=pass smtp.mailfrom=a@example.com",
                from,
                Failed,
            ),
            // Two DMARC results: the fail wins, wherever it stands.
            (
                "amazonses.com; dmarc=pass header.from=example.com; dmarc=fail header.from=example.com",
                from,
                Failed,
            ),
            // A DMARC pass for another domain is not a pass for ours.
            (
                "amazonses.com; dmarc=pass header.from=evil.example",
                from,
                Failed,
            ),
            (
                "amazonses.com; dmarc=pass header.from=Example.COM.",
                from,
                Aligned,
            ),
            // Only our authserv-id speaks; another's header is not known.
            (
                "mx.evil.example; dmarc=pass header.from=example.com",
                from,
                Unknown,
            ),
            (
                "\"amazonses.com\" 1; dmarc=pass header.from=example.com",
                from,
                Aligned,
            ),
            // What the grammar cannot place is never a pass.
            (
                "amazonses.com; dmarc=pass header.from=example.com (unclosed",
                from,
                Failed,
            ),
            (
                "amazonses.com; dmarc=pass header.from=\"example.com",
                from,
                Failed,
            ),
            ("amazonses.com; none", from, Failed),
            // An unquoted `=` in an address (Google's bounce addresses) is part of it.
            (
                "amazonses.com; spf=pass client-ip=192.0.2.1; envelope-from=bounce=a=example.com@bounces.example.com; dmarc=none header.from=example.com",
                from,
                Aligned,
            ),
            // RFC 8601 B.4's shape, SES's authserv-id.
            (
                "amazonses.com; auth=pass (cram-md5) smtp.auth=sender@example.com; spf=pass smtp.mailfrom=example.com",
                from,
                Aligned,
            ),
            // RFC 8601 B.6: two DKIM signatures, one good.
            (
                "amazonses.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net; dkim=fail reason=\"bad signature\" header.i=@example.com",
                from,
                Failed,
            ),
            (
                "amazonses.com; dkim=fail reason=\"bad signature\" header.i=@mail-router.example.net; dkim=pass reason=\"good signature\" header.i=@example.com",
                from,
                Aligned,
            ),
        ];
        let mut wrong = Vec::new();
        for (header, from, expected) in table {
            let got = authentication(
                &trust(None, None, Some(header)),
                Some(from),
                DEFAULT_TRUSTED_AUTHSERV_ID,
            );
            if got != *expected {
                wrong.push(format!("{header:?}: {got:?}, expected {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_header_from_another_authserv_id_is_not_known() {
        let other = trust(
            None,
            None,
            Some("mx.google.com; dmarc=pass header.from=example.com"),
        );
        assert_eq!(judged(&other, FROM, &SenderPolicy::default()), None);
        let strict = SenderPolicy {
            require_authentication: true,
            ..SenderPolicy::default()
        };
        assert_eq!(
            judged(&other, FROM, &strict),
            Some(Reason::SenderUnauthenticated)
        );
        let trusting_google = SenderPolicy {
            trusted_authserv_id: "mx.google.com".into(),
            ..strict
        };
        assert_eq!(judged(&other, FROM, &trusting_google), None);
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
                judged(&headers, FROM, &lax),
                Some(Reason::SenderUnauthenticated),
                "{fields} fields, {mailboxes} mailboxes"
            );
        }
    }

    #[test]
    fn missing_results_are_unknown_unless_required() {
        assert_eq!(
            judged(&trust(None, None, None), FROM, &SenderPolicy::default()),
            None
        );
        let strict = SenderPolicy {
            require_authentication: true,
            ..SenderPolicy::default()
        };
        assert_eq!(
            judged(&trust(None, None, None), FROM, &strict),
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
