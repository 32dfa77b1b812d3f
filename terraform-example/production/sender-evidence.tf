# Per-message sender evidence for the probe (DESIGN §3): SES event records of the pool's mail in a queue the
# probe reads (modules/ses-events), and Cognito's own delivery-error logs (modules/cognito-logs). The pool
# names the configuration set in email_configuration (cognito.tf); the probe's role gets the matching reads
# (probe.tf). Both are optional: with ses_events_enabled = false the pool sends without a configuration
# set, and the role grants nothing for it.

module "ses_events" {
  source = "../modules/ses-events"
  count  = var.ses_events_enabled ? 1 : 0

  name          = "phenom-prod-cognito"
  destination   = var.ses_events_destination
  sns_topic_arn = var.ses_events_sns_topic_arn
  # Only the test user's records reach the queue: the pool's real users' mail stays out of it.
  recipients      = [local.probe_email]
  metrics_enabled = var.ses_metrics_enabled
  kms_key_arn     = var.ses_events_kms_key_arn
}

module "cognito_logs" {
  source = "../modules/cognito-logs"
  count  = var.cognito_logs_enabled ? 1 : 0

  name         = "phenom-prod"
  user_pool_id = aws_cognito_user_pool.main.id
}
