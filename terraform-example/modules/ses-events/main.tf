# Per-message sender evidence for the probe: an SES configuration set that the pool names in
# email_configuration.configuration_set (created here, or a team's own with create_configuration_set =
# false), whose event destination publishes the pool's SES event records (research/ses-events-oauth-emf.md
# §1) to an SQS queue the probe reads. Two ways in:
#
#   destination = "eventbridge"  SES -> the default event bus -> a rule scoped to this configuration set
#                                -> the queue (SES's EventBridge destination supports only the default bus)
#   destination = "sns"          SES -> a topic (created here, or a team's own) -> a raw-delivery SQS
#                                subscription filtered to this configuration set -> the queue
#
# The queue holds EventBridge events ({"detail-type": "Email Delivered", "detail": {<SES record>}}) in the
# first case and bare SES records ({"eventType": "Delivery", "mail": {…}}) in the second. The probe only
# consumes it: it receives every record, deletes those of its own message and makes every other record
# visible again.
#
# Optionally (metrics_enabled) a CloudWatch destination publishes AWS/SES metrics with the
# ses:configuration-set dimension, so the metric phase counts this pool's mail instead of the account's
# (research/ses-events-oauth-emf.md §3). Nothing here touches the account suppression list: the probe only
# reads it (GetSuppressedDestination).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  eventbridge  = var.destination == "eventbridge"
  sns          = var.destination == "sns"
  create_topic = local.sns && var.sns_topic_arn == null
  topic_arn    = local.sns ? (local.create_topic ? aws_sns_topic.events[0].arn : var.sns_topic_arn) : null

  # SES's EventBridge destination takes the default bus only (API_EventBridgeDestination: "Only the default
  # bus is supported").
  default_bus_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/default"

  # SES event type -> EventBridge detail-type (EventBridge events reference, source aws.ses).
  detail_types = {
    SEND              = "Email Sent"
    DELIVERY          = "Email Delivered"
    BOUNCE            = "Email Bounced"
    COMPLAINT         = "Email Complaint Received"
    REJECT            = "Email Rejected"
    RENDERING_FAILURE = "Email Rendering Failed"
    DELIVERY_DELAY    = "Email Delivery Delayed"
  }

  # The part of a record that decides whether it is ours: SES tags every record of mail sent through a
  # configuration set with ses:configuration-set (an auto-tag, a list of values), and mail.destination lists
  # the recipients. Both are arrays in the record; a pattern value matches when any element equals it.
  mail_filter = merge(
    { tags = { "ses:configuration-set" = [var.name] } },
    length(var.recipients) > 0 ? { destination = var.recipients } : {},
  )

  # The one sender the queue accepts: the rule, or the topic. The topic ARN carries its account, so
  # aws:SourceArn alone pins it (the SNS fan-out to SQS documents aws:SourceArn only).
  sender_arn = local.eventbridge ? aws_cloudwatch_event_rule.ses_events[0].arn : local.topic_arn

  # The set's name and ARN, created here or not (SES ARN format: configuration-set/<name>).
  configuration_set_name = var.create_configuration_set ? aws_sesv2_configuration_set.this[0].configuration_set_name : var.name
  configuration_set_arn  = var.create_configuration_set ? aws_sesv2_configuration_set.this[0].arn : "arn:${local.partition}:ses:${local.region}:${local.account_id}:configuration-set/${var.name}"
}

resource "aws_sesv2_configuration_set" "this" {
  count = var.create_configuration_set ? 1 : 0

  configuration_set_name = var.name
}

# ---- the queue the probe reads ----------------------------------------------------------------------------

