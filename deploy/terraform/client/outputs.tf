output "role_arn" {
  description = "AWS_ROLE_ARN: the role the tenant's server assumes."
  value       = aws_iam_role.this.arn
}

output "bucket_name" {
  description = "BLUE_S3_BUCKET"
  value       = aws_s3_bucket.this.id
}

output "table_name" {
  description = "BLUE_DYNAMODB_TABLE"
  value       = aws_dynamodb_table.this.name
}

output "kms_key_arn" {
  description = "BLUE_KMS_KEY_ID: the key of the bucket and table."
  value       = local.kms_key_arn
}

output "infisical_secrets" {
  description = "The secrets to create in the client's Infisical folder (terraform output -json infisical_secrets)."
  sensitive   = true
  value = {
    AWS_ROLE_ARN        = aws_iam_role.this.arn
    BLUE_S3_BUCKET      = aws_s3_bucket.this.id
    BLUE_DYNAMODB_TABLE = aws_dynamodb_table.this.name
    BLUE_KMS_KEY_ID     = local.kms_key_arn
  }
}
