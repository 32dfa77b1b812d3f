variable "name" {
  description = "Name of the SES configuration set (the pool's email_configuration.configuration_set); the queue, rule and topic are named after it."
  type        = string

  # Cognito's EmailConfigurationType.ConfigurationSet: 1-64 characters of [a-zA-Z0-9_-].
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '_' and '-' (a Cognito configuration set name)."
  }
}

variable "create_configuration_set" {
  description = "Create the configuration set. false: name is an existing configuration set (of this account and Region), and the module only adds its event destinations and the path to the queue."
  type        = bool
  default     = true
}

variable "destination" {
  description = "How SES event records reach the queue: \"eventbridge\" (the default bus, a rule scoped to this configuration set) or \"sns\" (a topic with a raw-delivery SQS subscription)."
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "sns"], var.destination)
    error_message = "destination must be \"eventbridge\" or \"sns\"."
  }
}

variable "sns_topic_arn" {
  description = "With destination = \"sns\": an existing topic to publish to (its policy must already let ses.amazonaws.com publish for this configuration set). null: the module creates the topic and its policy."
  type        = string
  default     = null
}

variable "event_types" {
  description = "SES event types published to the queue."
  type        = list(string)
  default     = ["SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE", "DELIVERY_DELAY"]

  validation {
    condition     = length(var.event_types) > 0 && alltrue([for t in var.event_types : contains(["SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE", "DELIVERY_DELAY"], t)])
    error_message = "event_types must be a non-empty subset of SEND, DELIVERY, BOUNCE, COMPLAINT, REJECT, RENDERING_FAILURE, DELIVERY_DELAY."
  }
}

variable "recipients" {
  description = "The probe's test addresses. When set, only records of mail to one of them reach the queue (mail.destination); empty: every record of the configuration set, i.e. all of the pool's mail."
  type        = list(string)
  default     = []
}

variable "metrics_enabled" {
  description = "Add a CloudWatch event destination with the ses:configuration-set dimension, so AWS/SES metrics exist for this set alone. Each event type in metric_event_types is one billed custom metric."
  type        = bool
  default     = false
}

variable "metric_event_types" {
  description = "Event types published as per-set AWS/SES metrics when metrics_enabled: the ones the probe reads."
  type        = list(string)
  default     = ["SEND", "DELIVERY", "BOUNCE", "REJECT", "RENDERING_FAILURE"]
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the queue (and the topic the module creates). null: the queue uses SQS-managed encryption (SSE-SQS) and a created topic is unencrypted. The key policy must let events.amazonaws.com (or sns.amazonaws.com and ses.amazonaws.com) use kms:GenerateDataKey* and kms:Decrypt, and the probe needs kms:Decrypt (probe-iam's ses_events_kms_key_arns)."
  type        = string
  default     = null
}

variable "message_retention_seconds" {
  description = "How long a record stays in the queue. The probe only needs the records of its current run; a day covers a late delivery."
  type        = number
  default     = 86400
}

variable "visibility_timeout_seconds" {
  description = "How long a received record stays hidden. The probe sets its own short timeout on every receive (the probe file's visibility_timeout, 5 s); this is the queue's default for other consumers."
  type        = number
  default     = 30
}

variable "event_destinations_enabled" {
  description = "Create the configuration set's event destinations. false builds the path to the queue without a publisher (the project's moto test applies it so: moto has no SESv2 event destination API)."
  type        = bool
  default     = true
}
