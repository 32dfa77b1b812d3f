data "aws_ses_email_identity" "noreply" {
  email = "noreply@example.com"
}

resource "aws_cognito_user_pool" "main" {
  name = "shop-production"

  email_configuration {
    email_sending_account = "DEVELOPER"
    source_arn            = data.aws_ses_email_identity.noreply.arn
    from_email_address    = "Shop <noreply@example.com>"
  }
}

resource "aws_ses_identity_policy" "cognito" {
  identity = data.aws_ses_email_identity.noreply.arn
  name     = "AllowCognitoUserPoolsToSend"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = ["email.cognito-idp.amazonaws.com"] }
      Action    = ["ses:SendEmail", "ses:SendRawEmail"]
      Resource  = data.aws_ses_email_identity.noreply.arn
    }]
  })
}
