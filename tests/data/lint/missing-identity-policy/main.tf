data "aws_ses_email_identity" "noreply" {
  email = "noreply@example.com"
}

resource "aws_cognito_user_pool" "main" {
  name = "shop-staging"

  email_configuration {
    email_sending_account = "DEVELOPER"
    source_arn            = data.aws_ses_email_identity.noreply.arn
    from_email_address    = "Shop <noreply@example.com>"
  }
}

# A policy exists, but for the wrong principal: Cognito still cannot send.
resource "aws_ses_identity_policy" "lambda" {
  identity = data.aws_ses_email_identity.noreply.arn
  name     = "AllowLambda"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ses:SendEmail"]
      Resource  = data.aws_ses_email_identity.noreply.arn
    }]
  })
}
