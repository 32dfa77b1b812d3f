# The parts of terraform-example that moto implements (an SES identity, a DEVELOPER pool sending from it,
# the probe's test user and app client), applied by tests/it/terraform.rs to a moto_server on loopback and
# read back through the probe's own AWS clients. Same resource shapes as terraform-example/production.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}

variable "endpoint" {
  description = "moto_server URL (http://127.0.0.1:<port>)."
  type        = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    cognitoidp = var.endpoint
    ses        = var.endpoint
    sesv2      = var.endpoint
    sts        = var.endpoint
  }
}

resource "aws_ses_email_identity" "noreply" {
  email = "noreply@thephenom.app"
}

resource "aws_cognito_user_pool" "main" {
  name                     = "phenom-prod"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  email_configuration {
    email_sending_account  = "DEVELOPER"
    source_arn             = aws_ses_email_identity.noreply.arn
    from_email_address     = "Phenom <noreply@thephenom.app>"
    reply_to_email_address = "noreply@thephenom.app"
  }
}

resource "aws_cognito_user" "probe" {
  user_pool_id   = aws_cognito_user_pool.main.id
  username       = "probe+prod@thephenom.app"
  message_action = "SUPPRESS"

  attributes = {
    email          = "probe+prod@thephenom.app"
    email_verified = "true"
  }
}

resource "aws_cognito_user_pool_client" "probe" {
  name                          = "cognito-delivery-probe"
  user_pool_id                  = aws_cognito_user_pool.main.id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}

output "pool_id" {
  value = aws_cognito_user_pool.main.id
}

output "client_id" {
  value = aws_cognito_user_pool_client.probe.id
}

output "username" {
  value = aws_cognito_user.probe.username
}
