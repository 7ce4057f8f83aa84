//! Finds the calendar parts of a raw email with mail-parser: every `text/calendar`, every
//! `application/ics` and every attachment named `*.ics`, at any depth, including inside attached
//! `message/rfc822` messages (forwards, bounces). Each part comes back as decoded text.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use std::borrow::Cow;

use mail_parser::{Encoding, Header, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::calendar::text::{decode_bytes, lossy_utf8, normalize_address, unfold_bytes};
use super::header_words;
use super::model::Envelope;

/// Attached messages nest; a hostile one could nest thousands deep. Real forwards and bounces
/// stay under five levels.
const MAX_MESSAGE_DEPTH: usize = 8;

/// More calendar parts than any client sends (Gmail sends two copies); past this it is abuse.
pub const MAX_CALENDAR_PARTS: usize = 16;

/// One calendar part, transfer- and charset-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarPart {
    pub text: String,
    /// The part's `method=` Content-Type parameter, upper-cased.
    pub method_param: Option<String>,
    /// A `text/calendar` body part not marked as an attachment: the copy RFC 6047 section 2.4
    /// makes authoritative (Gmail's inline part, not its `invite.ics`).
    pub inline: bool,
}

/// The headers that say whether the sender can be trusted: SES's verdicts, and how many senders
/// the message claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustHeaders {
    pub spam_verdict: Option<String>,
    pub virus_verdict: Option<String>,
    /// The topmost `Authentication-Results`: the one the receiving server (SES) prepended.
    /// Lower ones may have been written by anyone, the sender included.
    pub authentication_results: Option<String>,
    /// How many From fields the message has.
    pub from_fields: usize,
    /// How many mailboxes those From fields name together (groups included).
    pub from_mailboxes: usize,
}

/// The headers that say whether answering the sender would feed a loop or be backscatter, each
/// read by its RFC's grammar over every field of that name (a message may repeat a field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyHeaders {
    /// `Auto-Submitted` (RFC 3834), lower-cased, the most telling of its fields: any keyword
    /// other than `no` or `auto-generated` first, then `auto-generated`, then `no`. A field that
    /// cannot be read counts as `auto-replied`.
    pub auto_submitted: Option<String>,
    /// A de facto auto-reply marker: `X-Auto-Response-Suppress` (Exchange), `X-Autoreply`,
    /// `X-Autorespond`, or `Precedence: auto_reply`.
    pub auto_reply_marker: bool,
    /// `Return-Path` is the null path `<>`: the message is a bounce.
    pub null_return_path: bool,
    /// A list header: RFC 2919's `List-Id` or any of RFC 2369's (`List-Help`, `-Subscribe`,
    /// `-Unsubscribe`, `-Post`, `-Owner`, `-Archive`), or RFC 8058's `List-Unsubscribe-Post`.
    pub list_headers: bool,
    /// `Precedence: bulk`, `list` or `junk` in any of its fields.
    pub bulk_precedence: bool,
    /// The message is a delivery or disposition report (`multipart/report`).
    pub report: bool,
}

/// What an email holds, as far as routing cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailContent {
    pub envelope: Envelope,
    pub trust: TrustHeaders,
    pub reply: ReplyHeaders,
    pub calendars: Vec<CalendarPart>,
    /// A calendar part was over the size limit (it is not in `calendars`).
    pub oversized_calendar: bool,
    /// More calendar parts than `MAX_CALENDAR_PARTS`.
    pub too_many_calendars: bool,
}

/// Reads the email; `None` when the bytes are not a message at all.
pub fn read_mail(raw: &[u8], max_calendar_bytes: usize) -> Option<MailContent> {
    let message = MessageParser::default().parse(without_leading_blank_lines(raw))?;
    let mut content = MailContent {
        envelope: envelope_of(&message),
        trust: trust_headers_of(&message),
        reply: reply_headers_of(&message),
        ..MailContent::default()
    };
    collect_calendar_parts(&message, 0, max_calendar_bytes, &mut content);
    Some(content)
}

/// Some stores and relays leave a line of white space before the first header (seen in an iCloud
/// invitation kept by the Nylas sync engine); a parser would read that as the end of an empty
/// header block and lose every header.
fn without_leading_blank_lines(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    while let Some(end) = rest.iter().position(|byte| *byte == b'\n') {
        if !rest[..end]
            .iter()
            .all(|byte| matches!(byte, b' ' | b'\t' | b'\r'))
        {
            break;
        }
        rest = &rest[end + 1..];
    }
    rest
}

