# The probe's own footprint: a least-privilege role (modules/probe-iam) and, without a host, the AWS-native
# loop (README "Deploy on AWS without a host"): EventBridge Scheduler starts one run per probe and tick — a
# Lambda function (runner = "lambda", default; modules/probe-lambda) or an ECS Fargate task from the
# project's image (runner = "fargate"; modules/probe-schedule) — the run prints one EMF document, CloudWatch
# alarms on its metrics are the alert state machine (modules/probe-alarms) and SNS carries the pages. The
# tick table (modules/probe-tick-table) keeps a second start of one tick from sending a second mail.
# runner = "none": a host runs `probe monitor` or `probe --state` and pages through its own channels.

locals {
  aws_native = var.runner != "none"

  # The alarms' and the schedules' view of each probe file: its name (the EMF Probe dimension), its pool
  # (the Pool dimension; default: this root's pool, the pool_id output the probe file names) and its
  # [alert] thresholds. tests/it/terraform.rs checks the production entry against probes/production.toml.
  probes = {
    for name, p in var.probes : name => {
      pool_id           = coalesce(p.pool_id, aws_cognito_user_pool.main.id)
      period_seconds    = p.period_seconds
      failure_threshold = p.failure_threshold
      success_threshold = p.success_threshold
      unknown_threshold = p.unknown_threshold
    }
  }

  # One run per interval, started in the middle of an alarm period: CloudWatch's periods start at multiples
  # of the period (:00, :15, … for 15 minutes) and a run's datapoints carry its start time, so a start a few
  # seconds late never moves a run into the next period (two runs in one period, none in the other: a
  # missing, and so breaching, period). rate() for intervals that do not divide an hour.
  schedule_expressions = {
    for name, p in var.probes : name => (
      60 % (p.period_seconds / 60) == 0 ? "cron(${floor(p.period_seconds / 120)}/${p.period_seconds / 60} * * * ? *)" : "rate(${p.period_seconds / 60} minutes)"
    )
  }
}

module "probe_tick_table" {
  source = "../modules/probe-tick-table"
  count  = local.aws_native && var.tick_table_enabled ? 1 : 0

  name        = "cognito-delivery-probe-prod-ticks"
  kms_key_arn = var.probe_kms_key_arn
}

module "probe_iam" {
  source = "../modules/probe-iam"

  name               = "cognito-delivery-probe-prod"
  user_pool_arns     = concat([aws_cognito_user_pool.main.arn], var.development_pool_arns)
  ses_identity_arns  = [data.aws_ses_email_identity.noreply.arn]
  alarm_topic_arn    = var.alarm_topic_arn
  trusted_services   = var.runner == "lambda" ? ["lambda.amazonaws.com"] : ["ecs-tasks.amazonaws.com"]
  trusted_principals = var.probe_trusted_principals
  secret_arns        = var.probe_secret_arns
  tick_table_arn     = one(module.probe_tick_table[*].arn)

  # Sender evidence (sender-evidence.tf): empty lists when it is off, and then no permission for it.
  ses_events_queue_arns      = module.ses_events[*].queue_arn
  ses_events_kms_key_arns    = var.ses_events_enabled && var.ses_events_kms_key_arn != null ? [var.ses_events_kms_key_arn] : []
  ses_configuration_set_arns = module.ses_events[*].configuration_set_arn
  cognito_log_group_arns     = module.cognito_logs[*].log_group_arn
}

module "probe_lambda" {
  source = "../modules/probe-lambda"
  count  = var.runner == "lambda" ? 1 : 0

  name            = "cognito-delivery-probe-prod"
  zip_path        = var.lambda_zip_path
  role_arn        = module.probe_iam.role_arn
  role_name       = module.probe_iam.role_name
  probes          = { for name, p in local.probes : name => { period_seconds = p.period_seconds, schedule_expression = local.schedule_expressions[name] } }
  timeout_seconds = var.lambda_timeout_seconds
  memory_mb       = var.lambda_memory_mb
  tick_table_name = one(module.probe_tick_table[*].name)
  kms_key_arn     = var.probe_kms_key_arn
}

module "probe_schedule" {
  source   = "../modules/probe-schedule"
  for_each = var.runner == "fargate" ? local.probes : {}

  name                = "cognito-delivery-probe-prod-${each.key}"
  image               = var.probe_image
  probe               = each.key
  tick_table_name     = one(module.probe_tick_table[*].name)
  schedule_expression = local.schedule_expressions[each.key]
  task_role_arn       = module.probe_iam.role_arn
  subnet_ids          = var.subnet_ids
  security_group_ids  = var.security_group_ids
  secrets             = var.probe_task_secrets
  kms_key_arn         = var.probe_kms_key_arn
}

module "probe_alarms" {
  source = "../modules/probe-alarms"
  count  = local.aws_native ? 1 : 0

  name            = "cognito-delivery-probe-prod"
  probes          = local.probes
  sns_topic_arn   = var.alarm_notifications_topic_arn
  email_addresses = var.alarm_email_addresses
}
