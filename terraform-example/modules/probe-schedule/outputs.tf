output "schedule_arn" {
  value = aws_scheduler_schedule.probe.arn
}

output "cluster_arn" {
  value = aws_ecs_cluster.probe.arn
}

output "log_group_name" {
  description = "Where each run's EMF document (its verdict and metrics) lands."
  value       = aws_cloudwatch_log_group.probe.name
}
