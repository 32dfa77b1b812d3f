# The probe's own footprint: a least-privilege role (modules/probe-iam) and, optionally, a schedule that runs
# it in ECS Fargate (modules/probe-schedule).

module "probe_iam" {
  source = "../modules/probe-iam"

  name               = "cognito-delivery-probe-prod"
  user_pool_arns     = concat([aws_cognito_user_pool.main.arn], var.development_pool_arns)
  ses_identity_arns  = [data.aws_ses_email_identity.noreply.arn]
  alarm_topic_arn    = var.alarm_topic_arn
  trusted_principals = var.probe_trusted_principals

  # Sender evidence (sender-evidence.tf): empty lists when it is off, and then no permission for it.
  ses_events_queue_arns      = module.ses_events[*].queue_arn
  ses_events_kms_key_arns    = var.ses_events_enabled && var.ses_events_kms_key_arn != null ? [var.ses_events_kms_key_arn] : []
  ses_configuration_set_arns = module.ses_events[*].configuration_set_arn
  cognito_log_group_arns     = module.cognito_logs[*].log_group_arn
}

module "probe_schedule" {
  source = "../modules/probe-schedule"
  count  = var.schedule_enabled ? 1 : 0

  name               = "cognito-delivery-probe-prod"
  image              = var.probe_image
  task_role_arn      = module.probe_iam.role_arn
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  command            = ["--probe", "production", "--format", "json"]
}
