# The probe's least-privilege IAM role: exactly the calls it makes (research/aws.md §3.2 "IAM actions the
# probe needs"), on the pool and identity ARNs where AWS allows resource scoping. ForgotPassword is an
# unauthenticated call and needs no IAM action.

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "EcsTasks"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
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