/// The raw value of the first top-level header called `name`. Only the names are compared: mail-
/// parser's `headers_raw` checks every value's UTF-8 on each walk, and routing looks up a dozen
/// names per email. A value that is not UTF-8 is read lossily rather than skipped.
fn raw_header<'m>(message: &'m Message<'_>, name: &str) -> Option<Cow<'m, str>> {
    message
        .headers()
        .iter()
        .find(|header| header.name.as_str().eq_ignore_ascii_case(name))
        .and_then(|header| raw_value(message, header))
}

fn raw_value<'m>(message: &'m Message<'_>, header: &Header<'_>) -> Option<Cow<'m, str>> {
    let start = usize::try_from(header.offset_start).ok()?;
    let end = usize::try_from(header.offset_end).ok()?;
    message.raw_message.get(start..end).map(lossy_utf8)
}

fn envelope_of(message: &Message<'_>) -> Envelope {
    Envelope {
        sender: message
            .from()
            .and_then(|from| from.first())
            .and_then(|address| address.address())
            .map(normalize_address),
        subject: message.subject().map(|subject| subject.trim().to_owned()),
        message_id: message.message_id().map(str::to_owned),
        date: message
            .date()
            .and_then(|date| chrono::DateTime::from_timestamp(date.to_timestamp(), 0)),
        languages: languages_of(message),
        body_digest: None,
    }
}

/// `Content-Language`, then `Accept-Language` by descending `q`, as written (`en-US`, `fr`).
fn languages_of(message: &Message<'_>) -> Vec<String> {
    let content_language = raw_header(message, "Content-Language");
    let mut languages: Vec<String> = content_language
        .iter()
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect();
    let accept_language = raw_header(message, "Accept-Language");
    let mut accepted: Vec<(f32, String)> = accept_language
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut pieces = item.split(';');
            let tag = pieces.next()?.trim();
            let weight = pieces
                .find_map(|piece| piece.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && tag != "*").then(|| (weight, tag.to_owned()))
        })
        .collect();
    // Stable: equal weights keep the order the sender wrote them in.
    accepted.sort_by(|a, b| b.0.total_cmp(&a.0));
    languages.extend(accepted.into_iter().map(|(_, tag)| tag));
    languages
}

fn trust_headers_of(message: &Message<'_>) -> TrustHeaders {
    let unfolded = |name: &str| raw_header(message, name).map(|value| unfold_header(&value));
    TrustHeaders {
        spam_verdict: unfolded("X-SES-Spam-Verdict"),
        virus_verdict: unfolded("X-SES-Virus-Verdict"),
        authentication_results: unfolded("Authentication-Results"),
        // Counted by name: a second From whose value is not UTF-8 still counts.
        from_fields: message
            .headers()
            .iter()
            .filter(|header| header.name.as_str().eq_ignore_ascii_case("From"))
            .count(),
        from_mailboxes: message.from().map_or(0, |from| from.iter().count()),
    }
}

/// Every header a mailing list manager adds (RFC 2369, RFC 2919, RFC 8058).
const LIST_HEADERS: [&str; 8] = [
    "List-Id",
    "List-Help",
    "List-Subscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// Headers whose presence alone marks an automatic reply.
const AUTO_REPLY_HEADERS: [&str; 3] = ["X-Auto-Response-Suppress", "X-Autoreply", "X-Autorespond"];

fn reply_headers_of(message: &Message<'_>) -> ReplyHeaders {
    let fields = |name: &'static str| {
        message
            .headers()
            .iter()
            .filter(move |header| header.name.as_str().eq_ignore_ascii_case(name))
    };
    let has = |name: &'static str| fields(name).next().is_some();
    // Each field's first keyword, comments skipped; an unreadable field as `None`.
    let keywords = |name: &'static str| -> Vec<Option<String>> {
        fields(name)
            .map(|header| {
                raw_value(message, header)
                    .and_then(|value| header_words::leading_keyword(&value).ok())
                    .flatten()
            })
            .collect()
    };
    let precedences = keywords("Precedence");
    let is_precedence = |wanted: &[&str]| {
        precedences
            .iter()
            .flatten()
            .any(|precedence| wanted.contains(&precedence.as_str()))
    };
    let null_return_path = raw_header(message, "Return-Path").is_some_and(|value| {
        value
            .chars()
            .all(|c| c.is_whitespace() || c == '<' || c == '>')
    });
    let report = message.content_type().is_some_and(|content_type| {
        content_type.ctype().eq_ignore_ascii_case("multipart")
            && content_type
                .subtype()
                .is_some_and(|sub| sub.eq_ignore_ascii_case("report"))
    });
    ReplyHeaders {
        auto_submitted: most_telling_auto_submitted(keywords("Auto-Submitted")),
        auto_reply_marker: AUTO_REPLY_HEADERS.into_iter().any(has)
            || is_precedence(&["auto_reply"]),
        null_return_path,
        list_headers: LIST_HEADERS.into_iter().any(has),
        bulk_precedence: is_precedence(&["bulk", "list", "junk"]),
        report,
    }
}

