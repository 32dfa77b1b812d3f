//! The twin's mail writer, judged by independent readers: every receiver style × fault is composed, then
//! parsed by mail-parser, its DKIM signatures (and ARC set, where the receiver seals one) verified by
//! mail-auth against the test keys' published TXT records (no network), its receiver Authentication-Results
//! read for shape and verdicts, and its Received chain checked against `sent_at` / `delivered_at`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt};
use twin::mail::{
    AuthFaults, DkimFault, DkimKeys, FORGED_AUTHSERV_ID, MailError, Outgoing, ReceiverStyle, Sending, compose,
};

/// The secret a Cognito message carries; must never show in any Debug output.
const CODE: &str = "482913";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("test date").to_utc()
}

fn outgoing(receiver: ReceiverStyle, sending: Sending, auth: AuthFaults, region: &str) -> Outgoing {
    let from = match sending {
        Sending::CognitoDefault => "no-reply@verificationemail.com".to_string(),
        Sending::Developer { .. } => "Phenom <noreply@thephenom.app>".to_string(),
    };
    Outgoing {
        from,
        reply_to: Some("support@thephenom.app".into()),
        to: "probe+prod@mail.test".into(),
        subject: "Your verification code".into(),
        body: format!("Your confirmation code is {CODE}\n"),
        sent_at: at("2026-07-14T12:00:03Z"),
        delivered_at: at("2026-07-14T12:00:05Z"),
        region: region.into(),
        sending,
        receiver,
        auth,
    }
}

fn developer(mail_from_domain: Option<&str>) -> Sending {
    Sending::Developer {
        dkim_domain: Some("thephenom.app".into()),
        mail_from_domain: mail_from_domain.map(str::to_string),
    }
}

/// What a reader must find.
struct Expect {
    /// (d=, verifies) per DKIM signature, top to bottom.
    dkim: &'static [(&'static str, bool)],
    spf: bool,
    dmarc: bool,
    mail_from_domain: &'static str,
    message_id_domain: &'static str,
}

struct Case {
    name: &'static str,
    sending: Sending,
    auth: AuthFaults,
    region: &'static str,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    let faults = |f: fn(&mut AuthFaults)| {
        let mut a = AuthFaults::default();
        f(&mut a);
        a
    };
    let both = &[("thephenom.app", true), ("amazonses.com", true)];
    let standard = |dkim, spf, dmarc| Expect {
        dkim,
        spf,
        dmarc,
        mail_from_domain: "amazonses.com",
        message_id_domain: "email.amazonses.com",
    };
    vec![
        Case {
            name: "healthy Easy DKIM, default MAIL FROM",
            sending: developer(None),
            auth: AuthFaults::default(),
            region: "us-east-1",
            expect: standard(both, true, true),
        },
        Case {
            name: "customer signature fails",
            sending: developer(None),
            auth: faults(|a| a.dkim = DkimFault::Fail),
            region: "us-east-1",
            expect: standard(&[("thephenom.app", false), ("amazonses.com", true)], true, false),
        },
        Case {
            name: "no signatures",
            sending: developer(None),
            auth: faults(|a| a.dkim = DkimFault::Missing),
            region: "us-east-1",
            expect: standard(&[], true, false),
        },
        Case {
            name: "only amazonses.com signs",
            sending: developer(None),
            auth: faults(|a| a.dkim = DkimFault::Unaligned),
            region: "us-east-1",
            expect: standard(&[("amazonses.com", true)], true, false),
        },
        Case {
            name: "SPF fails, DKIM keeps DMARC passing",
            sending: developer(None),
            auth: faults(|a| a.spf_fail = true),
            region: "us-east-1",
            expect: standard(both, false, true),
        },
        Case {
            name: "DMARC fails by fault",
            sending: developer(None),
            auth: faults(|a| a.dmarc_fail = true),
            region: "us-east-1",
            expect: standard(both, true, false),
        },
        Case {
            name: "forged upstream results",
            sending: developer(None),
            auth: faults(|a| a.forged_upstream = true),
            region: "us-east-1",
            expect: standard(both, true, true),
        },
        Case {
            name: "custom MAIL FROM aligns SPF without DKIM",
            sending: developer(Some("mail.thephenom.app")),
            auth: faults(|a| a.dkim = DkimFault::Missing),
            region: "us-east-1",
            expect: Expect { mail_from_domain: "mail.thephenom.app", ..standard(&[], true, true) },
        },
        Case {
            name: "COGNITO_DEFAULT generic sender",
            sending: Sending::CognitoDefault,
            auth: AuthFaults::default(),
            region: "us-east-1",
            expect: standard(&[("amazonses.com", true)], true, false),
        },
        Case {
            name: "us-west-2 is region-qualified",
            sending: developer(None),
            auth: AuthFaults::default(),
            region: "us-west-2",
            expect: Expect {
                mail_from_domain: "us-west-2.amazonses.com",
                message_id_domain: "us-west-2.amazonses.com",
                ..standard(both, true, true)
            },
        },
    ]
}

