resource "aws_sesv2_email_identity" "domain" {
  email_identity = "example.com"
}

resource "aws_cognito_user_pool" "prod" {
  name = "shop-prod"

  email_configuration {
    email_sending_account = "DEVELOPER"
    source_arn            = aws_sesv2_email_identity.domain.arn
    from_email_address    = "Shop <noreply@example.com>"
  }
}

data "aws_iam_policy_document" "cognito_send" {
  statement {
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [aws_sesv2_email_identity.domain.arn]
    principals {
      type        = "Service"
      identifiers = ["email.cognito-idp.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = ["123456789012"]
    }
  }
}

resource "aws_ses_identity_policy" "cognito" {
  identity = aws_sesv2_email_identity.domain.arn
  name     = "AllowCognitoUserPoolsToSend"
  policy   = data.aws_iam_policy_document.cognito_send.json
}
