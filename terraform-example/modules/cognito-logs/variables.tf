variable "name" {
  description = "Names the log group (/aws/vendedlogs/cognito/<name>/user-notification) and its resource policy; usually the pool's name."
  type        = string
}

variable "user_pool_id" {
  description = "The pool whose userNotification errors go to the log group (for the set_log_delivery_command output)."
  type        = string
}

variable "retention_in_days" {
  description = "Retention of the log group. It holds only Cognito's delivery errors, so a year costs little and covers an audit."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group; its key policy must let logs.<region>.amazonaws.com use it. null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}
