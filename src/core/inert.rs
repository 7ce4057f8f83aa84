//! A stranger's text made inert before we copy it into a mail we write: nothing from the
//! original may end a header, start a MIME part or smuggle a line into our body. mail-builder
//! then encodes and folds what is left; these functions decide what is left.

/// A Message-ID longer than this is dropped rather than cut (a cut id names another message).
/// `In-Reply-To: <` + id + `>` then fits RFC 5322's 998-byte line with room to spare.
pub const MAX_MESSAGE_ID_BYTES: usize = 250;

/// What of a subject or summary we quote back (in characters): enough to recognise it.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `text` as one line of at most `max_chars` characters: every control character (C0, DEL, C1:
/// CR, LF and NUL among them), Unicode's line and paragraph separators and the bidirectional
/// overrides become white space, runs of white space fold to one space, and the ends are trimmed.
/// Cut at a character boundary, with ASCII `...` to say so.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || is_unsafe(c) {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        if chars >= max_chars {
            out.truncate(out.trim_end().len());
            out.push_str("...");
            return out;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// [`one_line`] for a header we write: also no RFC 2047 encoded-word opener (`=?`), which a
/// reader would decode again (a subject that decoded to `=?utf-8?q?=0D=0A?=` would decode to a
/// line break a second time in our header). `=?` becomes `= ?`.
pub fn header_line(text: &str, max_chars: usize) -> String {
    let line = one_line(text, max_chars);
    if line.contains("=?") {
        line.replace("=?", "= ?")
    } else {
        line
    }
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The Message-ID `id` (without angle brackets) when it can be copied into `In-Reply-To` and
/// `References` as it is: RFC 5322's `id-left "@" id-right` in printable ASCII, no white space,
/// no `<`, `>` or quote, at most [`MAX_MESSAGE_ID_BYTES`]. Anything else is left out: a threading
/// hint is not worth a header we cannot vouch for.
pub fn message_id(id: &str) -> Option<&str> {
    let id = id.trim();
    let printable = id
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'<' | b'>' | b'"' | b'\\'));
    let (left, right) = id.rsplit_once('@')?;
    (printable && !left.is_empty() && !right.is_empty() && id.len() <= MAX_MESSAGE_ID_BYTES)
        .then_some(id)
}

/// The address `address` when it can be written as a recipient as it is: `local@domain` with no
/// white space, control character, quote, angle bracket, comma, semicolon, colon, backslash or
/// parenthesis anywhere (an address that needs any of them is not one we answer), one `@`, at
/// most 254 bytes (RFC 5321's path limit).
pub fn mailbox(address: &str) -> Option<&str> {
    let plain = address.chars().all(|c| {
        !c.is_whitespace()
            && !is_unsafe(c)
            && !matches!(
                c,
                '"' | '<' | '>' | ',' | ';' | ':' | '\\' | '(' | ')' | '[' | ']'
            )
    });
    let (local, domain) = address.split_once('@')?;
    (plain
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && address.len() <= 254)
        .then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_leaves_nothing_that_ends_a_line() {
        assert_eq!(
            one_line(
                "Q4\r\n--boundary\r\nContent-Type: text/html\0 \u{2028}x",
                200
            ),
            "Q4 --boundary Content-Type: text/html x"
        );
        assert_eq!(one_line("  a \t\r\n b  ", 200), "a b");
        assert_eq!(one_line("\u{202E}evil\u{85}", 200), "evil");
        assert_eq!(one_line("ééééé", 3), "ééé...");
        assert_eq!(one_line("abc def", 4), "abc...");
        assert_eq!(one_line("", 10), "");
    }

    #[test]
    fn header_lines_hold_no_encoded_word() {
        assert_eq!(
            header_line("Re: =?utf-8?q?a=0D=0Ab?= x", 200),
            "Re: = ?utf-8?q?a=0D=0Ab?= x"
        );
        assert_eq!(header_line("a = b ?", 200), "a = b ?");
    }

    #[test]
    fn message_ids_are_copied_only_when_plain() {
        assert_eq!(message_id("abc@example.com"), Some("abc@example.com"));
        assert_eq!(message_id(" abc@example.com "), Some("abc@example.com"));
        for bad in [
            "abc\r@example.com",
            "abc@exa\nmple.com",
            "no-at-sign",
            "a b@example.com",
            "<a@example.com>",
            "é@example.com",
            "@example.com",
            "abc@",
        ] {
            assert_eq!(message_id(bad), None, "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(1100));
        assert_eq!(message_id(&long), None);
    }

    #[test]
    fn mailboxes_are_plain_addresses() {
        assert_eq!(mailbox("alice@example.com"), Some("alice@example.com"));
        assert_eq!(mailbox("zoë@exämple.com"), Some("zoë@exämple.com"));
        for bad in [
            "a@b@c",
            "\"x\r\nBcc: y\"@evil.example",
            "a>@evil.example",
            "a@evil.example, b@other.example",
            "a\0@example.com",
            "noat",
            "@example.com",
        ] {
            assert_eq!(mailbox(bad), None, "{bad:?}");
        }
    }
}
