variable "name" {
  description = "Name of the cluster, task family, schedule and log group."
  type        = string
}

variable "image" {
  description = "Container image of the probe."
  type        = string
}

variable "command" {
  description = "Arguments to the probe binary, e.g. [\"--probe\", \"production\", \"--format\", \"json\"]."
  type        = list(string)
}

variable "task_role_arn" {
  description = "Role the probe runs as (modules/probe-iam's role_arn)."
  type        = string
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression; keep it no shorter than the probe file's interval."
  type        = string
  default     = "rate(15 minutes)"
}

variable "subnet_ids" {
  description = "Subnets of the task (private, with a route to the AWS APIs and the IMAP server)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the task."
  type        = list(string)
}

variable "secrets" {
  description = "Environment variables taken from Secrets Manager or SSM Parameter Store (name => ARN), e.g. PROBE_IMAP_PASSWORD."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the probe's log group."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key for the log group and the schedule; null: the services' own encryption."
  type        = string
  default     = null
}
