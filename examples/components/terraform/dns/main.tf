# DNS component (stacks/catalog/dns.yaml).
#
# A stand-in with no provider and no resources, so `terraform init` downloads
# nothing. It declares every var the stacks set for this component, so a plan
# shows no "undeclared variable" warnings, and echoes them as outputs.

terraform {
  required_version = ">= 1.0"
}

# Set for every component by the stack defaults and region mixins.
variable "namespace" {
  type        = string
  description = "Organization namespace (stacks/orgs/acme/_defaults.yaml)."
}

variable "tenant" {
  type        = string
  description = "Tenant: core or plat."
}

variable "environment" {
  type        = string
  description = "Short region code: use2 or usw2."
}

variable "stage" {
  type        = string
  description = "Stage: dev, staging or prod."
}

variable "region" {
  type        = string
  description = "AWS region."
}

# Component vars (stacks/catalog/dns.yaml and the prod stack files).
variable "parent_zone_name" {
  type        = string
  description = "Parent DNS zone under which each stack gets its own zone."
}

variable "ttl" {
  type        = number
  description = "Default record TTL in seconds."
  default     = 300
}

variable "private_zone_enabled" {
  type        = bool
  description = "Whether the zone is private to the VPC."
  default     = false
}

output "zone_name" {
  value = "${var.environment}.${var.stage}.${var.tenant}.${var.parent_zone_name}"
}

output "ttl" {
  value = var.ttl
}

output "private_zone_enabled" {
  value = var.private_zone_enabled
}
