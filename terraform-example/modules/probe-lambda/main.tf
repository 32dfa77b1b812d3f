# Runs the probe without a host: EventBridge Scheduler invokes one Lambda function (custom runtime
# provided.al2023, handler bootstrap: the probe-lambda binary) once per probe and tick with
# {"probe": "<name>", "tick": "<aws.scheduler.scheduled-time>"}. The zip holds bootstrap and probes/ (the
# probe files); each run prints one EMF document to stdout, which Lambda's log group turns into the metrics
# modules/probe-alarms alarms on. The function keeps no state: the alarms are the alert state machine and the
# tick table (modules/probe-tick-table) keeps a duplicate invocation from sending a second mail.
#
# The function runs as the probe's role (modules/probe-iam, trusted_services with lambda.amazonaws.com); this
# module adds to it only what the function itself needs: writing its own log group, and its dead-letter queue.

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "probe" {
  # The group Lambda writes to by default (/aws/lambda/<function>), created here so that it has a retention
  # and a key, and so that the role needs no logs:CreateLogGroup.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# Events the function could not take (Lambda asynchronous invocation) and ticks the scheduler could not
# deliver: each message is a tick that did not run, worth a look when the alarms said "no data".
resource "aws_sqs_queue" "dead_letters" {
  name                              = "${var.name}-dead-letters"
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300
}

data "aws_iam_policy_document" "function" {
  # Lambda writes the function's stdout and stderr (the EMF documents among them) through the role: its own
  # group only, never logs:* (Lambda Developer Guide "Sending Lambda function logs to CloudWatch Logs").
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.probe.arn}:*"]
  }

  # Lambda sends an event the function failed on to its dead-letter queue with the function's role
  # (Lambda Developer Guide "Dead-letter queues").
  statement {
    sid       = "OwnDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "OwnDeadLettersKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-function"
  role   = var.role_name
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "probe" {
  #checkov:skip=CKV_AWS_117:outside a VPC the function reaches the AWS APIs and the IMAP server without a NAT gateway; set subnet_ids to run it in one
  #checkov:skip=CKV_AWS_115:reserving concurrency fails on accounts at the default limit (10 unreserved must remain); one schedule per probe and the tick table bound the runs; set reserved_concurrent_executions to reserve
  #checkov:skip=CKV_AWS_50:each run's phases and timings are in its EMF document; X-Ray tracing would need xray:PutTraceSegments on "*"; set tracing_mode = "Active" (and grant it) to trace
  #checkov:skip=CKV_AWS_272:the zip is built from this repository by cargo lambda and uploaded by Terraform; set code_signing_config_arn with an AWS Signer profile to enforce signatures
  function_name = var.name
  description   = "cognito-delivery-probe: one probe run per scheduled tick"
  role          = var.role_arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.architecture]
  filename      = var.zip_path
  # A new zip (new binary or probe files) is a new deployment.
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrent_executions
  code_signing_config_arn        = var.code_signing_config_arn
  kms_key_arn                    = var.kms_key_arn

  environment {
    # Names only, never a secret: secrets come from Secrets Manager at run time ({ secrets_manager = … }).
    variables = merge(
      var.tick_table_name == null ? {} : { PROBE_TICK_TABLE = var.tick_table_name },
      var.environment,
    )
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.probe, aws_iam_role_policy.function]
}

# A run that fails is not run again by Lambda: the next tick is the retry, and a late second run would spend
# the test user's trigger budget (Lambda retries a failed asynchronous invocation twice by default).
resource "aws_lambda_function_event_invoke_config" "probe" {
  function_name          = aws_lambda_function.probe.function_name
  maximum_retry_attempts = 0
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    # Only schedules of this account (EventBridge Scheduler User Guide "Set up the execution role",
    # confused-deputy prevention).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [split(":", aws_lambda_function.probe.arn)[4]]
    }
  }
}

# The scheduler may invoke exactly this function and drop undeliverable ticks into its dead-letter queue.
data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.probe.arn]
  }

  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-probe-function"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "probe" {
  #checkov:skip=CKV_AWS_297:the schedule holds no secret (a function ARN and a probe name); a CMK is used when kms_key_arn is set
  for_each = var.probes

  name                = "${var.name}-${each.key}"
  schedule_expression = each.value.schedule_expression
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.probe.arn
    role_arn = aws_iam_role.scheduler.arn
    # <aws.scheduler.scheduled-time> is the tick's scheduled time, the same for every delivery of one tick
    # (EventBridge Scheduler User Guide "Adding context attributes"): the key of the tick table.
    input = jsonencode({ probe = each.key, tick = "<aws.scheduler.scheduled-time>" })

    # A tick the scheduler could not deliver (throttled, function missing) is tried again for a while: the
    # tick table makes a second delivery of the same tick harmless, and the age bound keeps it inside the
    # tick's own interval.
    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = min(each.value.period_seconds, 86400)
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letters.arn
    }
  }
}
