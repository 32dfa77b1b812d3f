//! The Authentication-Results parser (RFC 8601 §2.2), lenient where real receivers deviate and strict
//! where the RFC is.
//!
//! One forward pass over the bytes of the value: comments, quoted strings and tokens are read by a cursor
//! that never moves back by more than one already-read word, so the work is linear in the input length
//! (the property test in this file counts the steps). Every delimiter of the grammar is ASCII, so slicing
//! at delimiter positions never splits a UTF-8 character.
//!
//! Leniencies (each seen in real headers, research/authres-realworld.md §13):
//! * folded lines and bare LF anywhere whitespace may stand; a TAB left inside a value by a bad folder is
//!   glued back (Coremail, §11);
//! * a missing authserv-id when the value starts with `method=` (Outlook/M365, §2);
//! * bare `;`-separated words without `=` between results (Outlook's recipient-domain tokens, §2) are
//!   skipped and kept in [`AuthResults::skipped`];
//! * trailing `;`, `;` without a space, doubled spaces (Yahoo, Outlook, §2–3);
//! * a comment glued to the result (`dmarc=pass(p=NONE)`, §3, §7);
//! * results outside RFC 8601's registry (`timeout`, `tempfail`, `unknown`, `bestguesspass`, …) are kept
//!   verbatim, lower-cased (RFC 8601 §2.7.7 lets consumers meet unknown result codes);
//! * properties without `ptype.` (`action=none`, `compauth=`, `x-bits=`), method names with a dot
//!   (`gateway.spf`), empty values (`header.from=;`), unquoted values with `/ : = @ + <>`;
//! * a resinfo right after the authserv-id without `;` (old Yahoo, §3).
//!
//! Strict (RFC 8601 §2.2 grammar): unbalanced comments and quotes, a method without `=` and result, an
//! empty result, a non-ASCII unquoted authserv-id, stray words after the authserv-id, `none` followed by
//! anything, quoted method or property names, and an empty value all fail.
//!
//! The file depends only on `std`, `serde` and `thiserror` so the fuzz target (`fuzz/`) can compile it
//! without the rest of the crate.

use std::borrow::Cow;
use std::cell::Cell;

/// Why an Authentication-Results value could not be parsed. Offsets are byte offsets into the value
/// (after the field name, when one was given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty Authentication-Results value; expected an authserv-id and results (RFC 8601 §2.2)")]
    Empty,
    #[error("at byte {offset}: expected {expected}, found {found:?}")]
    Unexpected { offset: usize, expected: &'static str, found: String },
    #[error("comment opened at byte {offset} is not balanced; expected matching `(` and `)` (RFC 5322 §3.2.2)")]
    UnbalancedComment { offset: usize },
    #[error("quoted string opened at byte {offset} has no closing `\"` (RFC 5322 §3.2.4)")]
    UnterminatedQuote { offset: usize },
    #[error("method {method:?} has no result at byte {offset}; expected `{method}=<result>` (RFC 8601 §2.2)")]
    MissingResult { method: String, offset: usize },
    #[error("value is {len} bytes long; expected at most {max}")]
    TooLong { len: usize, max: usize },
}

/// Longest value we parse. Real fields are a few KiB; a larger one is an attack or a broken message.
pub const MAX_VALUE_LEN: usize = 256 * 1024;

/// One parsed Authentication-Results (or ARC-Authentication-Results) field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuthResults<'a> {
    /// The authserv-id (RFC 8601 §2.5), `None` when the receiver wrote none (Outlook/M365).
    pub authserv_id: Option<Cow<'a, str>>,
    /// The authres-version after the authserv-id (`mx.microsoft.com 1`), when present.
    pub version: Option<u32>,
    /// The ARC instance (`i=N`, RFC 8617 §4.1.1) for ARC-Authentication-Results.
    pub instance: Option<u32>,
    /// `true` for the explicit `none` (no authentication done, RFC 8601 §2.2).
    pub none: bool,
    /// The results in the order written.
    pub results: Vec<ResInfo<'a>>,
    /// Words between results that carried no `=` and were skipped (Outlook's recipient-domain tokens).
    pub skipped: Vec<Cow<'a, str>>,
}

