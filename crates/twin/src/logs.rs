//! CloudWatch Logs as the probe reads Cognito's message-delivery errors from it (AWS JSON 1.1,
//! `X-Amz-Target: Logs_20140328.<Operation>`): DescribeLogGroups, FilterLogEvents, CreateLogStream and
//! PutLogEvents over the scenario's log groups, and the userNotification ERROR records Cognito writes
//! there when SES refuses a pool's mail (research/ses-events-oauth-emf.md §6).
//!
//! Rules, from the CloudWatch Logs API reference (the SDK model's documentation):
//! * FilterLogEvents takes `logGroupName` or `logGroupIdentifier` (a name or an ARN), not both;
//!   `logStreamNames` or `logStreamNamePrefix`, not both; events with a timestamp before `startTime` or
//!   after `endTime` (ms) are not returned; `limit` 1–10,000 (default 10,000); `nextToken` pages;
//!   `searchedLogStreams` is no longer filled ("returns an empty list"). A missing group is
//!   `ResourceNotFoundException` "The specified log group does not exist."
//! * Filter patterns (CloudWatch Logs User Guide, "Filter pattern syntax"): space-separated terms must
//!   all appear, `?term` terms match when any appears, `-term` excludes, `"quoted phrases"` match
//!   exactly; terms are case-sensitive. A JSON pattern `{ $.a.b = "x" && $.n > 3 }` selects by field
//!   (`=`, `!=`, `<`, `<=`, `>`, `>=`, `*` wildcards in strings, `IS TRUE|FALSE|NULL`, `NOT EXISTS`,
//!   `&&`, `||`, parentheses). Space-delimited `[…]` and `%regex%` patterns are refused, loudly: the twin
//!   does not implement them.
//! * PutLogEvents: events in chronological order; more than 14 days old or 2 hours ahead are rejected
//!   (`rejectedLogEventsInfo`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::scenario::{LogGroupArn, Scenario};
use crate::server::AwsError;

/// The log groups of the account.
#[derive(Debug, Clone, Default)]
pub struct LogStore {
    groups: BTreeMap<String, Group>,
    /// A counter for event ids and sequence tokens.
    serial: u64,
}

#[derive(Debug, Clone)]
struct Group {
    created: DateTime<Utc>,
    streams: BTreeMap<String, Stream>,
}

#[derive(Debug, Clone)]
struct Stream {
    events: Vec<Event>,
}

/// One stored log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
    pub id: String,
}

fn not_found(what: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", format!("The specified {what} does not exist."))
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", message)
}

impl LogStore {
    /// The scenario's groups, empty, created at `now`.
    pub fn from_scenario(scenario: &Scenario, now: DateTime<Utc>) -> LogStore {
        let groups = scenario
            .log_groups
            .iter()
            .map(|g| (g.name.clone(), Group { created: now, streams: BTreeMap::new() }))
            .collect();
        LogStore { groups, serial: 0 }
    }

    pub fn exists(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// Appends one event to a stream, creating the stream when missing. False when the group is missing.
    pub fn append(&mut self, group: &str, stream: &str, timestamp: i64, message: String, now: DateTime<Utc>) -> bool {
        self.serial += 1;
        let id = event_id(timestamp, self.serial);
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        let s = g.streams.entry(stream.to_string()).or_insert_with(|| Stream { events: Vec::new() });
        s.events.push(Event { timestamp, ingestion_time: now.timestamp_millis(), message, id });
        true
    }

    /// Every event of a group, oldest first (all streams interleaved).
    pub fn events(&self, group: &str) -> Vec<Event> {
        let mut out: Vec<Event> = self
            .groups
            .get(group)
            .map(|g| g.streams.values().flat_map(|s| s.events.iter().cloned()).collect())
            .unwrap_or_default();
        out.sort_by_key(|e| e.timestamp);
        out
    }

    /// Event counts per group, for `/_twin/state`.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.groups.iter().map(|(n, g)| (n.clone(), g.streams.values().map(|s| s.events.len()).sum())).collect()
    }
}

