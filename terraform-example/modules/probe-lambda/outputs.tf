output "function_arn" {
  value = aws_lambda_function.probe.arn
}

output "function_name" {
  value = aws_lambda_function.probe.function_name
}

output "log_group_name" {
  description = "Where each run's EMF document and logs land."
  value       = aws_cloudwatch_log_group.probe.name
}

output "schedule_arns" {
  value = { for k, s in aws_scheduler_schedule.probe : k => s.arn }
}

output "dead_letter_queue_url" {
  description = "Ticks that did not run: undeliverable schedules and failed invocations."
  value       = aws_sqs_queue.dead_letters.id
}