/// One `method=result …` element (RFC 8601 §2.2 `resinfo`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResInfo<'a> {
    /// Method name, lower-cased (`dkim`, `spf`, `dmarc`, `gateway.spf`, `x-tls`, …).
    pub method: Cow<'a, str>,
    /// Method version (`dkim/1`), when written.
    pub method_version: Option<u32>,
    /// Result, lower-cased, verbatim otherwise (`pass`, `timeout`, `bestguesspass`, …).
    pub result: Cow<'a, str>,
    /// The `reason=` value, unquoted.
    pub reason: Option<Cow<'a, str>>,
    /// Comments of the result (and those not attached to a property), in order, without parentheses.
    pub comments: Vec<Cow<'a, str>>,
    /// The properties in order.
    pub props: Vec<Property<'a>>,
}

/// One `ptype.property=value` of a result (RFC 8601 §2.2 `propspec`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Property<'a> {
    /// `header`, `smtp`, `body`, `policy`, … lower-cased; `None` for a non-RFC bare `name=value`.
    pub ptype: Option<Cow<'a, str>>,
    /// Property name, lower-cased.
    pub property: Cow<'a, str>,
    /// The value, unquoted; may be empty.
    pub value: Cow<'a, str>,
    /// Comments written right after the value.
    pub comments: Vec<Cow<'a, str>>,
}

impl ResInfo<'_> {
    /// The value of `ptype.property` (case-insensitive), or of a bare `property` when `key` has no dot.
    pub fn prop(&self, key: &str) -> Option<&str> {
        let (ptype, property) = match key.split_once('.') {
            Some((p, n)) => (Some(p), n),
            None => (None, key),
        };
        self.props
            .iter()
            .find(|p| {
                p.property.eq_ignore_ascii_case(property)
                    && match (ptype, p.ptype.as_deref()) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        (None, None) => true,
                        _ => false,
                    }
            })
            .map(|p| p.value.as_ref())
    }
}

/// Parses one Authentication-Results value, with or without the field name. With the name
/// `ARC-Authentication-Results:` the value is read as by [`parse_arc`].
pub fn parse(value: &str) -> Result<AuthResults<'_>, ParseError> {
    parse_counted(value, &Cell::new(0))
}

/// Parses one ARC-Authentication-Results value (with or without the field name): the `i=N;` instance
/// tag first (RFC 8617 §4.1.1), then an Authentication-Results payload.
pub fn parse_arc(value: &str) -> Result<AuthResults<'_>, ParseError> {
    let steps = Cell::new(0);
    let body = strip_name(value, "arc-authentication-results:").unwrap_or(value);
    parse_arc_body(body, &steps)
}

/// Parses a single `method=result props…` element (no authserv-id, no `;`), e.g. one clause of a
/// header someone already split.
pub fn parse_resinfo(value: &str) -> Result<ResInfo<'_>, ParseError> {
    check_len(value)?;
    let steps = Cell::new(0);
    let mut c = Cursor::new(value, &steps);
    c.skip_cfws_discard()?;
    let Some(first) = c.read_keyword_like() else {
        return Err(c.unexpected("a method name"));
    };
    let mut comments = Vec::new();
    c.skip_cfws(&mut comments)?;
    if c.peek() != Some(b'=') && c.peek() != Some(b'/') {
        return Err(c.unexpected("`=` and a result after the method"));
    }
    let mut info = c.resinfo_after_method(first, comments)?;
    c.skip_cfws(&mut info.comments)?;
    match c.peek() {
        None => Ok(info),
        Some(_) => Err(c.unexpected("the end of the result")),
    }
}

/// Same as [`parse`] but counts the cursor's steps in `steps` (used by the linear-work property test).
pub(crate) fn parse_counted<'a>(value: &'a str, steps: &Cell<u64>) -> Result<AuthResults<'a>, ParseError> {
    if let Some(rest) = strip_name(value, "arc-authentication-results:") {
        return parse_arc_body(rest, steps);
    }
    let body = strip_name(value, "authentication-results:").unwrap_or(value);
    check_len(body)?;
    let mut c = Cursor::new(body, steps);
    c.payload(None)
}

