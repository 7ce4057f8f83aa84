//! Text as mail and iCalendar carry it: line folds, TEXT escapes, quoted names, charsets, and
//! the address form both the envelope and the calendar are compared in. Shared by `mime` and
//! `event`, so neither depends on the other.

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;

/// Removes iCalendar line folds (a line break followed by a space or tab) at the byte level, so
/// a multi-byte character split across a fold is joined before it is decoded.
pub fn unfold_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    // Most calendars a client sends are folded somewhere, but many parts of the text are not:
    // copy the runs between folds whole instead of byte by byte, and nothing at all without one.
    let mut out: Option<Vec<u8>> = None;
    let mut copied_up_to = 0;
    let mut search_from = 0;
    while let Some(offset) = bytes[search_from..].iter().position(|&byte| byte == b'\n') {
        let newline = search_from + offset;
        search_from = newline + 1;
        if !matches!(bytes.get(newline + 1), Some(b' ' | b'\t')) {
            continue;
        }
        let line_end = if newline > 0 && bytes[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        out.extend_from_slice(&bytes[copied_up_to..line_end.max(copied_up_to)]);
        copied_up_to = newline + 2;
        search_from = copied_up_to;
    }
    match out {
        None => Cow::Borrowed(bytes),
        Some(mut out) => {
            out.extend_from_slice(bytes.get(copied_up_to..).unwrap_or_default());
            Cow::Owned(out)
        }
    }
}

/// Bytes as text, invalid sequences replaced: borrowed when they are valid UTF-8, the common
/// case, which `str::from_utf8` checks several times faster than `String::from_utf8_lossy`.
pub fn lossy_utf8(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

/// RFC 5545 3.3.11 TEXT escapes, as a name needs them (a line break becomes a space): `\\,` `\\;` `\\\\` `\\n`.
pub fn unescape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push(' '),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Trims whitespace and one pair of surrounding double quotes.
pub fn clean_name(name: &str) -> &str {
    let name = name.trim();
    name.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .map_or(name, str::trim)
}

/// Lower-cases an address and drops a `mailto:` scheme in any letter case.
pub fn normalize_address(address: &str) -> String {
    let trimmed = address.trim().trim_matches(|c| c == '<' || c == '>');
    let without_scheme = match trimmed.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &trimmed[7..],
        _ => trimmed,
    };
    without_scheme.trim().to_lowercase()
}

/// Bytes in a declared charset as text (UTF-8 when none is declared or it is unknown), without a
/// byte-order mark.
pub fn decode_bytes(bytes: &[u8], charset: Option<&str>) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(decoder) = charset.and_then(|name| charset_decoder(name.as_bytes())) {
        return decoder(bytes);
    }
    lossy_utf8(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_removed_at_the_byte_level() {
        assert_eq!(
            unfold_bytes(b"SUMMARY:Zo\xc3\r\n \xabe\r\n").as_ref(),
            b"SUMMARY:Zo\xc3\xabe\r\n"
        );
        assert_eq!(unfold_bytes(b"A:b\n\tc\nD:e").as_ref(), b"A:bc\nD:e");
        assert!(matches!(unfold_bytes(b"A:b\r\nC:d\r\n"), Cow::Borrowed(_)));
    }

    /// The byte-at-a-time unfolding the run-copying one replaced, as the reference.
    fn unfold_one_byte_at_a_time(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            let break_len = match (bytes[index], bytes.get(index + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\n', _) => 1,
                _ => 0,
            };
            if break_len > 0 && matches!(bytes.get(index + break_len), Some(b' ' | b'\t')) {
                index += break_len + 1;
                continue;
            }
            out.push(bytes[index]);
            index += 1;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn unfolding_copies_runs_as_the_byte_loop_did(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'\r', b'\n', b' ', b'\t', 0xc3]),
                0..64,
            )
        ) {
            let (unfolded, expected) = (unfold_bytes(&bytes), unfold_one_byte_at_a_time(&bytes));
            proptest::prop_assert_eq!(unfolded.as_ref(), expected.as_slice());
        }
    }

    #[test]
    fn text_escapes_and_quoted_names() {
        assert_eq!(unescape_text(r"a\,b\;c\\d\ne\"), "a,b;c\\d e\\");
        assert_eq!(
            clean_name(" \"W. Europe Standard Time\" "),
            "W. Europe Standard Time"
        );
        assert_eq!(clean_name("\"unbalanced"), "\"unbalanced");
    }

    #[test]
    fn addresses_are_normalized() {
        assert_eq!(
            normalize_address(" MAILTO:Ann@Example.COM "),
            "ann@example.com"
        );
        assert_eq!(
            normalize_address("mailto:ann@example.com"),
            "ann@example.com"
        );
        assert_eq!(normalize_address("<b@example.com>"), "b@example.com");
    }

    #[test]
    fn charsets_and_byte_order_marks() {
        assert_eq!(decode_bytes(b"R\xe9union", Some("ISO-8859-1")), "Réunion");
        assert_eq!(decode_bytes(b"\xEF\xBB\xBFBEGIN", None), "BEGIN");
        assert_eq!(decode_bytes(b"caf\xc3\xa9", Some("x-unknown")), "café");
    }
}