/// A 56-digit event id, the form CloudWatch Logs returns.
fn event_id(timestamp: i64, serial: u64) -> String {
    format!("{:032}{:024}", timestamp.max(0), serial)
}

/// Runs one CloudWatch Logs operation.
pub(crate) fn call(
    store: &mut LogStore,
    operation: &str,
    input: &Value,
    account: &str,
    region: &str,
    now: DateTime<Utc>,
) -> Result<Value, AwsError> {
    match operation {
        "DescribeLogGroups" => describe_log_groups(store, input, account, region),
        "FilterLogEvents" => filter_log_events(store, input),
        "CreateLogStream" => {
            let group = required(input, "logGroupName")?;
            let stream = required(input, "logStreamName")?;
            let g = store.groups.get_mut(group).ok_or_else(|| not_found("log group"))?;
            if g.streams.contains_key(stream) {
                return Err(AwsError::new(
                    400,
                    "ResourceAlreadyExistsException",
                    "The specified log stream already exists",
                ));
            }
            g.streams.insert(stream.to_string(), Stream { events: Vec::new() });
            Ok(json!({}))
        }
        "PutLogEvents" => put_log_events(store, input, now),
        other => {
            Err(AwsError::new(400, "UnknownOperationException", format!("Unknown operation: Logs_20140328.{other}")))
        }
    }
}

fn required<'a>(input: &'a Value, field: &str) -> Result<&'a str, AwsError> {
    match input.get(field).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: \
            Member must not be null"
        ))),
    }
}

fn group_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

fn describe_log_groups(store: &LogStore, input: &Value, account: &str, region: &str) -> Result<Value, AwsError> {
    let prefix = input.get("logGroupNamePrefix").and_then(Value::as_str);
    let pattern = input.get("logGroupNamePattern").and_then(Value::as_str);
    if prefix.is_some() && pattern.is_some() {
        return Err(invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive."));
    }
    let identifiers: Option<Vec<&str>> = input
        .get("logGroupIdentifiers")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect());
    let limit = input.get("limit").and_then(Value::as_i64).unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
            constraint: Member must have value less than or equal to 50"
        )));
    }
    let start = page_start(input)?;
    let matching: Vec<(&String, &Group)> = store
        .groups
        .iter()
        .filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p)))
        // DescribeLogGroups: logGroupNamePattern "is a case-insensitive substring search".
        .filter(|(name, _)| pattern.is_none_or(|p| name.to_lowercase().contains(&p.to_lowercase())))
        .filter(|(name, _)| {
            identifiers.as_ref().is_none_or(|ids| ids.iter().any(|id| resolve(id).is_some_and(|n| n == name.as_str())))
        })
        .collect();
    let end = (start + limit as usize).min(matching.len());
    let groups: Vec<Value> = matching
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|(name, g)| {
            let stored: usize = g.streams.values().flat_map(|s| s.events.iter()).map(|e| e.message.len()).sum();
            json!({
                "logGroupName": name,
                "creationTime": g.created.timestamp_millis(),
                "metricFilterCount": 0,
                "arn": format!("{}:*", group_arn(account, region, name)),
                "logGroupArn": group_arn(account, region, name),
                "storedBytes": stored,
                "logGroupClass": "STANDARD",
            })
        })
        .collect();
    let mut out = json!({"logGroups": groups});
    if end < matching.len() {
        out["nextToken"] = json!(format!("twin-{end}"));
    }
    Ok(out)
}

/// The group name a logGroupIdentifier names: the name itself or its ARN (with or without `:*`).
fn resolve(identifier: &str) -> Option<&str> {
    if identifier.starts_with("arn:") { LogGroupArn::parse(identifier).map(|a| a.name) } else { Some(identifier) }
}

