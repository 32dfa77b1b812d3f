//! The receiving side: what the final receiver concludes about DKIM, SPF and DMARC, and the headers it writes
//! on top of the message in its own style (Gmail, Outlook, Yahoo, Fastmail, a Postfix host with OpenDKIM and
//! OpenDMARC). Every shape comes from research/authres-realworld.md, section per receiver (§1, §2, §3, §5, §8).

use chrono::{DateTime, Datelike as _, Duration, FixedOffset, NaiveDate, Offset as _, TimeZone as _, Utc, Weekday};
use rand::Rng as _;

use super::ses::Envelope;
use super::{DkimKeys, KeyRole, MailError, Outgoing, ReceiverStyle, arc};

/// The policy the twin's From domains publish (`_dmarc` record `p=quarantine; sp=quarantine`), the common
/// case for senders of account mail; receivers echo it in their DMARC clause.
const DMARC_POLICY: &str = "quarantine";

/// The authserv-id of the plain Postfix + OpenDKIM + OpenDMARC host (its configured `AuthservID`).
pub const OPENDKIM_HOST: &str = "mail.example.net";

/// Authserv-id of the upstream relay whose forged Authentication-Results the forged-upstream fault adds.
pub const FORGED_AUTHSERV_ID: &str = "relay.example.net";

/// One DKIM-Signature SES put on the message and whether it really verifies.
#[derive(Debug, Clone)]
pub(super) struct SigOutcome {
    pub domain: String,
    pub selector: String,
    /// The full `b=` value, base64.
    pub b: String,
    pub pass: bool,
}

/// The receiver's verdicts.
#[derive(Debug, Clone)]
pub(super) struct Verdicts {
    pub sigs: Vec<SigOutcome>,
    pub spf_pass: bool,
    pub dmarc_pass: bool,
}

impl Verdicts {
    /// DMARC passes when an aligned DKIM pass or an aligned SPF pass exists, relaxed alignment (RFC 7489 §3.1,
    /// §4.2; research/authres-realworld.md §14), unless the DMARC fault forces a fail.
    pub fn decide(msg: &Outgoing, env: &Envelope, sigs: Vec<SigOutcome>) -> Self {
        let spf_pass = !msg.auth.spf_fail;
        let aligned_dkim = sigs.iter().any(|s| s.pass && relaxed_aligned(&s.domain, &env.from_domain));
        let aligned_spf = spf_pass && relaxed_aligned(&env.mail_from_domain, &env.from_domain);
        Verdicts { dmarc_pass: !msg.auth.dmarc_fail && (aligned_dkim || aligned_spf), sigs, spf_pass }
    }
}

/// Relaxed alignment: same Organizational Domain, the registrable domain from the Public Suffix List
/// (RFC 7489 §3.2).
pub(super) fn relaxed_aligned(a: &str, b: &str) -> bool {
    let org = |d: &str| {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        psl::domain_str(&d).map(str::to_string).unwrap_or(d)
    };
    org(a) == org(b)
}

fn pf(pass: bool) -> &'static str {
    if pass { "pass" } else { "fail" }
}

/// The first eight characters of `b=`, the `header.b` receivers print (RFC 6008 §4).
fn b8(b: &str) -> &str {
    b.get(..8).unwrap_or(b)
}

/// An Authentication-Results header claiming pass for everything, written by an upstream host that is not
/// the receiver (RFC 8601 §5: only the receiver's own results may be trusted).
pub(super) fn forged_upstream(env: &Envelope) -> String {
    let d = &env.from_domain;
    format!(
        "Authentication-Results: {FORGED_AUTHSERV_ID};\r\n dkim=pass header.d={d} header.i=@{d};\r\n \
         spf=pass smtp.mailfrom={d};\r\n dmarc=pass (p=reject dis=none) header.from={d}\r\n"
    )
}

