variable "name" {
  description = "Prefix of the alarm names, and the name of a created topic."
  type        = string
}

variable "probes" {
  description = "Per probe file name (the EMF Probe dimension): its pool id (the Pool dimension), its interval in seconds (60 or a multiple of 60) and the [alert] thresholds of the probe file."
  type = map(object({
    pool_id           = string
    period_seconds    = number
    failure_threshold = number
    success_threshold = number
    unknown_threshold = number
  }))

  validation {
    condition     = alltrue([for p in values(var.probes) : p.period_seconds >= 60 && p.period_seconds % 60 == 0])
    error_message = "period_seconds must be 60 or a multiple of 60 (CloudWatch alarm periods on 60-second metrics)."
  }

  validation {
    # CloudWatch: period * evaluation_periods must not exceed one day.
    condition     = alltrue([for p in values(var.probes) : p.failure_threshold >= 1 && p.success_threshold >= 1 && p.unknown_threshold >= 1 && p.period_seconds * max(p.failure_threshold + p.success_threshold - 1, p.unknown_threshold) <= 86400])
    error_message = "thresholds must be at least 1, and period_seconds times the longer window (failure_threshold + success_threshold - 1, or unknown_threshold) at most 86400 (CloudWatch's one-day alarm window)."
  }
}

variable "sns_topic_arn" {
  description = "A team's existing topic the alarms notify; null creates a KMS-encrypted one."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer managed KMS key of a created topic (its policy must let cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey*); null creates one."
  type        = string
  default     = null
}

variable "email_addresses" {
  description = "Email subscriptions to the topic (each address confirms once by mail)."
  type        = list(string)
  default     = []
}