/// RFC 3834 5.1: any value but `no` means the message was sent automatically. Of several fields
/// the strongest claim wins, so a `no` cannot hide an `auto-replied` after it; an unreadable field
/// is read as the strongest.
fn most_telling_auto_submitted(keywords: Vec<Option<String>>) -> Option<String> {
    let rank = |keyword: &Option<String>| match keyword.as_deref() {
        Some("no") => 0,
        Some("auto-generated") => 1,
        _ => 2,
    };
    keywords
        .into_iter()
        .max_by_key(rank)
        .map(|keyword| keyword.unwrap_or_else(|| "auto-replied".to_owned()))
}

fn unfold_header(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn collect_calendar_parts(
    message: &Message<'_>,
    depth: usize,
    max_calendar_bytes: usize,
    content: &mut MailContent,
) {
    for part in &message.parts {
        match &part.body {
            PartType::Message(inner) if depth < MAX_MESSAGE_DEPTH => {
                collect_calendar_parts(inner, depth + 1, max_calendar_bytes, content);
            }
            PartType::Message(_) | PartType::Multipart(_) => {}
            _ if is_calendar_part(part) => {
                if content.calendars.len() >= MAX_CALENDAR_PARTS {
                    content.too_many_calendars = true;
                    return;
                }
                if part.len() > max_calendar_bytes {
                    content.oversized_calendar = true;
                    continue;
                }
                let text = decode_calendar_part(message, part);
                if text.len() > max_calendar_bytes {
                    content.oversized_calendar = true;
                    continue;
                }
                let method_param = part
                    .content_type()
                    .and_then(|content_type| content_type.attribute("method"))
                    .map(|method| method.trim().trim_matches(';').trim().to_ascii_uppercase())
                    .filter(|method| !method.is_empty());
                content.calendars.push(CalendarPart {
                    text,
                    method_param,
                    inline: is_inline_calendar(part),
                });
            }
            _ => {}
        }
    }
}

fn is_calendar_part(part: &MessagePart<'_>) -> bool {
    has_type(part, "text", "calendar")
        || has_type(part, "application", "ics")
        || part.attachment_name().is_some_and(has_ics_extension)
}

fn has_type(part: &MessagePart<'_>, main: &str, sub: &str) -> bool {
    part.content_type().is_some_and(|content_type| {
        content_type.ctype().eq_ignore_ascii_case(main)
            && content_type
                .subtype()
                .is_some_and(|subtype| subtype.eq_ignore_ascii_case(sub))
    })
}

fn is_inline_calendar(part: &MessagePart<'_>) -> bool {
    let text_calendar = has_type(part, "text", "calendar");
    let attachment = part
        .content_disposition()
        .is_some_and(|disposition| disposition.ctype().eq_ignore_ascii_case("attachment"));
    text_calendar && !attachment
}

fn has_ics_extension(name: &str) -> bool {
    let name = name.trim().trim_matches('"');
    name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".ics"))
}

/// The part's text. mail-parser already decoded text parts with their charset; when that
/// produced replacement characters the usual cause is a client that folded a line in the middle of
/// a multi-byte UTF-8 character, so the raw bytes are decoded again with folds removed first.
fn decode_calendar_part(message: &Message<'_>, part: &MessagePart<'_>) -> String {
    let charset = part
        .content_type()
        .and_then(|content_type| content_type.attribute("charset"));
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => {
            if text.contains('\u{FFFD}')
                && let Some(bytes) = transfer_decoded_bytes(message, part)
            {
                return decode_bytes(&unfold_bytes(&bytes), charset);
            }
            text.to_string()
        }
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            decode_bytes(&unfold_bytes(bytes), charset)
        }
        PartType::Message(_) | PartType::Multipart(_) => String::new(),
    }
}

