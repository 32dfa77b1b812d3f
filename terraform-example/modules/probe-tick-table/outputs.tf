output "name" {
  value = aws_dynamodb_table.ticks.name
}

output "arn" {
  description = "tick_table_arn of modules/probe-iam: the probe's one permission on it is dynamodb:PutItem."
  value       = aws_dynamodb_table.ticks.arn
}
