//! A strict reader of the replies we write, stricter than mail-parser: it checks the bytes
//! themselves, so a header or MIME part smuggled in by a stranger's text is found even where a
//! lenient parser would paper over it. Shared by the hostile-rendering property test and the
//! `reply` fuzz target.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Headers a reply may carry; the first eight always.
pub const REPLY_HEADERS: [&str; 11] = [
    "From",
    "To",
    "Subject",
    "Message-ID",
    "Date",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Content-Language",
    "MIME-Version",
    "In-Reply-To",
    "References",
];
const ALWAYS: usize = 8;

/// What a reply must be: CRLF lines of at most 998 bytes and no NUL; exactly our headers, each
/// once (the thread headers only together, only when `threaded`); a `multipart/alternative`
/// whose boundary starts with `boundary` (the renderer lengthens it if its seed's form occurs in
/// the text) with exactly a text/plain and a text/html part: exactly three lines start with the
/// delimiter, and the boundary occurs nowhere else.
pub fn check(raw: &[u8], boundary: &str, threaded: bool) -> Result<(), String> {
    if raw.contains(&0) {
        return Err("a NUL byte".into());
    }
    for (index, window) in raw.windows(2).enumerate() {
        if window[0] == b'\r' && window[1] != b'\n' {
            return Err(format!("a bare CR at byte {index}"));
        }
        if window[1] == b'\n' && window[0] != b'\r' {
            return Err(format!("a bare LF at byte {}", index + 1));
        }
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not ASCII/UTF-8 text".to_owned())?;
    if let Some(line) = text.split("\r\n").find(|line| line.len() > 998) {
        return Err(format!("a line of {} bytes", line.len()));
    }
    let (head, _body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "no end of the header block".to_owned())?;
    let mut seen: Vec<String> = Vec::new();
    let mut content_type = 0;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (name, _) = line
            .split_once(':')
            .ok_or_else(|| format!("a header line without a name: {line:?}"))?;
        if name.eq_ignore_ascii_case("Content-Type") {
            content_type += 1;
            continue;
        }
        let known = REPLY_HEADERS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("a header we never write: {name:?}"))?;
        if seen.iter().any(|seen| seen == known) {
            return Err(format!("{known} twice"));
        }
        seen.push((*known).to_owned());
    }
    if content_type != 1 {
        return Err(format!("{content_type} Content-Type headers at the top"));
    }
    let missing: Vec<&str> = REPLY_HEADERS[..ALWAYS]
        .iter()
        .copied()
        .filter(|name| name != &"MIME-Version" && !seen.iter().any(|seen| seen == name))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {missing:?}"));
    }
    let threads = ["In-Reply-To", "References"]
        .iter()
        .filter(|name| seen.iter().any(|seen| seen == *name))
        .count();
    if threads != if threaded { 2 } else { 0 } {
        return Err(format!("{threads} thread headers, threaded: {threaded}"));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| "mail-parser cannot read it".to_owned())?;
    let root = message
        .content_type()
        .ok_or_else(|| "no content type".to_owned())?;
    let written = root.attribute("boundary").unwrap_or_default();
    if root.ctype() != "multipart"
        || root.subtype() != Some("alternative")
        || !written.starts_with(boundary)
    {
        return Err(format!("the root is {root:?}"));
    }
    let delimiter = format!("--{written}");
    let delimiters = text
        .split("\r\n")
        .filter(|line| line.starts_with(&delimiter))
        .count();
    if delimiters != 3 {
        return Err(format!(
            "{delimiters} lines start with the delimiter, not 3"
        ));
    }
    // Once in Content-Type, three times as a delimiter: nowhere in the text.
    let occurrences = text.matches(written).count();
    if occurrences != 4 {
        return Err(format!("the boundary occurs {occurrences} times, not 4"));
    }
    let kinds: Vec<String> = message
        .parts
        .iter()
        .map(|part| {
            let kind = part
                .content_type()
                .map(|content_type| {
                    format!(
                        "{}/{}",
                        content_type.ctype(),
                        content_type.subtype().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            match part.body {
                PartType::Multipart(_) => format!("multipart {kind}"),
                _ => kind,
            }
        })
        .collect();
    if kinds != ["multipart multipart/alternative", "text/plain", "text/html"] {
        return Err(format!("the parts are {kinds:?}"));
    }
    Ok(())
}