fn page_start(input: &Value) -> Result<usize, AwsError> {
    match input.get("nextToken").and_then(Value::as_str) {
        None => Ok(0),
        Some(t) => t
            .strip_prefix("twin-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid(format!("The specified nextToken is invalid: {t}"))),
    }
}

fn filter_log_events(store: &LogStore, input: &Value) -> Result<Value, AwsError> {
    let by_name = input.get("logGroupName").and_then(Value::as_str);
    let by_id = input.get("logGroupIdentifier").and_then(Value::as_str);
    let group = match (by_name, by_id) {
        (Some(_), Some(_)) => return Err(invalid("LogGroupName and LogGroupIdentifier are mutually exclusive.")),
        (Some(name), None) => name,
        (None, Some(id)) => resolve(id).ok_or_else(|| not_found("log group"))?,
        (None, None) => return Err(invalid("Either LogGroupName or LogGroupIdentifier must be provided.")),
    };
    let g = store.groups.get(group).ok_or_else(|| not_found("log group"))?;
    let names: Option<Vec<&str>> =
        input.get("logStreamNames").and_then(Value::as_array).map(|l| l.iter().filter_map(Value::as_str).collect());
    let stream_prefix = input.get("logStreamNamePrefix").and_then(Value::as_str);
    if names.is_some() && stream_prefix.is_some() {
        return Err(invalid("logStreamNames and logStreamNamePrefix are mutually exclusive."));
    }
    if let Some(names) = &names
        && let Some(missing) = names.iter().find(|n| !g.streams.contains_key(**n))
    {
        return Err(AwsError::new(
            400,
            "ResourceNotFoundException",
            format!("The specified log stream does not exist: {missing}"),
        ));
    }
    let limit = input.get("limit").and_then(Value::as_i64).unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy \
            constraint: Member must have value less than or equal to 10000"
        )));
    }
    let start_time = input.get("startTime").and_then(Value::as_i64);
    let end_time = input.get("endTime").and_then(Value::as_i64);
    let pattern = Pattern::parse(input.get("filterPattern").and_then(Value::as_str).unwrap_or_default())?;
    let mut events: Vec<(&String, &Event)> = g
        .streams
        .iter()
        .filter(|(name, _)| names.as_ref().is_none_or(|n| n.contains(&name.as_str())))
        .filter(|(name, _)| stream_prefix.is_none_or(|p| name.starts_with(p)))
        .flat_map(|(name, s)| s.events.iter().map(move |e| (name, e)))
        .filter(|(_, e)| start_time.is_none_or(|t| e.timestamp >= t) && end_time.is_none_or(|t| e.timestamp <= t))
        .filter(|(_, e)| pattern.matches(&e.message))
        .collect();
    events.sort_by_key(|(_, e)| (e.timestamp, e.id.clone()));
    let start = page_start(input)?;
    let end = (start + limit as usize).min(events.len());
    let page: Vec<Value> = events
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|(stream, e)| {
            json!({"logStreamName": stream, "timestamp": e.timestamp, "message": e.message,
                "ingestionTime": e.ingestion_time, "eventId": e.id})
        })
        .collect();
    let mut out = json!({"events": page, "searchedLogStreams": []});
    if end < events.len() {
        out["nextToken"] = json!(format!("twin-{end}"));
    }
    Ok(out)
}

fn put_log_events(store: &mut LogStore, input: &Value, now: DateTime<Utc>) -> Result<Value, AwsError> {
    let group = required(input, "logGroupName")?;
    let stream = required(input, "logStreamName")?;
    let g = store.groups.get(group).ok_or_else(|| not_found("log group"))?;
    if !g.streams.contains_key(stream) {
        return Err(not_found("log stream"));
    }
    let events = input.get("logEvents").and_then(Value::as_array).cloned().unwrap_or_default();
    if events.is_empty() || events.len() > 10_000 {
        return Err(invalid(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member \
            must have length between 1 and 10000",
        ));
    }
    let mut parsed = Vec::new();
    for e in &events {
        let (Some(ts), Some(message)) =
            (e.get("timestamp").and_then(Value::as_i64), e.get("message").and_then(Value::as_str))
        else {
            return Err(invalid("Each log event needs a timestamp and a message."));
        };
        parsed.push((ts, message.to_string()));
    }
    if parsed.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(invalid("Log events in a single PutLogEvents request must be in chronological order."));
    }
    // PutLogEvents: none of the events may be more than 14 days in the past or 2 hours in the future; the
    // ones that are come back in rejectedLogEventsInfo.
    let too_old = (now - Duration::days(14)).timestamp_millis();
    let too_new = (now + Duration::hours(2)).timestamp_millis();
    let mut rejected = serde_json::Map::new();
    if let Some(last_old) = parsed.iter().rposition(|(ts, _)| *ts < too_old) {
        rejected.insert("tooOldLogEventEndIndex".into(), json!(last_old + 1));
    }
    if let Some(first_new) = parsed.iter().position(|(ts, _)| *ts > too_new) {
        rejected.insert("tooNewLogEventStartIndex".into(), json!(first_new));
    }
    for (ts, message) in parsed.into_iter().filter(|(ts, _)| *ts >= too_old && *ts <= too_new) {
        store.append(group, stream, ts, message, now);
    }
    let mut out = json!({"nextSequenceToken": format!("{:056}", store.serial)});
    if !rejected.is_empty() {
        out["rejectedLogEventsInfo"] = Value::Object(rejected);
    }
    Ok(out)
}

