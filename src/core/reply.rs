//! The reply to a refused sender (and, with `NOTIFY_ON_SUCCESS`, the confirmation to an accepted
//! one): one RFC 5322 message, rendered from the `rejected` topic's message and
//! never sent here (the notifier sends it, locally and on AWS alike). Pure: the time and our From
//! address are parameters, and the Message-ID and MIME boundary derive from the refusal's
//! dedupe id, so the same refusal always renders the same bytes.
//!
//! The words live in `templates/reply/<language>/`, rendered with minijinja (the `.html`
//! templates escape everything they are given); mail-builder writes the MIME.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use minijinja::{Environment, context};

use super::inert::{self, MAX_QUOTED_CHARS};
use super::model::{ConfirmationMessage, RejectedMessage};

/// Languages a reply can be written in; the first is the fallback.
pub const LANGUAGES: [&str; 2] = ["en", "fr"];

/// The templates, compiled in; an error names the template that does not parse (every render
/// then fails with it, and the unit tests render them all).
static TEMPLATES: LazyLock<Result<Environment<'static>, ReplyError>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Compiled in: a deployment carries its words, and a missing file fails the build.
    macro_rules! templates {
        ($($name:literal),* $(,)?) => {
            [$(($name, include_str!(concat!("../../templates/reply/", $name)))),*]
        };
    }
    let templates = templates![
        "en/reasons.j2",
        "en/body.txt.j2",
        "en/body.html.j2",
        "en/confirmed.txt.j2",
        "en/confirmed.html.j2",
        "fr/reasons.j2",
        "fr/body.txt.j2",
        "fr/body.html.j2",
        "fr/confirmed.txt.j2",
        "fr/confirmed.html.j2",
    ];
    for (name, source) in templates {
        env.add_template(name, source)
            .map_err(|error| ReplyError::Template(name.to_owned(), error.to_string()))?;
    }
    Ok(env)
});

/// The rendered reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The refusal's dedupe id: one reply per refusal.
    pub dedupe_id: String,
    pub from: String,
    pub to: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The whole RFC 5322 message, CRLF line endings.
    pub raw: Vec<u8>,
}

/// A reply that cannot be rendered: a broken template or an unusable address. Permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply template {0} failed: {1}")]
    Template(String, String),
    #[error("the reply cannot be written: {0}")]
    Mime(String),
}

/// The reply language for a sender whose mail said it prefers `preferences` (its
/// `Content-Language`, then `Accept-Language`, in order): the first one a template exists for,
/// matched on the primary tag (`fr-CA` is `fr`); English otherwise.
pub fn pick_language(preferences: &[String]) -> &'static str {
    preferences
        .iter()
        .filter_map(|tag| {
            let primary = tag.split(['-', '_']).next().unwrap_or_default();
            LANGUAGES
                .iter()
                .find(|language| primary.eq_ignore_ascii_case(language))
        })
        .next()
        .copied()
        .unwrap_or(LANGUAGES[0])
}

/// What a reply is written with besides the notice: our From address, the time, and the random
/// seed of its MIME boundary (the caller draws it from the operating system).
#[derive(Debug, Clone, Copy)]
pub struct Stationery<'a> {
    pub reply_from: &'a str,
    pub now: DateTime<Utc>,
    pub boundary_seed: u128,
}

/// The reply to `rejected`.
pub fn render_reply(
    rejected: &RejectedMessage,
    stationery: Stationery<'_>,
) -> Result<Reply, ReplyError> {
    let letter = Letter::new(
        &rejected.dedupe_id,
        &rejected.sender,
        rejected.subject.as_deref(),
        rejected.source.message_id.as_deref(),
        &rejected.language,
    );
    let context = context! {
        reason => rejected.reason.code(),
        subject => &letter.subject,
        received => received(rejected.received_at),
        reference => reference(letter.dedupe_id),
    };
    letter.write("body", context, stationery)
}

/// With `NOTIFY_ON_SUCCESS`: the confirmation of `confirmation`.
pub fn render_confirmation(
    confirmation: &ConfirmationMessage,
    stationery: Stationery<'_>,
) -> Result<Reply, ReplyError> {
    let letter = Letter::new(
        &confirmation.dedupe_id,
        &confirmation.sender,
        confirmation.subject.as_deref(),
        confirmation.source.message_id.as_deref(),
        &confirmation.language,
    );
    let summary = confirmation
        .summary
        .as_deref()
        .map(|summary| inert::one_line(summary, MAX_QUOTED_CHARS));
    let context = context! {
        route => confirmation.route.as_str(),
        summary => summary.as_deref().unwrap_or(&letter.subject),
        start => confirmation.start.map(|start| start.to_string()),
        subject => &letter.subject,
        received => received(confirmation.received_at),
        reference => reference(letter.dedupe_id),
    };
    letter.write("confirmed", context, stationery)
}

