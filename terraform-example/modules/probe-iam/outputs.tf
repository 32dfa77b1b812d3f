# Consumers of the role (a function, a task definition) wait for its policy: a run started before the
# attachment would fail with AccessDenied.
output "role_arn" {
  description = "[aws] role_arn of the probe files, the task role of modules/probe-schedule, the role of modules/probe-lambda."
  value       = aws_iam_role.probe.arn
  depends_on  = [aws_iam_role_policy_attachment.probe]
}

output "role_name" {
  value      = aws_iam_role.probe.name
  depends_on = [aws_iam_role_policy_attachment.probe]
}

output "policy_arn" {
  value = aws_iam_policy.probe.arn
}

output "policy_json" {
  description = "The rendered policy, for review."
  value       = data.aws_iam_policy_document.probe.json
}