/// A resolver cache holding the TXT records of the twin's test keys for every name these messages need, so
/// verification never touches the network (a missing name would surface as a temperror, failing the test).
struct TestKeyRecords(HashMap<Box<str>, Txt>);

impl TestKeyRecords {
    fn new(keys: &DkimKeys) -> Self {
        let mut names = vec![
            format!("{}._domainkey.thephenom.app", keys.customer_selector()),
            format!("{}._domainkey.amazonses.com", DkimKeys::amazonses_selector("us-east-1")),
            format!("{}._domainkey.amazonses.com", DkimKeys::amazonses_selector("us-west-2")),
        ];
        for sealer in ["google.com", "messagingengine.com"] {
            names.push(format!("{}._domainkey.{sealer}", DkimKeys::arc_selector(sealer).expect("ARC selector")));
        }
        let mut map = HashMap::new();
        for name in names {
            let record = keys.txt_record(&name).unwrap_or_else(|| panic!("no record for {name}"));
            let txt = Txt::DomainKey(Arc::new(DomainKey::parse(record.as_bytes()).expect("published record parses")));
            map.insert(format!("{name}.").into_boxed_str(), txt.clone());
            map.insert(name.into_boxed_str(), txt);
        }
        TestKeyRecords(map)
    }
}

impl ResolverCache<Box<str>, Txt> for TestKeyRecords {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: Box<str>, _: Txt, _: std::time::Instant) {}
}

/// Header fields in order, unfolded (RFC 5322 §2.2.3), read independently of the crate's code.
fn fields(raw: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(raw).expect("message is UTF-8");
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().expect("continuation after a field").1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("field has a colon");
            out.push((name.to_string(), value.trim_start().to_string()));
        }
    }
    out
}

/// `method=result` pairs of an Authentication-Results value, comments dropped, in order.
fn results(value: &str) -> Vec<(String, String)> {
    let mut plain = String::new();
    let mut depth = 0;
    for ch in value.chars() {
        match ch {
            '(' => {
                depth += 1;
                plain.push(' ');
            }
            ')' => depth -= 1,
            _ if depth == 0 => plain.push(ch),
            _ => {}
        }
    }
    plain
        .split(';')
        .filter_map(|clause| {
            let first = clause.split_whitespace().next()?;
            let (method, result) = first.split_once('=')?;
            Some((method.to_ascii_lowercase(), result.to_ascii_lowercase()))
        })
        .collect()
}

fn receiver_date(received: &str) -> DateTime<Utc> {
    let date = received.rsplit(';').next().expect("Received has a date").trim();
    let date = date.split(" (").next().unwrap_or(date);
    DateTime::parse_from_rfc2822(date).unwrap_or_else(|e| panic!("date {date:?}: {e}")).to_utc()
}

/// The receiver's own Authentication-Results values (the topmost, by its authserv-id rule).
fn receiver_results(style: ReceiverStyle, fields: &[(String, String)]) -> Vec<(usize, String)> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| n.eq_ignore_ascii_case("Authentication-Results"))
        .filter(|(_, (_, v))| {
            let id = v.split(';').next().unwrap_or_default().trim();
            match style.authserv_id() {
                None => id.contains('='),
                Some(pattern) => match pattern.strip_prefix('*') {
                    Some(suffix) => id.ends_with(suffix),
                    None => id == pattern,
                },
            }
        })
        .map(|(i, (_, v))| (i, v.clone()))
        .collect()
}

