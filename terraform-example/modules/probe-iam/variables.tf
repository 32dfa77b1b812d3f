variable "name" {
  description = "Name of the role and its policy."
  type        = string
}

variable "user_pool_arns" {
  description = "User pools the probe reads and triggers mail on."
  type        = list(string)
}

variable "ses_identity_arns" {
  description = "SES identities (the pools' source_arn) the probe reads for doctor's checks."
  type        = list(string)
}

variable "alarm_topic_arn" {
  description = "SNS topic the probe publishes to when paging; null: no sns:Publish."
  type        = string
  default     = null
}

variable "trusted_services" {
  description = "Service principals that run the probe as this role: ecs-tasks.amazonaws.com (modules/probe-schedule), lambda.amazonaws.com (modules/probe-lambda)."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]

  validation {
    condition     = length(var.trusted_services) > 0 && alltrue([for s in var.trusted_services : contains(["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"], s)])
    error_message = "trusted_services: ecs-tasks.amazonaws.com and/or lambda.amazonaws.com."
  }
}

variable "secret_arns" {
  description = "Secrets Manager secrets the probe files name as secret sources ({ secrets_manager = \"<arn>\" }): secretsmanager:GetSecretValue on these only."
  type        = list(string)
  default     = []
}

variable "tick_table_arn" {
  description = "DynamoDB tick table (modules/probe-tick-table) of --tick-table / PROBE_TICK_TABLE: dynamodb:PutItem on it only; null: no tick table."
  type        = string
  default     = null
}

variable "trusted_principals" {
  description = "AWS principals (ARNs) allowed to assume the role besides the trusted services, e.g. a monitoring host's role."
  type        = list(string)
  default     = []
}

# Sender evidence (modules/ses-events, modules/cognito-logs). The lists are empty by default: a probe without
# an evidence source gets no permission for it. The suppression list is the exception, read by default.

variable "ses_events_queue_arns" {
  description = "SQS queues of SES event records the probe consumes (modules/ses-events' queue_arn): receive, delete its own records, hand others back."
  type        = list(string)
  default     = []
}

variable "ses_events_kms_key_arns" {
  description = "Customer managed KMS keys of those queues (modules/ses-events' kms_key_arn): kms:Decrypt through SQS only. Empty for SQS-managed encryption."
  type        = list(string)
  default     = []
}

variable "ses_configuration_set_arns" {
  description = "SES configuration sets of the pools (modules/ses-events' configuration_set_arn) the probe and doctor read with their event destinations."
  type        = list(string)
  default     = []
}

variable "cognito_log_group_arns" {
  description = "Log groups of the pools' userNotification errors (modules/cognito-logs' log_group_arn); also grants GetLogDeliveryConfiguration on the pools, which is how the probe finds them."
  type        = list(string)
  default     = []
}

variable "suppression_list_read" {
  description = "Let the probe ask the account suppression list whether its test address is listed (ses:GetSuppressedDestination, which has no resource-level permission). The probe reads it on every run by default."
  type        = bool
  default     = true
}