fn parse_arc_body<'a>(body: &'a str, steps: &Cell<u64>) -> Result<AuthResults<'a>, ParseError> {
    check_len(body)?;
    let mut c = Cursor::new(body, steps);
    c.skip_cfws_discard()?;
    let start = c.pos;
    let tag = c.read_keyword_like();
    if !tag.is_some_and(|t| t.eq_ignore_ascii_case("i")) {
        c.pos = start;
        return Err(c.unexpected("the ARC instance tag `i=N;` (RFC 8617 §4.1.1)"));
    }
    c.skip_cfws_discard()?;
    if !c.eat(b'=') {
        return Err(c.unexpected("`=` after `i`"));
    }
    c.skip_cfws_discard()?;
    let instance = c.read_digits().ok_or_else(|| c.unexpected("the ARC instance number (1–50)"))?;
    c.skip_cfws_discard()?;
    if !c.eat(b';') {
        return Err(c.unexpected("`;` after the ARC instance"));
    }
    c.payload(Some(instance))
}

fn check_len(value: &str) -> Result<(), ParseError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ParseError::TooLong { len: value.len(), max: MAX_VALUE_LEN });
    }
    Ok(())
}

/// Strips a leading field name (case-insensitive, e.g. iCloud's `Authentication-results:`).
fn strip_name<'a>(value: &'a str, name_with_colon: &str) -> Option<&'a str> {
    let trimmed = value.trim_start();
    let head = trimmed.get(..name_with_colon.len())?;
    head.eq_ignore_ascii_case(name_with_colon).then(|| &trimmed[name_with_colon.len()..])
}

/// RFC 2045 `tspecials` plus space and controls: the bytes that end an unquoted token.
fn is_token_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Keyword (RFC 8601 §2.2: ldh-str) widened by `_` and `.` for method names such as `gateway.spf` and
/// Yahoo's `spfDomain`.
fn is_keyword_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes that end an unquoted result or property value.
fn ends_value(b: u8) -> bool {
    is_wsp(b) || matches!(b, b';' | b'(' | b')')
}

struct Cursor<'a, 's> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    steps: &'s Cell<u64>,
}

impl<'a, 's> Cursor<'a, 's> {
    fn new(s: &'a str, steps: &'s Cell<u64>) -> Self {
        Cursor { s, b: s.as_bytes(), pos: 0, steps }
    }

    fn peek(&self) -> Option<u8> {
        self.steps.set(self.steps.get() + 1);
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, want: u8) -> bool {
        if self.peek() == Some(want) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        let found: String = self.s[self.pos..].chars().take(24).collect();
        ParseError::Unexpected { offset: self.pos, expected, found }
    }

    /// Skips whitespace (folds included) and comments, collecting the comments' text.
    fn skip_cfws(&mut self, comments: &mut Vec<Cow<'a, str>>) -> Result<bool, ParseError> {
        self.cfws(Some(comments))
    }

    /// Skips whitespace and comments without keeping the comments (no allocation).
    fn skip_cfws_discard(&mut self) -> Result<bool, ParseError> {
        self.cfws(None)
    }

