//! terraform-example really works: `terraform fmt -check`, `init -backend=false` from the provider mirror and
//! `validate` (no errors, no warnings) on every root and module; the parts moto implements applied to a
//! moto_server on loopback and read back through the probe's own clients and the AWS CLI — the sender
//! evidence included: SES event records reach the probe's queue through the rule or the topic and nothing
//! else does, the queue accepts only that sender, the probe's role writes nothing but its own queue's
//! messages; what moto cannot create is planned and its plan checked, and so is the production root;
//! checkov with no failed check and every skip justified. Each slow tool runs once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::doctor;

use serde_json::{Value, json};
use testkit::moto::Moto;
use testkit::recorder::Recorder;
use testkit::terraform::{Terraform, copy_tree};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform-example")
}

/// The roots the README's test command checks: both environment roots and each module on its own.
const ROOTS: [&str; 9] = [
    "production",
    "development",
    "modules/probe-iam",
    "modules/probe-schedule",
    "modules/probe-lambda",
    "modules/probe-alarms",
    "modules/probe-tick-table",
    "modules/ses-events",
    "modules/cognito-logs",
];

/// The probe's test address in the moto root and in terraform-example/production.
const PROBE_ADDRESS: &str = "probe+prod@thephenom.app";

/// The SES event types the example publishes, and the EventBridge detail-type of each (research/
/// ses-events-oauth-emf.md §1).
const EVENT_TYPES: [(&str, &str); 7] = [
    ("SEND", "Email Sent"),
    ("DELIVERY", "Email Delivered"),
    ("BOUNCE", "Email Bounced"),
    ("COMPLAINT", "Email Complaint Received"),
    ("REJECT", "Email Rejected"),
    ("RENDERING_FAILURE", "Email Rendering Failed"),
    ("DELIVERY_DELAY", "Email Delivery Delayed"),
];

