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

output "data_access" {
  description = "direct or api."
  value       = var.data_access
}

output "api_endpoint" {
  description = "API_ENDPOINT (data_access = \"api\"): the stage's invoke URL, https://<rest_api_id>.execute-api.<region>.amazonaws.com/blue, resolved through Superviber's VPC endpoint. null in direct mode."
  value       = local.api ? aws_api_gateway_stage.this[0].invoke_url : null
}

output "rest_api_id" {
  description = "The private API's id (data_access = \"api\"; the kit's policies name it as a placeholder). null in direct mode."
  value       = local.api ? aws_api_gateway_rest_api.this[0].id : null
}

output "lambda_role_arn" {
  description = "The data Lambda's role, the only principal with rights on the bucket, table and key (data_access = \"api\"). null in direct mode."
  value       = local.api ? aws_iam_role.lambda[0].arn : null
}

output "cloudtrail_trail_arn" {
  description = "The trail of the Blue data events; null with cloudtrail_data_events = false."
  value       = local.trail ? aws_cloudtrail.this[0].arn : null
}

output "cloudtrail_bucket_name" {
  description = "The trail's log bucket; null with cloudtrail_data_events = false."
  value       = local.trail ? aws_s3_bucket.trail[0].id : null
}

output "infisical_secrets" {
  description = "The secrets to create in the client's Infisical folder (terraform output -json infisical_secrets): the role and the storage in direct mode, the role and API_ENDPOINT in api mode."
  sensitive   = true
  value = local.api ? {
    AWS_ROLE_ARN = aws_iam_role.this.arn
    API_ENDPOINT = aws_api_gateway_stage.this[0].invoke_url
    } : {
    AWS_ROLE_ARN        = aws_iam_role.this.arn
    BLUE_S3_BUCKET      = aws_s3_bucket.this.id
    BLUE_DYNAMODB_TABLE = aws_dynamodb_table.this.name
    BLUE_KMS_KEY_ID     = local.kms_key_arn
  }
}