    fn cfws(&mut self, mut comments: Option<&mut Vec<Cow<'a, str>>>) -> Result<bool, ParseError> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b) if is_wsp(b) => self.pos += 1,
                Some(b'(') => {
                    let text = self.comment(comments.is_some())?;
                    if let (Some(list), Some(text)) = (comments.as_deref_mut(), text) {
                        list.push(text);
                    }
                }
                Some(b')') => return Err(ParseError::UnbalancedComment { offset: self.pos }),
                _ => return Ok(self.pos > start),
            }
        }
    }

    /// Reads a (nested) comment starting at `(`; RFC 5322 §3.2.2. Linear: one pass, a depth counter.
    /// Returns its text (unfolded, escapes removed) when `keep`.
    fn comment(&mut self, keep: bool) -> Result<Option<Cow<'a, str>>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut depth = 1usize;
        let mut text = String::new();
        let mut escaped = false;
        let mut run_start = self.pos;
        loop {
            match self.peek() {
                None => return Err(ParseError::UnbalancedComment { offset: open }),
                Some(b'\\') => {
                    escaped = true;
                    if keep {
                        text.push_str(&self.s[run_start..self.pos]);
                    }
                    self.pos += 1;
                    run_start = self.pos;
                    if self.peek().is_some() {
                        self.pos += self.char_len();
                    }
                }
                Some(b'(') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        let end = self.pos;
                        self.pos += 1;
                        if !keep {
                            return Ok(None);
                        }
                        if !escaped {
                            return Ok(Some(unfold(Cow::Borrowed(&self.s[open + 1..end]))));
                        }
                        text.push_str(&self.s[run_start..end]);
                        return Ok(Some(unfold(Cow::Owned(text))));
                    }
                    self.pos += 1;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Length in bytes of the UTF-8 character at the cursor (1 at the end or on ASCII).
    fn char_len(&self) -> usize {
        self.s[self.pos..].chars().next().map_or(1, char::len_utf8)
    }

    /// Reads a quoted-string starting at `"` (RFC 5322 §3.2.4), returning its content unescaped.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut escaped = false;
        let mut run_start = self.pos;
        loop {
            match self.peek() {
                None => return Err(ParseError::UnterminatedQuote { offset: open }),
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    if !escaped {
                        return Ok(unfold(Cow::Borrowed(&self.s[open + 1..end])));
                    }
                    out.push_str(&self.s[run_start..end]);
                    return Ok(unfold(Cow::Owned(out)));
                }
                Some(b'\\') => {
                    escaped = true;
                    out.push_str(&self.s[run_start..self.pos]);
                    self.pos += 1;
                    run_start = self.pos;
                    if self.peek().is_some() {
                        self.pos += self.char_len();
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn read_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !keep(b) {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn read_digits(&mut self) -> Option<u32> {
        let digits = self.read_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return None;
        }
        // More than 9 digits cannot be a version or an ARC instance; saturate instead of overflowing.
        Some(digits.parse().unwrap_or(u32::MAX))
    }

    /// A method/ptype/property name: Keyword plus `.`-joined parts for method names (`gateway.spf`).
    fn read_keyword_like(&mut self) -> Option<&'a str> {
        if !self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let w = self.read_while(|b| is_keyword_byte(b) || b == b'.');
        (!w.is_empty()).then_some(w)
    }

    /// Non-empty run of bytes up to whitespace, `;`, `(`, `)` (an unquoted result or value); UTF-8 safe
    /// because every stop byte is ASCII.
    fn read_value_run(&mut self) -> &'a str {
        self.read_while(|b| !ends_value(b) && b != b'"')
    }

    /// `[CFWS] authserv-id [CFWS version] (none / resinfo…) [CFWS]`.
    fn payload(&mut self, instance: Option<u32>) -> Result<AuthResults<'a>, ParseError> {
        let mut out = AuthResults {
            authserv_id: None,
            version: None,
            instance,
            none: false,
            results: Vec::new(),
            skipped: Vec::new(),
        };
        self.skip_cfws_discard()?;
        match self.peek() {
            None => return Err(ParseError::Empty),
            Some(b';') => return Err(self.unexpected("an authserv-id before `;` (RFC 8601 §2.2)")),
            _ => {}
        }
        // Outlook/M365 writes no authserv-id: the value starts with `method=` (research §2).
        if !self.starts_with_resinfo()? {
            out.authserv_id = Some(self.authserv_id()?);
            self.skip_cfws_discard()?;
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                out.version = self.read_digits();
                self.skip_cfws_discard()?;
            }
            match self.peek() {
                None => {
                    return Err(self.unexpected("`; none` or `; method=result` after the authserv-id"));
                }
                Some(b';') => {}
                // Old Yahoo writes the first result right after the authserv-id (research §3).
                Some(_) if self.starts_with_resinfo()? => self.resinfo_into(&mut out)?,
                Some(_) => return Err(self.unexpected("`;` after the authserv-id (RFC 8601 §2.2)")),
            }
        } else {
            self.resinfo_into(&mut out)?;
        }
        loop {
            self.skip_cfws_discard()?;
            match self.peek() {
                None => return Ok(out),
                Some(b';') => {
                    self.pos += 1;
                    self.skip_cfws_discard()?;
                    if self.peek().is_none() || self.peek() == Some(b';') {
                        continue; // trailing or doubled `;`
                    }
                    self.element(&mut out)?;
                }
                Some(_) => return Err(self.unexpected("`;` between results")),
            }
        }
    }

    /// Whether the cursor stands on `keyword [CFWS] (= | /)`, without moving.
    fn starts_with_resinfo(&mut self) -> Result<bool, ParseError> {
        let start = self.pos;
        let found = self.read_keyword_like().is_some() && {
            self.skip_cfws_discard()?;
            matches!(self.peek(), Some(b'=') | Some(b'/'))
        };
        self.pos = start;
        Ok(found)
    }

    fn authserv_id(&mut self) -> Result<Cow<'a, str>, ParseError> {
        if self.peek() == Some(b'"') {
            let id = self.quoted()?;
            if id.is_empty() {
                return Err(self.unexpected("a non-empty authserv-id"));
            }
            return Ok(id);
        }
        let id = self.read_while(is_token_byte);
        if id.is_empty() {
            return Err(self.unexpected("an authserv-id (token or quoted-string, RFC 8601 §2.2)"));
        }
        if self.peek().is_some_and(|b| b >= 0x80) {
            return Err(self.unexpected("an ASCII authserv-id; U-labels must be quoted (RFC 8616 §3)"));
        }
        Ok(Cow::Borrowed(id))
    }

    /// One `;`-separated element: `none`, a resinfo, or a bare word (skipped, Outlook).
    fn element(&mut self, out: &mut AuthResults<'a>) -> Result<(), ParseError> {
        if self.starts_with_resinfo()? {
            if out.none {
                return Err(self.unexpected("nothing after `none` (RFC 8601 §2.2)"));
            }
            return self.resinfo_into(out);
        }
        let start = self.pos;
        let word = self.read_value_run();
        if word.is_empty() {
            return Err(self.unexpected("a result (`method=result`)"));
        }
        let mut comments = Vec::new();
        self.skip_cfws(&mut comments)?;
        if !matches!(self.peek(), None | Some(b';')) {
            self.pos = start;
            return Err(self.unexpected("`method=result` (a word without `=` must stand alone)"));
        }
        if word.eq_ignore_ascii_case("none") && out.results.is_empty() && !out.none {
            out.none = true;
        } else if word.eq_ignore_ascii_case("none") || out.none {
            self.pos = start;
            return Err(self.unexpected("nothing after `none` (RFC 8601 §2.2)"));
        } else {
            out.skipped.push(Cow::Borrowed(word));
        }
        Ok(())
    }

    fn resinfo_into(&mut self, out: &mut AuthResults<'a>) -> Result<(), ParseError> {
        let Some(method) = self.read_keyword_like() else {
            return Err(self.unexpected("a method name"));
        };
        let mut comments = Vec::new();
        self.skip_cfws(&mut comments)?;
        let info = self.resinfo_after_method(method, comments)?;
        out.results.push(info);
        Ok(())
    }

    /// `[/ version] = result [reason] props…`, the cursor after the method name and its CFWS.
    fn resinfo_after_method(
        &mut self,
        method: &'a str,
        mut comments: Vec<Cow<'a, str>>,
    ) -> Result<ResInfo<'a>, ParseError> {
        let mut method_version = None;
        if self.eat(b'/') {
            self.skip_cfws(&mut comments)?;
            method_version = Some(self.read_digits().ok_or_else(|| self.unexpected("a method version after `/`"))?);
            self.skip_cfws(&mut comments)?;
        }
        if !self.eat(b'=') {
            return Err(self.unexpected("`=` after the method name"));
        }
        self.skip_cfws(&mut comments)?;
        let result = self.read_value_run();
        if result.is_empty() || result.contains('=') {
            return Err(ParseError::MissingResult { method: method.to_ascii_lowercase(), offset: self.pos });
        }
        let mut info = ResInfo {
            method: lower(method),
            method_version,
            result: lower(result),
            reason: None,
            comments,
            props: Vec::new(),
        };
        loop {
            let before = self.pos;
            self.skip_cfws(&mut info.comments)?;
            if matches!(self.peek(), None | Some(b';')) {
                return Ok(info);
            }
            self.property(&mut info, before)?;
        }
    }

    /// One `[ptype .] property = pvalue`, or a Coremail continuation of the previous value.
    fn property(&mut self, info: &mut ResInfo<'a>, gap_start: usize) -> Result<(), ParseError> {
        let start = self.pos;
        let mut skipped = Vec::new();
        let first = self.read_while(is_keyword_byte);
        let mut ptype = None;
        let mut name = first;
        if !first.is_empty() {
            self.skip_cfws(&mut skipped)?;
            if self.eat(b'.') {
                self.skip_cfws(&mut skipped)?;
                let prop = self.read_while(is_keyword_byte);
                if prop.is_empty() {
                    return Err(self.unexpected("a property name after `ptype.`"));
                }
                ptype = Some(first);
                name = prop;
                self.skip_cfws(&mut skipped)?;
            }
        }
        if first.is_empty() || self.peek() != Some(b'=') {
            // A value folded inside a token leaves only a TAB/fold in it (Coremail, research §11):
            // glue the word back onto the previous value when the gap holds no space character.
            let gap = &self.s[gap_start..start];
            if let Some(last) = info.props.last_mut()
                && !gap.is_empty()
                && !gap.contains(' ')
                && !gap.contains('(')
            {
                self.pos = start;
                let more = self.read_value_run();
                if !more.is_empty() {
                    last.value.to_mut().push_str(more);
                    return Ok(());
                }
            }
            self.pos = start;
            return Err(self.unexpected("a property `ptype.property=value`"));
        }
        self.pos += 1; // `=`
        info.comments.append(&mut skipped);
        let value = self.pvalue()?;
        let mut prop_comments = Vec::new();
        if ptype.is_none() && name.eq_ignore_ascii_case("reason") && info.reason.is_none() {
            info.reason = Some(value);
            return Ok(());
        }
        // A comment directly after the value belongs to the property (Perl's model, RFC 8601 B.7).
        let save = self.pos;
        let mut ws_only = true;
        while let Some(b) = self.peek() {
            if is_wsp(b) {
                self.pos += 1;
            } else {
                ws_only = b != b'(';
                break;
            }
        }
        if !ws_only {
            self.skip_cfws(&mut prop_comments)?;
        } else {
            self.pos = save;
        }
        info.props.push(Property { ptype: ptype.map(lower), property: lower(name), value, comments: prop_comments });
        Ok(())
    }

    /// `[CFWS] (value / [[local-part] "@"] domain-name)`; lenient: any run up to whitespace, `;`, `(`.
    fn pvalue(&mut self) -> Result<Cow<'a, str>, ParseError> {
        // Whitespace (and a fold) may precede the value (`policy.authority-uri=\r\n  https://…`).
        let save = self.pos;
        self.skip_cfws_discard()?;
        match self.peek() {
            None | Some(b';') => {
                // `header.from=;` (Outlook), `x-ptr-lookup=` (research §13.3)
                self.pos = save;
                Ok(Cow::Borrowed(""))
            }
            Some(b'"') => {
                let mut v = self.quoted()?;
                // A quoted local-part followed by `@domain` (RFC 8601 §2.2 pvalue).
                if self.peek() == Some(b'@') {
                    v.to_mut().push_str(self.read_value_run());
                }
                Ok(v)
            }
            Some(_) => {
                let v = self.read_value_run();
                if v.is_empty() {
                    return Err(self.unexpected("a property value"));
                }
                Ok(Cow::Borrowed(v))
            }
        }
    }
}