#[test]
fn every_root_is_formatted_and_validates_offline() {
    let tf = Terraform::new();
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&example(), dir.path());
    tf.run(dir.path(), &["fmt", "-check", "-recursive", "-diff", "-no-color"]);
    for root in ROOTS {
        let root_dir = dir.path().join(root);
        tf.run(&root_dir, &["init", "-backend=false", "-input=false", "-no-color"]);
        let out = tf.run(&root_dir, &["validate", "-json", "-no-color"]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("validate -json");
        assert_eq!(json["valid"], true, "{root}: {out}");
        assert_eq!(json["error_count"], 0, "{root}: {out}");
        assert_eq!(json["warning_count"], 0, "{root}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_apply_is_read_back_by_the_probe() {
    let tf = Terraform::new();
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // The moto root uses terraform-example's modules as they are, by relative path: both trees side by side.
    copy_tree(&example(), &dir.path().join("terraform-example"));
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/terraform-moto"), &dir.path().join("moto"));
    let root = dir.path().join("moto");
    let endpoint = format!("endpoint={}", moto.endpoint_url());
    let outputs = tokio::task::block_in_place(|| {
        tf.run(&root, &["init", "-backend=false", "-input=false", "-no-color"]);
        tf.run(&root, &["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint]);
        tf.run(&root, &["output", "-json", "-no-color"])
    });
    let outputs: Value = serde_json::from_str(&outputs).expect("terraform output -json");
    let out = |k: &str| outputs[k]["value"].as_str().unwrap_or_else(|| panic!("output {k}: {outputs}")).to_string();
    let (pool_id, client_id, username) = (out("pool_id"), out("client_id"), out("username"));

    let clients = Clients::from_sdk_config(moto.sdk_config().await);
    let pool = clients.describe_user_pool(&pool_id).await.expect("DescribeUserPool");
    assert_eq!(pool.sending_account, "DEVELOPER");
    assert_eq!(
        pool.configuration_set.as_deref(),
        Some("phenom-prod-cognito"),
        "the pool names the configuration set whose records reach the probe's queue"
    );
    assert_eq!(
        pool.source_arn.as_deref(),
        Some("arn:aws:ses:us-east-1:123456789012:identity/noreply@thephenom.app"),
        "source_arn from the identity resource"
    );
    assert_eq!(pool.from.as_deref(), Some("Phenom <noreply@thephenom.app>"));
    assert_eq!(pool.ses_identity(), Some("noreply@thephenom.app"));

    let user = clients.admin_get_user(&pool_id, &username).await.expect("AdminGetUser");
    assert_eq!(user.status, "FORCE_CHANGE_PASSWORD", "SUPPRESS keeps the test user in FORCE_CHANGE_PASSWORD");
    assert!(user.enabled);
    assert_eq!(user.email.as_deref(), Some("probe+prod@thephenom.app"));
    assert!(user.email_verified);

    let client = clients.describe_user_pool_client(&pool_id, &client_id).await.expect("DescribeUserPoolClient");
    assert_eq!(client.name.as_deref(), Some("cognito-delivery-probe"));
    assert!(client.secret.is_none(), "the ForgotPassword client has no secret");

    let identity = clients.get_email_identity("noreply@thephenom.app").await.expect("GetEmailIdentity");
    assert_eq!(identity.name, "noreply@thephenom.app");

    // `probe doctor` reads the applied configuration back: the pool, identity, policy and test user Terraform
    // made are found and judged, not reported missing.
    let maildir = dir.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let probe_text = format!(
        "pool_id = \"{pool_id}\"\nusername = \"{username}\"\n[maildir]\npath = {}\n",
        toml::Value::String(maildir.display().to_string())
    );
    let probe = ProbeFile::parse(&probe_text, Path::new("moto.toml")).expect("probe file for the applied pool");
    let options = doctor::Options { policy_missing: doctor::PolicyMissing::Fail, skip_dns: true };
    let report = doctor::run(&probe, &clients, &options).await;
    let status = |check: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check == check)
            .map(|f| f.status)
            .unwrap_or_else(|| panic!("no {check}: {report:#?}"))
    };
    for check in ["pool.sending_account", "pool.source_arn", "pool.from", "user.state", "user.rate"] {
        assert_eq!(status(check), doctor::Status::Ok, "{check} on the applied example: {report:#?}");
    }
    // The moto root carries no identity policy (moto has no SES v1 PutIdentityPolicy, research/aws.md §4.1),
    // so this is the two-piece gotcha, and the doctor names it with the fix for this very pool.
    assert_eq!(status("ses.policy"), doctor::Status::Fail, "{report:#?}");
    let policy = report.findings.iter().find(|f| f.check == "ses.policy").unwrap();
    assert!(policy.summary.contains("two-piece gotcha") && policy.fix.contains(&pool_id), "{policy:#?}");
    assert_ne!(status("ses.identity"), doctor::Status::Unknown, "{report:#?}");

    // Sender evidence (terraform-example/modules/ses-events, cognito-logs, probe-iam), read back from moto.
    let aws = AwsCli { endpoint: moto.endpoint_url() };
    let pool_arn = pool.arn.clone().expect("the pool's ARN");
    tokio::task::block_in_place(|| {
        ses_events_reach_the_queue_through_the_rule_only(&aws, &outputs["ses_events"]["value"]);
        ses_events_reach_the_queue_through_the_topic_only(&aws, &outputs["ses_events_sns"]["value"]);
        probe_role_writes_only_its_own_queue_messages(&aws, &outputs, &pool_arn);
        sesv2_resources_moto_cannot_create_are_planned(&tf, &root, &endpoint);
        production_root_plans_its_sender_evidence(&tf, &dir.path().join("terraform-example"), &moto);
    });
    cognito_log_group_takes_the_pools_log_delivery(&aws, &outputs["cognito_logs"]["value"], &pool_id).await;
}

/// The AWS CLI against moto, with test credentials and no user configuration.
struct AwsCli {
    endpoint: String,
}

impl AwsCli {
    /// Runs `aws <args>`; its JSON output (Null when it prints nothing). Panics with stderr when it fails.
    fn run(&self, args: &[&str]) -> Value {
        let out = aws_command(&self.endpoint).args(args).output().unwrap_or_else(|e| {
            panic!("cannot run the AWS CLI ({e}); install it: `pip install awscli` (`bash tests/run-all.sh` does it)")
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "aws {} failed: {stderr}", args.join(" "));
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("aws {} printed no JSON ({e})", args.join(" ")))
    }

    /// Receives what the queue holds now (moto delivers synchronously), deleting nothing.
    fn receive(&self, queue_url: &str) -> Vec<Value> {
        let out = self.run(&["sqs", "receive-message", "--queue-url", queue_url, "--max-number-of-messages", "10"]);
        out["Messages"].as_array().cloned().unwrap_or_default()
    }
}

/// `aws` with `--endpoint-url`, us-east-1, JSON output and test credentials.
fn aws_command(endpoint: &str) -> Command {
    let mut cmd = Command::new("aws");
    cmd.args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"]);
    test_credentials(&mut cmd);
    cmd
}

/// Test credentials for the AWS CLI, and nothing from the user's AWS files or environment.
fn test_credentials(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
}

/// A policy document as JSON, whether a service hands it over as a string or as an object.
fn document(policy: &Value) -> Value {
    match policy {
        Value::String(text) => {
            serde_json::from_str(text).unwrap_or_else(|e| panic!("policy is not JSON ({e}): {text}"))
        }
        other => other.clone(),
    }
}

/// A string-or-list policy field as a set of strings.
fn strings(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().expect("a string in the list").to_string()).collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

/// The queue's own settings and its policy: only `principal`, sending for `source_arn`, may write to it.
fn queue_accepts_only(aws: &AwsCli, queue_url: &str, queue_arn: &str, principal: &str, source_arn: &str) -> Value {
    let attrs =
        &aws.run(&["sqs", "get-queue-attributes", "--queue-url", queue_url, "--attribute-names", "All"])["Attributes"];
    assert_eq!(attrs["VisibilityTimeout"], "30", "a short visibility: other records come back at once: {attrs}");
    assert_eq!(attrs["MessageRetentionPeriod"], "86400", "a day of records: {attrs}");
    assert_eq!(attrs["SqsManagedSseEnabled"], "true", "encrypted at rest by default: {attrs}");
    assert!(attrs.get("RedrivePolicy").is_none(), "no redrive: it would move records the probe handed back: {attrs}");

    let policy = document(&attrs["Policy"]);
    let statements = policy["Statement"].as_array().expect("Statement list");
    assert_eq!(statements.len(), 1, "one statement, for the one sender: {policy}");
    let st = &statements[0];
    assert_eq!(st["Effect"], "Allow", "{st}");
    assert_eq!(st["Principal"], json!({ "Service": principal }), "{st}");
    assert_eq!(strings(&st["Action"]), set(["sqs:SendMessage"]), "send only: {st}");
    assert_eq!(strings(&st["Resource"]), set([queue_arn]), "{st}");
    assert_eq!(strings(&st["Condition"]["ArnEquals"]["aws:SourceArn"]), set([source_arn]), "{st}");
    st["Condition"].clone()
}

/// The rule passes exactly this configuration set's records of mail to the test address, and the queue
/// takes them from that rule only.
fn ses_events_reach_the_queue_through_the_rule_only(aws: &AwsCli, out: &Value) {
    let (set_name, queue_url) = (out["configuration_set"].as_str().unwrap(), out["queue_url"].as_str().unwrap());
    let rule_arn = out["rule_arn"].as_str().expect("rule_arn");
    let condition =
        queue_accepts_only(aws, queue_url, out["queue_arn"].as_str().unwrap(), "events.amazonaws.com", rule_arn);
    assert_eq!(condition["StringEquals"]["aws:SourceAccount"], testkit::moto::ACCOUNT, "{condition}");

    let rule = aws.run(&["events", "describe-rule", "--name", rule_arn.rsplit('/').next().unwrap()]);
    assert_eq!(rule["EventBusName"], "default", "SES publishes to the default bus only: {rule}");
    let pattern = document(&rule["EventPattern"]);
    let detail_types: Vec<&str> = EVENT_TYPES.iter().map(|(_, d)| *d).collect();
    assert_eq!(
        pattern,
        json!({
            "source": ["aws.ses"],
            "detail-type": detail_types,
            "detail": { "mail": {
                "tags": { "ses:configuration-set": [set_name] },
                "destination": [PROBE_ADDRESS],
            } },
        }),
        "the rule is scoped to the configuration set and the test address"
    );

    // What EventBridge does with it (moto evaluates the pattern): only the first event is ours.
    let event = |set: &str, to: &str, detail_type: &str| {
        let record = json!({
            "eventType": "Delivery",
            "mail": { "messageId": format!("0100-{set}-{to}"), "destination": [to],
                      "tags": { "ses:configuration-set": [set] } },
            "delivery": { "smtpResponse": "250 2.0.0 OK" },
        });
        let entry = json!({ "Source": "aws.ses", "DetailType": detail_type, "Detail": record.to_string() });
        json!([entry]).to_string()
    };
    for entries in [
        event(set_name, PROBE_ADDRESS, "Email Delivered"),
        event("another-set", PROBE_ADDRESS, "Email Delivered"),
        event(set_name, "someone@example.com", "Email Delivered"),
        event(set_name, PROBE_ADDRESS, "Email Opened"),
    ] {
        let put = aws.run(&["events", "put-events", "--entries", &entries]);
        assert_eq!(put["FailedEntryCount"], 0, "{put}");
    }
    let messages = aws.receive(queue_url);
    assert_eq!(messages.len(), 1, "one record is ours: {messages:#?}");
    let body = document(&messages[0]["Body"]);
    assert_eq!(body["detail-type"], "Email Delivered", "{body}");
    assert_eq!(body["detail"]["mail"]["tags"]["ses:configuration-set"], json!([set_name]), "{body}");
    assert_eq!(body["detail"]["mail"]["destination"], json!([PROBE_ADDRESS]), "{body}");
}

/// The SNS variant: a topic only SES may publish to for this configuration set, a raw-delivery
/// subscription that filters on the record itself, and a queue that takes messages from that topic only.
fn ses_events_reach_the_queue_through_the_topic_only(aws: &AwsCli, out: &Value) {
    let (set_name, queue_url) = (out["configuration_set"].as_str().unwrap(), out["queue_url"].as_str().unwrap());
    let topic_arn = out["topic_arn"].as_str().expect("topic_arn");
    let condition =
        queue_accepts_only(aws, queue_url, out["queue_arn"].as_str().unwrap(), "sns.amazonaws.com", topic_arn);
    assert!(condition.get("StringEquals").is_none(), "the topic ARN names its account: {condition}");

    let topic = &aws.run(&["sns", "get-topic-attributes", "--topic-arn", topic_arn])["Attributes"];
    let policy = document(&topic["Policy"]);
    let statements = policy["Statement"].as_array().expect("Statement list");
    assert_eq!(statements.len(), 1, "{policy}");
    let st = &statements[0];
    assert_eq!(st["Principal"], json!({ "Service": "ses.amazonaws.com" }), "{st}");
    assert_eq!(strings(&st["Action"]), set(["sns:Publish"]), "{st}");
    let set_arn = format!("arn:aws:ses:us-east-1:{}:configuration-set/{set_name}", testkit::moto::ACCOUNT);
    assert_eq!(strings(&st["Condition"]["ArnEquals"]["aws:SourceArn"]), set([set_arn.as_str()]), "{st}");
    assert_eq!(strings(&st["Condition"]["StringEquals"]["aws:SourceAccount"]), set([testkit::moto::ACCOUNT]), "{st}");

    let subscriptions = aws.run(&["sns", "list-subscriptions-by-topic", "--topic-arn", topic_arn]);
    let subscriptions = subscriptions["Subscriptions"].as_array().expect("Subscriptions");
    assert_eq!(subscriptions.len(), 1, "{subscriptions:#?}");
    assert_eq!(subscriptions[0]["Endpoint"], out["queue_arn"], "{subscriptions:#?}");
    let arn = subscriptions[0]["SubscriptionArn"].as_str().unwrap();
    let attrs = &aws.run(&["sns", "get-subscription-attributes", "--subscription-arn", arn])["Attributes"];
    assert_eq!(attrs["RawMessageDelivery"], "true", "the queue gets the SES record itself: {attrs}");
    assert_eq!(attrs["FilterPolicyScope"], "MessageBody", "{attrs}");
    assert_eq!(
        document(&attrs["FilterPolicy"]),
        json!({ "mail": { "tags": { "ses:configuration-set": [set_name] }, "destination": [PROBE_ADDRESS] } }),
        "{attrs}"
    );

    // What SNS does with it (moto applies the filter): only the first record is ours.
    let record = |set: &str, to: &str| {
        json!({
            "eventType": "Bounce",
            "mail": { "messageId": format!("0100-{set}-{to}"), "destination": [to],
                      "tags": { "ses:configuration-set": [set] } },
            "bounce": { "bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList" },
        })
        .to_string()
    };
    for message in
        [record(set_name, PROBE_ADDRESS), record("another-set", PROBE_ADDRESS), record(set_name, "x@example.com")]
    {
        aws.run(&["sns", "publish", "--topic-arn", topic_arn, "--message", &message]);
    }
    let messages = aws.receive(queue_url);
    assert_eq!(messages.len(), 1, "one record is ours: {messages:#?}");
    let body = document(&messages[0]["Body"]);
    assert_eq!(body["eventType"], "Bounce", "a bare SES record, no SNS envelope: {body}");
    assert_eq!(body["mail"]["destination"], json!([PROBE_ADDRESS]), "{body}");
}

/// The log group keeps a year, the log delivery service may write to it (the documented
/// AWSLogDeliveryWrite20150319 statement, scoped to this group), and the printed CLI call sends the request
/// that points the pool's userNotification errors at it.
async fn cognito_log_group_takes_the_pools_log_delivery(aws: &AwsCli, out: &Value, pool_id: &str) {
    let (name, arn) = (out["log_group_name"].as_str().unwrap(), out["log_group_arn"].as_str().unwrap());
    let groups = aws.run(&["logs", "describe-log-groups", "--log-group-name-prefix", name]);
    let group = &groups["logGroups"][0];
    assert_eq!(group["logGroupName"], name, "{groups}");
    assert_eq!(group["retentionInDays"], 365, "{group}");

    let policies = aws.run(&["logs", "describe-resource-policies"]);
    let policies = policies["resourcePolicies"].as_array().expect("resourcePolicies");
    assert_eq!(policies.len(), 1, "{policies:#?}");
    let policy = document(&policies[0]["policyDocument"]);
    let st = &policy["Statement"][0];
    assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(1), "{policy}");
    assert_eq!(st["Principal"], json!({ "Service": "delivery.logs.amazonaws.com" }), "{st}");
    assert_eq!(strings(&st["Action"]), set(["logs:CreateLogStream", "logs:PutLogEvents"]), "{st}");
    assert_eq!(strings(&st["Resource"]), set([format!("{arn}:log-stream:*").as_str()]), "this group only: {st}");
    assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], testkit::moto::ACCOUNT, "{st}");
    assert_eq!(st["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:logs:us-east-1:123456789012:*", "{st}");

    // moto has no SetLogDeliveryConfiguration: run the command against a recorder and read what it sent.
    let recorder = Recorder::start(200, &[]).await;
    let command = out["set_log_delivery_command"].as_str().expect("set_log_delivery_command");
    let url = recorder.url("/");
    // The command as a user pastes it into a shell, plus the endpoint.
    let status = tokio::task::block_in_place(|| {
        test_credentials(Command::new("bash").arg("-c").arg(format!("{command} --endpoint-url {url}")))
            .output()
            .expect("run bash")
    });
    assert!(status.status.success(), "{command}: {}", String::from_utf8_lossy(&status.stderr));
    let sent = recorder.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].headers.get("x-amz-target").and_then(|v| v.to_str().ok()),
        Some("AWSCognitoIdentityProviderService.SetLogDeliveryConfiguration")
    );
    assert_eq!(
        sent[0].json(),
        json!({
            "UserPoolId": pool_id,
            "LogConfigurations": [{
                "EventSource": "userNotification",
                "LogLevel": "ERROR",
                "CloudWatchLogsConfiguration": { "LogGroupArn": arn },
            }],
        })
    );
}

