# What a probe file and the probe's role need. A probe file points at the queue:
#
#   [ses_events]
#   queue_url = "<ses_events_queue_url output>"
#
# The probe finds the pool's configuration set itself (DescribeUserPool's EmailConfiguration).

output "configuration_set_name" {
  description = "email_configuration.configuration_set of the pool."
  value       = local.configuration_set_name
}

output "configuration_set_arn" {
  description = "For probe-iam's ses_configuration_set_arns (GetConfigurationSet, GetConfigurationSetEventDestinations)."
  value       = local.configuration_set_arn
}

output "queue_url" {
  description = "queue_url of the probe file's [ses_events]."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "For probe-iam's ses_events_queue_arns."
  value       = aws_sqs_queue.events.arn
}

output "rule_arn" {
  description = "The EventBridge rule that feeds the queue (destination = \"eventbridge\"), else null."
  value       = one(aws_cloudwatch_event_rule.ses_events[*].arn)
}

output "topic_arn" {
  description = "The SNS topic that feeds the queue (destination = \"sns\"), else null."
  value       = local.topic_arn
}
