# The probe's least-privilege IAM role: exactly the calls it makes (research/aws.md §3.2 "IAM actions the
# probe needs"), on the pool and identity ARNs where AWS allows resource scoping. ForgotPassword is an
# unauthenticated call and needs no IAM action. The probe only reads AWS configuration: its writes are the
# trigger (AdminCreateUser RESEND, AdminResetUserPassword) and, with SES events, deleting messages of its
# own queue.

data "aws_region" "current" {}

data "aws_iam_policy_document" "assume" {
  # The services that run the probe: ECS tasks (modules/probe-schedule) and/or Lambda (modules/probe-lambda).
  statement {
    sid     = "ProbeRunners"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.trusted_services
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_principals) > 0 ? [1] : []
    content {
      sid     = "TrustedPrincipals"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.trusted_principals
      }
    }
  }
}

data "aws_iam_policy_document" "probe" {
  # Reads (resolve, doctor) and the one write the probe makes: asking Cognito to send a message.
  statement {
    sid = "CognitoPools"
    actions = [
      "cognito-idp:AdminGetUser",
      "cognito-idp:DescribeUserPool",
      "cognito-idp:DescribeUserPoolClient",
      "cognito-idp:AdminCreateUser",
      "cognito-idp:AdminResetUserPassword",
    ]
    resources = var.user_pool_arns
  }

  # SESv2 identity reads (doctor): the identity, its verification/DKIM/MAIL FROM state and its policies.
  statement {
    sid       = "SesIdentities"
    actions   = ["ses:GetEmailIdentity", "ses:GetEmailIdentityPolicies"]
    resources = var.ses_identity_arns
  }

  # GetAccount and GetMetricData have no resource-level permissions: AWS only accepts "*" for them.
  statement {
    sid       = "SesAccount"
    actions   = ["ses:GetAccount"]
    resources = ["*"]
  }

  statement {
    sid       = "SesSendMetric"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"]
  }

  # ---- sender evidence; each statement only when its variable is set -----------------------------------

  # SES event records: the probe's own queue. Receive (with a short visibility timeout, so other records
  # reappear for their consumer by themselves) and delete the records of its own message (DeleteMessageBatch
  # is authorized as sqs:DeleteMessage). Never SendMessage, never a queue setting.
  dynamic "statement" {
    for_each = length(var.ses_events_queue_arns) > 0 ? [var.ses_events_queue_arns] : []
    content {
      sid = "SesEventsQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
      ]
      resources = statement.value
    }
  }

  # A queue under a customer managed key: SQS decrypts each received record with it, on the probe's behalf.
  dynamic "statement" {
    for_each = length(var.ses_events_kms_key_arns) > 0 ? [var.ses_events_kms_key_arns] : []
    content {
      sid       = "SesEventsQueueKey"
      actions   = ["kms:Decrypt"]
      resources = statement.value
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }

  # Where the pool's configuration set publishes: the probe reads the set's own metrics only when a
  # CloudWatch destination exists, and doctor tells "no event destination" from "no record yet".
  dynamic "statement" {
    for_each = length(var.ses_configuration_set_arns) > 0 ? [var.ses_configuration_set_arns] : []
    content {
      sid       = "SesConfigurationSets"
      actions   = ["ses:GetConfigurationSetEventDestinations"]
      resources = statement.value
    }
  }

  # The SES suppression API has no resource-level permissions: AWS only accepts "*" for it.
  dynamic "statement" {
    for_each = var.suppression_list_read ? [1] : []
    content {
      sid       = "SesSuppressionList"
      actions   = ["ses:GetSuppressedDestination"]
      resources = ["*"]
    }
  }

  # Cognito's userNotification error logs: where the pool delivers them, and their events.
  dynamic "statement" {
    for_each = length(var.cognito_log_group_arns) > 0 ? [1] : []
    content {
      sid       = "CognitoLogDelivery"
      actions   = ["cognito-idp:GetLogDeliveryConfiguration"]
      resources = var.user_pool_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.cognito_log_group_arns) > 0 ? [var.cognito_log_group_arns] : []
    content {
      sid       = "CognitoNotificationLogs"
      actions   = ["logs:FilterLogEvents"]
      resources = flatten([for arn in statement.value : [arn, "${arn}:*"]])
    }
  }

  # Secret sources `{ secrets_manager = "<arn>" }` of the probe files (IMAP password, OAuth2 token, client
  # secret): read by the probe itself, on Lambda and in a task alike.
  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [var.secret_arns] : []
    content {
      sid       = "ProbeSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }

  # At most one send per tick: the conditional PutItem of "<probe>#<tick>" (attribute_not_exists(pk)) on
  # the tick table; never a read, update or delete.
  dynamic "statement" {
    for_each = var.tick_table_arn == null ? [] : [var.tick_table_arn]
    content {
      sid       = "OneSendPerTick"
      actions   = ["dynamodb:PutItem"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
    content {
      sid       = "Paging"
      actions   = ["sns:Publish"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "probe" {
  name               = var.name
  description        = "cognito-delivery-probe: read Cognito/SES configuration, trigger probe mail, read AWS/SES metrics"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_policy" "probe" {
  name        = var.name
  description = "Least privilege for cognito-delivery-probe"
  policy      = data.aws_iam_policy_document.probe.json
}

resource "aws_iam_role_policy_attachment" "probe" {
  role       = aws_iam_role.probe.name
  policy_arn = aws_iam_policy.probe.arn
}
