# The probe's own footprint: a least-privilege role (modules/probe-iam) and, optionally, a schedule that runs
# it in ECS Fargate (modules/probe-schedule).

module "probe_iam" {
  source = "../modules/probe-iam"

  name               = "cognito-delivery-probe-prod"
  user_pool_arns     = concat([aws_cognito_user_pool.main.arn], var.development_pool_arns)
  ses_identity_arns  = [data.aws_ses_email_identity.noreply.arn]
  alarm_topic_arn    = var.alarm_topic_arn
  trusted_principals = var.probe_trusted_principals
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
