variable "from" {
  type    = string
  default = "Shop (dev) <noreply@example.com>"
}

resource "aws_cognito_user_pool" "dev" {
  name = "shop-dev"

  email_configuration {
    email_sending_account = "DEVELOPER"
    source_arn            = "arn:aws:ses:us-east-1:123456789012:identity/noreply@example.com"
    from_email_address    = var.from
  }
}

# Quoted: fine.
resource "aws_cognito_user_pool" "qa" {
  name = "shop-qa"

  email_configuration {
    email_sending_account = "DEVELOPER"
    source_arn            = "arn:aws:ses:us-east-1:123456789012:identity/noreply@example.com"
    from_email_address    = "\"Shop (qa)\" <noreply@example.com>"
  }
}

resource "aws_ses_identity_policy" "cognito" {
  identity = "noreply@example.com"
  name     = "AllowCognitoUserPoolsToSend"
  policy   = <<-JSON
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "cognito-idp.amazonaws.com"},
        "Action": "SES:SendRawEmail",
        "Resource": "arn:aws:ses:us-east-1:123456789012:identity/noreply@example.com"
      }]
    }
  JSON
}
