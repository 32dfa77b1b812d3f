# The development pools (runbook: phenom-staging as aws_cognito_user_pool.main, phenom-dev-local as
# aws_cognito_user_pool.local, environments/development/main.tf). They send through the same SES identity as
# production. The identity policy that authorizes them is declared ONCE, in the production root: do not
# declare aws_ses_identity_policy here — two states managing one policy fight on every apply.

# Declared in BOTH roots: a data source only reads, so the two states do not conflict.
data "aws_ses_email_identity" "noreply" {
  email = var.sender_email
}

resource "aws_cognito_user_pool" "main" {
  name                     = "phenom-staging"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  email_configuration {
    email_sending_account  = "DEVELOPER"
    source_arn             = data.aws_ses_email_identity.noreply.arn
    from_email_address     = var.from_email_address
    reply_to_email_address = var.sender_email
  }

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 7
  }
}

resource "aws_cognito_user_pool" "local" {
  name                     = "phenom-dev-local"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  email_configuration {
    email_sending_account  = "DEVELOPER"
    source_arn             = data.aws_ses_email_identity.noreply.arn
    from_email_address     = var.from_email_address
    reply_to_email_address = var.sender_email
  }

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 7
  }
}

locals {
  staging_probe_email   = replace(var.probe_mailbox, "@", "+staging@")
  dev_local_probe_email = replace(var.probe_mailbox, "@", "+dev@")
}

# The probes' test users: created with SUPPRESS (no invite mail at apply time) and kept in
# FORCE_CHANGE_PASSWORD for AdminCreateUser RESEND (research/aws.md §1.1, §1.4).
resource "aws_cognito_user" "staging_probe" {
  user_pool_id   = aws_cognito_user_pool.main.id
  username       = local.staging_probe_email
  message_action = "SUPPRESS"

  attributes = {
    email          = local.staging_probe_email
    email_verified = "true"
  }
}

resource "aws_cognito_user" "dev_local_probe" {
  user_pool_id   = aws_cognito_user_pool.local.id
  username       = local.dev_local_probe_email
  message_action = "SUPPRESS"

  attributes = {
    email          = local.dev_local_probe_email
    email_verified = "true"
  }
}

# App clients for the ForgotPassword path. dev-local's has a secret (probes/dev-local.toml reads it from a
# file): the probe sends SecretHash with ForgotPassword.
resource "aws_cognito_user_pool_client" "staging_probe" {
  name                          = "cognito-delivery-probe"
  user_pool_id                  = aws_cognito_user_pool.main.id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}

resource "aws_cognito_user_pool_client" "dev_local_probe" {
  name                          = "cognito-delivery-probe"
  user_pool_id                  = aws_cognito_user_pool.local.id
  generate_secret               = true
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}