/// Unfolds per RFC 5322 §2.2.3: removes CR and LF, keeping the whitespace that follows them.
fn unfold(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.contains(['\r', '\n']) { Cow::Owned(s.chars().filter(|c| *c != '\r' && *c != '\n').collect()) } else { s }
}

/// Lower-cases a name, borrowing when it already is (the common case: no allocation).
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(ar: &AuthResults) -> String {
        let mut s = ar.authserv_id.as_deref().unwrap_or("-").to_string();
        if ar.none {
            s.push_str(" none");
        }
        for r in &ar.results {
            s.push_str(&format!("; {}={}", r.method, r.result));
            if let Some(reason) = &r.reason {
                s.push_str(&format!(" reason={reason:?}"));
            }
            for p in &r.props {
                match &p.ptype {
                    Some(t) => s.push_str(&format!(" {t}.{}={}", p.property, p.value)),
                    None => s.push_str(&format!(" {}={}", p.property, p.value)),
                }
            }
        }
        s
    }

    #[test]
    fn accepted_cases() {
        // (name, input, expected summary)
        let cases = [
            ("RFC B.2 none with version", "example.org 1; none", "example.org none"),
            (
                "field name prefix",
                "Authentication-Results: example.com; spf=pass smtp.mailfrom=example.net",
                "example.com; spf=pass smtp.mailfrom=example.net",
            ),
            (
                "lower-case field name (iCloud)",
                "Authentication-results: x.me.com; dmarc=pass\n header.from=fastmail.com",
                "x.me.com; dmarc=pass header.from=fastmail.com",
            ),
            (
                "glued comment (Yahoo)",
                "a.yahoo.com; dmarc=pass(p=NONE,sp=NONE) header.from=fastmail.com;",
                "a.yahoo.com; dmarc=pass header.from=fastmail.com",
            ),
            (
                "nested comment with ;",
                "x; spf=pass (something; tricky (deep)) smtp.mailfrom=u@example.com",
                "x; spf=pass smtp.mailfrom=u@example.com",
            ),
            (
                "trailing ; and no space",
                "x;dkim=pass header.d=a.com;dmarc=pass header.from=a.com;",
                "x; dkim=pass header.d=a.com; dmarc=pass header.from=a.com",
            ),
            (
                "Outlook without authserv-id, stray tokens",
                "spf=pass (sender IP is 1.2.3.4)\r\n smtp.mailfrom=fastmail.com; outlook.com; dkim=pass (signature \
                    was verified)\r\n header.d=fastmail.com;outlook.com; dmarc=pass action=none\r\n \
                    header.from=fastmail.com;compauth=pass reason=100",
                "-; spf=pass smtp.mailfrom=fastmail.com; dkim=pass header.d=fastmail.com; dmarc=pass action=none \
                    header.from=fastmail.com; compauth=pass reason=\"100\"",
            ),
            (
                "non-standard results",
                "x; dkim=timeout; spf=tempfail; dmarc=unknown; dkim=Pass",
                "x; dkim=timeout; spf=tempfail; dmarc=unknown; dkim=pass",
            ),
            (
                "unquoted / : = values",
                "x; bimi=pass policy.authority-uri=\r\n  https://a.example/b.pem; dkim=pass header.b=gfT/i2HB \
                    address=thisisa=test@example.com",
                "x; bimi=pass policy.authority-uri=https://a.example/b.pem; dkim=pass header.b=gfT/i2HB \
                    address=thisisa=test@example.com",
            ),
            (
                "quoted local part with tricks",
                "x; spf=pass smtp.mailfrom=\"a) dmarc=pass (b\"@evil.com",
                "x; spf=pass smtp.mailfrom=a) dmarc=pass (b@evil.com",
            ),
            (
                "empty values",
                "x; dmarc=none action=none header.from=;compauth=fail reason=001",
                "x; dmarc=none action=none header.from=; compauth=fail reason=\"001\"",
            ),
            (
                "method with a dot",
                "x; gateway.spf=pass smtp.mailfrom=a@b.example policy.d=b.example",
                "x; gateway.spf=pass smtp.mailfrom=a@b.example policy.d=b.example",
            ),
            (
                "RFC B.7 comment heavy",
                "foo.example.net (foobar) 1 (baz);\n dkim (Because I like it) / 1 (One yay) = (wait for it) fail\n \
                    policy (A dot can go here) . (like that) expired\n (this surprised me) = (as I wasn't expecting \
                    it) 1362471462",
                "foo.example.net; dkim=fail policy.expired=1362471462",
            ),
            ("quoted authserv-id U-label", "\"éxamplé.org\"; none", "éxamplé.org none"),
            (
                "Coremail tab inside a value",
                "mx19; spf=pass smtp.mail=0101-a63b\n\t8f9e@us-west-2.amazonses.com; dkim=\n\tpass \
                    header.i=@amazonses.com",
                "mx19; spf=pass smtp.mail=0101-a63b8f9e@us-west-2.amazonses.com; dkim=pass header.i=@amazonses.com",
            ),
            (
                "old Yahoo without ;",
                "mta4011.mail.gq1.yahoo.com  from=fastmail.com; dkim=pass (ok)",
                "mta4011.mail.gq1.yahoo.com; from=fastmail.com; dkim=pass",
            ),
            ("comment before none", "example.com; (Nothing here) none", "example.com none"),
            (
                "reason quoted",
                "x; dkim=pass reason=\"foo;bar\" header.d=example.com",
                "x; dkim=pass reason=\"foo;bar\" header.d=example.com",
            ),
        ];
        for (name, input, want) in cases {
            match parse(input) {
                Ok(ar) => assert_eq!(summary(&ar), want, "{name}"),
                Err(err) => panic!("{name}: {err}"),
            }
        }
    }

    #[test]
    fn rejected_cases() {
        let cases = [
            ("empty", ""),
            ("missing authserv-id", ";none"),
            (
                "unbalanced comment (extra close)",
                "example.com; dkim=pass (good (comment (another))) signature(s)) header.d=example.com",
            ),
            (
                "unbalanced comment (unclosed)",
                "example.com; dkim=pass ((good (comment (another)) signature(s)) header.d=example.com",
            ),
            ("missing result", "example.com; dkim=; spf=pass"),
            ("missing result at end", "test.example.com; foo = "),
            ("double =", "test.example.com; foo = = bar;"),
            ("bad version", "test.example.com; foo / bar = test;"),
            ("stray word after authserv-id", "test.example.com foo bar = test;"),
            ("none then result", "example.com; none dkim=pass"),
            ("none none", "example.com; none none"),
            ("unquoted U-label", "éxamplé.org; none"),
            ("unterminated quote", "x; dkim=pass reason=\"abc"),
            ("quoted method", "\"x\"; \"iprev\"=\"fail\""),
            ("authserv-id alone", "example.com"),
        ];
        for (name, input) in cases {
            assert!(parse(input).is_err(), "{name}: {input:?} parsed as {:?}", parse(input));
        }
    }

    #[test]
    fn arc_instance_is_read_and_required() {
        let ar = parse_arc("i=2; mx.microsoft.com 1; spf=pass smtp.mailfrom=hotmail.com").unwrap();
        assert_eq!((ar.instance, ar.version, ar.authserv_id.as_deref()), (Some(2), Some(1), Some("mx.microsoft.com")));
        let ar =
            parse("ARC-Authentication-Results:i=1; smtp.subspace.kernel.org; spf=pass smtp.mailfrom=amazonses.com")
                .unwrap();
        assert_eq!(ar.instance, Some(1));
        let ar = parse_arc("i=3; mx.example.com; arc=pass (\"mail.example.com:s=selector1:i=2\"); dkim=pass").unwrap();
        assert_eq!((ar.instance, ar.results.len()), (Some(3), 2));
        assert!(parse_arc("mx.example.com; dkim=pass").is_err());
    }

    #[test]
    fn errors_quote_the_input() {
        let err = parse("example.com; dkim=pass (unclosed").unwrap_err();
        assert_eq!(err, ParseError::UnbalancedComment { offset: 23 });
        let err = parse("test.example.com foo bar = test;").unwrap_err();
        assert!(err.to_string().contains("\"foo bar = test;\""), "{err}");
    }

    /// Steps per input byte stay below a constant: no quadratic blow-up on any input.
    fn assert_linear(input: &str) {
        let steps = Cell::new(0);
        let _ = parse_counted(input, &steps);
        let limit = 8 * input.len() as u64 + 64;
        assert!(steps.get() <= limit, "{} steps for {} bytes", steps.get(), input.len());
    }

    #[test]
    fn pathological_inputs_are_linear() {
        let n = 50_000;
        for input in [
            "(".repeat(n),
            format!("x; {}", "(".repeat(n)),
            format!("x; dkim=pass {}", "a.b=c ".repeat(n / 6)),
            format!("x;{}", ";".repeat(n)),
            format!("x; {}", "outlook.com; ".repeat(n / 13)),
            format!("{}=", "a".repeat(n)),
            format!("x; dkim=pass a={}", "\"\\".repeat(n / 2)),
            "\t\n".repeat(n),
        ] {
            assert_linear(&input);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_and_stays_linear(input in "(?s).{0,400}") {
            assert_linear(&input);
            let _ = parse_arc(&input);
            let _ = parse_resinfo(&input);
        }

        #[test]
        fn grammar_shaped_inputs_never_panic(parts in proptest::collection::vec(
            prop_oneof![
                Just(";"), Just(" "), Just("("), Just(")"), Just("\""), Just("\\"), Just("="), Just("."), Just("/"),
                Just("dkim"), Just("pass"), Just("header.d"), Just("none"), Just("\r\n "), Just("é"), Just("1"),
                Just("x.example"), Just("@"),
            ],
            0..80,
        )) {
            let input: String = parts.concat();
            assert_linear(&input);
        }
    }
}
