# Application component (stacks/catalog/app.yaml: app/defaults + app/logging).
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

# Component vars (the two abstract bases in stacks/catalog/app.yaml and the stack files).
variable "enabled" {
  type        = bool
  description = "Whether the application is deployed."
  default     = true
}

variable "image" {
  type        = string
  description = "Container image."
}

variable "replicas" {
  type        = number
  description = "Number of running copies."
  default     = 1
}

variable "labels" {
  type        = map(string)
  description = "Labels on every resource (merged from both bases)."
  default     = {}
}

variable "log_level" {
  type        = string
  description = "Application log level."
  default     = "info"
}

variable "log_retention_days" {
  type        = number
  description = "How long logs are kept."
  default     = 30
}

variable "ports" {
  type        = list(number)
  description = "Ports the application listens on."
  default     = []
}

variable "resources" {
  type        = any
  description = "CPU and memory, with nested limits."
  default     = {}
}

variable "build_id" {
  type        = string
  description = "The build being deployed (from !env APP_BUILD_ID in the dev stack)."
  default     = "unset"
}

# One output per variable, so `tfauth output -json app -s STACK` shows exactly
# the vars the stack gave the component, with their types.
output "namespace" {
  value = var.namespace
}

output "tenant" {
  value = var.tenant
}

output "environment" {
  value = var.environment
}

output "stage" {
  value = var.stage
}

output "region" {
  value = var.region
}

output "enabled" {
  value = var.enabled
}

output "image" {
  value = var.image
}

output "replicas" {
  value = var.replicas
}

output "labels" {
  value = var.labels
}

output "log_level" {
  value = var.log_level
}

output "log_retention_days" {
  value = var.log_retention_days
}

output "ports" {
  value = var.ports
}

output "resources" {
  value = var.resources
}

output "build_id" {
  value = var.build_id
}
