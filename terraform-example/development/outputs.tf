# The values probes/staging.toml and probes/dev-local.toml need; see README "From outputs to a probe file".

output "pool_arns" {
  description = "Give these to the production root's development_pool_arns to narrow the identity policy's aws:SourceArn, and to the probe's IAM policy."
  value       = [aws_cognito_user_pool.main.arn, aws_cognito_user_pool.local.arn]
}

output "staging" {
  description = "pool_id, username and client_id of probes/staging.toml."
  value = {
    pool_id   = aws_cognito_user_pool.main.id
    username  = aws_cognito_user.staging_probe.username
    client_id = aws_cognito_user_pool_client.staging_probe.id
  }
}

output "dev_local" {
  description = "pool_id, username and client_id of probes/dev-local.toml."
  value = {
    pool_id   = aws_cognito_user_pool.local.id
    username  = aws_cognito_user.dev_local_probe.username
    client_id = aws_cognito_user_pool_client.dev_local_probe.id
  }
}

output "dev_local_client_secret" {
  description = "client_secret of probes/dev-local.toml; write it to the file the probe file names."
  value       = aws_cognito_user_pool_client.dev_local_probe.client_secret
  sensitive   = true
}

output "ses_identity_arn" {
  value = data.aws_ses_email_identity.noreply.arn
}
