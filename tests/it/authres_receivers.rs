//! Receiver styles: one message per provider of research/authres-realworld.md (Gmail, Outlook/M365,
//! Yahoo/AOL, iCloud, Fastmail, Proton, Zoho, OpenDKIM/OpenDMARC, rspamd), built from the research file's
//! real (sanitised) headers, plus the SES cases (default MAIL FROM, amazonses.com-only signature, custom
//! MAIL FROM relaxed vs strict, silent MAIL FROM fallback) and forged upstream headers. Each test asserts
//! what an operator would read in the evaluation.

use cognito_delivery_probe::authres::{
    AlignmentMode, Evaluation, Expectations, FindingOutcome, TrustBasis, TrustPolicy, evaluate_message,
};
use cognito_delivery_probe::verdict::Outcome;

/// Builds a raw message from header lines (`\n` line ends, folding written as `\n ` / `\n\t`).
fn message(headers: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for h in headers {
        out.push_str(&h.replace('\n', "\r\n"));
        out.push_str("\r\n");
    }
    out.push_str("\r\nYour verification code is 123456\r\n");
    out.into_bytes()
}

fn eval(headers: &[&str], ids: &[&str], expect: &Expectations) -> Evaluation {
    evaluate_message(&message(headers), &TrustPolicy::with_ids(ids.iter().copied()), expect)
}

fn relaxed() -> Expectations {
    Expectations::default()
}

fn strict() -> Expectations {
    Expectations { alignment: AlignmentMode::Strict, ..Expectations::default() }
}

fn finding<'a>(e: &'a Evaluation, method: &str) -> (&'a FindingOutcome, &'a str) {
    let f = e
        .findings
        .iter()
        .find(|f| f.method == method)
        .unwrap_or_else(|| panic!("no {method} finding in {:#?}", e.findings));
    (&f.outcome, f.explanation.as_str())
}

const SES_SIG_CUSTOMER: &str = "DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; \
    c=relaxed/simple;\n\ts=z7emv322ttjwltxazlriftckkl3p3ys2; d=example.com; \
        t=1608297000;\n\th=Date:From:To:Message-ID:Subject:MIME-Version:Content-Type; \
        bh=abc=;\n\tb=kdd7/gKnQ1w2e3r4t5y6u7i8o9p0";
const SES_SIG_AMAZON: &str = "DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; \
    c=relaxed/simple;\n\ts=224i4yxa5dv7c2xz3womw6peuasteono; d=amazonses.com; \
        t=1608297000;\n\th=Date:From:To:Message-ID:Subject:MIME-Version:Content-Type:Feedback-ID; \
        bh=abc=;\n\tb=L7Gap8PVzz9x8c7v6b5n4m3";
const FROM: &str = "From: Phenom <noreply@example.com>";
/// Exchange Online Protection's border hop (research §2: `*.mail.protection.outlook.com`).
const MS_HOP: &str = "Received: from a8-64.smtp-out.amazonses.com (54.240.8.64) by\n \
    BN8NAM11FT066.mail.protection.outlook.com (10.13.177.77) with Microsoft SMTP\n Server id 15.20.7000.1 via \
        Frontend Transport";

fn gmail_custom_mail_from() -> Vec<&'static str> {
    vec![
        "Delivered-To: probe@gmail.com",
        "Received: by 2002:a05:6a10:1234 with SMTP id x; Fri, 18 Dec 2020 05:10:01 -0800 (PST)",
        "ARC-Authentication-Results: i=1; mx.google.com;\n       dkim=pass header.i=@example.com \
            header.s=z7emv322ttjwltxazlriftckkl3p3ys2 header.b=\"kdd7/gKn\"",
        "Return-Path: <0100017674efab57-x-000000@ses-us-east-1.example.com>",
        "Received: from a8-64.smtp-out.amazonses.com (a8-64.smtp-out.amazonses.com. [54.240.8.64]) by mx.google.com",
        "Received-SPF: pass (google.com: domain of 0100017674efab57-x-000000@ses-us-east-1.example.com designates \
            54.240.8.64 as permitted sender) client-ip=54.240.8.64;",
        "Authentication-Results: mx.google.com;\n       dkim=pass header.i=@example.com \
            header.s=z7emv322ttjwltxazlriftckkl3p3ys2 header.b=\"kdd7/gKn\";\n       dkim=pass \
                header.i=@amazonses.com header.s=224i4yxa5dv7c2xz3womw6peuasteono header.b=L7Gap8PV;\n       spf=pass \
                    (google.com: domain of 0100017674efab57-x-000000@ses-us-east-1.example.com designates 54.240.8.64 \
                    as permitted sender) smtp.mailfrom=0100017674efab57-x-000000@ses-us-east-1.example.com;\n       \
                    dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
        SES_SIG_CUSTOMER,
        SES_SIG_AMAZON,
        FROM,
        "To: probe@gmail.com",
        "Subject: Your verification code",
    ]
}