/// The probe only reads AWS configuration: besides the trigger (AdminCreateUser RESEND or
/// AdminResetUserPassword, on its pools), its one write is to its own queues' messages — DeleteMessage
/// there, nowhere else. "*" only where AWS has no resource-level permission. A team
/// without sender evidence gets none of its permissions.
fn probe_role_writes_only_its_own_queue_messages(aws: &AwsCli, outputs: &Value, pool_arn: &str) {
    let queues = set([
        outputs["ses_events"]["value"]["queue_arn"].as_str().unwrap(),
        outputs["ses_events_sns"]["value"]["queue_arn"].as_str().unwrap(),
    ]);
    let statements = |output: &str| -> Vec<Value> {
        let arn = outputs[output]["value"].as_str().unwrap_or_else(|| panic!("output {output}"));
        let policy = aws.run(&["iam", "get-policy", "--policy-arn", arn]);
        let version = policy["Policy"]["DefaultVersionId"].as_str().expect("DefaultVersionId");
        let doc = aws.run(&["iam", "get-policy-version", "--policy-arn", arn, "--version-id", version]);
        document(&doc["PolicyVersion"]["Document"])["Statement"].as_array().expect("Statement").clone()
    };
    const UNSCOPABLE: [&str; 3] = ["ses:GetAccount", "cloudwatch:GetMetricData", "ses:GetSuppressedDestination"];
    const READ_VERBS: [&str; 5] = ["Get", "Describe", "List", "Filter", "Receive"];

    let mut actions = BTreeSet::new();
    for st in statements("probe_policy_arn") {
        assert_eq!(st["Effect"], "Allow", "{st}");
        let resources = strings(&st["Resource"]);
        for action in strings(&st["Action"]) {
            assert!(!action.contains('*'), "no wildcard action: {st}");
            // Cognito's admin reads are "Admin" + the verb (AdminGetUser).
            let verb = action.split_once(':').map(|(_, v)| v.strip_prefix("Admin").unwrap_or(v)).unwrap_or_default();
            match action.as_str() {
                "sqs:DeleteMessage" => {
                    assert_eq!(resources, queues, "{action} on the probe's own queues only: {st}")
                }
                "cognito-idp:AdminCreateUser" | "cognito-idp:AdminResetUserPassword" => {
                    assert_eq!(resources, set([pool_arn]), "the trigger, on the probe's pool only: {st}")
                }
                _ => assert!(READ_VERBS.iter().any(|r| verb.starts_with(r)), "{action} is not a read: {st}"),
            }
            if action.starts_with("sqs:") {
                assert_eq!(resources, queues, "{action}: {st}");
            }
            if resources.contains("*") {
                assert!(UNSCOPABLE.contains(&action.as_str()), "{action} on \"*\" although AWS scopes it: {st}");
            }
            actions.insert(action);
        }
    }
    for expected in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "logs:FilterLogEvents",
        "ses:GetSuppressedDestination",
        "ses:GetConfigurationSetEventDestinations",
        "cognito-idp:GetLogDeliveryConfiguration",
    ] {
        assert!(actions.contains(expected), "the probe may {expected}: {actions:?}");
    }

    let plain: BTreeSet<String> =
        statements("probe_plain_policy_arn").iter().flat_map(|st| strings(&st["Action"])).collect();
    let evidence: Vec<&String> = plain
        .iter()
        .filter(|a| {
            a.starts_with("sqs:")
                || a.starts_with("logs:")
                || a.starts_with("kms:")
                || a.as_str() == "ses:GetConfigurationSetEventDestinations"
                || a.as_str() == "cognito-idp:GetLogDeliveryConfiguration"
        })
        .collect();
    assert_eq!(evidence, Vec::<&String>::new(), "no sender-evidence variable set, no permission for it");
    assert!(plain.contains("ses:GetSuppressedDestination"), "the suppression list is read by default: {plain:?}");
}

