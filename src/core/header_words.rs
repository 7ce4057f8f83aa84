//! The words of a structured header field value, by RFC 5322's lexical rules: white space and
//! line folds separate, `( ... )` comments (nested, with quoted pairs) are dropped where they
//! close, `"..."` quoted strings are one word whatever they hold. The structured headers we read
//! (`Authentication-Results`, `Auto-Submitted`, `Precedence`) are tokenized here, never split.

/// One lexical item of a header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A run of characters that are neither white space, a comment, a quote, `;` nor `=`. It may
    /// hold `.`, `@` and `/`, which a field's own grammar splits where it places them.
    Atom {
        text: String,
        spaced: bool,
    },
    Quoted {
        text: String,
        spaced: bool,
    },
    Semicolon,
    /// `spaced` as for the others: an `=` inside an unquoted address (`a=b@example.com`, as
    /// Google's bounce addresses are) follows its atom with nothing between.
    Equals {
        spaced: bool,
    },
}

/// A comment or quoted string that does not close: what follows it cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a comment or quoted string is not closed")]
pub struct Unclosed;

/// Every word of `value`, in order.
pub fn words(value: &str) -> Result<Vec<Word>, Unclosed> {
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    let mut spaced = true;
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => spaced = true,
            '(' => {
                skip_comment(&mut chars)?;
                spaced = true;
            }
            '"' => {
                let mut text = String::new();
                loop {
                    match chars.next().ok_or(Unclosed)? {
                        '"' => break,
                        '\\' => text.push(chars.next().ok_or(Unclosed)?),
                        // A fold inside a quoted string is not part of it.
                        '\r' | '\n' => {}
                        c => text.push(c),
                    }
                }
                words.push(Word::Quoted { text, spaced });
                spaced = false;
            }
            ';' => {
                words.push(Word::Semicolon);
                spaced = true;
            }
            '=' => {
                words.push(Word::Equals { spaced });
                spaced = false;
            }
            c => {
                let mut text = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '(' | ')' | '"' | ';' | '=') {
                        break;
                    }
                    text.push(next);
                    chars.next();
                }
                words.push(Word::Atom { text, spaced });
                spaced = false;
            }
        }
    }
    Ok(words)
}

/// After a `(`: up to its `)`, nested comments and quoted pairs included (RFC 5322 3.2.2).
fn skip_comment(chars: &mut impl Iterator<Item = char>) -> Result<(), Unclosed> {
    let mut depth = 1usize;
    while depth > 0 {
        match chars.next().ok_or(Unclosed)? {
            '(' => depth += 1,
            ')' => depth -= 1,
            '\\' => {
                chars.next().ok_or(Unclosed)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The keyword a field starts with, lower-case, comments skipped (`(vacation) Auto-Replied;
/// owner-email=...` is `auto-replied`). `Err` when the value cannot be read at all (an unclosed
/// comment or quote), `Ok(None)` when it holds no keyword.
pub fn leading_keyword(value: &str) -> Result<Option<String>, Unclosed> {
    Ok(match words(value)?.into_iter().next() {
        Some(Word::Atom { text, .. } | Word::Quoted { text, .. }) => {
            Some(text.trim().to_ascii_lowercase()).filter(|text| !text.is_empty())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_quotes_and_folds() {
        assert_eq!(
            leading_keyword("(vacation (nested) \\) ) Auto-Replied; owner=x"),
            Ok(Some("auto-replied".into()))
        );
        assert_eq!(leading_keyword("\r\n\tbulk"), Ok(Some("bulk".into())));
        assert_eq!(leading_keyword("(only a comment)"), Ok(None));
        assert_eq!(leading_keyword("(open"), Err(Unclosed));
        assert_eq!(leading_keyword("\"open"), Err(Unclosed));
        assert_eq!(
            words("a=\"b; c\"@d"),
            Ok(vec![
                Word::Atom {
                    text: "a".into(),
                    spaced: true
                },
                Word::Equals { spaced: false },
                Word::Quoted {
                    text: "b; c".into(),
                    spaced: false
                },
                Word::Atom {
                    text: "@d".into(),
                    spaced: false
                },
            ])
        );
    }
}
