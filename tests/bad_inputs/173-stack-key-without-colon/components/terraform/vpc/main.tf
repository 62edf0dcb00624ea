variable "stage" {
  type = string
}

variable "cidr" {
  type = string
}

variable "name" {
  type = string
}
