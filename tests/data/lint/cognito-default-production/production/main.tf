# No email_configuration: AWS defaults to COGNITO_DEFAULT.
resource "aws_cognito_user_pool" "main" {
  name = "shop"
}

resource "aws_cognito_user_pool" "explicit" {
  name = "shop-prod-admin"

  email_configuration {
    email_sending_account = "COGNITO_DEFAULT"
  }
}
