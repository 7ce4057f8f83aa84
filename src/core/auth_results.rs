//! `Authentication-Results` read by its grammar (RFC 8601 section 2.2, with RFC 5322's CFWS and
//! quoted strings and RFC 2045's `value`), never split by hand. A stranger controls parts of what
//! SES copies into this header (the envelope-from's quoted local part, the HELO name), so a `;`,
//! `(` or `dmarc=pass` inside a quoted string is text, a comment is dropped only where it closes,
//! and anything the grammar cannot place makes the whole header unreadable, which the trust rules
//! read as a failure, never as a pass.
//!
//! ```text
//! authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
//! resinfo         = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec      = [CFWS] method [CFWS] "=" [CFWS] result
//! propspec        = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! pvalue          = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
//! ```
//!
//! One deviation, SES's own: after an SPF result it writes `client-ip=...; envelope-from=...;
//! helo=...;` as elements of their own. An element that is a property (those three names, or any
//! `ptype.property=`) rather than a `method=result` is read as a property of the result before
//! it, as if the `;` were white space.

use super::header_words::{Unclosed, Word, words};

/// One `method=result` with its properties (`smtp.mailfrom`, `header.from`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower-case (`spf`, `dkim`, `dmarc`, ...), without a `/version`.
    pub method: String,
    /// Lower-case (`pass`, `fail`, `none`, ...).
    pub result: String,
    /// `(name, value)` in order; names lower-case (`smtp.mailfrom`, `header.d`, and SES's
    /// `envelope-from`), values as written with quotes removed.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The values of the properties named `name` (lower-case).
    pub fn property<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.properties
            .iter()
            .filter(move |(property, _)| property == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One header's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// Who wrote the header (`amazonses.com`), lower-case.
    pub authserv_id: String,
    /// Empty for `authserv-id; none`.
    pub results: Vec<MethodResult>,
}

/// Why a header could not be read: where the grammar gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultsError {
    #[error(transparent)]
    Unclosed(#[from] Unclosed),
    #[error("no authserv-id")]
    NoAuthservId,
    #[error("expected {expected} near token {position}")]
    Unexpected {
        expected: &'static str,
        position: usize,
    },
}

/// SES writes these after `spf=...` as elements of their own (module doc).
const SES_SPF_ELEMENTS: [&str; 3] = ["client-ip", "envelope-from", "helo"];

/// Parses one header's value (unfolded or not: line breaks are white space here).
pub fn parse(value: &str) -> Result<AuthenticationResults, ResultsError> {
    let tokens = words(value)?;
    Parser { tokens, at: 0 }.payload()
}

struct Parser {
    tokens: Vec<Word>,
    at: usize,
}

impl Parser {
    fn payload(mut self) -> Result<AuthenticationResults, ResultsError> {
        let authserv_id = match self.next() {
            Some(Word::Atom { text, .. } | Word::Quoted { text, .. }) => text.to_ascii_lowercase(),
            _ => return Err(ResultsError::NoAuthservId),
        };
        // authres-version: digits after the id.
        if let Some(Word::Atom { text, spaced: true }) = self.peek()
            && text.bytes().all(|byte| byte.is_ascii_digit())
        {
            self.at += 1;
        }
        let mut results: Vec<MethodResult> = Vec::new();
        if self.peek() == Some(&Word::Semicolon)
            && matches!(self.tokens.get(self.at + 1), Some(Word::Atom { text, .. }) if text.eq_ignore_ascii_case("none"))
            && self.tokens.len() <= self.at + 3
        {
            // `authserv-id; none` (a trailing `;` tolerated).
            return Ok(AuthenticationResults {
                authserv_id,
                results,
            });
        }
        while let Some(token) = self.next() {
            if token != Word::Semicolon {
                return Err(self.unexpected("\";\""));
            }
            // SES ends the header with a `;`.
            if self.peek().is_none() {
                break;
            }
            if self.at_property() {
                // A property standing after a `;` of its own belongs to the result before it.
                let previous = results
                    .last_mut()
                    .ok_or_else(|| self.unexpected("a method before its properties"))?;
                let mut properties = std::mem::take(&mut previous.properties);
                self.properties(&mut properties)?;
                if let Some(previous) = results.last_mut() {
                    previous.properties = properties;
                }
                continue;
            }
            let (method, result) = self.methodspec()?;
            let mut properties = Vec::new();
            self.properties(&mut properties)?;
            results.push(MethodResult {
                method,
                result,
                properties,
            });
        }
        if results.is_empty() {
            return Err(self.unexpected("a result"));
        }
        Ok(AuthenticationResults {
            authserv_id,
            results,
        })
    }

