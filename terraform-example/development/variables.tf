variable "region" {
  description = "Region of the user pools and the SES identity."
  type        = string
  default     = "us-east-1"
}

variable "sender_email" {
  description = "Verified SES identity the pools send from; its identity policy lives in the production root."
  type        = string
  default     = "noreply@thephenom.app"
}

variable "from_email_address" {
  description = "From header of Cognito mail. No unquoted RFC 5322 specials such as parentheses (\"Phenom (dev)\" gives a perpetual diff); quote the name if it needs them."
  type        = string
  default     = "Phenom <noreply@thephenom.app>"
}

variable "probe_mailbox" {
  description = "Mailbox the probe reads; each pool's test user gets a plus-address of it (local+pool@domain)."
  type        = string
  default     = "probe@thephenom.app"
}