/// `terraform plan` with `args`, read back with `show -json`: the planned values of every resource that
/// changes, by address.
fn planned(tf: &Terraform, root: &Path, args: &[&str]) -> BTreeMap<String, Value> {
    let mut plan_args = vec!["plan", "-input=false", "-no-color", "-out", "probe.tfplan"];
    plan_args.extend_from_slice(args);
    tf.run(root, &plan_args);
    let plan: Value =
        serde_json::from_str(&tf.run(root, &["show", "-json", "-no-color", "probe.tfplan"])).expect("plan JSON");
    plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|rc| rc["change"]["actions"] != json!(["no-op"]))
        .map(|rc| (rc["address"].as_str().expect("address").to_string(), rc["change"]["after"].clone()))
        .collect()
}

/// moto cannot create the configuration sets and their event destinations (see the moto root's
/// sesv2_enabled): plan them instead, and check what SES would be told.
fn sesv2_resources_moto_cannot_create_are_planned(tf: &Terraform, root: &Path, endpoint: &str) {
    let changes = planned(tf, root, &["-var", endpoint, "-var", "sesv2_enabled=true"]);
    let after = |address: &str| -> &Value {
        changes.get(address).unwrap_or_else(|| panic!("{address} not planned: {:?}", changes.keys()))
    };
    let all_types: BTreeSet<String> = EVENT_TYPES.iter().map(|(t, _)| t.to_string()).collect();

    let configuration_set = after("module.ses_events.aws_sesv2_configuration_set.this[0]");
    assert_eq!(configuration_set["configuration_set_name"], "phenom-prod-cognito");
    let queue =
        &after("module.ses_events.aws_sesv2_configuration_set_event_destination.queue[0]")["event_destination"][0];
    assert_eq!(queue["enabled"], true);
    assert_eq!(strings(&queue["matching_event_types"]), all_types, "{queue}");
    assert_eq!(
        queue["event_bridge_destination"],
        json!([{ "event_bus_arn": "arn:aws:events:us-east-1:123456789012:event-bus/default" }]),
        "SES publishes to the default bus (the only one it supports)"
    );

    let topic =
        &after("module.ses_events_sns.aws_sesv2_configuration_set_event_destination.queue[0]")["event_destination"][0];
    assert_eq!(strings(&topic["matching_event_types"]), all_types, "{topic}");
    assert_eq!(
        topic["sns_destination"][0]["topic_arn"],
        "arn:aws:sns:us-east-1:123456789012:phenom-prod-cognito-sns-ses-events"
    );

    let metrics =
        &after("module.ses_events.aws_sesv2_configuration_set_event_destination.metrics[0]")["event_destination"][0];
    assert_eq!(
        metrics["cloud_watch_destination"][0]["dimension_configuration"],
        json!([{
            "dimension_name": "ses:configuration-set",
            "dimension_value_source": "MESSAGE_TAG",
            "default_dimension_value": "phenom-prod-cognito",
        }]),
        "per-set AWS/SES metrics: the configuration-set dimension, valued by SES's auto-tag"
    );
    assert_eq!(
        strings(&metrics["matching_event_types"]),
        set(["SEND", "DELIVERY", "BOUNCE", "REJECT", "RENDERING_FAILURE"])
    );
}

/// terraform-example/production itself, planned against moto (an override file points the provider at it;
/// an apply would stop at the identity policy, which moto cannot store): the pool names the configuration
/// set, the set publishes the seven event types to the default bus and its metrics per set, the rule is
/// scoped to the set and the test address, and with the evidence switched off none of it is planned.
fn production_root_plans_its_sender_evidence(tf: &Terraform, example: &Path, moto: &Moto) {
    let root = example.join("production");
    std::fs::write(
        root.join("moto_override.tf"),
        format!(
            "provider \"aws\" {{\n  region = \"us-east-1\"\n  access_key = \"testing\"\n  secret_key = \"testing\"\n  \
             skip_credentials_validation = true\n  skip_metadata_api_check = true\n  \
             endpoints {{\n    ses = \"{url}\"\n    sts = \"{url}\"\n  }}\n}}\n",
            url = moto.endpoint_url()
        ),
    )
    .expect("write the provider override");
    tf.run(&root, &["init", "-backend=false", "-input=false", "-no-color"]);
    // The default runner is Lambda, whose zip Terraform hashes at plan time.
    let zip = format!("lambda_zip_path={}", function_zip(example).display());

    let changes = planned(tf, &root, &["-var", &zip]);
    let after = |address: &str| -> &Value {
        changes.get(address).unwrap_or_else(|| panic!("{address} not planned: {:?}", changes.keys()))
    };
    assert_eq!(
        after("aws_cognito_user_pool.main")["email_configuration"][0]["configuration_set"],
        "phenom-prod-cognito"
    );
    assert_eq!(
        after("module.ses_events[0].aws_sesv2_configuration_set.this[0]")["configuration_set_name"],
        "phenom-prod-cognito"
    );
    let destination =
        &after("module.ses_events[0].aws_sesv2_configuration_set_event_destination.queue[0]")["event_destination"][0];
    assert_eq!(strings(&destination["matching_event_types"]), EVENT_TYPES.iter().map(|(t, _)| t.to_string()).collect());
    assert_eq!(
        destination["event_bridge_destination"][0]["event_bus_arn"],
        "arn:aws:events:us-east-1:123456789012:event-bus/default"
    );
    let pattern = document(&after("module.ses_events[0].aws_cloudwatch_event_rule.ses_events[0]")["event_pattern"]);
    assert_eq!(pattern["source"], json!(["aws.ses"]));
    assert_eq!(pattern["detail"]["mail"]["tags"]["ses:configuration-set"], json!(["phenom-prod-cognito"]), "{pattern}");
    assert_eq!(pattern["detail"]["mail"]["destination"], json!([PROBE_ADDRESS]), "{pattern}");
    // The probe reads the pool's configuration set's metrics, which exist only with this destination.
    let metrics =
        &after("module.ses_events[0].aws_sesv2_configuration_set_event_destination.metrics[0]")["event_destination"][0];
    assert_eq!(
        metrics["cloud_watch_destination"][0]["dimension_configuration"][0]["dimension_name"],
        "ses:configuration-set"
    );
    let log_group = after("module.cognito_logs[0].aws_cloudwatch_log_group.user_notification");
    assert_eq!(log_group["name"], "/aws/vendedlogs/cognito/phenom-prod/user-notification");
    assert_eq!(log_group["retention_in_days"], 365);

    let off =
        planned(tf, &root, &["-var", &zip, "-var", "ses_events_enabled=false", "-var", "cognito_logs_enabled=false"]);
    let pool = off.get("aws_cognito_user_pool.main").expect("the pool is planned");
    assert_eq!(pool["email_configuration"][0]["configuration_set"], Value::Null, "no set without the evidence");
    let evidence: Vec<&String> =
        off.keys().filter(|a| a.starts_with("module.ses_events") || a.starts_with("module.cognito_logs")).collect();
    assert_eq!(evidence, Vec::<&String>::new());
}

