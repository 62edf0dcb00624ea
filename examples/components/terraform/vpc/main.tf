# VPC component (stacks/catalog/vpc.yaml).
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

# Component vars (stacks/catalog/vpc.yaml and the stack files).
variable "ipv4_primary_cidr_block" {
  type        = string
  description = "Primary IPv4 CIDR block of the VPC."
}

variable "max_subnet_count" {
  type        = number
  description = "Maximum number of subnets of each kind."
  default     = 3
}

variable "nat_gateway_enabled" {
  type        = bool
  description = "Whether private subnets get NAT gateways."
  default     = true
}

variable "subnet_tags" {
  type        = map(map(string))
  description = "Extra tags per subnet kind (public, private)."
  default     = {}
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread subnets across."
  default     = []
}

output "vpc_name" {
  value = "${var.namespace}-${var.tenant}-${var.environment}-${var.stage}-vpc"
}

output "region" {
  value = var.region
}

output "ipv4_primary_cidr_block" {
  value = var.ipv4_primary_cidr_block
}

output "max_subnet_count" {
  value = var.max_subnet_count
}

output "nat_gateway_enabled" {
  value = var.nat_gateway_enabled
}

output "subnet_tags" {
  value = var.subnet_tags
}

output "availability_zones" {
  value = var.availability_zones
}