/// The receiver's header block, top to bottom, for the message `below` it.
pub(super) fn block(
    msg: &Outgoing,
    env: &Envelope,
    v: &Verdicts,
    keys: &DkimKeys,
    below: &[u8],
) -> Result<String, MailError> {
    match msg.receiver {
        ReceiverStyle::Gmail => gmail(msg, env, v, keys, below),
        ReceiverStyle::Outlook => Ok(outlook(msg, env, v)),
        ReceiverStyle::Yahoo => Ok(yahoo(msg, env, v)),
        ReceiverStyle::Fastmail => fastmail(msg, env, v, keys, below),
        ReceiverStyle::Opendkim => Ok(opendkim(msg, env, v)),
    }
}

/// Header names an ARC-Message-Signature covers: the original headers SES signs, then one `dkim-signature`
/// per signature (Gmail's `h=` in research §1 samples).
fn arc_signed(msg: &Outgoing, v: &Verdicts, base: &[&'static str]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = base.to_vec();
    if msg.reply_to.is_some() {
        names.push("reply-to");
    }
    names.extend(std::iter::repeat_n("dkim-signature", v.sigs.len()));
    names
}

/// Gmail (research §1): ARC set i=1 by google.com, Return-Path, the Received hop, Received-SPF and one
/// Authentication-Results `mx.google.com` with `header.i=@d`, the full MAIL FROM address and the DMARC policy
/// comment in upper case.
fn gmail(msg: &Outgoing, env: &Envelope, v: &Verdicts, keys: &DkimKeys, below: &[u8]) -> Result<String, MailError> {
    let mut results = Vec::new();
    for s in &v.sigs {
        // header.b is quoted when it contains `/` (research §1 quirks).
        let b = b8(&s.b);
        let b = if b.contains('/') { format!("\"{b}\"") } else { b.to_string() };
        results.push(format!("dkim={} header.i=@{} header.s={} header.b={b}", pf(s.pass), s.domain, s.selector));
    }
    if v.sigs.is_empty() {
        results.push("dkim=none".to_string());
    }
    let (mf, ip) = (&env.mail_from, &env.ip);
    let spf_comment = if v.spf_pass {
        format!("google.com: domain of {mf} designates {ip} as permitted sender")
    } else {
        format!("google.com: domain of {mf} does not designate {ip} as permitted sender")
    };
    results.push(format!("spf={} ({spf_comment}) smtp.mailfrom={mf}", pf(v.spf_pass)));
    let p = DMARC_POLICY.to_ascii_uppercase();
    let dis = if v.dmarc_pass { "NONE" } else { p.as_str() };
    results.push(format!("dmarc={} (p={p} sp={p} dis={dis}) header.from={}", pf(v.dmarc_pass), env.from_domain));
    let clauses = results.join(";\r\n       ");

    let key = keys.signing_key(KeyRole::Arc)?;
    let signed = arc_signed(msg, v, &["feedback-id", "mime-version", "date", "message-id", "subject", "to", "from"]);
    let sealer = arc::Sealer {
        key: &key,
        domain: "google.com",
        selector: DkimKeys::arc_selector("google.com").unwrap_or("arc-20160816"),
        timestamp: msg.delivered_at.timestamp(),
        signed: &signed,
        indent: "        ",
    };
    let arc_set = arc::seal(&sealer, &format!("mx.google.com;\r\n       {clauses}"), below)?;

    let mut rng = rand::thread_rng();
    let local = us_local(msg.delivered_at, -8, "PST", "PDT");
    let smtp_id = format!(
        "{}{}si{}{}.{}.{}",
        char::from(rng.gen_range(b'a'..=b'z')),
        rng.gen_range(1..100u32),
        rng.gen_range(1_000_000..100_000_000u64),
        ["wml", "qkh", "qvq", "pls"][rng.gen_range(0..4)],
        rng.gen_range(1..200u32),
        local.0.format("%Y.%m.%d.%H.%M.%S"),
    );
    let mut h = String::new();
    h.push_str(&format!("Delivered-To: {}\r\n", env.rcpt));
    h.push_str(&arc_set);
    h.push_str(&format!("Return-Path: <{mf}>\r\n"));
    h.push_str(&format!(
        "Received: from {host} ({host}. [{ip}])\r\n        by mx.google.com with ESMTPS id {smtp_id}\r\n        \
         for <{rcpt}>\r\n        (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);\r\n        {date}\r\n",
        host = env.host,
        rcpt = env.rcpt,
        date = local_date(local, "%a, %d %b %Y %H:%M:%S %z"),
    ));
    h.push_str(&format!("Received-SPF: {} ({spf_comment}) client-ip={ip};\r\n", pf(v.spf_pass)));
    h.push_str(&format!("Authentication-Results: mx.google.com;\r\n       {clauses}\r\n"));
    Ok(h)
}

/// Outlook.com / Microsoft 365 (research §2): no authserv-id, one `dkim=` clause, `smtp.mailfrom` as a domain,
/// no space after some `;`, `action=` and `compauth=`, folded mid-result; a capitalised Received-SPF; no ARC
/// on inbound mail.
fn outlook(msg: &Outgoing, env: &Envelope, v: &Verdicts) -> String {
    // Only one dkim= clause although SES adds two signatures; with a customer signature it is the From
    // domain's (research §2 quirks).
    let chosen = v.sigs.iter().find(|s| relaxed_aligned(&s.domain, &env.from_domain)).or(v.sigs.first());
    let (dkim, header_d) = match chosen {
        Some(s) if s.pass => ("pass (signature was verified)", s.domain.as_str()),
        Some(s) => ("fail (signature did not verify)", s.domain.as_str()),
        None => ("none (message not signed)", "none"),
    };
    // compauth reason 100: explicit pass; 000: explicit fail, DMARC failed with p=quarantine/reject (MSDOC).
    let (action, compauth) = if v.dmarc_pass { ("none", "pass reason=100") } else { (DMARC_POLICY, "fail reason=000") };
    let (mfd, ip, host) = (&env.mail_from_domain, &env.ip, &env.host);
    let mut rng = rand::thread_rng();
    let frontend = format!(
        "{}NAM{:02}FT{:03}",
        ["BN8", "DM6", "CO1", "MW2", "SA2"][rng.gen_range(0..5)],
        rng.gen_range(2..13u8),
        rng.gen_range(1..100u16)
    );
    let mut h = String::new();
    h.push_str(&format!("Return-Path: <{}>\r\n", env.mail_from));
    h.push_str(&format!(
        "Authentication-Results: spf={} (sender IP is {ip})\r\n smtp.mailfrom={mfd}; dkim={dkim}\r\n \
         header.d={header_d};dmarc={} action={action}\r\n header.from={};compauth={compauth}\r\n",
        pf(v.spf_pass),
        pf(v.dmarc_pass),
        env.from_domain,
    ));
    let spf_text = if v.spf_pass {
        format!("Pass (protection.outlook.com: domain of {mfd} designates\r\n {ip} as permitted sender)")
    } else {
        format!("Fail (protection.outlook.com: domain of {mfd} does not\r\n designate {ip} as permitted sender)")
    };
    h.push_str(&format!(
        "Received-SPF: {spf_text} receiver=protection.outlook.com;\r\n client-ip={ip}; helo={host}; pr=C\r\n"
    ));
    h.push_str(&format!(
        "Received: from {host} ({ip}) by\r\n {frontend}.mail.protection.outlook.com (10.13.{}.{}) with Microsoft \
            SMTP\r\n \
         Server (version=TLS1_2,
             cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id\r\n 15.20.{}.{} via Frontend Transport; {}\r\n",
        rng.gen_range(0..=255u8),
        rng.gen_range(1..=254u8),
        rng.gen_range(7000..9000u16),
        rng.gen_range(1..40u8),
        msg.delivered_at.format("%a, %-d %b %Y %H:%M:%S +0000"),
    ));
    h.push_str("X-MS-Exchange-Organization-AuthAs: Anonymous\r\n");
    h
}

/// Yahoo / AOL (research §3): authserv-id a per-message atlas host, every clause on its own line ending in
/// `;` (the last too), `header.i=@d header.s=` without `header.b`, `smtp.mailfrom` as a domain,
/// `dmarc=pass(p=…,sp=…)` without a space, `dkim=unknown` for unsigned mail.
fn yahoo(msg: &Outgoing, env: &Envelope, v: &Verdicts) -> String {
    let (mfd, ip, host) = (&env.mail_from_domain, &env.ip, &env.host);
    let mut clauses: Vec<String> =
        v.sigs.iter().map(|s| format!("dkim={} header.i=@{} header.s={}", pf(s.pass), s.domain, s.selector)).collect();
    if v.sigs.is_empty() {
        clauses.push("dkim=unknown".to_string());
    }
    clauses.push(format!("spf={} smtp.mailfrom={mfd}", pf(v.spf_pass)));
    let p = DMARC_POLICY.to_ascii_uppercase();
    clauses.push(format!("dmarc={}(p={p},sp={p}) header.from={}", pf(v.dmarc_pass), env.from_domain));
    let spf_text = if v.spf_pass {
        format!("pass (domain of {mfd} designates {ip} as permitted sender)")
    } else {
        format!("fail (domain of {mfd} does not designate {ip} as permitted sender)")
    };
    let mut rng = rand::thread_rng();
    let date = msg.delivered_at.format("%a, %d %b %Y %H:%M:%S +0000");
    let mut h = String::new();
    h.push_str(&format!("Return-Path: <{}>\r\n", env.mail_from));
    h.push_str(&format!("X-Originating-Ip: [{ip}]\r\n"));
    h.push_str(&format!("Received-SPF: {spf_text}\r\n"));
    h.push_str("Authentication-Results: atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;\r\n");
    for c in &clauses {
        h.push_str(&format!(" {c};\r\n"));
    }
    h.push_str(&format!("X-Apparently-To: {}; {date}\r\n", env.rcpt));
    h.push_str(&format!(
        "Received: from {ip} (EHLO {host})\r\n by 10.217.{}.{} with SMTPs\r\n (version=TLS1_3 \
            cipher=TLS_AES_128_GCM_SHA256);\r\n {date}\r\n",
        rng.gen_range(128..=159u8),
        rng.gen_range(1..=254u8),
    ));
    h
}

/// Fastmail, Authentication Milter (research §5): authserv-id `mxN.messagingengine.com` varying per MX, four
/// Authentication-Results headers (sender checks, bimi, arc, then dkim/dmarc/iprev/spf), `policy.*`
/// properties for DMARC, an ARC set i=1 by messagingengine.com, a multi-line Received-SPF.
fn fastmail(msg: &Outgoing, env: &Envelope, v: &Verdicts, keys: &DkimKeys, below: &[u8]) -> Result<String, MailError> {
    let mut rng = rand::thread_rng();
    let mx = format!("mx{}.messagingengine.com", rng.gen_range(1..=6u8));
    let (mf, mfd, ip, host) = (&env.mail_from, &env.mail_from_domain, &env.ip, &env.host);
    let sender = [
        "x-csa=none".to_string(),
        "x-me-sender=none".to_string(),
        format!("x-ptr=pass smtp.helo={host}\r\n      policy.ptr={host}"),
    ];
    let bimi = "bimi=none (No BIMI records found)".to_string();
    let arc_none = "arc=none (no signatures found)".to_string();
    let mut main: Vec<String> = v
        .sigs
        .iter()
        .map(|s| {
            format!(
                "dkim={} (2048-bit rsa key sha256) header.d={d} header.i=@{d}\r\n      header.b={} \
                    header.a=rsa-sha256 header.s={}",
                pf(s.pass),
                b8(&s.b),
                s.selector,
                d = s.domain
            )
        })
        .collect();
    if v.sigs.is_empty() {
        main.push("dkim=none (no signatures found)".to_string());
    }
    let dis = if v.dmarc_pass { "none" } else { DMARC_POLICY };
    main.push(format!(
        "dmarc={} policy.published-domain-policy={p}\r\n      policy.published-subdomain-policy={p}\r\n      \
         policy.applied-disposition={dis} policy.evaluated-disposition={dis}\r\n      \
         (p={p},sp={p},d={dis},d.eval={dis}) policy.policy-from=p\r\n      header.from={}",
        pf(v.dmarc_pass),
        env.from_domain,
        p = DMARC_POLICY,
    ));
    main.push(format!("iprev=pass smtp.remote-ip={ip} ({host})"));
    main.push(format!("spf={} smtp.mailfrom={mf}\r\n      smtp.helo={host}", pf(v.spf_pass)));

    let all: Vec<&String> = sender.iter().chain([&bimi, &arc_none]).chain(main.iter()).collect();
    let aar = format!("{mx};\r\n    {}", all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(";\r\n    "));
    let key = keys.signing_key(KeyRole::Arc)?;
    let signed = arc_signed(
        msg,
        v,
        &[
            "date",
            "from",
            "to",
            "subject",
            "message-id",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            "feedback-id",
        ],
    );
    let sealer = arc::Sealer {
        key: &key,
        domain: "messagingengine.com",
        selector: DkimKeys::arc_selector("messagingengine.com").unwrap_or("fm1"),
        timestamp: msg.delivered_at.timestamp(),
        signed: &signed,
        indent: "    ",
    };
    let arc_set = arc::seal(&sealer, &aar, below)?;

    let spf_detail = if v.spf_pass {
        format!("({mfd}: {ip} is authorized to use '{mf}' in 'mfrom' identity (mechanism 'ip4:54.240.0.0/18' matched))")
    } else {
        format!(
            "({mfd}: Sender is not authorized by default to use '{mf}' in 'mfrom' identity (mechanism '-all' matched))"
        )
    };
    let mut h = String::new();
    h.push_str(&format!("Return-Path: <{mf}>\r\n"));
    h.push_str(&arc_set);
    for group in [&sender[..], std::slice::from_ref(&bimi), std::slice::from_ref(&arc_none), &main[..]] {
        h.push_str(&format!("Authentication-Results: {mx};\r\n    {}\r\n", group.join(";\r\n    ")));
    }
    h.push_str(&format!(
        "Received-SPF: {}\r\n    {spf_detail}\r\n    receiver={mx};\r\n    identity=mailfrom;\r\n    \
         envelope-from=\"{mf}\";\r\n    helo={host};\r\n    client-ip={ip}\r\n",
        pf(v.spf_pass)
    ));
    let local = us_local(msg.delivered_at, -5, "EST", "EDT");
    h.push_str(&format!(
        "Received: from {host} ({host} [{ip}])\r\n\t(using TLSv1.2 with cipher ECDHE-RSA-AES128-SHA256 (128/128 \
            bits))\r\n\t\
         (No client certificate requested)\r\n\tby {mx} (Postfix) with ESMTPS\r\n\tfor <{}>; {}\r\n",
        env.rcpt,
        local_date(local, "%a, %e %b %Y %H:%M:%S %z"),
    ));
    Ok(h)
}

/// A Postfix host with OpenDKIM and OpenDMARC milters (research §8): one Authentication-Results per milter
/// result (OpenDMARC's dmarc and spf, OpenDKIM's one per signature, `AlwaysAddARHeader yes` so unsigned mail
/// gets `dkim=none`), `(2048-bit key; unprotected)` comments, quoted `header.b`, SPF as a domain; no ARC.
fn opendkim(msg: &Outgoing, env: &Envelope, v: &Verdicts) -> String {
    let id = OPENDKIM_HOST;
    let dis = if v.dmarc_pass { "none" } else { DMARC_POLICY };
    let mut h = String::new();
    h.push_str(&format!("Return-Path: <{}>\r\n", env.mail_from));
    h.push_str(&format!("Delivered-To: {}\r\n", env.rcpt));
    h.push_str(&format!(
        "Authentication-Results: {id}; dmarc={} (p={DMARC_POLICY} dis={dis}) header.from={}\r\n",
        pf(v.dmarc_pass),
        env.from_domain
    ));
    h.push_str(&format!(
        "Authentication-Results: {id}; spf={} smtp.mailfrom={}\r\n",
        pf(v.spf_pass),
        env.mail_from_domain
    ));
    for s in &v.sigs {
        let result = if s.pass { "pass" } else { "fail reason=\"signature verification failed\"" };
        h.push_str(&format!(
            "Authentication-Results: {id};\r\n\tdkim={result} (2048-bit key; unprotected) header.d={d} header.i=@{d} \
             header.a=rsa-sha256 header.s={} header.b=\"{}\"\r\n",
            s.selector,
            b8(&s.b),
            d = s.domain,
        ));
    }
    if v.sigs.is_empty() {
        h.push_str(&format!("Authentication-Results: {id}; dkim=none\r\n"));
    }
    let queue_id: String = {
        let mut rng = rand::thread_rng();
        (0..11).map(|_| char::from(b"0123456789ABCDEF"[rng.gen_range(0..16)])).collect()
    };
    h.push_str(&format!(
        "Received: from {host} ({host} [{ip}])\r\n\t(using TLSv1.2 with cipher ECDHE-RSA-AES128-SHA256 (128/128 \
            bits))\r\n\t\
         (No client certificate requested)\r\n\tby {id} (Postfix) with ESMTPS id {queue_id}\r\n\tfor <{}>; {} \
             (UTC)\r\n",
        env.rcpt,
        msg.delivered_at.format("%a, %e %b %Y %H:%M:%S +0000"),
        host = env.host,
        ip = env.ip,
    ));
    h
}

/// The receiver's answer to SES's end of DATA, as SES quotes it in a Delivery record's `smtpResponse`
/// ("SMTP response message of the remote ISP that accepted the email", research/ses-events-oauth-emf.md
/// §1), in each receiver's own wording as public SES Delivery records and MTA logs show it (observed):
/// Gmail `250 2.0.0 OK  <epoch> <id> - gsmtp`; Outlook `250 2.6.0 <message id> [InternalId=…,
/// Hostname=…] … Queued mail for delivery`; Yahoo `250 ok dirdel`; Postfix (Fastmail, the OpenDKIM host)
/// `250 2.0.0 Ok: queued as <queue id>`.
pub fn smtp_response(style: ReceiverStyle, message_id_header: &str, at: DateTime<Utc>, bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut pick =
        |set: &[u8], n: usize| -> String { (0..n).map(|_| char::from(set[rng.gen_range(0..set.len())])).collect() };
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    match style {
        ReceiverStyle::Gmail => {
            let id = format!(
                "{}-{}si{}.{}",
                pick(ALNUM, 13),
                pick(ALNUM, 12),
                pick(b"0123456789", 8),
                pick(b"0123456789", 3)
            );
            format!("250 2.0.0 OK  {} {id} - gsmtp", at.timestamp())
        }
        ReceiverStyle::Outlook => format!(
            "250 2.6.0 {message_id_header} [InternalId={}, Hostname=BN8NAM12HT{}.namprd12.prod.outlook.com] \
             {bytes} bytes in 0.{}, {:.3} KB/sec Queued mail for delivery",
            pick(b"0123456789", 14),
            pick(b"0123456789", 3),
            pick(b"0123456789", 3),
            bytes as f64 / 1024.0 / 0.2
        ),
        ReceiverStyle::Yahoo => "250 ok dirdel".to_string(),
        ReceiverStyle::Fastmail | ReceiverStyle::Opendkim => {
            format!("250 2.0.0 Ok: queued as {}", pick(b"0123456789ABCDEF", 11))
        }
    }
}

/// A date rendered with its zone abbreviation, as US receivers write it: `Mon, 07 Dec 2020 09:11:41 -0800 (PST)`.
fn local_date(local: (DateTime<FixedOffset>, &'static str), format: &str) -> String {
    format!("{} ({})", local.0.format(format), local.1)
}

/// `at` in a US time zone with standard offset `std_hours`: daylight time from the second Sunday in March,
/// 02:00 local, to the first Sunday in November, 02:00 local (15 U.S.C. §260a).
fn us_local(
    at: DateTime<Utc>,
    std_hours: i32,
    std: &'static str,
    dst: &'static str,
) -> (DateTime<FixedOffset>, &'static str) {
    let year = at.year();
    let nth_sunday = |month: u32, n: u8| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n);
    let in_dst = match (nth_sunday(3, 2), nth_sunday(11, 1)) {
        (Some(start), Some(end)) => {
            // 02:00 local standard time is 02:00 - offset in UTC; the end is 02:00 daylight = 01:00 standard.
            let start = Utc.from_utc_datetime(&start.and_hms_opt(2, 0, 0).unwrap_or_default())
                - Duration::hours(std_hours.into());
            let end = Utc.from_utc_datetime(&end.and_hms_opt(1, 0, 0).unwrap_or_default())
                - Duration::hours(std_hours.into());
            at >= start && at < end
        }
        _ => false,
    };
    let hours = if in_dst { std_hours + 1 } else { std_hours };
    // |hours| <= 12 is always a valid offset; UTC is only the fallback the type needs.
    let offset = FixedOffset::east_opt(hours * 3600).unwrap_or(Utc.fix());
    (at.with_timezone(&offset), if in_dst { dst } else { std })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_daylight_time() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let cases = [
            ("winter Pacific", at("2026-01-15T17:00:00Z"), (-8, "PST", "PDT"), "2026-01-15 09:00:00 -08:00", "PST"),
            ("summer Pacific", at("2026-07-01T17:00:00Z"), (-8, "PST", "PDT"), "2026-07-01 10:00:00 -07:00", "PDT"),
            (
                "before the March switch",
                at("2026-03-08T09:59:59Z"),
                (-8, "PST", "PDT"),
                "2026-03-08 01:59:59 -08:00",
                "PST",
            ),
            (
                "at the March switch",
                at("2026-03-08T10:00:00Z"),
                (-8, "PST", "PDT"),
                "2026-03-08 03:00:00 -07:00",
                "PDT",
            ),
            (
                "at the November switch",
                at("2026-11-01T09:00:00Z"),
                (-8, "PST", "PDT"),
                "2026-11-01 01:00:00 -08:00",
                "PST",
            ),
            ("Eastern summer", at("2026-07-01T17:00:00Z"), (-5, "EST", "EDT"), "2026-07-01 13:00:00 -04:00", "EDT"),
        ];
        for (name, utc, (std, std_name, dst_name), local, abbr) in cases {
            let (got, got_abbr) = us_local(utc, std, std_name, dst_name);
            assert_eq!(got.format("%Y-%m-%d %H:%M:%S %:z").to_string(), local, "{name}");
            assert_eq!(got_abbr, abbr, "{name}");
        }
    }

    #[test]
    fn alignment_is_relaxed() {
        let cases = [
            ("same domain", "thephenom.app", "thephenom.app", true),
            ("subdomain of the From domain", "mail.thephenom.app", "thephenom.app", true),
            ("amazonses never aligns", "amazonses.com", "thephenom.app", false),
            ("regional amazonses", "us-west-2.amazonses.com", "thephenom.app", false),
            ("public suffix respected", "a.co.uk", "b.co.uk", false),
        ];
        for (name, a, b, expected) in cases {
            assert_eq!(relaxed_aligned(a, b), expected, "{name}");
        }
    }
}
