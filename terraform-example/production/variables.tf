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

variable "runner" {
  description = "What runs the probe on AWS without a host: \"lambda\" (modules/probe-lambda), \"fargate\" (modules/probe-schedule, from probe_image) or \"none\" (a host runs probe monitor)."
  type        = string
  default     = "lambda"

  validation {
    condition     = contains(["lambda", "fargate", "none"], var.runner)
    error_message = "runner: lambda, fargate or none."
  }
}

variable "probes" {
  description = "The probe files the runner schedules and the alarms watch, by name, with the values of the file: interval in seconds and the [alert] thresholds (keep them equal to the file: the alarms are its alert state machine). pool_id null: this root's pool."
  type = map(object({
    pool_id           = optional(string)
    period_seconds    = number
    failure_threshold = number
    success_threshold = number
    unknown_threshold = number
  }))
  # probes/production.toml: interval = "15m", no [alert] section, so the built-in thresholds 3, 2 and 6.
  default = {
    production = { period_seconds = 900, failure_threshold = 3, success_threshold = 2, unknown_threshold = 6 }
  }
}

variable "lambda_zip_path" {
  description = "The function's zip (bootstrap and probes/), from cargo lambda build; README \"Deploy on AWS without a host\"."
  type        = string
  default     = "../../target/lambda/probe-lambda/bootstrap.zip"
}

variable "lambda_timeout_seconds" {
  description = "Function timeout: covers probes/production.toml's timeout (5m) + settle (5m) + a margin."
  type        = number
  default     = 900
}

variable "lambda_memory_mb" {
  description = "Function memory (MB)."
  type        = number
  default     = 256
}

variable "tick_table_enabled" {
  description = "A DynamoDB tick table so that a second start of one tick sends no second mail (modules/probe-tick-table)."
  type        = bool
  default     = true
}

variable "probe_secret_arns" {
  description = "Secrets Manager secrets the probe files read ({ secrets_manager = \"<arn>\" }): the probe's role may GetSecretValue these only."
  type        = list(string)
  default     = []
}

variable "probe_task_secrets" {
  description = "With runner = \"fargate\": environment variables of the task taken from Secrets Manager or SSM (name => ARN), e.g. PROBE_IMAP_PASSWORD for { env = \"PROBE_IMAP_PASSWORD\" }."
  type        = map(string)
  default     = {}
}

variable "probe_kms_key_arn" {
  description = "Customer managed KMS key for the probe's log group, function environment, tick table, queue and schedules; null: the services' own encryption."
  type        = string
  default     = null
}

variable "alarm_notifications_topic_arn" {
  description = "An existing SNS topic the probe's alarms notify; null creates a KMS-encrypted one (output alarm_topic_arn)."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "Email subscriptions to the alarms' topic."
  type        = list(string)
  default     = []
}

variable "probe_image" {
  description = "With runner = \"fargate\": the image built from the repository's Dockerfile (probe files in /etc/probe/probes)."
  type        = string
  default     = "ghcr.io/example/cognito-delivery-probe:latest"
}

variable "subnet_ids" {
  description = "With runner = \"fargate\": private subnets of the probe task."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "With runner = \"fargate\": security groups of the probe task (egress to AWS APIs and the IMAP server)."
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
