output "sns_topic_arn" {
  description = "The topic every alarm notifies on ALARM and OK; subscribe PagerDuty here (README)."
  value       = local.topic_arn
}

output "delivery_alarm_arns" {
  value = { for k, a in aws_cloudwatch_metric_alarm.delivery : k => a.arn }
}

output "blind_alarm_arns" {
  value = { for k, a in aws_cloudwatch_metric_alarm.blind : k => a.arn }
}
