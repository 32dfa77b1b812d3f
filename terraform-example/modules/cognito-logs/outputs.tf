output "log_group_name" {
  description = "[cognito_logs] log_group of a probe file, when the probe should not look it up itself."
  value       = aws_cloudwatch_log_group.user_notification.name
}

output "log_group_arn" {
  description = "For probe-iam's cognito_log_group_arns (FilterLogEvents)."
  value       = aws_cloudwatch_log_group.user_notification.arn
}

# SetLogDeliveryConfiguration replaces the pool's whole logging configuration (at most two entries): when
# the pool also exports userAuthEvents, add that entry to the list.
output "set_log_delivery_command" {
  description = "The AWS CLI call that sends the pool's userNotification ERROR logs to the log group (provider < 6.5 has no resource for it)."
  value = join(" ", [
    "aws cognito-idp set-log-delivery-configuration",
    "--region ${local.region}",
    "--user-pool-id ${var.user_pool_id}",
    "--log-configurations '${jsonencode([{
      EventSource                 = "userNotification"
      LogLevel                    = "ERROR"
      CloudWatchLogsConfiguration = { LogGroupArn = aws_cloudwatch_log_group.user_notification.arn }
    }])}'",
  ])
}
