# A BigQuery dataset. The google provider reads GOOGLE_APPLICATION_CREDENTIALS
# and GOOGLE_PROJECT, which tfauth sets for the gcp/analytics identity.
variable "dataset_id" { type = string }
variable "location" { type = string }

resource "google_bigquery_dataset" "this" {
  dataset_id = var.dataset_id
  location   = var.location
}
