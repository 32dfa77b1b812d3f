variable "name" {
  description = "Name of the function, its log group (/aws/lambda/<name>), its schedules (<name>-<probe>) and queue."
  type        = string
}

variable "zip_path" {
  description = "The function's zip: `cargo lambda build --release --features lambda --bin probe-lambda --output-format zip` makes target/lambda/probe-lambda/bootstrap.zip; add the probe files under probes/ (README \"Deploy on AWS without a host\")."
  type        = string
}

variable "role_arn" {
  description = "The probe's role (modules/probe-iam's role_arn, with lambda.amazonaws.com in trusted_services)."
  type        = string
}

variable "role_name" {
  description = "The same role's name (modules/probe-iam's role_name): the function's log and dead-letter permissions are added to it."
  type        = string
}

variable "probes" {
  description = "Probe file names (without .toml) to schedule, each with its interval in seconds (a multiple of 60) and its EventBridge Scheduler expression (one run per interval)."
  type        = map(object({ period_seconds = number, schedule_expression = string }))

  validation {
    condition     = alltrue([for p in values(var.probes) : p.period_seconds >= 60 && p.period_seconds % 60 == 0])
    error_message = "period_seconds must be 60 or a multiple of 60 (a rate expression in minutes)."
  }
}

variable "timeout_seconds" {
  description = "Function timeout: at least the probe's timeout + [cloudwatch] settle + a margin (`probe validate --lambda-timeout 900s` checks a probe file against it). Lambda allows up to 900."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds: 1 to 900 (Lambda's maximum)."
  }
}

variable "memory_mb" {
  description = "Function memory in MB; Lambda gives CPU in proportion to it."
  type        = number
  default     = 256
}

variable "architecture" {
  description = "x86_64 (cargo lambda build's default) or arm64 (build with --arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture: x86_64 or arm64."
  }
}

variable "tick_table_name" {
  description = "Tick table (modules/probe-tick-table's name) as PROBE_TICK_TABLE; null: no duplicate-tick guard."
  type        = string
  default     = null
}

variable "environment" {
  description = "More environment variables (never a secret: use a Secrets Manager secret source in the probe file), e.g. RUST_LOG."
  type        = map(string)
  default     = {}
}

variable "schedule_retry_attempts" {
  description = "How often the scheduler tries a tick again that it could not deliver to the function."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group, the environment, the dead-letter queue and the schedules; null: the services' own encryption."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets to run the function in (with a route to the AWS APIs and the IMAP server); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function in a VPC."
  type        = list(string)
  default     = []
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function; null (default): none, -1 is not accepted here."
  type        = number
  default     = null
}

variable "code_signing_config_arn" {
  description = "Lambda code signing configuration (AWS Signer) the zip must satisfy; null: none."
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: PassThrough (default) or Active (grant xray:PutTraceSegments and xray:PutTelemetryRecords to the role)."
  type        = string
  default     = "PassThrough"
}