fn supported(language: &str) -> &'static str {
    LANGUAGES
        .iter()
        .find(|supported| **supported == language)
        .copied()
        .unwrap_or(LANGUAGES[0])
}

fn received(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn reference(dedupe_id: &str) -> &str {
    dedupe_id.get(..12).unwrap_or(dedupe_id)
}

/// One mail to a sender, in reply to theirs; every field already inert.
struct Letter<'a> {
    dedupe_id: &'a str,
    to: &'a str,
    /// One line, at most [`MAX_QUOTED_CHARS`] characters, no encoded-word ([`inert::header_line`]).
    subject: String,
    /// Only a plain one ([`inert::message_id`]).
    original_message_id: Option<&'a str>,
    language: &'static str,
}

impl<'a> Letter<'a> {
    fn new(
        dedupe_id: &'a str,
        to: &'a str,
        subject: Option<&str>,
        original_message_id: Option<&'a str>,
        language: &str,
    ) -> Letter<'a> {
        Letter {
            dedupe_id,
            to,
            subject: inert::header_line(subject.unwrap_or_default(), MAX_QUOTED_CHARS),
            original_message_id: original_message_id.and_then(inert::message_id),
            language: supported(language),
        }
    }

    /// Renders `<language>/<template>.txt.j2` and `.html.j2` with `context`, and writes the mail.
    fn write(
        &self,
        template: &str,
        context: minijinja::Value,
        stationery: Stationery<'_>,
    ) -> Result<Reply, ReplyError> {
        let Stationery {
            reply_from,
            now,
            boundary_seed,
        } = stationery;
        let to = inert::mailbox(self.to).ok_or_else(|| {
            ReplyError::Mime(format!(
                "the recipient {:?} is not a plain address",
                self.to
            ))
        })?;
        let templates = TEMPLATES.as_ref().map_err(Clone::clone)?;
        let render = |name: String| {
            templates
                .get_template(&name)
                .and_then(|template| template.render(&context))
                .map_err(|error| ReplyError::Template(name.clone(), error.to_string()))
        };
        let text = render(format!("{}/{template}.txt.j2", self.language))?;
        let html = render(format!("{}/{template}.html.j2", self.language))?;

        let domain = reply_from
            .rsplit_once('@')
            .map(|(_, domain)| domain)
            .filter(|domain| !domain.is_empty())
            .ok_or_else(|| {
                ReplyError::Mime(format!("REPLY_FROM {reply_from:?} is not an address"))
            })?;
        let message_id = format!("{}.reply@{domain}", self.dedupe_id);
        if inert::message_id(&message_id).is_none() {
            return Err(ReplyError::Mime(format!(
                "the dedupe id {:?} cannot make a Message-ID",
                self.dedupe_id
            )));
        }
        let already_a_reply = self
            .subject
            .get(..3)
            .is_some_and(|re| re.eq_ignore_ascii_case("re:"));
        let subject = if already_a_reply {
            self.subject.clone()
        } else {
            format!("Re: {}", self.subject)
        };
        // RFC 2046 5.1.1: the boundary must not occur in what it delimits. Random, it will not;
        // a seed a caller can predict (a test, a fuzzer) must not make it so either.
        let mut boundary = format!("invite-router-{boundary_seed:032x}");
        let copied = [
            text.as_str(),
            html.as_str(),
            to,
            subject.as_str(),
            self.original_message_id.unwrap_or_default(),
        ];
        // Lengthened with '.', which no header or body encoding makes of another character
        // (Q-encoding writes a space as '_').
        while copied.iter().any(|value| value.contains(&boundary)) {
            boundary.push('.');
        }
        let mut builder = MessageBuilder::new()
            .from(("invite-router", reply_from))
            .to(to)
            .subject(subject)
            .message_id(MessageId::new(message_id.clone()))
            .date(Date::new(now.timestamp()))
            .header("Auto-Submitted", Raw::new("auto-replied"))
            .header("X-Auto-Response-Suppress", Raw::new("All"))
            .header("Content-Language", Raw::new(self.language));
        if let Some(original) = self.original_message_id {
            builder = builder
                .in_reply_to(MessageId::new(original.to_owned()))
                .references(MessageId::new(original.to_owned()));
        }
        let part = |subtype: &'static str, body: String| {
            MimePart::new(
                ContentType::new(subtype).attribute("charset", "utf-8"),
                body,
            )
        };
        let raw = builder
            .body(MimePart::new(
                ContentType::new("multipart/alternative").attribute("boundary", boundary),
                vec![part("text/plain", text), part("text/html", html)],
            ))
            .write_to_vec()
            .map_err(|error| ReplyError::Mime(error.to_string()))?;
        Ok(Reply {
            dedupe_id: self.dedupe_id.to_owned(),
            from: reply_from.to_owned(),
            to: to.to_owned(),
            message_id,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;
    use crate::core::model::{
        EventTime, NoticeKind, REJECTED_SCHEMA_VERSION, Reason, Route, SourceInfo,
    };

    fn rejected(reason: Reason, language: &str, subject: &str) -> RejectedMessage {
        RejectedMessage {
            schema_version: REJECTED_SCHEMA_VERSION,
            kind: NoticeKind::Refusal,
            dedupe_id: "3f1c9a7b2e4d6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a".into(),
            sender: "alice.moreau@example.com".into(),
            reason,
            explanation: reason.explanation().into(),
            subject: Some(subject.into()),
            language: language.into(),
            received_at: Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 0).single(),
            source: SourceInfo {
                bucket: Some("mail".into()),
                key: "incoming/abc".into(),
                message_id: Some("PAVPR08MB9281A1@example.com".into()),
                sender: Some("alice.moreau@example.com".into()),
                subject: Some(subject.into()),
            },
        }
    }

    fn stationery() -> Stationery<'static> {
        Stationery {
            reply_from: "invite-router@replies.example.org",
            now: now(),
            boundary_seed: 0x5eed,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 16, 0)
            .single()
            .expect("literal")
    }

    /// Every reason a sender is told.
    fn refusals() -> Vec<Reason> {
        Reason::ALL
            .into_iter()
            .filter(|reason| reason.notify_sender())
            .collect()
    }

    #[test]
    fn every_answered_reason_renders_in_every_language() {
        for language in LANGUAGES {
            let mut whys = std::collections::BTreeSet::new();
            for reason in refusals() {
                let reply = render_reply(&rejected(reason, language, "Q4 review"), stationery())
                    .unwrap_or_else(|error| panic!("{language} {reason}: {error}"));
                let message = MessageParser::default()
                    .parse(&reply.raw)
                    .expect("the reply parses");
                let text = message.body_text(0).expect("a text part").into_owned();
                let html = message.body_html(0).expect("an html part").into_owned();
                assert!(text.contains("Q4 review"), "{language} {reason}: {text}");
                assert!(text.contains("2026-11-30 09:15 UTC"), "{text}");
                assert!(html.contains("Q4 review"), "{html}");
                let why = text
                    .lines()
                    .find(|line| line.starts_with("Why:") || line.starts_with("Pourquoi"))
                    .unwrap_or_else(|| panic!("{language} {reason}: no reason line in {text}"))
                    .to_owned();
                assert!(why.len() > 30, "{language} {reason}: {why}");
                whys.insert(why);
            }
            assert_eq!(
                whys.len(),
                refusals().len(),
                "{language}: one sentence per reason"
            );
        }
    }

    #[test]
    fn the_reply_is_an_auto_reply_in_the_thread() {
        let reply = render_reply(
            &rejected(Reason::NoCalendar, "en", "Q4 review"),
            stationery(),
        )
        .expect("renders");
        assert_eq!(reply.to, "alice.moreau@example.com");
        let message = MessageParser::default().parse(&reply.raw).expect("parses");
        assert_eq!(message.subject(), Some("Re: Q4 review"));
        assert_eq!(
            message
                .from()
                .and_then(|from| from.first())
                .and_then(|a| a.address()),
            Some("invite-router@replies.example.org")
        );
        assert_eq!(
            message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address()),
            Some("alice.moreau@example.com")
        );
        assert_eq!(
            message.in_reply_to().as_text(),
            Some("PAVPR08MB9281A1@example.com")
        );
        assert_eq!(
            message.references().as_text(),
            Some("PAVPR08MB9281A1@example.com")
        );
        assert_eq!(message.message_id(), Some(reply.message_id.as_str()));
        assert!(reply.message_id.ends_with("@replies.example.org"));
        assert_eq!(
            message.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(
            message
                .header_raw("X-Auto-Response-Suppress")
                .map(str::trim),
            Some("All")
        );
        assert_eq!(
            message.header_raw("Content-Language").map(str::trim),
            Some("en")
        );
        assert_eq!(
            message.date().map(|date| date.to_timestamp()),
            Some(now().timestamp())
        );
        let content_type = message.content_type().expect("a content type");
        assert_eq!(content_type.subtype(), Some("alternative"));
        // Already a reply: no second "Re:".
        let again = render_reply(
            &rejected(Reason::NoCalendar, "en", "RE: Q4 review"),
            stationery(),
        )
        .expect("renders");
        let again = MessageParser::default().parse(&again.raw).expect("parses");
        assert_eq!(again.subject(), Some("RE: Q4 review"));
    }

    #[test]
    fn the_same_refusal_renders_the_same_bytes() {
        let rejected = rejected(Reason::TooLarge, "fr", "Revue T4");
        let first = render_reply(&rejected, stationery());
        let second = render_reply(&rejected, stationery());
        assert_eq!(first, second);
    }

    #[test]
    fn untrusted_text_is_escaped_in_html() {
        let subject = "<script>alert(1)</script> & <b>bold</b>";
        let reply = render_reply(&rejected(Reason::NoCalendar, "en", subject), stationery())
            .expect("renders");
        let message = MessageParser::default().parse(&reply.raw).expect("parses");
        let html = message.body_html(0).expect("html").into_owned();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &lt;b&gt;"),
            "{html}"
        );
        // The text part carries the subject as written: it is never interpreted.
        let text = message.body_text(0).expect("text").into_owned();
        assert!(text.contains(subject), "{text}");
    }

    #[test]
    fn the_language_follows_the_senders_preferences() {
        let tags = |tags: &[&str]| tags.iter().map(|tag| (*tag).to_owned()).collect::<Vec<_>>();
        assert_eq!(pick_language(&tags(&["fr-FR", "en-US"])), "fr");
        assert_eq!(pick_language(&tags(&["de-DE", "fr-CA"])), "fr");
        assert_eq!(pick_language(&tags(&["de-DE"])), "en");
        assert_eq!(pick_language(&[]), "en");
        let french = render_reply(
            &rejected(Reason::SenderNotOrganizer, "fr", "Revue T4"),
            stationery(),
        )
        .expect("renders");
        let message = MessageParser::default().parse(&french.raw).expect("parses");
        let text = message.body_text(0).expect("text").into_owned();
        assert!(text.contains("l'adresse de l'organisateur"), "{text}");
        // An unknown language in a message falls back to English rather than failing.
        let unknown = render_reply(
            &rejected(Reason::NoCalendar, "xx", "Q4 review"),
            stationery(),
        )
        .expect("renders");
        let unknown = MessageParser::default()
            .parse(&unknown.raw)
            .expect("parses");
        assert!(unknown.body_text(0).expect("text").contains("What to do"));
    }

    #[test]
    fn a_reply_from_no_address_is_an_error() {
        assert!(matches!(
            render_reply(
                &rejected(Reason::NoCalendar, "en", "x"),
                Stationery {
                    reply_from: "invite-router",
                    ..stationery()
                }
            ),
            Err(ReplyError::Mime(_))
        ));
    }

    #[test]
    fn a_confirmation_says_what_was_done_with_which_meeting() {
        let rejected = rejected(Reason::NoCalendar, "en", "Q4 review");
        for (route, verb, language) in [
            (Route::Create, "added", "en"),
            (Route::Update, "updated", "en"),
            (Route::Cancel, "annulé", "fr"),
        ] {
            let confirmation = ConfirmationMessage {
                schema_version: REJECTED_SCHEMA_VERSION,
                kind: NoticeKind::Confirmation,
                dedupe_id: rejected.dedupe_id.clone(),
                sender: rejected.sender.clone(),
                route,
                summary: Some("Q4 <review>".into()),
                start: Some(EventTime::Utc(
                    Utc.with_ymd_and_hms(2026, 12, 9, 13, 0, 0)
                        .single()
                        .expect("literal"),
                )),
                subject: rejected.subject.clone(),
                language: language.into(),
                received_at: rejected.received_at,
                source: rejected.source.clone(),
            };
            let reply = render_confirmation(&confirmation, stationery()).expect("renders");
            let message = MessageParser::default().parse(&reply.raw).expect("parses");
            let text = message.body_text(0).expect("text").into_owned();
            assert!(text.contains(verb), "{route}: {text}");
            assert!(
                text.contains("Q4 <review>") && text.contains("2026-12-09T13:00:00Z"),
                "{text}"
            );
            let html = message.body_html(0).expect("html").into_owned();
            assert!(html.contains("Q4 &lt;review&gt;"), "{html}");
            assert_eq!(
                message.header_raw("Auto-Submitted").map(str::trim),
                Some("auto-replied")
            );
        }
    }
}