/// checkov (PyPI) over terraform-example: no failed check, and every skip carries its reason inline.
#[test]
fn checkov_finds_no_failed_check() {
    let program = std::env::var_os("CHECKOV").unwrap_or_else(|| "checkov".into());
    let out = match Command::new(&program)
        .args(["-d", &example().display().to_string(), "--framework", "terraform", "--skip-download", "-o", "json"])
        .output()
    {
        Ok(out) => out,
        Err(err) => panic!(
            "{} not runnable ({err}); install checkov: `pip install checkov` (`bash tests/run-all.sh` does it)",
            program.to_string_lossy()
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("checkov output is not JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let report = if json.is_array() { json[0].clone() } else { json };
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} {}: {}", c["check_id"], c["resource"], c["file_path"], c["check_name"]))
        .collect();
    assert_eq!(failed, Vec::<String>::new(), "checkov failed checks");
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(summary["passed"].as_u64().is_some_and(|n| n > 50), "checkov checked the example: {summary}");
    for skipped in report["results"]["skipped_checks"].as_array().into_iter().flatten() {
        let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "skip of {} on {} needs an inline reason", skipped["check_id"], skipped["resource"]);
    }
}

// ---- without a host: scheduler → Lambda or Fargate → EMF → CloudWatch alarms → SNS -------------------------

/// The EMF namespace of the probe's metrics (the EMF contract, `src/emf.rs`).
const EMF_NAMESPACE: &str = "CognitoDeliveryProbe";

/// A Secrets Manager secret a probe file names as a secret source; only its ARN matters to the policy.
const PROBE_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-imap-AbCdEf";

/// probes/production.toml through the product's own loader: its interval, timeouts and the `[alert]`
/// thresholds with the built-in layer applied.
fn production_probe() -> ProbeFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/production.toml");
    ProbeFile::load(&path).unwrap_or_else(|e| panic!("probes/production.toml: {e}"))
}

/// A function zip as `cargo lambda build` lays it out (bootstrap at the top, the probe files under probes/),
/// written into `dir`. moto stores the code and never runs it here, so bootstrap is a small executable
/// stand-in; the zip's shape and the probe file in it are the repository's.
fn function_zip(dir: &Path) -> PathBuf {
    let staging = dir.join("function");
    std::fs::create_dir_all(staging.join("probes")).expect("create the zip's staging dir");
    std::fs::write(staging.join("bootstrap"), "#!/bin/sh\nexit 3\n").expect("write bootstrap");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/production.toml"),
        staging.join("probes/production.toml"),
    )
    .expect("copy the probe file");
    let zip = dir.join("bootstrap.zip");
    let out = Command::new("python3")
        .current_dir(&staging)
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .args(["bootstrap", "probes"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); moto's own interpreter is enough"));
    assert!(out.status.success(), "zip the function: {}", String::from_utf8_lossy(&out.stderr));
    zip
}

/// A provider override pointing every service the production root's probe footprint uses at moto.
fn moto_override(root: &Path, endpoint: &str) {
    let services = [
        "cloudwatch",
        "cloudwatchlogs",
        "cognitoidp",
        "dynamodb",
        "ecs",
        "iam",
        "kms",
        "lambda",
        "scheduler",
        "ses",
        "sesv2",
        "sns",
        "sqs",
        "sts",
    ];
    let endpoints: String = services.iter().map(|s| format!("    {s} = \"{endpoint}\"\n")).collect();
    std::fs::write(
        root.join("moto_override.tf"),
        format!(
            "provider \"aws\" {{\n  region = \"us-east-1\"\n  access_key = \"testing\"\n  secret_key = \"testing\"\n  \
             skip_credentials_validation = true\n  skip_metadata_api_check = true\n  \
             endpoints {{\n{endpoints}  }}\n}}\n"
        ),
    )
    .expect("write the provider override");
}

/// A managed or inline policy document's statements.
fn statements_of(doc: &Value) -> Vec<Value> {
    match &document(doc)["Statement"] {
        Value::Array(items) => items.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        other => panic!("no Statement: {other}"),
    }
}

/// Every statement the role carries: its managed policies' default versions and its inline policies.
fn role_statements(aws: &AwsCli, role: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let attached = aws.run(&["iam", "list-attached-role-policies", "--role-name", role]);
    for policy in attached["AttachedPolicies"].as_array().expect("AttachedPolicies") {
        let arn = policy["PolicyArn"].as_str().expect("PolicyArn");
        let version = aws.run(&["iam", "get-policy", "--policy-arn", arn])["Policy"]["DefaultVersionId"].clone();
        let doc =
            aws.run(&["iam", "get-policy-version", "--policy-arn", arn, "--version-id", version.as_str().unwrap()]);
        all.extend(statements_of(&doc["PolicyVersion"]["Document"]));
    }
    let inline = aws.run(&["iam", "list-role-policies", "--role-name", role]);
    for name in inline["PolicyNames"].as_array().expect("PolicyNames") {
        let doc = aws.run(&["iam", "get-role-policy", "--role-name", role, "--policy-name", name.as_str().unwrap()]);
        all.extend(statements_of(&doc["PolicyDocument"]));
    }
    all
}

/// The resources each action of these statements is allowed on.
fn grants(statements: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for st in statements {
        assert_eq!(st["Effect"], "Allow", "{st}");
        for action in strings(&st["Action"]) {
            out.entry(action).or_default().extend(strings(&st["Resource"]));
        }
    }
    out
}

/// The services a role trusts.
fn trusted_services(aws: &AwsCli, role: &str) -> BTreeSet<String> {
    let role = aws.run(&["iam", "get-role", "--role-name", role]);
    let trust = document(&role["Role"]["AssumeRolePolicyDocument"]);
    statements_of(&trust).iter().filter_map(|st| st["Principal"].get("Service")).flat_map(strings).collect()
}

/// One CloudWatch alarm per run: "the last `n` periods hold at least `m` breaching datapoints" (CloudWatch
/// User Guide "Evaluating an alarm"), with one datapoint per period as the schedule makes them.
fn alarm_in_alarm(history: &[bool], m: usize, n: usize) -> bool {
    history.iter().rev().take(n).filter(|b| **b).count() >= m
}