fn transfer_decoded_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let start = usize::try_from(part.raw_body_offset()).ok()?;
    let end = usize::try_from(part.raw_end_offset()).ok()?;
    let raw = message.raw_message().get(start..end)?;
    match part.encoding {
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::Base64 => base64_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(body: &str) -> MailContent {
        read_mail(body.as_bytes(), 512 * 1024).expect("parses")
    }

    fn reply_headers(headers: &str) -> ReplyHeaders {
        mail(&format!(
            "From: a@example.com\r\n{headers}Subject: x\r\n\r\nbody\r\n"
        ))
        .reply
    }

    #[test]
    fn auto_reply_and_list_markers_by_their_rfcs() {
        let auto = |headers: &str| reply_headers(headers).auto_submitted;
        assert_eq!(
            auto("Auto-Submitted: (vacation) auto-replied\r\n"),
            Some("auto-replied".into())
        );
        assert_eq!(
            auto("Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n"),
            Some("auto-replied".into())
        );
        assert_eq!(
            auto("Auto-Submitted: auto-generated\r\nAuto-Submitted: no\r\n"),
            Some("auto-generated".into())
        );
        assert_eq!(
            auto("Auto-Submitted:\r\n Auto-Notified; owner-email=\"a@example.com\"\r\n"),
            Some("auto-notified".into())
        );
        assert_eq!(
            auto("Auto-Submitted: (unclosed auto-replied\r\n"),
            Some("auto-replied".into())
        );
        assert_eq!(auto("Auto-Submitted: No (a human)\r\n"), Some("no".into()));
        assert_eq!(auto(""), None);
        for marker in [
            "X-Autoreply: yes\r\n",
            "X-Autorespond: vacation\r\n",
            "X-Auto-Response-Suppress: All\r\n",
            "Precedence: (out of office) auto_reply\r\n",
        ] {
            assert!(reply_headers(marker).auto_reply_marker, "{marker}");
        }
        for list in [
            "List-Post: <mailto:team@lists.example.com>\r\n",
            "List-Id: Team <team.lists.example.com>\r\n",
            "List-Help: <mailto:help@lists.example.com>\r\n",
            "list-archive: <https://lists.example.com/team>\r\n",
        ] {
            assert!(reply_headers(list).list_headers, "{list}");
        }
        assert!(reply_headers("Precedence: first-class\r\nPrecedence: Bulk\r\n").bulk_precedence);
        assert!(!reply_headers("Precedence: first-class\r\n").bulk_precedence);
        let plain = reply_headers("Reply-To: b@example.com\r\n");
        assert_eq!(plain, ReplyHeaders::default());
    }

    #[test]
    fn a_second_from_is_counted_whatever_its_bytes() {
        // A Latin-1 display name is not UTF-8; the second From must not vanish from the count
        // (DMARC judges one mailbox, and the rules would act as the other).
        let raw = b"From: Ann <ann@example.com>\r\nFrom: \xc9ve <eve@example.org>\r\nTo: create@example.com\r\nSubject: x\r\n\r\nbody\r\n";
        let content = read_mail(raw, 1 << 20).expect("a message");
        assert_eq!(content.trust.from_fields, 2);
    }

    #[test]
    fn finds_inline_calendar_with_method_parameter() {
        let content = mail(
            "From: Ann <ANN@Example.com>\r\nSubject: Hi\r\nMessage-ID: <m1@example.com>\r\n\
             Content-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n\r\n\
             BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        );
        assert_eq!(content.calendars.len(), 1);
        assert_eq!(
            content.calendars[0].method_param.as_deref(),
            Some("REQUEST")
        );
        assert_eq!(content.envelope.sender.as_deref(), Some("ann@example.com"));
        assert_eq!(
            content.envelope.message_id.as_deref(),
            Some("m1@example.com")
        );
    }

    #[test]
    fn white_space_lines_before_the_headers_are_skipped() {
        let content = mail(&format!(
            "{}\r\n \t\nFrom: Ann <ann@example.com>\r\n\
             Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            " ".repeat(255)
        ));
        assert_eq!(content.envelope.sender.as_deref(), Some("ann@example.com"));
        assert_eq!(content.calendars.len(), 1);
        assert_eq!(without_leading_blank_lines(b"\n\n"), b"");
        assert_eq!(without_leading_blank_lines(b"From: a\n"), b"From: a\n");
    }

    #[test]
    fn zoom_style_doubled_semicolons_do_not_hide_the_method() {
        let content = mail(
            "From: a@example.com\r\nContent-Type: text/calendar; method=REQUEST;; charset=UTF-8\r\n\r\n\
             BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        );
        assert_eq!(
            content.calendars[0].method_param.as_deref(),
            Some("REQUEST")
        );
    }

    #[test]
    fn finds_ics_attachment_by_name_and_application_ics_in_any_case() {
        let content = mail(concat!(
            "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            "--b\r\nContent-Type: application/octet-stream; name=\"Meeting.ICS\"\r\n",
            "Content-Disposition: attachment; filename=\"Meeting.ICS\"\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n",
            "QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=\r\n",
            "--b\r\nContent-Type: APPLICATION/ICS\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            "--b--\r\n"
        ));
        assert_eq!(content.calendars.len(), 2);
        assert!(content.calendars[0].text.starts_with("BEGIN:VCALENDAR"));
    }

    #[test]
    fn finds_calendar_inside_attached_message() {
        let content = mail(concat!(
            "From: fwd@example.com\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n",
            "--o\r\nContent-Type: text/plain\r\n\r\nsee below\r\n",
            "--o\r\nContent-Type: message/rfc822\r\n\r\n",
            "From: org@example.com\r\nContent-Type: text/calendar; charset=utf-8\r\n\r\n",
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
            "--o--\r\n"
        ));
        assert_eq!(content.calendars.len(), 1);
        assert!(content.calendars[0].text.contains("METHOD:REQUEST"));
        assert_eq!(content.envelope.sender.as_deref(), Some("fwd@example.com"));
    }

    #[test]
    fn latin1_calendar_is_decoded_with_its_charset() {
        let raw = b"From: a@example.com\r\nContent-Type: text/calendar; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\nSUMMARY:R\xe9union\r\n"
            .to_vec();
        let content = read_mail(&raw, 1024).expect("parses");
        assert!(content.calendars[0].text.contains("Réunion"));
    }

    #[test]
    fn utf8_split_by_a_fold_is_rejoined() {
        // "Zoë" with the fold between the two bytes of "ë", base64 so the bytes survive transport.
        let ics = b"SUMMARY:Zo\xc3\r\n \xabe\r\n";
        let encoded = "U1VNTUFSWTpab8MNCiCrZQ0K";
        assert_eq!(base64_decode(encoded.as_bytes()).as_deref(), Some(&ics[..]));
        let content = mail(&format!(
            "From: a@example.com\r\nContent-Type: text/calendar; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        ));
        assert!(
            content.calendars[0].text.contains("SUMMARY:Zoëe"),
            "{:?}",
            content.calendars[0].text
        );
    }

    #[test]
    fn oversized_calendar_is_flagged_not_returned() {
        let body = format!(
            "From: a@example.com\r\nContent-Type: text/calendar\r\n\r\n{}\r\n",
            "X".repeat(2048)
        );
        let content = read_mail(body.as_bytes(), 1024).expect("parses");
        assert!(content.oversized_calendar);
        assert!(content.calendars.is_empty());
    }

    #[test]
    fn topmost_authentication_results_is_the_trusted_one() {
        let content = mail(
            "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=a@example.com;\r\n dmarc=pass\r\n\
             Authentication-Results: forged.example; dmarc=pass\r\n\
             X-SES-Spam-Verdict: FAIL\r\nFrom: a@example.com\r\n\r\nhello\r\n",
        );
        assert_eq!(
            content.trust.authentication_results.as_deref(),
            Some("amazonses.com; spf=pass smtp.mailfrom=a@example.com; dmarc=pass")
        );
        assert_eq!(content.trust.spam_verdict.as_deref(), Some("FAIL"));
        assert!(content.calendars.is_empty());
    }

    #[test]
    fn hostile_nesting_does_not_exhaust_the_stack() {
        let mut nested_messages = String::new();
        for _ in 0..5000 {
            nested_messages.push_str("From: a@example.com\r\nContent-Type: message/rfc822\r\n\r\n");
        }
        nested_messages.push_str("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n");
        let content = read_mail(nested_messages.as_bytes(), 1024).expect("parses");
        assert!(content.calendars.len() <= 1);

        let mut nested_multiparts = String::from("From: a@example.com\r\n");
        for level in 0..5000 {
            nested_multiparts.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
            ));
        }
        nested_multiparts.push_str("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n");
        let content = read_mail(nested_multiparts.as_bytes(), 1024).expect("parses");
        assert!(content.calendars.len() <= 1);
    }
}
