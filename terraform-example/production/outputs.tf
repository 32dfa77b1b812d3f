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