// ---------------------------------------------------------------- filter patterns

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    All,
    Terms { all: Vec<String>, any: Vec<String>, none: Vec<String> },
    Json(Expr),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond { path: Vec<PathPart>, test: Test },
}

#[derive(Debug, Clone, PartialEq)]
enum PathPart {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Compare(Op, Literal),
    Is(Value),
    NotExists,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
}

fn bad_pattern(pattern: &str, why: &str) -> AwsError {
    invalid(format!("Invalid filter pattern {pattern:?}: {why}"))
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, AwsError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Pattern::All);
        }
        if t.starts_with('{') {
            let inner = t
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .ok_or_else(|| bad_pattern(text, "no closing }"))?;
            let tokens = tokenize(inner).map_err(|why| bad_pattern(text, &why))?;
            let mut p = Parser { tokens, pos: 0 };
            let expr = p.or().map_err(|why| bad_pattern(text, &why))?;
            if p.pos != p.tokens.len() {
                return Err(bad_pattern(text, "unexpected text after the expression"));
            }
            return Ok(Pattern::Json(expr));
        }
        if t.starts_with('[') || t.starts_with('%') {
            return Err(bad_pattern(
                text,
                "space-delimited and regular-expression patterns are not implemented by the twin",
            ));
        }
        let (mut all, mut any, mut none) = (Vec::new(), Vec::new(), Vec::new());
        let mut chars = t.chars().peekable();
        while chars.peek().is_some() {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let kind = match first {
                '?' | '-' => {
                    chars.next();
                    first
                }
                _ => ' ',
            };
            let term: String = if chars.peek() == Some(&'"') {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.extend(chars.next()),
                        Some(c) => s.push(c),
                        None => return Err(bad_pattern(text, "unclosed quotation mark")),
                    }
                }
                s
            } else {
                let mut s = String::new();
                while let Some(c) = chars.peek().copied().filter(|c| !c.is_whitespace()) {
                    s.push(c);
                    chars.next();
                }
                s
            };
            if term.is_empty() {
                continue;
            }
            match kind {
                '?' => any.push(term),
                '-' => none.push(term),
                _ => all.push(term),
            }
        }
        Ok(Pattern::Terms { all, any, none })
    }

    fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms { all, any, none } => {
                all.iter().all(|t| message.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| message.contains(t.as_str())))
                    && !none.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(expr) => serde_json::from_str::<Value>(message).is_ok_and(|v| expr.eval(&v)),
        }
    }
}

impl Expr {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(v) && b.eval(v),
            Expr::Or(a, b) => a.eval(v) || b.eval(v),
            Expr::Cond { path, test } => {
                let mut cur = Some(v);
                for part in path {
                    cur = match (cur, part) {
                        (Some(Value::Object(o)), PathPart::Key(k)) => o.get(k),
                        (Some(Value::Array(a)), PathPart::Index(i)) => a.get(*i),
                        _ => None,
                    };
                }
                match (test, cur) {
                    (Test::NotExists, found) => found.is_none(),
                    (_, None) => false,
                    (Test::Is(want), Some(got)) => got == want,
                    (Test::Compare(op, lit), Some(got)) => compare(*op, lit, got),
                }
            }
        }
    }
}

