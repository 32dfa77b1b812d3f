variable "name" {
  description = "Name of the table (PROBE_TICK_TABLE on Lambda, --tick-table in a task)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed KMS key of the table; null: the AWS managed key for DynamoDB (aws/dynamodb)."
  type        = string
  default     = null
}