    /// Whether the next element is a property (`ptype.property=`, or one of SES's SPF elements)
    /// rather than a method: a method is a plain keyword.
    fn at_property(&self) -> bool {
        matches!(self.peek(), Some(Word::Atom { text, .. })
            if text.contains('.') || SES_SPF_ELEMENTS.iter().any(|name| name.eq_ignore_ascii_case(text)))
    }

    /// `method [/version] = result`.
    fn methodspec(&mut self) -> Result<(String, String), ResultsError> {
        let method = match self.next() {
            Some(Word::Atom { text, .. }) => text,
            _ => return Err(self.unexpected("a method")),
        };
        let method = method.split('/').next().unwrap_or_default().trim();
        // `dkim / 1`: a version after white space.
        if let Some(Word::Atom { text, .. }) = self.peek()
            && text.starts_with('/')
        {
            let lone_slash = text == "/";
            self.at += 1;
            if lone_slash
                && matches!(self.peek(), Some(Word::Atom { text, .. }) if text.bytes().all(|byte| byte.is_ascii_digit()))
            {
                self.at += 1;
            }
        }
        let method = method.to_ascii_lowercase();
        if !matches!(self.next(), Some(Word::Equals { .. })) {
            return Err(self.unexpected("\"=\" after the method"));
        }
        if !is_keyword(&method) {
            return Err(self.unexpected("a method keyword"));
        }
        let result = match self.next() {
            Some(Word::Atom { text, .. }) if is_keyword(&text) => text.to_ascii_lowercase(),
            _ => return Err(self.unexpected("a result keyword")),
        };
        Ok((method, result))
    }

    /// `reason=value` and `ptype.property=pvalue`, up to the next `;`.
    fn properties(&mut self, out: &mut Vec<(String, String)>) -> Result<(), ResultsError> {
        while let Some(token) = self.peek() {
            if *token == Word::Semicolon {
                break;
            }
            let name = match self.next() {
                Some(Word::Atom { text, .. }) => text,
                _ => return Err(self.unexpected("a property")),
            };
            // `header . from` with CFWS around the dot.
            let mut name = name;
            while name.ends_with('.')
                || matches!(self.peek(), Some(Word::Atom { text, .. }) if text.starts_with('.'))
            {
                match self.next() {
                    Some(Word::Atom { text, .. }) => name.push_str(&text),
                    _ => return Err(self.unexpected("a property name")),
                }
            }
            let name = name.to_ascii_lowercase();
            let well_formed = name == "reason"
                || SES_SPF_ELEMENTS.contains(&name.as_str())
                || name
                    .split_once('.')
                    .is_some_and(|(ptype, property)| is_keyword(ptype) && is_keyword(property));
            if !well_formed {
                return Err(self.unexpected("ptype.property"));
            }
            if !matches!(self.next(), Some(Word::Equals { .. })) {
                return Err(self.unexpected("\"=\" after a property"));
            }
            let value = self.pvalue()?;
            out.push((name, value));
        }
        Ok(())
    }

    /// A `value`, or an address whose local part is quoted (`"a;b"@example.com`): the quoted
    /// string and the `@domain` written right after it are one value.
    fn pvalue(&mut self) -> Result<String, ResultsError> {
        let mut value = match self.next() {
            Some(Word::Atom { text, .. } | Word::Quoted { text, .. }) => text,
            _ => return Err(self.unexpected("a value")),
        };
        // An address goes on as long as nothing stands between its words: `"a;b"@example.com`,
        // `bounce=alice=example.net@bounces.example.com`.
        loop {
            match self.peek() {
                Some(
                    Word::Atom {
                        text,
                        spaced: false,
                    }
                    | Word::Quoted {
                        text,
                        spaced: false,
                    },
                ) => {
                    value.push_str(text);
                }
                Some(Word::Equals { spaced: false })
                    if matches!(
                        self.tokens.get(self.at + 1),
                        Some(Word::Atom { spaced: false, .. } | Word::Quoted { spaced: false, .. })
                    ) =>
                {
                    value.push('=');
                }
                _ => break,
            }
            self.at += 1;
        }
        Ok(value)
    }

    fn peek(&self) -> Option<&Word> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Word> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn unexpected(&self, expected: &'static str) -> ResultsError {
        ResultsError::Unexpected {
            expected,
            position: self.at,
        }
    }
}

