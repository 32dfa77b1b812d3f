variable "name" {
  description = "Name of the cluster, task family, schedule and log group."
  type        = string
}

variable "image" {
  description = "Container image of the probe, built from the repository's Dockerfile (probe files in /etc/probe/probes)."
  type        = string
}

variable "probe" {
  description = "The probe file the task runs (its name, or its file name without .toml, in /etc/probe/probes)."
  type        = string
}

variable "tick_table_name" {
  description = "Tick table (modules/probe-tick-table) for --tick-table: a second start of one tick sends nothing; null: none."
  type        = string
  default     = null
}

variable "extra_args" {
  description = "More arguments to the probe, e.g. [\"--log-level\", \"debug\"]."
  type        = list(string)
  default     = []
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
