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

variable "trusted_principals" {
  description = "AWS principals (ARNs) allowed to assume the role besides ECS tasks, e.g. a monitoring host's role."
  type        = list(string)
  default     = []
}
