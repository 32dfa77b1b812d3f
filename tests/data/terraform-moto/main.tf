# The parts of terraform-example that moto implements (an SES identity, a DEVELOPER pool sending from it
# through a configuration set, the probe's test user and app client), applied by tests/it/terraform.rs to a
# moto_server on loopback and read back through the probe's own AWS clients. Same resource shapes as
# terraform-example/production; the sender-evidence modules and the probe's role are terraform-example's own
# modules, used as they are (the test copies terraform-example beside this directory).

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

# The SESv2 resources moto 5.2.1 cannot serve: it has no event destination API
# (CreateConfigurationSetEventDestination), and its GetConfigurationSet answers SendingOptions.SendingEnabled
# as an object, which the provider cannot read back after creating the set. The apply runs with false (the
# pool then names the configuration set without Terraform creating it); the test plans them with true.
variable "sesv2_enabled" {
  description = "Create the SES configuration sets and their event destinations (plan only on moto)."
  type        = bool
  default     = false
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    cloudwatchlogs = var.endpoint
    cognitoidp     = var.endpoint
    events         = var.endpoint
    iam            = var.endpoint
    ses            = var.endpoint
    sesv2          = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    sts            = var.endpoint
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
    configuration_set      = module.ses_events.configuration_set_name
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

# Sender evidence, as terraform-example/production/sender-evidence.tf: the EventBridge path for the pool,
# and the SNS path on a second configuration set (the variant for teams with a topic).
module "ses_events" {
  source = "../terraform-example/modules/ses-events"

  name                       = "phenom-prod-cognito"
  recipients                 = ["probe+prod@thephenom.app"]
  metrics_enabled            = true
  create_configuration_set   = var.sesv2_enabled
  event_destinations_enabled = var.sesv2_enabled
}

module "ses_events_sns" {
  source = "../terraform-example/modules/ses-events"

  name                       = "phenom-prod-cognito-sns"
  destination                = "sns"
  recipients                 = ["probe+prod@thephenom.app"]
  create_configuration_set   = var.sesv2_enabled
  event_destinations_enabled = var.sesv2_enabled
}

module "cognito_logs" {
  source = "../terraform-example/modules/cognito-logs"

  name         = "phenom-prod"
  user_pool_id = aws_cognito_user_pool.main.id
}

module "probe_iam" {
  source = "../terraform-example/modules/probe-iam"

  name                       = "cognito-delivery-probe-prod"
  user_pool_arns             = [aws_cognito_user_pool.main.arn]
  ses_identity_arns          = [aws_ses_email_identity.noreply.arn]
  ses_events_queue_arns      = [module.ses_events.queue_arn, module.ses_events_sns.queue_arn]
  ses_configuration_set_arns = [module.ses_events.configuration_set_arn, module.ses_events_sns.configuration_set_arn]
  cognito_log_group_arns     = [module.cognito_logs.log_group_arn]
}

# A team without sender evidence: the same module with none of its variables.
module "probe_iam_plain" {
  source = "../terraform-example/modules/probe-iam"

  name              = "cognito-delivery-probe-plain"
  user_pool_arns    = [aws_cognito_user_pool.main.arn]
  ses_identity_arns = [aws_ses_email_identity.noreply.arn]
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

output "ses_events" {
  value = {
    configuration_set = module.ses_events.configuration_set_name
    queue_url         = module.ses_events.queue_url
    queue_arn         = module.ses_events.queue_arn
    rule_arn          = module.ses_events.rule_arn
  }
}

output "ses_events_sns" {
  value = {
    configuration_set = module.ses_events_sns.configuration_set_name
    queue_url         = module.ses_events_sns.queue_url
    queue_arn         = module.ses_events_sns.queue_arn
    topic_arn         = module.ses_events_sns.topic_arn
  }
}

output "cognito_logs" {
  value = {
    log_group_name           = module.cognito_logs.log_group_name
    log_group_arn            = module.cognito_logs.log_group_arn
    set_log_delivery_command = module.cognito_logs.set_log_delivery_command
  }
}

output "probe_policy_arn" {
  value = module.probe_iam.policy_arn
}

output "probe_plain_policy_arn" {
  value = module.probe_iam_plain.policy_arn
}