/// The monitor's state machine (`monitor::state::step`) and the alarms, run side by side over the same runs:
/// from a healthy probe, `failure_threshold` failing runs in a row page on the last of them and not before;
/// `success_threshold` passing runs in a row resolve on the last of them and not before, however long the
/// incident lasted; `unknown_threshold` UNKNOWN runs raise probe_blind and the next run resolves it.
fn alarms_step_like_the_monitor(probe: &ProbeFile, delivery: (usize, usize), blind: (usize, usize)) {
    use cognito_delivery_probe::monitor::state::{AlertState, Thresholds, step};
    use cognito_delivery_probe::verdict::Outcome;

    let t = Thresholds::from(&probe.alert);
    let (f, s, u) = (t.failure as usize, t.success as usize, t.unknown as usize);
    let now = chrono::Utc::now();
    let runs = |outcomes: &[Outcome]| -> Vec<(bool, bool, bool, bool)> {
        // (monitor delivery open, alarm delivery, monitor blind open, alarm blind) after each run; the
        // probe was healthy for a long time before.
        let mut state = AlertState::default();
        let mut history: Vec<Outcome> = vec![Outcome::Ok; 2 * (f + s + u)];
        outcomes
            .iter()
            .map(|o| {
                state = step(state.clone(), "production", *o, now, &t).0;
                history.push(*o);
                let failures: Vec<bool> = history.iter().map(|o| *o == Outcome::Critical).collect();
                let unknowns: Vec<bool> = history.iter().map(|o| *o == Outcome::Unknown).collect();
                (
                    state.delivery.is_some(),
                    alarm_in_alarm(&failures, delivery.0, delivery.1),
                    state.blind.is_some(),
                    alarm_in_alarm(&unknowns, blind.0, blind.1),
                )
            })
            .collect()
    };
    for incident in f..f + 2 * s + 2 {
        let mut outcomes = vec![Outcome::Critical; incident];
        outcomes.extend(vec![Outcome::Ok; s + 1]);
        for (i, (monitor, alarm, _, _)) in runs(&outcomes).into_iter().enumerate() {
            assert_eq!(
                alarm,
                monitor,
                "run {} of {incident} failing then {} passing runs: alarm {alarm}",
                i + 1,
                s + 1
            );
        }
    }
    let mut outcomes = vec![Outcome::Unknown; u + 1];
    outcomes.push(Outcome::Ok);
    for (i, (_, _, monitor, alarm)) in runs(&outcomes).into_iter().enumerate() {
        assert_eq!(alarm, monitor, "run {} of {} UNKNOWN runs then one OK: blind alarm {alarm}", i + 1, u + 1);
    }
}

/// The two alarms of each probe, read back from CloudWatch, against the probe file: the delivery alarm on
/// Failure is M = failure_threshold of N = failure_threshold + success_threshold - 1 periods of one interval,
/// the blind alarm on Unknown is M = N = unknown_threshold, both breach on missing data (a probe that stops
/// running pages) and notify `topic` on ALARM and on OK.
fn alarms_match_the_probe_file(aws: &AwsCli, probe: &ProbeFile, pool_id: &str, topic: &str) {
    let alarms = aws.run(&["cloudwatch", "describe-alarms", "--alarm-name-prefix", "cognito-delivery-probe-prod-"]);
    let alarms = alarms["MetricAlarms"].as_array().expect("MetricAlarms");
    let by_metric = |metric: &str| -> &Value {
        let found: Vec<&Value> = alarms.iter().filter(|a| a["MetricName"] == metric).collect();
        assert_eq!(found.len(), 1, "one alarm on {metric}: {alarms:#?}");
        found[0]
    };
    let a = &probe.alert;
    let expected = [
        ("Failure", a.failure_threshold, a.failure_threshold + a.success_threshold - 1),
        ("Unknown", a.unknown_threshold, a.unknown_threshold),
    ];
    assert_eq!(alarms.len(), expected.len(), "{alarms:#?}");
    let mut windows = Vec::new();
    for (metric, m, n) in expected {
        let alarm = by_metric(metric);
        assert_eq!(alarm["Namespace"], EMF_NAMESPACE, "{alarm}");
        let dimensions: BTreeMap<String, String> = alarm["Dimensions"]
            .as_array()
            .expect("Dimensions")
            .iter()
            .map(|d| (d["Name"].as_str().unwrap().to_string(), d["Value"].as_str().unwrap().to_string()))
            .collect();
        let want = BTreeMap::from([("Probe".to_string(), probe.name.clone()), ("Pool".to_string(), pool_id.into())]);
        assert_eq!(dimensions, want, "the EMF document's dimensions of this probe file: {alarm}");
        assert_eq!(alarm["Statistic"], "Maximum", "{alarm}");
        assert_eq!(alarm["Period"], probe.interval.as_secs(), "one period per run of the probe: {alarm}");
        assert_eq!(alarm["EvaluationPeriods"], n, "{metric}: N: {alarm}");
        assert_eq!(alarm["DatapointsToAlarm"], m, "{metric}: M: {alarm}");
        assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold", "{alarm}");
        assert_eq!(alarm["Threshold"], 1.0, "{alarm}");
        assert_eq!(alarm["TreatMissingData"], "breaching", "a probe that stops running pages: {alarm}");
        assert_eq!(alarm["AlarmActions"], json!([topic]), "{alarm}");
        assert_eq!(alarm["OKActions"], json!([topic]), "every page is resolved: {alarm}");
        assert_eq!(alarm["ActionsEnabled"], true, "{alarm}");
        windows.push((m as usize, n as usize));
    }
    alarms_step_like_the_monitor(probe, windows[0], windows[1]);
}

/// The alarms' topic: encrypted under a customer managed key CloudWatch may use, and only CloudWatch of
/// this account may publish to it.
fn alarm_topic_is_encrypted_and_takes_cloudwatch_only(aws: &AwsCli, topic: &str) {
    let attrs = &aws.run(&["sns", "get-topic-attributes", "--topic-arn", topic])["Attributes"];
    let key = attrs["KmsMasterKeyId"].as_str().unwrap_or_else(|| panic!("the topic is encrypted: {attrs}"));
    let key_policy = aws.run(&["kms", "get-key-policy", "--key-id", key, "--policy-name", "default"]);
    let cloudwatch: Vec<Value> = statements_of(&key_policy["Policy"])
        .into_iter()
        .filter(|st| st["Principal"] == json!({ "Service": "cloudwatch.amazonaws.com" }))
        .collect();
    assert_eq!(cloudwatch.len(), 1, "{key_policy}");
    assert_eq!(strings(&cloudwatch[0]["Action"]), set(["kms:Decrypt", "kms:GenerateDataKey*"]), "{key_policy}");
    let key_meta = aws.run(&["kms", "get-key-rotation-status", "--key-id", key]);
    assert_eq!(key_meta["KeyRotationEnabled"], true, "{key_meta}");

    let policy = statements_of(&attrs["Policy"]);
    assert_eq!(policy.len(), 1, "{policy:#?}");
    assert_eq!(policy[0]["Principal"], json!({ "Service": "cloudwatch.amazonaws.com" }), "{policy:#?}");
    assert_eq!(strings(&policy[0]["Action"]), set(["sns:Publish"]), "{policy:#?}");
    assert_eq!(policy[0]["Condition"]["StringEquals"]["aws:SourceAccount"], testkit::moto::ACCOUNT, "{policy:#?}");
}