#[test]
fn gmail_ses_custom_mail_from_aligns_relaxed() {
    let e = eval(&gmail_custom_mail_from(), &["mx.google.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.authserv_id.as_deref(), Some("mx.google.com"));
    assert_eq!(e.dkim.len(), 2);
    assert_eq!((e.dkim[0].domain.as_deref(), e.dkim[0].aligned), (Some("example.com"), true));
    assert_eq!(e.dkim[0].domain_source, "dkim-signature");
    assert_eq!((e.dkim[1].domain.as_deref(), e.dkim[1].aligned), (Some("amazonses.com"), false));
    let spf = e.spf.as_ref().unwrap();
    assert!(spf.aligned);
    assert_eq!(e.mail_from_domain.as_deref(), Some("ses-us-east-1.example.com"));
    let dmarc = e.dmarc.as_ref().unwrap();
    assert_eq!((dmarc.result.as_str(), dmarc.policy.as_deref()), ("pass", Some("reject")));
    // The ARC copy is reported as ignored, never used.
    assert_eq!(e.ignored_headers.count, 1);
    assert!(e.ignored_headers.reasons[0].reason.contains("ARC"), "{:?}", e.ignored_headers);
}

#[test]
fn ses_custom_mail_from_does_not_align_strict() {
    let e = eval(&gmail_custom_mail_from(), &["mx.google.com"], &strict());
    // DKIM d=example.com is identical to From: aligned even in strict mode; SPF on the subdomain is not.
    assert!(e.dkim[0].aligned);
    let spf = e.spf.as_ref().unwrap();
    assert!(!spf.aligned);
    assert!(spf.not_aligned_reason.as_deref().unwrap().contains("only in relaxed mode"), "{spf:?}");
    assert_eq!(e.verdict, Outcome::Ok, "SPF alignment is optional by default:\n{}", e.to_text());
    let strict_spf = Expectations { spf_aligned: true, ..strict() };
    let e = eval(&gmail_custom_mail_from(), &["mx.google.com"], &strict_spf);
    assert_eq!(e.verdict, Outcome::Warning, "required SPF alignment missing is a degradation (DESIGN.md §6)");
    assert_eq!(*finding(&e, "spf").0, FindingOutcome::Warn);
}

#[test]
fn ses_default_mail_from_passes_spf_but_never_aligns() {
    let headers = [
        "Authentication-Results: mx.google.com;\n       dkim=pass header.i=@example.com \
            header.s=z7emv322ttjwltxazlriftckkl3p3ys2 header.b=\"kdd7/gKn\";\n       dkim=pass \
                header.i=@amazonses.com header.s=224i4yxa5dv7c2xz3womw6peuasteono header.b=L7Gap8PV;\n       spf=pass \
                    (google.com: domain of 0101016ffebba6b4-x-000000@us-west-2.amazonses.com designates 54.240.27.116 \
                    as permitted sender) smtp.mailfrom=0101016ffebba6b4-x-000000@us-west-2.amazonses.com;\n       \
                    dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=example.com",
        SES_SIG_CUSTOMER,
        SES_SIG_AMAZON,
        FROM,
    ];
    let e = eval(&headers, &["mx.google.com"], &relaxed());
    let spf = e.spf.as_ref().unwrap();
    assert_eq!((spf.result.as_str(), spf.aligned), ("pass", false));
    assert!(spf.not_aligned_reason.as_deref().unwrap().contains("SES's default"), "{spf:?}");
    assert_eq!(e.mail_from_domain.as_deref(), Some("us-west-2.amazonses.com"));
    // DMARC passes through the aligned DKIM signature; unaligned SPF passes unless alignment is required,
    // then it is a warning (DESIGN.md §5, §6).
    assert_eq!(*finding(&e, "dkim").0, FindingOutcome::Pass);
    assert_eq!(*finding(&e, "dmarc").0, FindingOutcome::Pass);
    assert_eq!(*finding(&e, "spf").0, FindingOutcome::Pass);
    assert_eq!(e.verdict, Outcome::Ok);
    let e = eval(&headers, &["mx.google.com"], &Expectations { spf_aligned: true, ..relaxed() });
    assert_eq!(*finding(&e, "spf").0, FindingOutcome::Warn);
    assert_eq!(e.verdict, Outcome::Warning);
}

#[test]
fn ses_fallback_to_default_mail_from_is_reported() {
    let headers = [
        "Authentication-Results: mx.google.com;\n       dkim=pass header.i=@example.com \
            header.s=z7emv322ttjwltxazlriftckkl3p3ys2 header.b=\"kdd7/gKn\";\n       spf=pass \
                smtp.mailfrom=0101-x-000000@amazonses.com;\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) \
                    header.from=example.com",
        SES_SIG_CUSTOMER,
        FROM,
    ];
    let expect = Expectations { mail_from_domain: Some("bounce.example.com".into()), ..relaxed() };
    let e = eval(&headers, &["mx.google.com"], &expect);
    let (outcome, why) = finding(&e, "mail-from");
    assert_eq!(*outcome, FindingOutcome::Warn);
    assert!(why.contains("MX check") && why.contains("bounce.example.com"), "{why}");
}

#[test]
fn amazonses_only_signature_never_aligns() {
    // Email-address identity without domain DKIM: only SES's own signature (research §0, [QW]).
    let headers = [
        "Authentication-Results: mx.google.com;\n       dkim=pass header.i=@amazonses.com \
            header.s=gdwg2y3kokkkj5a55z2ilkup5wp5hhxx header.b=FxxfSHRK;\n       spf=pass \
                smtp.mailfrom=0101016ffebba6b4-x-000000@us-west-2.amazonses.com;\n       dmarc=fail (p=NONE \
                sp=QUARANTINE dis=NONE) header.from=example.com",
        "DKIM-Signature: v=1; a=rsa-sha256; s=gdwg2y3kokkkj5a55z2ilkup5wp5hhxx; d=amazonses.com; b=FxxfSHRKabc",
        FROM,
    ];
    let e = eval(&headers, &["mx.google.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Critical);
    assert!(!e.dkim[0].aligned);
    let (outcome, why) = finding(&e, "dkim");
    assert_eq!(*outcome, FindingOutcome::Fail);
    assert!(why.contains("amazonses.com") && why.contains("Easy DKIM"), "{why}");
    let dmarc = e.dmarc.as_ref().unwrap();
    assert_eq!(
        (dmarc.result.as_str(), dmarc.policy.as_deref(), dmarc.disposition.as_deref()),
        ("fail", Some("none"), Some("none"))
    );
}

#[test]
fn outlook_without_authserv_id_by_position() {
    // Watermark support article, SES default MAIL FROM, only SES's signature (research §2 [WM]).
    let headers = [
        "Authentication-Results: spf=pass (sender IP is 54.240.44.159)\n smtp.mailfrom=amazonses.com; dkim=pass \
            (signature was verified)\n header.d=amazonses.com;dmarc=fail action=quarantine\n \
                header.from=example.edu;compauth=fail reason=000",
        "Received-SPF: Pass (protection.outlook.com: domain of amazonses.com designates\n 54.240.44.159 as permitted \
            sender) receiver=protection.outlook.com;",
        MS_HOP,
        "From: Registrar <noreply@example.edu>",
    ];
    let e = eval(&headers, &[], &relaxed());
    assert_eq!(e.trust_basis, Some(TrustBasis::PositionNoAuthservId));
    assert_eq!(e.authserv_id, None);
    assert_eq!(e.verdict, Outcome::Critical);
    let dmarc = e.dmarc.as_ref().unwrap();
    assert_eq!((dmarc.result.as_str(), dmarc.disposition.as_deref()), ("fail", Some("quarantine")));
    assert_eq!(e.mail_from_domain.as_deref(), Some("amazonses.com"));
}

#[test]
fn outlook_pass_with_recipient_domain_tokens() {
    let headers = [
        "Received: from SN6PR01MB1234.namprd01.prod.outlook.com (2603:10b6::1) by\n \
            BN8PR01MB5678.namprd01.prod.outlook.com with HTTPS",
        "Authentication-Results: spf=pass (sender IP is 66.111.4.222)\n smtp.mailfrom=fastmail.com; outlook.com; \
            dkim=pass (signature was verified)\n header.d=fastmail.com;outlook.com; dmarc=pass action=none\n \
                header.from=fastmail.com;",
        MS_HOP,
        "From: alice@fastmail.com",
    ];
    let e = eval(&headers, &[], &relaxed());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.dkim[0].domain_source, "header.d");
    // An id-less field that no Microsoft hop received, or below another operator's hop, is not Microsoft's.
    for (case, fields) in [
        ("no Microsoft hop", vec![headers[1], headers[3]]),
        ("below another operator", vec!["Received: from x by mail.example.net", headers[1], headers[2], headers[3]]),
    ] {
        let e = eval(&fields, &[], &relaxed());
        assert_eq!(e.verdict, Outcome::Unknown, "{case}: {}", e.to_text());
    }
    // With the receiver's ids configured an id-less field needs the opt-in.
    let policy = TrustPolicy::with_ids(["mx.google.com"]);
    assert_eq!(evaluate_message(&message(&headers), &policy, &relaxed()).verdict, Outcome::Unknown);
    let opted = policy.trusting_no_authserv_id(true);
    assert_eq!(evaluate_message(&message(&headers), &opted, &relaxed()).verdict, Outcome::Ok);
}

#[test]
fn yahoo_suffix_trust_and_trailing_semicolons() {
    let headers = [
        "Authentication-Results: atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;\n dkim=pass \
            header.i=@fastmail.com header.s=fm2;\n dkim=pass header.i=@messagingengine.com header.s=fm2;\n spf=pass \
                smtp.mailfrom=fastmail.com;\n dmarc=pass(p=NONE,sp=NONE) header.from=fastmail.com;",
        "DKIM-Signature: v=1; a=rsa-sha256; d=fastmail.com; s=fm2; b=AAAA1111",
        "DKIM-Signature: v=1; a=rsa-sha256; d=messagingengine.com; s=fm2; b=BBBB2222",
        "From: alice@fastmail.com",
    ];
    let e = eval(&headers, &["*.yahoo.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.dmarc.as_ref().unwrap().policy.as_deref(), Some("none"));
    assert_eq!(e.dkim.len(), 2);
    assert_eq!(e.dkim[1].domain.as_deref(), Some("messagingengine.com"));
}

#[test]
fn icloud_one_field_per_check() {
    let headers = [
        "Authentication-Results: bimi.icloud.com; bimi=skipped reason=\"insufficient dmarc\"",
        "Authentication-Results: dmarc.icloud.com; dmarc=pass header.from=fastmail.com",
        "Authentication-Results: dkim-verifier.icloud.com;\n\tdkim=pass (2048-bit key) header.d=fastmail.com \
            header.i=@fastmail.com header.b=XEFkSwVW",
        "Authentication-Results: dkim-verifier.icloud.com;\n\tdkim=pass (2048-bit key) header.d=messagingengine.com \
            header.i=@messagingengine.com header.b=tIugs7hL",
        "Authentication-Results: spf.icloud.com; spf=pass (spf.icloud.com: domain of alice@fastmail.com designates \
            66.111.4.28 as permitted sender) smtp.mailfrom=alice@fastmail.com",
        "From: alice@fastmail.com",
    ];
    let e = eval(&headers, &["*.icloud.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.trusted_headers, 5);
    // Nothing configured: the topmost field's Organizational Domain covers every per-check id.
    let e = eval(&headers, &[], &relaxed());
    assert_eq!((e.trusted_headers, e.trust_basis), (5, Some(TrustBasis::Topmost)));
}

#[test]
fn fastmail_authentication_milter() {
    let headers = [
        "ARC-Authentication-Results: i=1; mx3.messagingengine.com;\n    dkim=pass (2048-bit rsa key sha256) \
            header.d=arewe.at header.i=@arewe.at\n    header.b=Nh7CKMWS header.a=rsa-sha256 header.s=202405r",
        "Authentication-Results: mx3.messagingengine.com;\n    x-csa=none;\n    x-me-sender=none;\n    x-ptr=pass \
            smtp.helo=mail.localhost.horse\n      policy.ptr=mail.localhost.horse",
        "Authentication-Results: mx3.messagingengine.com;\n    bimi=none (No BIMI records found)",
        "Authentication-Results: mx3.messagingengine.com;\n    dkim=pass (2048-bit rsa key sha256) header.d=arewe.at \
            header.i=@arewe.at\n      header.b=Nh7CKMWS header.a=rsa-sha256 header.s=202405r;\n    dkim=pass (ed25519 \
                key sha256) header.d=arewe.at header.i=@arewe.at\n      header.b=yBgMwq3y header.a=ed25519-sha256 \
                header.s=202405e;\n    dmarc=pass policy.published-domain-policy=reject\n      \
                policy.applied-disposition=none policy.evaluated-disposition=none\n      \
                (p=reject,d=none,d.eval=none) policy.policy-from=p\n      header.from=arewe.at;\n    iprev=pass \
                smtp.remote-ip=136.243.83.41 (mail.localhost.horse);\n    spf=pass \
                smtp.mailfrom=rust-sydney@arewe.at\n      smtp.helo=mail.localhost.horse",
        "X-ME-Authentication-Results: mx3.messagingengine.com;\n    x-aligned-from=pass (Address match)",
        "From: Rust Sydney <rust-sydney@arewe.at>",
    ];
    let e = eval(&headers, &["*.messagingengine.com"], &strict());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.trusted_headers, 3);
    let dmarc = e.dmarc.as_ref().unwrap();
    assert_eq!((dmarc.policy.as_deref(), dmarc.disposition.as_deref()), (Some("reject"), Some("none")));
    assert_eq!(e.dkim.iter().map(|d| d.selector.as_deref().unwrap_or("")).collect::<Vec<_>>(), ["202405r", "202405e"]);
}

#[test]
fn proton_disagreeing_duplicates_merge_per_signature() {
    let headers = [
        "Authentication-Results: mail.protonmail.ch; dkim=pass (Good 2048 bit\n    rsa-sha256 signature) \
            header.d=arewe.at header.a=rsa-sha256; dkim=pass\n    (Good ed25519-sha256 signature) \
                header.d=arewe.at\n    header.a=ed25519-sha256",
        "Authentication-Results: mail.protonmail.ch; dmarc=pass (p=reject dis=none)\n header.from=arewe.at",
        "Authentication-Results: mail.protonmail.ch; spf=pass smtp.mailfrom=arewe.at",
        "Authentication-Results: mail.protonmail.ch; arc=none smtp.remote-ip=136.243.83.41",
        "Authentication-Results: mail.protonmail.ch; dkim=pass (2048-bit key) header.d=arewe.at\n header.i=@arewe.at \
            header.b=\"Dq3hIIXB\"; dkim=permerror (0-bit key) header.d=arewe.at\n header.i=@arewe.at \
                header.b=\"l7vXbjP4\"",
        "DKIM-Signature: v=1; a=rsa-sha256; d=arewe.at; s=202405r; b=Dq3hIIXBrest",
        "DKIM-Signature: v=1; a=ed25519-sha256; d=arewe.at; s=202405e; b=l7vXbjP4rest",
        "From: Rust Sydney <rust-sydney@arewe.at>",
    ];
    let e = eval(&headers, &["mail.protonmail.ch"], &relaxed());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.dkim.len(), 2, "{:#?}", e.dkim);
    assert!(e.dkim.iter().all(|d| d.result == "pass"));
    assert_eq!(e.dkim[1].also_reported, ["permerror"]);
    assert_eq!(e.dmarc.as_ref().unwrap().policy.as_deref(), Some("reject"));
}

#[test]
fn zoho_dkim_without_domain() {
    let headers = [
        "Authentication-Results: mx.zohomail.eu;\n\tdkim=pass;\n\tspf=pass (zohomail.eu: domain of amazonses.com \
            designates 54.240.8.64 as permitted sender)  smtp.mailfrom=0100-x@amazonses.com;\n\tdmarc=pass(p=none \
                dis=none)  header.from=example.com",
        SES_SIG_CUSTOMER,
        SES_SIG_AMAZON,
        FROM,
    ];
    let e = eval(&headers, &["mx.zohomail.eu"], &relaxed());
    // Two signatures, no domain named: alignment comes from the receiver's dmarc=pass.
    assert_eq!(e.dkim[0].domain, None);
    let (outcome, why) = finding(&e, "dkim");
    assert_eq!(*outcome, FindingOutcome::Pass);
    assert!(why.contains("dmarc=pass"), "{why}");
    // Even with a single signature its d= is the sender's text: a pass that names no domain takes none, and
    // alignment still comes from the receiver's dmarc=pass.
    let one = [headers[0], SES_SIG_CUSTOMER, FROM];
    let e = eval(&one, &["mx.zohomail.eu"], &relaxed());
    assert_eq!((e.dkim[0].domain.as_deref(), e.dkim[0].aligned), (None, false));
    assert_eq!(*finding(&e, "dkim").0, FindingOutcome::Pass);
    // Without a dmarc=pass to lean on, an unnamed pass proves no alignment.
    let no_dmarc = [
        headers[0].replace("dmarc=pass(p=none dis=none)  header.from=example.com", "dmarc=none"),
        SES_SIG_CUSTOMER.to_string(),
        FROM.to_string(),
    ];
    let e = eval(&no_dmarc.iter().map(String::as_str).collect::<Vec<_>>(), &["mx.zohomail.eu"], &relaxed());
    assert_eq!(*finding(&e, "dkim").0, FindingOutcome::Fail, "{}", e.to_text());
}

#[test]
fn opendkim_opendmarc_one_field_per_milter() {
    let headers = [
        "Authentication-Results: mxpostfix02.mail.de;\n\tdkim=pass (2048-bit key; unprotected) header.d=fastmail.com \
            header.i=@fastmail.com header.b=\"Tt2wMg3b\";\n\tdkim-atps=neutral",
        "Authentication-Results: mxpostfix02.mail.de; dmarc=pass (p=none dis=none) header.from=fastmail.com",
        "Authentication-Results: mxpostfix02.mail.de; spf=tempfail smtp.mailfrom=fastmail.com",
        "DKIM-Signature: v=1; a=rsa-sha256; d=fastmail.com; s=fm1; b=Tt2wMg3bZZZ",
        "From: alice@fastmail.com",
    ];
    let e = eval(&headers, &["mxpostfix02.mail.de"], &relaxed());
    assert_eq!(e.dmarc.as_ref().unwrap().disposition.as_deref(), Some("none"));
    let (outcome, why) = finding(&e, "spf");
    assert_eq!(*outcome, FindingOutcome::Fail);
    assert!(why.contains("spf=tempfail"), "{why}");
    assert_eq!(e.verdict, Outcome::Critical);
}

#[test]
fn rspamd_style() {
    let headers = [
        "Authentication-Results: test.com; dkim=pass header.d=test.com header.s=selector1 header.b=Iww3/TIUS; \
            dmarc=pass (policy=reject) header.from=test.com; spf=pass (test.com: domain of no-reply@test.com \
                designates 1.1.1.1 as permitted sender) smtp.mailfrom=no-reply@test.com",
        "From: no-reply@test.com",
    ];
    let e = eval(&headers, &["test.com"], &strict());
    assert_eq!(e.verdict, Outcome::Ok, "{}", e.to_text());
    assert_eq!(e.dmarc.as_ref().unwrap().policy.as_deref(), Some("reject"));
}

#[test]
fn forged_upstream_header_with_the_receivers_id_is_ignored() {
    let headers = [
        "Authentication-Results: mx.google.com;\n       dkim=fail header.i=@example.com \
            header.s=z7emv322ttjwltxazlriftckkl3p3ys2 header.b=\"kdd7/gKn\";\n       spf=softfail \
                smtp.mailfrom=evil.example;\n       dmarc=fail (p=REJECT sp=REJECT dis=REJECT) header.from=example.com",
        "Received: from evil.example by mx.google.com",
        "Authentication-Results: mx.google.com; dkim=pass header.i=@example.com; spf=pass smtp.mailfrom=example.com; \
            dmarc=pass header.from=example.com",
        "Authentication-Results: aaa.com; dkim=pass header.d=example.com",
        SES_SIG_CUSTOMER,
        FROM,
    ];
    let e = eval(&headers, &["mx.google.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Critical);
    assert_eq!(e.dkim[0].result, "fail");
    assert_eq!(e.ignored_headers.count, 2);
    assert!(e.ignored_headers.reasons[0].reason.contains("possibly forged"), "{:?}", e.ignored_headers);
    assert!(e.ignored_headers.reasons[1].reason.contains("not a trusted receiver"), "{:?}", e.ignored_headers);
}

#[test]
fn forged_header_alone_gives_unknown() {
    // deltachat's forged-authres-added case: the sender added `aaa.com` results; the receiver wrote none.
    let headers = ["Authentication-Results: aaa.com; dkim=pass header.d=example.com; dmarc=pass", FROM];
    let e = eval(&headers, &["mx.google.com"], &relaxed());
    assert_eq!(e.verdict, Outcome::Unknown);
    assert_eq!(e.outcome().exit_code(), 3);
    assert_eq!(*finding(&e, "trust").0, FindingOutcome::Fail);
    assert!(e.dkim.is_empty());
}

#[test]
fn json_carries_the_issue_fields() {
    let e = eval(&gmail_custom_mail_from(), &["mx.google.com"], &relaxed());
    let v = serde_json::to_value(&e).unwrap();
    for key in [
        "from_domain",
        "authserv_id",
        "dkim",
        "spf",
        "dmarc",
        "ignored_headers",
        "findings",
        "verdict",
        "mail_from_domain",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["dkim"][0]["selector"], "z7emv322ttjwltxazlriftckkl3p3ys2");
    assert_eq!(v["spf"]["aligned"], true);
    assert_eq!(v["dmarc"]["policy"], "reject");
    assert_eq!(v["ignored_headers"]["count"], 1);
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["findings"][0]["outcome"], "pass");
}

#[test]
fn expectations_deserialise_from_a_probe_file() {
    use cognito_delivery_probe::config::ProbeFile;
    let probe = |expect: &str| {
        ProbeFile::parse(
            &format!(
                "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"u\"\n[maildir]\npath = \"/tmp/m\"\n[expect]\n{expect}"
            ),
            std::path::Path::new("p.toml"),
        )
    };
    let p = probe(
        "dkim = \"pass\"\nspf = \"any\"\ndmarc = \"pass\"\ndkim_aligned = true\nalignment = \"strict\"\ndkim_domain = \
            \"example.com\"\n",
    )
    .unwrap();
    let e = Expectations::from(&p.expect);
    assert_eq!(e.alignment, AlignmentMode::Strict);
    assert!(!e.spf_aligned);
    let err = probe("dkim = \"pass\"\nspf_align = true\n").unwrap_err();
    assert!(err.to_string().contains("spf_align"), "{err}");
    let p: TrustPolicy = toml::from_str("authserv_ids = [\"*.yahoo.com\"]\nno_authserv_id = \"ignore\"\n").unwrap();
    assert_eq!(p.authserv_ids, ["*.yahoo.com"]);
    assert!(toml::from_str::<TrustPolicy>("authserv_id = [\"x\"]\n").is_err());
}

#[test]
fn topmost_mode_warns_when_no_received_line_names_the_receiver() {
    // Nothing configured: Gmail's own field sits below its `Received: … by mx.google.com` line.
    let e = eval(&gmail_custom_mail_from(), &[], &relaxed());
    assert_eq!((e.trust_basis, e.verdict), (Some(TrustBasis::Topmost), Outcome::Ok), "{}", e.to_text());
    // A receiver that wrote no results: the sender's `aaa.com` field would be trusted by position alone.
    let headers = [
        "Received: from a8-64.smtp-out.amazonses.com by mx.example.net",
        "Authentication-Results: aaa.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com; \
            dmarc=pass header.from=example.com",
        SES_SIG_CUSTOMER,
        FROM,
    ];
    // …now refused: it lies below the receiver's own Received (mx.example.net is not aaa.com's host).
    let e = eval(&headers, &[], &relaxed());
    assert_eq!(e.verdict, Outcome::Unknown, "{}", e.to_text());
    assert!(e.ignored_headers.reasons[0].reason.contains("before the receiver saw it"), "{}", e.to_text());
    // A milter writes its field above its MTA's Received: nothing above names the receiver, so trusting the
    // topmost field by position alone is a warning.
    let milter = [headers[1], headers[0], SES_SIG_CUSTOMER, FROM];
    let e = eval(&milter, &[], &relaxed());
    assert_eq!(e.verdict, Outcome::Warning, "{}", e.to_text());
    let (outcome, why) = finding(&e, "trust");
    assert_eq!(*outcome, FindingOutcome::Warn);
    assert!(why.contains("aaa.com") && why.contains("--trusted-authserv-id"), "{why}");
}

/// The real messages of the msg-auth-status suite (Fastmail, Proton, Gmail, Stalwart receivers), rebuilt
/// from their Authentication-Results, DKIM-Signature tags and From, judged as an operator would.
#[test]
fn real_messages_from_msg_auth_status() {
    use cognito_delivery_probe::authres::{HeaderField, evaluate_fields};
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/authres-peers/msg-auth-status.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    // (message id, receiver, verdict)
    let cases = [
        ("mas-to_in_fastmail", "mx3.messagingengine.com", Outcome::Ok),
        ("mas-to_in_protonmail", "mail.protonmail.ch", Outcome::Ok),
        ("mas-from_arewe_at_to_gmail", "mx.google.com", Outcome::Ok),
        ("mas-to_in_areweat", "mail.localhost.horse", Outcome::Ok),
        // Gmail → Stalwart: SPF softfail for the MAIL FROM although DKIM and DMARC pass.
        ("mas-from_gmail_to_arewe_at", "mail.localhost.horse", Outcome::Critical),
        // DKIM results edited to fail.
        ("mas-fail_to_in_areweat", "mail.localhost.horse", Outcome::Critical),
    ];
    for (id, receiver, want) in cases {
        let msg: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in the suite"));
        let mut fields: Vec<HeaderField> = msg["authentication_results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| HeaderField::new("Authentication-Results", v.as_str().unwrap()))
            .collect();
        let mut from = Err("no From".to_string());
        for h in msg["related_headers"].as_array().unwrap() {
            let name = h["name"].as_str().unwrap();
            if let Some(tags) = h["tags"].as_object() {
                let value: Vec<String> =
                    tags.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
                fields.push(HeaderField::new(name, &value.join("; ")));
            } else {
                let value = h["value"].as_str().unwrap();
                if name == "From" {
                    from = value
                        .rsplit('@')
                        .next()
                        .map(|d| d.trim_end_matches('>').to_string())
                        .ok_or_else(|| "From without domain".to_string());
                }
                fields.push(HeaderField::new(name, value));
            }
        }
        let e = evaluate_fields(&fields, from, &TrustPolicy::with_ids([receiver]), &relaxed());
        assert_eq!(e.verdict, want, "{id}:\n{}", e.to_text());
        assert_eq!(e.authserv_id.as_deref(), Some(receiver), "{id}");
    }
}