#[tokio::test]
async fn every_receiver_style_and_fault_reads_back() {
    let keys = DkimKeys::test_keys();
    let authenticator = MessageAuthenticator::new_cloudflare().expect("resolver config");
    let records = TestKeyRecords::new(&keys);
    for style in ReceiverStyle::ALL {
        for case in cases() {
            let label = format!("{style:?} / {}", case.name);
            let msg = outgoing(style, case.sending.clone(), case.auth.clone(), case.region);
            let raw = compose(&msg, &keys).unwrap_or_else(|e| panic!("{label}: {e}"));
            let e = &case.expect;

            // mail-parser reads the original headers and body.
            let parsed =
                mail_parser::MessageParser::default().parse(&raw).unwrap_or_else(|| panic!("{label}: unparsable"));
            let from = parsed.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default();
            assert_eq!(from, msg.from.rsplit('<').next().unwrap().trim_end_matches('>'), "{label}: From");
            assert_eq!(
                parsed.to().and_then(|a| a.first()).and_then(|a| a.address()),
                Some("probe+prod@mail.test"),
                "{label}"
            );
            assert_eq!(parsed.subject(), Some("Your verification code"), "{label}");
            assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(msg.sent_at.timestamp()), "{label}: Date");
            let message_id = parsed.message_id().unwrap_or_default();
            assert!(
                message_id.ends_with(&format!("-000000@{}", e.message_id_domain)),
                "{label}: Message-ID {message_id}"
            );
            assert_eq!(parsed.body_text(0).as_deref(), Some(msg.body.replace('\n', "\r\n").as_str()), "{label}: body");

            // mail-auth verifies each signature against the published test keys.
            let auth_msg =
                AuthenticatedMessage::parse(&raw).unwrap_or_else(|| panic!("{label}: mail-auth cannot parse"));
            let outputs = authenticator.verify_dkim(Parameters::new(&auth_msg).with_txt_cache(&records)).await;
            let got: Vec<(String, bool)> = outputs
                .iter()
                .map(|o| (o.signature().map(|s| s.d.clone()).unwrap_or_default(), *o.result() == DkimResult::Pass))
                .collect();
            let want: Vec<(String, bool)> = e.dkim.iter().map(|(d, p)| (d.to_string(), *p)).collect();
            assert_eq!(got, want, "{label}: DKIM verification {outputs:?}");

            // The receiver's verdicts match what was really verifiable.
            let f = fields(&raw);
            let own = receiver_results(style, &f);
            assert!(!own.is_empty(), "{label}: no receiver Authentication-Results");
            let clauses: Vec<(String, String)> = own.iter().flat_map(|(_, v)| results(v)).collect();
            let of = |m: &str| clauses.iter().filter(|(k, _)| k == m).map(|(_, r)| r.as_str()).collect::<Vec<_>>();
            let verdict = |pass: bool| if pass { "pass" } else { "fail" };
            let dkim_want: Vec<&str> = match (style, e.dkim) {
                (ReceiverStyle::Yahoo, []) => vec!["unknown"],
                (_, []) => vec!["none"],
                // Outlook reports one signature: the From domain's when there is one.
                (ReceiverStyle::Outlook, sigs) => vec![verdict(sigs[0].1)],
                (_, sigs) => sigs.iter().map(|(_, p)| verdict(*p)).collect(),
            };
            assert_eq!(of("dkim"), dkim_want, "{label}: dkim clauses in {own:?}");
            assert_eq!(of("spf"), vec![verdict(e.spf)], "{label}: spf");
            let dmarc = of("dmarc");
            assert_eq!(dmarc.len(), 1, "{label}: one dmarc clause");
            assert!(dmarc[0].starts_with(verdict(e.dmarc)), "{label}: dmarc {dmarc:?}");
            let all = own.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join("\n");
            assert_shape(style, &all, e, &label);

            // Return-Path and the MAIL FROM the receiver reports agree.
            let return_path = f.iter().find(|(n, _)| n == "Return-Path").map(|(_, v)| v.clone()).unwrap_or_default();
            assert!(return_path.ends_with(&format!("@{}>", e.mail_from_domain)), "{label}: Return-Path {return_path}");

            // The Received chain: the receiver's hop on top dated delivered_at, SES's dated sent_at.
            let received: Vec<(usize, &str)> =
                f.iter().enumerate().filter(|(_, (n, _))| n == "Received").map(|(i, (_, v))| (i, v.as_str())).collect();
            assert_eq!(received.len(), 2, "{label}: Received hops");
            assert_eq!(receiver_date(received[0].1), msg.delivered_at, "{label}: receiver hop date");
            assert_eq!(receiver_date(received[1].1), msg.sent_at, "{label}: SES hop date");
            assert!(received[0].1.contains(".smtp-out."), "{label}: receiver hop names SES's outbound host");
            assert!(received[1].1.contains("by email-smtp.amazonaws.com"), "{label}: SES hop");

            // The forged header sits below the receiver's block and above SES's hop; never otherwise.
            let forged: Vec<usize> = f
                .iter()
                .enumerate()
                .filter(|(_, (n, v))| n == "Authentication-Results" && v.starts_with(FORGED_AUTHSERV_ID))
                .map(|(i, _)| i)
                .collect();
            if case.auth.forged_upstream {
                assert_eq!(forged.len(), 1, "{label}: forged header");
                assert!(
                    forged[0] > own.last().unwrap().0 && forged[0] > received[0].0 && forged[0] < received[1].0,
                    "{label}: forged position"
                );
            } else {
                assert!(forged.is_empty(), "{label}: no forged header");
            }

            // ARC: sealed by the receivers that seal, and it verifies.
            let arc = authenticator.verify_arc(Parameters::new(&auth_msg).with_txt_cache(&records)).await;
            if style.writes_arc() {
                assert_eq!(*arc.result(), DkimResult::Pass, "{label}: ARC {arc:?}");
                let aar = f
                    .iter()
                    .find(|(n, _)| n == "ARC-Authentication-Results")
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default();
                assert!(aar.starts_with("i=1; "), "{label}: AAR {aar}");
            } else {
                assert_eq!(*arc.result(), DkimResult::None, "{label}: no ARC set");
            }

            // The body's secret stays out of Debug output.
            assert!(!format!("{msg:?}").contains(CODE), "{label}: Debug of Outgoing leaks the body");
        }
    }
}

