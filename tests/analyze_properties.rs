//! Properties of `analyze` over generated input: it never panics, its verdict is consistent with
//! what it reports, and an invite written in any transfer encoding or line-ending style reads back
//! with exactly the values it was written with.

use invite_router::core::model::{Method, Reason};
use invite_router::core::{Limits, SenderPolicy, analyze};
use proptest::prelude::*;

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let before_line_break = matches!(bytes.get(index + 1), Some(b'\r' | b'\n'));
        let piece = match byte {
            b'\r' | b'\n' => {
                out.push(byte as char);
                line_len = 0;
                continue;
            }
            // RFC 2045: decoders drop white space before a line break, so it must be encoded.
            b' ' | b'\t' if before_line_break => format!("={byte:02X}"),
            b'=' | 0x80..=0xFF => format!("={byte:02X}"),
            _ => (byte as char).to_string(),
        };
        if line_len + piece.len() > 73 {
            out.push_str("=\r\n");
            line_len = 0;
        }
        line_len += piece.len();
        out.push_str(&piece);
    }
    out
}

/// Folds a content line every 74 octets, possibly inside a UTF-8 character, as some clients do.
fn fold_bytes(line: &[u8], out: &mut Vec<u8>) {
    for (index, chunk) in line.chunks(74).enumerate() {
        if index > 0 {
            out.extend_from_slice(b"\r\n ");
        }
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(b"\r\n");
}

fn to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (index, &byte) in bytes.iter().enumerate() {
        if !(byte == b'\r' && bytes.get(index + 1) == Some(&b'\n')) {
            out.push(byte);
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Written {
    uid: String,
    summary: String,
    sequence: u32,
    cancel: bool,
    encoding: u8,
    lf_only: bool,
}

fn written() -> impl Strategy<Value = Written> {
    (
        "[A-Za-z0-9@._-]{1,120}",
        "[\\p{L}\\p{N} ,.!?'()-]{1,160}",
        0u32..1000,
        any::<bool>(),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(
            |(uid, summary, sequence, cancel, encoding, lf_only)| Written {
                uid,
                summary: summary.trim().to_owned(),
                sequence,
                cancel,
                encoding,
                lf_only,
            },
        )
        .prop_filter("summary must not be blank", |written| {
            !written.summary.is_empty()
        })
}

fn email_of(written: &Written) -> Vec<u8> {
    let method = if written.cancel { "CANCEL" } else { "REQUEST" };
    let escaped_summary = written.summary.replace(',', "\\,");
    let mut calendar_bytes = Vec::new();
    for line in [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        format!("METHOD:{method}"),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", written.uid),
        format!("SEQUENCE:{}", written.sequence),
        "DTSTAMP:20261101T120000Z".to_owned(),
        "DTSTART:20261201T180000Z".to_owned(),
        "DTEND:20261201T190000Z".to_owned(),
        "ORGANIZER;CN=Org:mailto:org@example.com".to_owned(),
        format!("SUMMARY:{escaped_summary}"),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ] {
        fold_bytes(line.as_bytes(), &mut calendar_bytes);
    }
    let (transfer, body) = match written.encoding {
        0 => ("base64", base64(&calendar_bytes)),
        1 => ("quoted-printable", quoted_printable(&calendar_bytes)),
        _ => ("8bit", String::new()),
    };
    let mut email = Vec::new();
    email.extend_from_slice(
        format!(
            "From: Org <org@example.com>\r\nTo: create@example.net\r\nSubject: Invitation\r\n\
             Message-ID: <p@example.com>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nYou are invited.\r\n\
             --b1\r\nContent-Type: text/calendar; charset=UTF-8; method={method}\r\n\
             Content-Transfer-Encoding: {transfer}\r\n\r\n"
        )
        .as_bytes(),
    );
    if transfer == "8bit" {
        email.extend_from_slice(&calendar_bytes);
    } else {
        email.extend_from_slice(body.as_bytes());
        email.extend_from_slice(b"\r\n");
    }
    email.extend_from_slice(b"--b1--\r\n");
    if written.lf_only {
        email = to_lf(&email);
    }
    email
}

fn assert_consistent(raw: &[u8]) {
    let analysis = analyze(raw, &Limits::default(), &SenderPolicy::default());
    match &analysis.verdict {
        Ok(checked) => {
            assert!(matches!(checked.method(), Method::Request | Method::Cancel));
            assert!(!checked.events().is_empty());
            assert!(
                checked
                    .events()
                    .iter()
                    .all(|event| event.uid.as_deref() == Some(checked.uid()))
            );
        }
        Err(refused) if matches!(refused.reason, Reason::NoCalendar | Reason::TooLarge) => {
            assert!(refused.events.is_empty());
        }
        Err(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        assert_consistent(&bytes);
    }

    #[test]
    fn written_invites_read_back_exactly(written in written()) {
        let raw = email_of(&written);
        let analysis = analyze(&raw, &Limits::default(), &SenderPolicy::default());
        prop_assert_eq!(analysis.reason(), None, "{}", String::from_utf8_lossy(&raw));
        prop_assert_eq!(
            analysis.method(),
            Some(if written.cancel { &Method::Cancel } else { &Method::Request })
        );
        let event = &analysis.events()[0];
        prop_assert_eq!(event.uid.as_deref(), Some(written.uid.as_str()));
        prop_assert_eq!(event.summary.as_deref(), Some(written.summary.as_str()));
        prop_assert_eq!(event.sequence, written.sequence);
    }

    #[test]
    fn damaged_invites_never_panic(
        written in written(),
        cut in 0usize..4000,
        insert_at in 0usize..4000,
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut raw = email_of(&written);
        let insert_at = insert_at.min(raw.len());
        raw.splice(insert_at..insert_at, noise);
        raw.truncate(cut.max(1).min(raw.len()));
        assert_consistent(&raw);
    }
}

#[test]
fn generator_folds_inside_characters_and_converts_line_endings() {
    let mut folded = Vec::new();
    fold_bytes(format!("x{}", "é".repeat(40)).as_bytes(), &mut folded);
    assert!(
        std::str::from_utf8(&folded).is_err(),
        "a fold must split a character"
    );
    assert_eq!(to_lf(b"a\r\nb\r"), b"a\nb\r");
}
