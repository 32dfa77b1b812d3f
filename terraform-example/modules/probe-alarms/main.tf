# The alert state machine of `probe monitor` (src/monitor/state.rs), rebuilt from CloudWatch alarms on the
# metrics each run prints as one EMF document (namespace CognitoDeliveryProbe, dimensions Probe and Pool;
# README "Deploy on AWS without a host"). Per probe, two alarms:
#
# * delivery: Failure (Maximum) >= 1 in M = failure_threshold of N = failure_threshold + success_threshold - 1
#   periods of one interval. It fires after failure_threshold failing runs and, once firing, needs
#   success_threshold passing runs in a row before fewer than M of the last N periods fail (M out of N alarms,
#   CloudWatch User Guide "Evaluating an alarm"; recommended for EMF metrics on Lambda, "Setting alarms on
#   metrics generated with the embedded metric format").
# * blind: Unknown (Maximum) >= 1 in M = N = unknown_threshold periods: the probe could not tell, so many runs
#   in a row; the first run that is not UNKNOWN resolves it.
#
# Missing data is breaching on both: a probe that stops running (schedule deleted, function broken, image
# gone) fills the window with breaching periods and pages — the dead man's switch. Both alarms notify the
# topic on ALARM and on OK, so every page is resolved.

locals {
  namespace  = "CognitoDeliveryProbe"
  create_sns = var.sns_topic_arn == null
  topic_arn  = local.create_sns ? aws_sns_topic.alarms[0].arn : var.sns_topic_arn
}

resource "aws_sns_topic" "alarms" {
  count = local.create_sns ? 1 : 0

  name = var.name
  # CloudWatch alarms can publish to a topic under a customer managed key whose policy lets
  # cloudwatch.amazonaws.com use it (SNS Developer Guide "Configure AWS KMS permissions for AWS services");
  # alias/aws/sns cannot be used by CloudWatch, so the default here is a key this module creates.
  kms_master_key_id = var.kms_key_arn == null ? aws_kms_key.alarms[0].arn : var.kms_key_arn
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "alarms_key" {
  count = local.create_sns && var.kms_key_arn == null ? 1 : 0

  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishes"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alarms" {
  count = local.create_sns && var.kms_key_arn == null ? 1 : 0

  description         = "SNS topic ${var.name}: the probe's alarm notifications"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarms_key[0].json
}

# Only CloudWatch alarms of this account may publish to a created topic.
data "aws_iam_policy_document" "topic" {
  count = local.create_sns ? 1 : 0

  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.create_sns ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_addresses)

  topic_arn = local.topic_arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "delivery" {
  for_each = var.probes

  alarm_name        = "${var.name}-${each.key}-delivery"
  alarm_description = "cognito-delivery-probe ${each.key} (pool ${each.value.pool_id}): ${each.value.failure_threshold} failing runs of the last ${each.value.failure_threshold + each.value.success_threshold - 1}, or no run at all. Resolves after ${each.value.success_threshold} passing runs in a row."
  namespace         = local.namespace
  metric_name       = "Failure"
  dimensions = {
    Probe = each.key
    Pool  = each.value.pool_id
  }
  statistic           = "Maximum"
  period              = each.value.period_seconds
  evaluation_periods  = each.value.failure_threshold + each.value.success_threshold - 1
  datapoints_to_alarm = each.value.failure_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "blind" {
  for_each = var.probes

  alarm_name          = "${var.name}-${each.key}-blind"
  alarm_description   = "cognito-delivery-probe ${each.key} (pool ${each.value.pool_id}) is blind: ${each.value.unknown_threshold} runs in a row could not tell (credentials, AWS or IMAP unreachable, throttled, bad configuration), or no run at all. Not a delivery failure."
  namespace           = local.namespace
  metric_name         = "Unknown"
  dimensions          = { Probe = each.key, Pool = each.value.pool_id }
  statistic           = "Maximum"
  period              = each.value.period_seconds
  evaluation_periods  = each.value.unknown_threshold
  datapoints_to_alarm = each.value.unknown_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [local.topic_arn]
  ok_actions          = [local.topic_arn]
}