# No redrive policy and no dead-letter queue, on purpose: the probe receives every record, deletes only the
# records of its own message (with `dedicated = true` in the probe file, the others too) and lets the rest
# reappear after its short receive visibility timeout. A redrive policy counts each of those looks as a
# failed receive and, after maxReceiveCount, moves records that a later run (or another probe of the same
# pool) still needs out of its sight. A record nobody deletes simply expires after
# message_retention_seconds.
resource "aws_sqs_queue" "events" {
  name                       = "${var.name}-ses-events"
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = var.kms_key_arn == null ? true : null
  kms_master_key_id          = var.kms_key_arn
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = local.eventbridge ? "SesEventsRuleOnly" : "SesEventsTopicOnly"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]

    principals {
      type        = "Service"
      identifiers = [local.eventbridge ? "events.amazonaws.com" : "sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.sender_arn]
    }

    # EventBridge user guide, "Cross-service confused deputy prevention": aws:SourceArn is the rule ARN for
    # rule targets, with aws:SourceAccount beside it.
    dynamic "condition" {
      for_each = local.eventbridge ? [local.account_id] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.queue.json
}

# ---- SES -> EventBridge (default bus) -> the queue --------------------------------------------------------

resource "aws_cloudwatch_event_rule" "ses_events" {
  count = local.eventbridge ? 1 : 0

  name           = "${var.name}-ses-events"
  description    = "SES event records of configuration set ${var.name} for cognito-delivery-probe"
  event_bus_name = "default"
  event_pattern = jsonencode({
    source        = ["aws.ses"]
    "detail-type" = [for t in var.event_types : local.detail_types[t]]
    detail        = { mail = local.mail_filter }
  })
}

resource "aws_cloudwatch_event_target" "queue" {
  count = local.eventbridge ? 1 : 0

  rule      = aws_cloudwatch_event_rule.ses_events[0].name
  target_id = "probe-queue"
  arn       = aws_sqs_queue.events.arn
}

# ---- SES -> SNS -> the queue -------------------------------------------------------------------------------

resource "aws_sns_topic" "events" {
  count = local.create_topic ? 1 : 0

  name              = "${var.name}-ses-events"
  kms_master_key_id = var.kms_key_arn
}

# SES publishes to the topic only for this configuration set of this account (SES developer guide, SNS event
# destinations: the topic policy for ses.amazonaws.com with aws:SourceAccount and aws:SourceArn).
data "aws_iam_policy_document" "topic" {
  count = local.create_topic ? 1 : 0

  statement {
    sid       = "SesConfigurationSetOnly"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events[0].arn]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.configuration_set_arn]
    }
  }
}

resource "aws_sns_topic_policy" "events" {
  count = local.create_topic ? 1 : 0

  arn    = aws_sns_topic.events[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

# Raw delivery: the queue gets the SES record itself, not SNS's envelope. The filter (on the message body)
# keeps a shared topic's other configuration sets, and other recipients, out of the queue.
resource "aws_sns_topic_subscription" "queue" {
  count = local.sns ? 1 : 0

  topic_arn            = local.topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.events.arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageBody"
  filter_policy        = jsonencode({ mail = local.mail_filter })

  depends_on = [aws_sqs_queue_policy.events]
}

# ---- the configuration set's event destinations ----------------------------------------------------------

resource "aws_sesv2_configuration_set_event_destination" "queue" {
  count = var.event_destinations_enabled ? 1 : 0

  configuration_set_name = local.configuration_set_name
  event_destination_name = "probe-${var.destination}"

  event_destination {
    enabled              = true
    matching_event_types = var.event_types

    dynamic "event_bridge_destination" {
      for_each = local.eventbridge ? [local.default_bus_arn] : []
      content {
        event_bus_arn = event_bridge_destination.value
      }
    }

    dynamic "sns_destination" {
      for_each = local.sns ? [local.topic_arn] : []
      content {
        topic_arn = sns_destination.value
      }
    }
  }

  # The path to the queue exists before SES publishes the first record.
  depends_on = [aws_cloudwatch_event_target.queue, aws_sns_topic_policy.events, aws_sns_topic_subscription.queue]
}

# Fine-grained AWS/SES metrics: one custom metric per event type (the dimension's only value is this set's
# name), billed as CloudWatch custom metrics (research/ses-events-oauth-emf.md §3).
resource "aws_sesv2_configuration_set_event_destination" "metrics" {
  count = var.event_destinations_enabled && var.metrics_enabled ? 1 : 0

  configuration_set_name = local.configuration_set_name
  event_destination_name = "probe-metrics"

  event_destination {
    enabled              = true
    matching_event_types = var.metric_event_types

    cloud_watch_destination {
      dimension_configuration {
        dimension_name          = "ses:configuration-set"
        dimension_value_source  = "MESSAGE_TAG"
        default_dimension_value = var.name
      }
    }
  }
}
