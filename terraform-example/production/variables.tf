variable "region" {
  description = "Region of the user pools and the SES identity."
  type        = string
  default     = "us-east-1"
}

variable "sender_email" {
  description = "Verified SES identity the pools send from (the runbook's noreply@thephenom.app)."
  type        = string
  default     = "noreply@thephenom.app"
}

variable "from_email_address" {
  description = "From header of Cognito mail. No unquoted RFC 5322 specials such as parentheses: AWS stores them quoted and Terraform shows a perpetual diff."
  type        = string
  default     = "Phenom <noreply@thephenom.app>"
}

variable "probe_mailbox" {
  description = "Mailbox the probe reads; each pool's test user gets a plus-address of it (local+pool@domain)."
  type        = string
  default     = "probe@thephenom.app"
}

variable "development_pool_arns" {
  description = "ARNs of the pools managed by other roots (the development root's pool_arns output). Empty: the identity policy allows every pool of this account (ArnLike userpool/*), so new pools inherit it."
  type        = list(string)
  default     = []
}

variable "alarm_topic_arn" {
  description = "SNS topic the probe may publish to when paging; null: no sns:Publish permission."
  type        = string
  default     = null
}

variable "probe_trusted_principals" {
  description = "Principals (AWS ARNs) allowed to assume the probe's role besides ECS tasks, e.g. a monitoring host's role."
  type        = list(string)
  default     = []
}

variable "schedule_enabled" {
  description = "Run the probe on a schedule in ECS Fargate (modules/probe-schedule)."
  type        = bool
  default     = false
}

variable "probe_image" {
  description = "Container image of the probe (with probes/*.toml baked in or mounted)."
  type        = string
  default     = "ghcr.io/example/cognito-delivery-probe:latest"
}

variable "subnet_ids" {
  description = "Private subnets for the scheduled probe task."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the scheduled probe task (egress to AWS APIs and the IMAP server)."
  type        = list(string)
  default     = []
}

variable "ses_events_enabled" {
  description = "Give the pool a configuration set whose SES event records reach a queue the probe reads (modules/ses-events)."
  type        = bool
  default     = true
}

variable "ses_events_destination" {
  description = "\"eventbridge\" (default bus and a rule) or \"sns\" (a topic and a raw-delivery subscription)."
  type        = string
  default     = "eventbridge"
}

variable "ses_events_sns_topic_arn" {
  description = "With ses_events_destination = \"sns\": a team's existing topic; null creates one."
  type        = string
  default     = null
}

variable "ses_events_kms_key_arn" {
  description = "Customer managed KMS key for the events queue (and a created topic); null: SQS-managed encryption."
  type        = string
  default     = null
}

# On by default: once the pool names a configuration set, the probe reads that set's AWS/SES metrics
# ([cloudwatch] configuration_set defaults to the pool's), and they exist only with a CloudWatch event
# destination. Without it the probe would watch a metric that never gets a data point.
variable "ses_metrics_enabled" {
  description = "Publish AWS/SES metrics per configuration set (a CloudWatch event destination): five billed custom metrics. With false, set the probe file's [cloudwatch] enabled = false."
  type        = bool
  default     = true
}

variable "cognito_logs_enabled" {
  description = "A log group for the pool's userNotification errors (modules/cognito-logs); run the cognito_log_delivery_command output once after apply."
  type        = bool
  default     = true
}
