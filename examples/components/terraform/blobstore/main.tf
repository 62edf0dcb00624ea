# A storage account. The azurerm provider reads ARM_SUBSCRIPTION_ID and the
# ARM_USE_OIDC / ARM_USE_CLI variables tfauth sets for the azure/plat-dev identity.
variable "account_name" { type = string }

provider "azurerm" {
  features {}
}

resource "azurerm_storage_account" "this" {
  name                     = var.account_name
  resource_group_name      = "rg-plat-dev"
  location                 = "eastus2"
  account_tier             = "Standard"
  account_replication_type = "LRS"
}
