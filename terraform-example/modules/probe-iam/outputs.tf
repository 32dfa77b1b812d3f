output "role_arn" {
  description = "[aws] role_arn of the probe files, and the task role of modules/probe-schedule."
  value       = aws_iam_role.probe.arn
}

output "role_name" {
  value = aws_iam_role.probe.name
}

output "policy_arn" {
  value = aws_iam_policy.probe.arn
}

output "policy_json" {
  description = "The rendered policy, for review."
  value       = data.aws_iam_policy_document.probe.json
}