/// The receiver-specific shape of research/authres-realworld.md.
fn assert_shape(style: ReceiverStyle, ar: &str, e: &Expect, label: &str) {
    let p = if e.dmarc { "dis=NONE" } else { "dis=QUARANTINE" };
    let expected: Vec<String> = match style {
        ReceiverStyle::Gmail => {
            let mut v = vec!["mx.google.com;".to_string(), format!("(p=QUARANTINE sp=QUARANTINE {p}) header.from=")];
            v.extend(e.dkim.iter().map(|(d, _)| format!("header.i=@{d} header.s=")));
            v.push(
                format!("-000000@{} designates 54.240.", e.mail_from_domain)
                    .replace("designates", if e.spf { "designates" } else { "does not designate" }),
            );
            v
        }
        ReceiverStyle::Outlook => vec![
            format!("smtp.mailfrom={};", e.mail_from_domain),
            if e.dmarc { "action=none".into() } else { "action=quarantine".into() },
            if e.dmarc { ";compauth=pass reason=100".into() } else { ";compauth=fail reason=000".into() },
            "(sender IP is 54.240.".into(),
        ],
        ReceiverStyle::Yahoo => vec![
            "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;".into(),
            "(p=QUARANTINE,sp=QUARANTINE) header.from=".into(),
            format!("smtp.mailfrom={};", e.mail_from_domain),
        ],
        ReceiverStyle::Fastmail => {
            let mut v =
                vec!["policy.published-domain-policy=quarantine".to_string(), "x-ptr=pass".into(), "iprev=pass".into()];
            v.extend(e.dkim.iter().map(|(d, _)| format!("header.d={d} header.i=@{d}")));
            v.push(format!("-000000@{}", e.mail_from_domain));
            v
        }
        ReceiverStyle::Opendkim => {
            let mut v = vec![format!("smtp.mailfrom={}", e.mail_from_domain), "(p=quarantine dis=".into()];
            v.extend(e.dkim.iter().map(|(d, _)| format!("(2048-bit key; unprotected) header.d={d}")));
            v
        }
    };
    for needle in expected {
        assert!(ar.contains(&needle), "{label}: {needle:?} missing from\n{ar}");
    }
    if style == ReceiverStyle::Yahoo {
        assert!(ar.trim_end().ends_with(';'), "{label}: Yahoo ends every clause with ';'");
    }
    if style == ReceiverStyle::Outlook {
        assert!(ar.starts_with("spf="), "{label}: Outlook writes no authserv-id");
    }
}

#[test]
fn bad_input_is_an_error_quoting_the_value_never_the_body() {
    let keys = DkimKeys::test_keys();
    let base = || outgoing(ReceiverStyle::Gmail, developer(None), AuthFaults::default(), "us-east-1");
    let cases: [(&str, Outgoing, &str); 4] = [
        ("line break in To", Outgoing { to: "a@b.c\r\nBcc: x@y.z".into(), ..base() }, "\"a@b.c\\r\\nBcc: x@y.z\""),
        ("From without domain", Outgoing { from: "Phenom <noreply>".into(), ..base() }, "\"Phenom <noreply>\""),
        ("To without @", Outgoing { to: "probe".into(), ..base() }, "\"probe\""),
        ("Region with a space", Outgoing { region: "us east".into(), ..base() }, "\"us east\""),
    ];
    for (name, msg, quoted) in cases {
        let err: MailError = compose(&msg, &keys).expect_err(name);
        let text = format!("{err} {err:?}");
        assert!(text.contains(quoted), "{name}: {text}");
        assert!(!text.contains(CODE), "{name}: error leaks the body");
    }
    assert!(!format!("{keys:?}").contains("PRIVATE KEY"), "Debug of DkimKeys shows key material");
}
