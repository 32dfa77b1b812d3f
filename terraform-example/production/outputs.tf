# The values a probe file (probes/production.toml) needs; see README "From outputs to a probe file".

output "pool_id" {
  description = "pool_id of probes/production.toml."
  value       = aws_cognito_user_pool.main.id
}

output "pool_arn" {
  value = aws_cognito_user_pool.main.arn
}

output "region" {
  description = "region of probes/production.toml (default: the pool id's prefix)."
  value       = var.region
}

output "probe_username" {
  description = "username of probes/production.toml: the test user, in FORCE_CHANGE_PASSWORD."
  value       = aws_cognito_user.probe.username
}

output "probe_client_id" {
  description = "client_id of probes/production.toml, for trigger = \"forgot-password\"."
  value       = aws_cognito_user_pool_client.probe.id
}

output "expect_from" {
  description = "[expect] from of probes/production.toml."
  value       = var.sender_email
}

output "probe_role_arn" {
  description = "[aws] role_arn of the probe files."
  value       = module.probe_iam.role_arn
}

output "ses_identity_arn" {
  value = data.aws_ses_email_identity.noreply.arn
}

output "ses_events_queue_url" {
  description = "queue_url of the probe file's [ses_events]; null without ses_events_enabled."
  value       = one(module.ses_events[*].queue_url)
}

output "ses_configuration_set" {
  description = "The pool's configuration set; the probe reads it from the pool, [cloudwatch] configuration_set overrides it."
  value       = one(module.ses_events[*].configuration_set_name)
}

output "cognito_notification_log_group" {
  description = "The log group of the pool's userNotification errors (name, arn); the probe finds it through GetLogDeliveryConfiguration, [cognito_logs] log_group overrides it."
  value = var.cognito_logs_enabled ? {
    name = module.cognito_logs[0].log_group_name
    arn  = module.cognito_logs[0].log_group_arn
  } : null
}

output "cognito_log_delivery_command" {
  description = "Run once after apply: points the pool's userNotification ERROR logs at the log group (the pinned AWS provider has no resource for it)."
  value       = one(module.cognito_logs[*].set_log_delivery_command)
}

output "alarm_topic_arn" {
  description = "The SNS topic the probe's alarms notify on ALARM and OK (subscribe PagerDuty here); null with runner = \"none\"."
  value       = one(module.probe_alarms[*].sns_topic_arn)
}

output "probe_function_name" {
  description = "With runner = \"lambda\": the function (its log group is /aws/lambda/<name>)."
  value       = one(module.probe_lambda[*].function_name)
}

output "probe_dead_letter_queue_url" {
  description = "With runner = \"lambda\": ticks that did not run (undeliverable schedules, failed invocations)."
  value       = one(module.probe_lambda[*].dead_letter_queue_url)
}

output "probe_tick_table" {
  description = "The tick table: PROBE_TICK_TABLE of the function, --tick-table of the task."
  value       = one(module.probe_tick_table[*].name)
}