fn compare(op: Op, lit: &Literal, got: &Value) -> bool {
    match (lit, got) {
        (Literal::Number(n), Value::Number(g)) => {
            let g = g.as_f64().unwrap_or(f64::NAN);
            match op {
                Op::Eq => g == *n,
                Op::Ne => g != *n,
                Op::Lt => g < *n,
                Op::Le => g <= *n,
                Op::Gt => g > *n,
                Op::Ge => g >= *n,
            }
        }
        (Literal::Text(t), Value::String(g)) => match op {
            Op::Eq => glob(t, g),
            Op::Ne => !glob(t, g),
            _ => false,
        },
        (Literal::Number(n), Value::String(g)) if matches!(op, Op::Eq | Op::Ne) => {
            (g.parse::<f64>().ok() == Some(*n)) == (op == Op::Eq)
        }
        _ => op == Op::Ne,
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Path(Vec<PathPart>),
    Op(Op),
    And,
    Or,
    Open,
    Close,
    Text(String),
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (token, len) = match (c, two.as_str()) {
            (_, "&&") => (Token::And, 2),
            (_, "||") => (Token::Or, 2),
            (_, "!=") => (Token::Op(Op::Ne), 2),
            (_, "<=") => (Token::Op(Op::Le), 2),
            (_, ">=") => (Token::Op(Op::Ge), 2),
            ('=', _) => (Token::Op(Op::Eq), 1),
            ('<', _) => (Token::Op(Op::Lt), 1),
            ('>', _) => (Token::Op(Op::Gt), 1),
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            ('"', _) => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        Some('"') => break,
                        Some('\\') => {
                            text.extend(chars.get(j + 1));
                            j += 2;
                            continue;
                        }
                        Some(c) => text.push(*c),
                        None => return Err("unclosed quotation mark".into()),
                    }
                    j += 1;
                }
                (Token::Text(text), j + 1 - i)
            }
            ('$', _) => {
                let mut j = i + 1;
                let mut path = Vec::new();
                while j < chars.len() {
                    match chars[j] {
                        '.' => {
                            let mut key = String::new();
                            j += 1;
                            while j < chars.len() && (chars[j].is_alphanumeric() || "_-:@".contains(chars[j])) {
                                key.push(chars[j]);
                                j += 1;
                            }
                            if key.is_empty() {
                                return Err("empty field name after '.'".into());
                            }
                            path.push(PathPart::Key(key));
                        }
                        '[' => {
                            let close = chars[j..].iter().position(|c| *c == ']').ok_or("no closing ]")?;
                            let index: String = chars[j + 1..j + close].iter().collect();
                            path.push(PathPart::Index(
                                index.trim().parse().map_err(|_| format!("bad index [{index}]"))?,
                            ));
                            j += close + 1;
                        }
                        _ => break,
                    }
                }
                (Token::Path(path), j - i)
            }
            _ => {
                let mut j = i;
                let mut word = String::new();
                while j < chars.len() && !chars[j].is_whitespace() && !"=!<>()&|\"".contains(chars[j]) {
                    word.push(chars[j]);
                    j += 1;
                }
                if word.is_empty() {
                    return Err(format!("unexpected {c:?}"));
                }
                (Token::Word(word), j - i)
            }
        };
        out.push(token);
        i += len;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.atom()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err("no closing )".into()),
                }
            }
            Some(Token::Path(path)) => {
                let test = match self.next() {
                    Some(Token::Op(op)) => match self.next() {
                        Some(Token::Text(t)) => Test::Compare(op, Literal::Text(t)),
                        Some(Token::Word(w)) => match w.parse::<f64>() {
                            Ok(n) => Test::Compare(op, Literal::Number(n)),
                            Err(_) => Test::Compare(op, Literal::Text(w)),
                        },
                        _ => return Err("a comparison needs a value".into()),
                    },
                    Some(Token::Word(w)) if w == "IS" => match self.next() {
                        Some(Token::Word(v)) if v == "TRUE" => Test::Is(Value::Bool(true)),
                        Some(Token::Word(v)) if v == "FALSE" => Test::Is(Value::Bool(false)),
                        Some(Token::Word(v)) if v == "NULL" => Test::Is(Value::Null),
                        _ => return Err("IS takes TRUE, FALSE or NULL".into()),
                    },
                    Some(Token::Word(w)) if w == "NOT" => match self.next() {
                        Some(Token::Word(v)) if v == "EXISTS" => Test::NotExists,
                        _ => return Err("NOT must be followed by EXISTS".into()),
                    },
                    _ => return Err("a field selector needs an operator".into()),
                };
                Ok(Expr::Cond { path, test })
            }
            other => Err(format!("expected a $. field selector or (, found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> String {
        json!({"eventTimestamp": "1795694425000", "eventSource": "USER_NOTIFICATION", "logLevel": "ERROR",
            "message": "Message failed to deliver.",
            "error": "Cognito received the following error from Amazon SES: User is not authorized to \
                perform `ses:SendEmail'",
            "logSourceId": {"userPoolId": "us-east-1_knEL7cqS3"}, "n": 3, "list": [{"k": "v"}]})
        .to_string()
    }

    #[test]
    fn filter_pattern_cases() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("ERROR", true),
            ("user_notification", false),
            ("ERROR USER_NOTIFICATION", true),
            ("ERROR WARN", false),
            ("?WARN ?ERROR", true),
            ("?WARN ?DEBUG", false),
            ("ERROR -USER_NOTIFICATION", false),
            ("\"not authorized to perform\"", true),
            ("\"authorized not\"", false),
            ("{ $.eventSource = \"USER_NOTIFICATION\" }", true),
            ("{ $.logSourceId.userPoolId = \"us-east-1_knEL7cqS3\" }", true),
            ("{ $.logSourceId.userPoolId = \"us-east-1_*\" }", true),
            ("{ $.logSourceId.userPoolId != \"us-east-1_knEL7cqS3\" }", false),
            ("{ $.logLevel = \"ERROR\" && $.n > 2 }", true),
            ("{ $.logLevel = \"INFO\" || ($.n >= 3 && $.n <= 3) }", true),
            ("{ $.list[0].k = \"v\" }", true),
            ("{ $.missing NOT EXISTS }", true),
            ("{ $.n IS NULL }", false),
        ];
        for (pattern, want) in cases {
            let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(p.matches(&record()), *want, "{pattern}");
        }
        assert!(!Pattern::parse("{ $.eventSource = \"USER_NOTIFICATION\" }").unwrap().matches("plain text"));
    }

    #[test]
    fn unsupported_patterns_are_refused() {
        for pattern in ["[ip, user]", "%ERR.R%", "{ $.a = }", "{ $.a = \"x\"", "\"open"] {
            let err = Pattern::parse(pattern).unwrap_err();
            assert_eq!(err.code, "InvalidParameterException", "{pattern}");
        }
    }

    #[test]
    fn filter_and_page() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().to_utc();
        let mut store = LogStore::default();
        store.groups.insert("g".into(), Group { created: now, streams: BTreeMap::new() });
        for (i, text) in ["a ERROR", "b", "c ERROR", "d ERROR"].iter().enumerate() {
            assert!(store.append("g", "s", 1000 + i as i64, text.to_string(), now));
        }
        let page =
            filter_log_events(&store, &json!({"logGroupName": "g", "filterPattern": "ERROR", "limit": 2})).unwrap();
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        assert_eq!(page["nextToken"], "twin-2");
        let next = filter_log_events(
            &store,
            &json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:1:log-group:g:*",
                "filterPattern": "ERROR", "nextToken": "twin-2"}),
        )
        .unwrap();
        assert_eq!(next["events"][0]["message"], "d ERROR");
        assert!(next.get("nextToken").is_none());
        let window =
            filter_log_events(&store, &json!({"logGroupName": "g", "startTime": 1001, "endTime": 1002})).unwrap();
        assert_eq!(window["events"].as_array().unwrap().len(), 2, "both ends inclusive");
        assert_eq!(
            filter_log_events(&store, &json!({"logGroupName": "nope"})).unwrap_err().code,
            "ResourceNotFoundException"
        );
    }
}
