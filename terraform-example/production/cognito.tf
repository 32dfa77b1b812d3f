# The production pool (runbook: phenom-prod, environments/production/cognito.tf) and the one declaration of
# the SES identity policy for the whole account. The development root reads the same identity as a data
# source and must never declare the policy again: two states managing one policy fight on every apply.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Declared in BOTH roots: a data source only reads, so the two states do not conflict.
data "aws_ses_email_identity" "noreply" {
  email = var.sender_email
}

resource "aws_cognito_user_pool" "main" {
  name                     = "phenom-prod"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = "ACTIVE"

  # DEVELOPER: Cognito sends through our SES identity (no 50 mails/day cap, our DKIM/SPF/DMARC posture).
  # Piece one of two; piece two is aws_ses_identity_policy.cognito_noreply below.
  email_configuration {
    email_sending_account  = "DEVELOPER"
    source_arn             = data.aws_ses_email_identity.noreply.arn
    from_email_address     = var.from_email_address
    reply_to_email_address = var.sender_email
    # SES event records of every mail of this pool (modules/ses-events); null without it.
    configuration_set = one(module.ses_events[*].configuration_set_name)
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

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

# The probe's test user: created with SUPPRESS (no invite mail at apply time) and never logged in, so it
# stays in FORCE_CHANGE_PASSWORD, where the probe triggers mail with AdminCreateUser RESEND — no per-user
# hourly limit (research/aws.md §1.1, §1.4).
resource "aws_cognito_user" "probe" {
  user_pool_id   = aws_cognito_user_pool.main.id
  username       = local.probe_email
  message_action = "SUPPRESS"

  attributes = {
    email          = local.probe_email
    email_verified = "true"
  }
}

# App client for the ForgotPassword path (a CONFIRMED test user); no secret, no OAuth flows.
resource "aws_cognito_user_pool_client" "probe" {
  name                          = "cognito-delivery-probe"
  user_pool_id                  = aws_cognito_user_pool.main.id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  probe_email = replace(var.probe_mailbox, "@", "+prod@")

  # aws:SourceArn values the identity policy accepts: this root's pool plus the development pools when
  # their ARNs are given, otherwise every pool of this account (the runbook's account-wide scope).
  cognito_source_arns = length(var.development_pool_arns) > 0 ? concat([aws_cognito_user_pool.main.arn], var.development_pool_arns) : ["arn:${local.partition}:cognito-idp:${var.region}:${local.account_id}:userpool/*"]
}

# Piece two: the SES identity's sending-authorization policy for the Cognito service principals, with the
# confused-deputy conditions (research/aws.md §3.3; Cognito developer guide "Authorizing Amazon Cognito to
# send Amazon SES email on your behalf"). DECLARED ONCE, here.
resource "aws_ses_identity_policy" "cognito_noreply" {
  identity = data.aws_ses_email_identity.noreply.arn
  name     = "AllowCognitoUserPoolsToSend"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AllowCognitoUserPoolsToSend"
      Effect    = "Allow"
      Principal = { Service = ["email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com"] }
      Action    = ["ses:SendEmail", "ses:SendRawEmail"]
      Resource  = data.aws_ses_email_identity.noreply.arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = local.cognito_source_arns }
      }
    }]
  })
}