/// A queue's ARN from its URL.
fn queue_arn(aws: &AwsCli, url: &str) -> String {
    let attrs = aws.run(&["sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "QueueArn"]);
    attrs["Attributes"]["QueueArn"].as_str().expect("QueueArn").to_string()
}

/// The tick table: key `pk` (S), TTL on `expires_at`, point-in-time recovery, encrypted.
fn tick_table_is_the_contracts(aws: &AwsCli, table: &str) {
    let t = &aws.run(&["dynamodb", "describe-table", "--table-name", table])["Table"];
    assert_eq!(t["KeySchema"], json!([{ "AttributeName": "pk", "KeyType": "HASH" }]), "{t}");
    assert_eq!(t["AttributeDefinitions"], json!([{ "AttributeName": "pk", "AttributeType": "S" }]), "{t}");
    assert_eq!(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST", "{t}");
    assert_eq!(t["SSEDescription"]["Status"], "ENABLED", "{t}");
    let ttl = &aws.run(&["dynamodb", "describe-time-to-live", "--table-name", table])["TimeToLiveDescription"];
    assert_eq!(ttl["AttributeName"], "expires_at", "{ttl}");
    assert_eq!(ttl["TimeToLiveStatus"], "ENABLED", "{ttl}");
    let backups = aws.run(&["dynamodb", "describe-continuous-backups", "--table-name", table]);
    let pitr = &backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"];
    assert_eq!(pitr["PointInTimeRecoveryStatus"], "ENABLED", "{backups}");
}

/// The schedule of one probe: one run per interval, started mid-period (the cron's minute offset is half the
/// interval), and what it hands its target.
fn schedule_of(aws: &AwsCli, name: &str, probe: &ProbeFile) -> Value {
    let schedule = aws.run(&["scheduler", "get-schedule", "--name", name]);
    let minutes = probe.interval.as_secs() / 60;
    assert_eq!(
        schedule["ScheduleExpression"],
        format!("cron({}/{minutes} * * * ? *)", minutes / 2),
        "once per interval, in the middle of an alarm period: {schedule}"
    );
    assert_eq!(schedule["State"], "ENABLED", "{schedule}");
    assert_eq!(schedule["FlexibleTimeWindow"]["Mode"], "OFF", "{schedule}");
    schedule["Target"].clone()
}

/// The probe's role and the roles around it: the probe's reads and trigger (modules/probe-iam, checked in
/// detail by the moto root's test), plus exactly the function's own log group, its own dead-letter queue, the
/// tick table (PutItem only) and the listed secret; no `logs:*`, no log group of anyone else.
fn lambda_roles_are_least_privilege(aws: &AwsCli, outputs: &Value) {
    let out = |k: &str| outputs[k]["value"].as_str().unwrap_or_else(|| panic!("output {k}: {outputs}")).to_string();
    let role = out("probe_role_arn").rsplit('/').next().unwrap().to_string();
    assert_eq!(trusted_services(aws, &role), set(["lambda.amazonaws.com"]), "the function runs as the probe's role");

    let function = aws.run(&["lambda", "get-function-configuration", "--function-name", &out("probe_function_name")]);
    let group = aws.run(&["logs", "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/"]);
    let group = &group["logGroups"][0];
    assert_eq!(group["logGroupName"], format!("/aws/lambda/{}", out("probe_function_name")), "{group}");
    assert_eq!(group["retentionInDays"], 365, "{group}");
    let group_arn = group["arn"].as_str().expect("log group arn").trim_end_matches(":*").to_string();
    let dlq = queue_arn(aws, &out("probe_dead_letter_queue_url"));
    let table = aws.run(&["dynamodb", "describe-table", "--table-name", &out("probe_tick_table")]);
    let table_arn = table["Table"]["TableArn"].as_str().unwrap().to_string();

    let probe_grants = grants(&role_statements(aws, &role));
    assert_eq!(
        probe_grants.get("logs:CreateLogStream"),
        Some(&set([format!("{group_arn}:*").as_str()])),
        "{probe_grants:#?}"
    );
    assert_eq!(
        probe_grants.get("logs:PutLogEvents"),
        Some(&set([format!("{group_arn}:*").as_str()])),
        "{probe_grants:#?}"
    );
    assert_eq!(probe_grants.get("sqs:SendMessage"), Some(&set([dlq.as_str()])), "{probe_grants:#?}");
    assert_eq!(probe_grants.get("dynamodb:PutItem"), Some(&set([table_arn.as_str()])), "{probe_grants:#?}");
    assert_eq!(probe_grants.get("secretsmanager:GetSecretValue"), Some(&set([PROBE_SECRET])), "{probe_grants:#?}");
    for (action, resources) in &probe_grants {
        assert!(!action.contains('*'), "no wildcard action: {action}");
        if action.starts_with("logs:") && action != "logs:FilterLogEvents" {
            assert!(
                resources.iter().all(|r| r.starts_with(&group_arn)),
                "{action} beyond its own group: {resources:?}"
            );
        }
        if action.starts_with("dynamodb:") {
            assert_eq!(action, "dynamodb:PutItem", "the tick table is only written, conditionally");
        }
    }
    for (action, _) in probe_grants.iter().filter(|(a, _)| a.starts_with("cognito-idp:") || a.starts_with("ses:")) {
        let verb = action.split_once(':').map(|(_, v)| v.strip_prefix("Admin").unwrap_or(v)).unwrap_or_default();
        assert!(
            ["Get", "Describe", "CreateUser", "ResetUserPassword"].iter().any(|v| verb.starts_with(v)),
            "{action}: the probe reads, and triggers"
        );
    }

    // The scheduler's role may invoke this function and drop undeliverable ticks into its queue, nothing else.
    let scheduler_role = format!("{}-scheduler", out("probe_function_name"));
    assert_eq!(trusted_services(aws, &scheduler_role), set(["scheduler.amazonaws.com"]));
    let scheduler = grants(&role_statements(aws, &scheduler_role));
    let function_arn = function["FunctionArn"].as_str().unwrap();
    assert_eq!(
        scheduler,
        BTreeMap::from([
            ("lambda:InvokeFunction".to_string(), set([function_arn])),
            ("sqs:SendMessage".to_string(), set([dlq.as_str()])),
        ]),
        "{scheduler:#?}"
    );
}

/// terraform-example/production applied to moto with the default runner (Lambda), then with
/// runner = "fargate", and read back with the AWS CLI: the scheduler invokes the function once per interval
/// with the contract's payload (or starts the task from the image with `--format emf --tick-table`), the
/// function is the custom runtime with the zip, a timeout that covers the probe and the tick table; the
/// alarms are the probe file's alert state machine (checked against probes/production.toml read by the
/// product, and stepped beside `monitor::state::step`) and notify an encrypted topic; every role is least
/// privilege. The sender evidence and the SES identity policy (which moto cannot store) are left out with
/// `-target`: the probe footprint is applied, and everything it depends on.
#[test]
fn production_pages_through_cloudwatch_alarms_on_moto() {
    let tf = Terraform::new();
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&example(), &dir.path().join("terraform-example"));
    let root = dir.path().join("terraform-example/production");
    let zip = function_zip(dir.path());
    let aws = AwsCli { endpoint: moto.endpoint_url() };
    // The identity the root reads as a data source (verified outside Terraform, as in the runbook).
    aws.run(&["ses", "verify-email-identity", "--email-address", "noreply@thephenom.app"]);
    moto_override(&root, &moto.endpoint_url());
    let probe = production_probe();

    let zip_var = format!("lambda_zip_path={}", zip.display());
    let secret_var = format!("probe_secret_arns=[\"{PROBE_SECRET}\"]");
    let apply = |extra: &[&str]| -> Value {
        let mut args =
            vec!["apply", "-auto-approve", "-input=false", "-no-color", "-var", &zip_var, "-var", &secret_var];
        args.extend(["-var", "ses_events_enabled=false", "-var", "cognito_logs_enabled=false"]);
        args.extend([
            "-target=module.probe_iam",
            "-target=module.probe_lambda",
            "-target=module.probe_schedule",
            "-target=module.probe_alarms",
            "-target=module.probe_tick_table",
        ]);
        args.extend_from_slice(extra);
        tf.run(&root, &args);
        serde_json::from_str(&tf.run(&root, &["output", "-json", "-no-color"])).expect("terraform output -json")
    };
    tf.run(&root, &["init", "-backend=false", "-input=false", "-no-color"]);

    // ---- runner = "lambda" (the default)
    let outputs = apply(&[]);
    let out = |k: &str| outputs[k]["value"].as_str().unwrap_or_else(|| panic!("output {k}: {outputs}")).to_string();
    let (pool_id, topic, table) = (out("pool_id"), out("alarm_topic_arn"), out("probe_tick_table"));
    alarms_match_the_probe_file(&aws, &probe, &pool_id, &topic);
    alarm_topic_is_encrypted_and_takes_cloudwatch_only(&aws, &topic);
    tick_table_is_the_contracts(&aws, &table);

    let function = aws.run(&["lambda", "get-function-configuration", "--function-name", &out("probe_function_name")]);
    assert_eq!(function["Runtime"], "provided.al2023", "{function}");
    assert_eq!(function["Handler"], "bootstrap", "{function}");
    assert_eq!(function["Role"], out("probe_role_arn"), "{function}");
    assert_eq!(function["CodeSize"], std::fs::metadata(&zip).unwrap().len(), "the zip as built: {function}");
    assert_eq!(function["Environment"]["Variables"], json!({ "PROBE_TICK_TABLE": table }), "no secret: {function}");
    let timeout = function["Timeout"].as_u64().expect("Timeout");
    let settle = probe.cloudwatch.settle.as_secs();
    assert!(
        timeout > probe.timeout.as_secs() + settle && timeout <= 900,
        "the timeout ({timeout} s) covers the probe's timeout and settle and fits Lambda: {function}"
    );
    let invoke =
        aws.run(&["lambda", "get-function-event-invoke-config", "--function-name", &out("probe_function_name")]);
    assert_eq!(invoke["MaximumRetryAttempts"], 0, "a failed run is not run again: the next tick is: {invoke}");

    let target = schedule_of(&aws, &format!("{}-{}", out("probe_function_name"), probe.name), &probe);
    assert_eq!(target["Arn"], function["FunctionArn"], "{target}");
    assert_eq!(
        document(&target["Input"]),
        json!({ "probe": probe.name, "tick": "<aws.scheduler.scheduled-time>" }),
        "the Lambda/tick contract's payload"
    );
    let dlq = queue_arn(&aws, &out("probe_dead_letter_queue_url"));
    assert_eq!(target["DeadLetterConfig"]["Arn"], dlq, "ticks the scheduler could not deliver: {target}");
    // moto 5.2.1 does not report a function's DeadLetterConfig; AWS does.
    if let Some(config) = function.get("DeadLetterConfig") {
        assert_eq!(config["TargetArn"], dlq, "{function}");
    }
    assert_eq!(target["RetryPolicy"]["MaximumEventAgeInSeconds"], probe.interval.as_secs(), "{target}");
    lambda_roles_are_least_privilege(&aws, &outputs);

    // ---- runner = "fargate": the image, the same alarms
    let outputs = apply(&[
        "-var",
        "runner=fargate",
        "-var",
        "subnet_ids=[\"subnet-0probe\"]",
        "-var",
        "security_group_ids=[\"sg-0probe\"]",
    ]);
    assert_eq!(outputs["probe_function_name"]["value"], Value::Null, "{outputs}");
    let role = outputs["probe_role_arn"]["value"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(trusted_services(&aws, &role), set(["ecs-tasks.amazonaws.com"]), "the task runs as the probe's role");
    alarms_match_the_probe_file(&aws, &probe, &pool_id, &topic);

    let family = format!("cognito-delivery-probe-prod-{}", probe.name);
    let task = aws.run(&["ecs", "describe-task-definition", "--task-definition", &family]);
    let container = &task["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(
        container["command"],
        json!(["--probe", probe.name, "--probes", "/etc/probe/probes", "--format", "emf", "--tick-table", table]),
        "the probe file baked into the image, one EMF document per run, one send per tick: {container}"
    );
    assert_eq!(container["readonlyRootFilesystem"], true, "{container}");
    assert_eq!(
        container["mountPoints"],
        json!([{ "sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": false }])
    );
    assert_eq!(container["logConfiguration"]["logDriver"], "awslogs", "EMF reaches CloudWatch Logs: {container}");
    let target = schedule_of(&aws, &family, &probe);
    assert_eq!(target["EcsParameters"]["LaunchType"], "FARGATE", "{target}");
    let execution =
        task["taskDefinition"]["executionRoleArn"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let execution = grants(&role_statements(&aws, &execution));
    let group = container["logConfiguration"]["options"]["awslogs-group"].as_str().unwrap();
    assert_eq!(execution.keys().collect::<Vec<_>>(), ["logs:CreateLogStream", "logs:PutLogEvents"], "{execution:#?}");
    for resources in execution.values() {
        let [resource] = resources.iter().collect::<Vec<_>>()[..] else { panic!("one group: {resources:?}") };
        assert!(resource.ends_with(&format!(":log-group:{group}:*")), "its own group only: {resource}");
    }
}

/// The Dockerfile builds the binary in one stage and ships it alone in a small final stage that runs as a
/// non-root user, with the probe files and `--format emf`, and builds no secret in; `.dockerignore` keeps
/// build outputs and state out of the context.
#[test]
fn dockerfile_ships_a_non_root_probe_with_its_files() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(top.join("Dockerfile")).expect("Dockerfile at the top of the repository");
    // Instructions, with continuation lines joined and comments dropped (Dockerfile reference "Format").
    let joined = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let instructions: Vec<(String, String)> = joined
        .replace("\\\n", " ")
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .map(|(i, rest)| (i.to_uppercase(), rest.trim().to_string()))
        .collect();
    let stages: Vec<usize> =
        instructions.iter().enumerate().filter(|(_, (i, _))| i == "FROM").map(|(n, _)| n).collect();
    assert!(stages.len() >= 2, "multi-stage: a build stage and a small final one: {instructions:?}");
    let (build, last) = (&instructions[stages[0]..stages[stages.len() - 1]], &instructions[stages[stages.len() - 1]..]);
    assert!(
        build.iter().any(|(i, r)| i == "RUN" && r.contains("cargo build --release --locked --bin probe")),
        "the build stage builds the locked release binary: {build:?}"
    );
    let base = &last[0].1;
    assert!(base.contains("distroless") || base.contains("slim"), "a small final image: {base}");
    let in_last = |instr: &str| -> Vec<&String> { last.iter().filter(|(i, _)| i == instr).map(|(_, r)| r).collect() };
    let user = in_last("USER");
    let user = user.last().unwrap_or_else(|| panic!("the final stage sets USER: {last:?}"));
    assert!(!["root", "0", "root:root", "0:0"].contains(&user.as_str()), "non-root: USER {user}");
    assert!(
        in_last("COPY").iter().any(|r| r.ends_with("/etc/probe/probes/") && r.starts_with("probes")),
        "the probe files in /etc/probe/probes: {last:?}"
    );
    assert!(in_last("COPY").iter().any(|r| r.starts_with("--from=")), "the binary from the build stage: {last:?}");
    assert_eq!(in_last("ENTRYPOINT"), [&"[\"probe\"]".to_string()], "{last:?}");
    let cmd: Vec<String> = serde_json::from_str(in_last("CMD").last().expect("CMD")).expect("CMD in exec form");
    let arg = |flag: &str| cmd.iter().position(|a| a == flag).map(|i| cmd[i + 1].as_str());
    assert_eq!(arg("--format"), Some("emf"), "{cmd:?}");
    assert_eq!(arg("--probes"), Some("/etc/probe/probes"), "{cmd:?}");
    for (instr, rest) in &instructions {
        let upper = rest.to_uppercase();
        if instr == "ENV" || instr == "ARG" {
            for word in ["PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY", "PRIVATE"] {
                assert!(!upper.contains(word), "no secret built into the image: {instr} {rest}");
            }
        }
        assert!(!(instr == "COPY" || instr == "ADD") || !upper.contains(".AWS"), "no AWS credentials: {rest}");
    }
    let ignore = std::fs::read_to_string(top.join(".dockerignore")).expect(".dockerignore beside the Dockerfile");
    for entry in ["target/", ".git/", "**/.terraform/", "**/*.tfstate"] {
        assert!(ignore.lines().any(|l| l.trim() == entry), ".dockerignore lists {entry}");
    }
}
