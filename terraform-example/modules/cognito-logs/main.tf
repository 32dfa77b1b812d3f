# Cognito's own delivery errors for the probe: a CloudWatch Logs log group for the pool's userNotification
# logs at ERROR level (research/ses-events-oauth-emf.md §6, research/aws.md §1.7: the SES refusal text,
# e.g. the two-piece gotcha, within seconds of the trigger), and the resource policy that lets the log
# delivery service write to it.
#
# The pool's log delivery configuration itself (SetLogDeliveryConfiguration) is not a resource of the AWS
# provider this example pins (>= 5.0, < 6.0): aws_cognito_log_delivery_configuration arrived in provider
# 6.5.0. Run the output set_log_delivery_command once after apply. On provider >= 6.5 declare instead:
#
#   resource "aws_cognito_log_delivery_configuration" "user_notification" {
#     user_pool_id = var.user_pool_id
#     log_configurations {
#       event_source = "userNotification"
#       log_level    = "ERROR"
#       cloud_watch_logs_configuration {
#         log_group_arn = aws_cloudwatch_log_group.user_notification.arn
#       }
#     }
#   }
#
# The probe finds the log group through GetLogDeliveryConfiguration; a probe file's [cognito_logs]
# log_group overrides it.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

# Under /aws/vendedlogs/: CloudWatch Logs' recommended prefix for log groups that AWS services deliver to
# (its resource policies are capped at 5,120 characters and the service widens them to /aws/vendedlogs/*).
resource "aws_cloudwatch_log_group" "user_notification" {
  name              = "/aws/vendedlogs/cognito/${var.name}/user-notification"
  retention_in_days = var.retention_in_days
  kms_key_id        = var.kms_key_arn
}

# Cognito's log export asks its caller for the CloudWatch Logs vended-log permissions (logs:CreateLogDelivery,
# logs:PutResourcePolicy, …: Cognito developer guide, "Exporting user pool logs"), so it delivers through that
# infrastructure, which writes as delivery.logs.amazonaws.com. This is the statement the delivery adds to a
# log group's resource policy itself when it may (CloudWatch Logs user guide, "Enabling logging from AWS
# services": AWSLogDeliveryWrite20150319), scoped to this log group. Declared here, whoever runs
# SetLogDeliveryConfiguration needs no logs:PutResourcePolicy.
data "aws_iam_policy_document" "delivery" {
  statement {
    sid       = "AWSLogDeliveryWrite20150319"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.user_notification.arn}:log-stream:*"]

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "delivery" {
  policy_name     = "${var.name}-cognito-user-notification"
  policy_document = data.aws_iam_policy_document.delivery.json
}