/// RFC 8601's `Keyword` (RFC 5321's ldh-str): letters, digits and inner hyphens.
fn is_keyword(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        && !text.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (String, String, Vec<(String, String)>);

    fn results(value: &str) -> Vec<Row> {
        parse(value)
            .unwrap_or_else(|error| panic!("{value}: {error}"))
            .results
            .into_iter()
            .map(|result| (result.method, result.result, result.properties))
            .collect()
    }

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn the_rfc_examples_parse() {
        // RFC 8601 appendix B.
        let none = parse("example.org 1; none").expect("B.2");
        assert_eq!(none.authserv_id, "example.org");
        assert!(none.results.is_empty());
        assert_eq!(
            results("example.com; spf=pass smtp.mailfrom=example.net"),
            vec![(
                "spf".into(),
                "pass".into(),
                props(&[("smtp.mailfrom", "example.net")])
            )]
        );
        assert_eq!(
            results(
                "example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net"
            )
            .len(),
            2
        );
        assert_eq!(
            results(
                "example.com; sender-id=fail header.from=example.com; dkim=pass (good signature) header.d=example.com"
            )[1],
            (
                "dkim".into(),
                "pass".into(),
                props(&[("header.d", "example.com")])
            )
        );
        assert_eq!(
            results(
                "example.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net; dkim=fail reason=\"bad signature\" header.i=@newyork.example.com"
            )[0]
                .2,
            props(&[
                ("reason", "good signature"),
                ("header.i", "@mail-router.example.net")
            ])
        );
        assert_eq!(
            results(
                "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) fail policy (A dot can go here) . (like that) expired (this surprised me) = (as I wasn't expecting it) 1362471462"
            )[0],
            (
                "dkim".into(),
                "fail".into(),
                props(&[("policy.expired", "1362471462")])
            )
        );
    }

    #[test]
    fn ses_writes_its_spf_elements_after_the_result() {
        let parsed = results(
            "amazonses.com; spf=pass (spf: domain of a@example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=a@example.com; helo=mail.example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;",
        );
        assert_eq!(
            parsed,
            vec![
                (
                    "spf".into(),
                    "pass".into(),
                    props(&[
                        ("client-ip", "192.0.2.1"),
                        ("envelope-from", "a@example.com"),
                        ("helo", "mail.example.com")
                    ])
                ),
                (
                    "dkim".into(),
                    "pass".into(),
                    props(&[("header.i", "@example.com")])
                ),
                (
                    "dmarc".into(),
                    "pass".into(),
                    props(&[("header.from", "example.com")])
                ),
            ]
        );
    }

    #[test]
    fn quoted_local_parts_are_one_value() {
        let parsed = results(
            "amazonses.com; spf=pass smtp.mailfrom=\"x; dmarc=pass; y\"@evil.example; dmarc=fail header.from=example.com",
        );
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].2,
            props(&[("smtp.mailfrom", "x; dmarc=pass; y@evil.example")])
        );
        assert_eq!(parsed[1].1, "fail");
        let parsed = results(
            "amazonses.com; spf=pass client-ip=192.0.2.1; envelope-from=\"a (b\"@evil.example; dmarc=fail header.from=example.com",
        );
        assert_eq!(parsed[1].1, "fail");
    }

    #[test]
    fn cfws_may_stand_around_every_separator() {
        let parsed =
            results("amazonses.com;\r\n dmarc = (policy) fail\r\n\theader.from = example.com ;");
        assert_eq!(
            parsed,
            vec![(
                "dmarc".into(),
                "fail".into(),
                props(&[("header.from", "example.com")])
            )]
        );
        let folded = results("amazonses.com; dmarc=\r\n fail header.from=example.com");
        assert_eq!(folded[0].1, "fail");
    }

    #[test]
    fn what_the_grammar_cannot_place_is_an_error() {
        for broken in [
            "",
            "(only a comment)",
            "amazonses.com; dmarc=pass (unclosed comment; dmarc=fail",
            "amazonses.com; spf=pass smtp.mailfrom=\"unclosed; dmarc=fail",
            "amazonses.com dmarc=pass",
            "amazonses.com; =pass",
            "amazonses.com; dmarc",
            "amazonses.com; dmarc=",
            "amazonses.com; dmarc=pa.ss",
            "amazonses.com; dmarc=pass header.from",
            "amazonses.com; dmarc=pass from=example.com",
            "amazonses.com;",
        ] {
            assert!(parse(broken).is_err(), "{broken:?} parsed");
        }
    }
}
