# Inputs. `blue-mcp onboard` writes them as terraform.tfvars.json; the
# validations match its checks (test/deploy compares the two).

variable "tenant" {
  description = "The BlueTenant's name, from Superviber (e.g. acme)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$", var.tenant))
    error_message = "tenant must be the BlueTenant's name: a lower-case DNS label of at most 58 characters, such as acme."
  }
}

variable "region" {
  description = "Region of the Blue data (the BlueTenant's aws.region). The aws provider must be configured for it."
  type        = string
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "hop_role_arn" {
  description = "Superviber's hop role for this tenant, from Superviber. The role trusts exactly this role, not Superviber's whole account."
  type        = string
  validation {
    condition     = can(regex("^arn:(aws|aws-us-gov|aws-cn):iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", var.hop_role_arn))
    error_message = "hop_role_arn must be an IAM role ARN such as arn:aws:iam::111111111111:role/blue-hop-acme (a role, not an account root or user)."
  }
}

variable "external_id" {
  description = "The sts:ExternalId the role requires: the tenant's issued one (the BlueTenant's status.externalID, which Superviber gives you). It is not stored in Infisical."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.external_id) >= 32 && length(var.external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.external_id))
    error_message = "external_id must be 32 to 1224 characters of letters, digits and +=,.@:/_- (blue-mcp onboard generates one)."
  }
}

variable "role_name" {
  description = "Name of the role the tenant's server assumes (its ARN goes into Infisical as AWS_ROLE_ARN)."
  type        = string
  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "role_name must be 1-64 characters of letters, digits and +=,.@_-."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket for Blue documents (BLUE_S3_BUCKET)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lower-case letters, digits and hyphens (no dots), starting and ending with a letter or digit."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB table for Blue's index and state (BLUE_DYNAMODB_TABLE)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "kms_key_arn" {
  description = "An existing KMS key (key ARN, in var.region) for the bucket and table. Empty: the module creates one with rotation."
  type        = string
  default     = ""
  validation {
    condition     = var.kms_key_arn == "" || can(regex("^arn:(aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias), or empty to create a key."
  }
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept (the bucket is versioned) before it expires."
  type        = number
  default     = 30
  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "data_access" {
  description = "How Superviber's server reaches the data: \"direct\" (the role reads and writes the bucket and table) or \"api\" (the role may only invoke a private API Gateway whose Lambda alone reads and writes them; api.tf)."
  type        = string
  default     = "direct"
  validation {
    condition     = contains(["direct", "api"], var.data_access)
    error_message = "data_access must be \"direct\" or \"api\"."
  }
}

variable "superviber_vpc_endpoint_id" {
  description = "Superviber's execute-api interface VPC endpoint (vpce-...), from Superviber (the platform module's vpc_endpoint_id output). Required with data_access = \"api\": the API admits requests only through it."
  type        = string
  default     = ""
  validation {
    condition     = var.superviber_vpc_endpoint_id == "" || can(regex("^vpce-[0-9a-f]{8}([0-9a-f]{9})?$", var.superviber_vpc_endpoint_id))
    error_message = "superviber_vpc_endpoint_id must be a VPC endpoint id such as vpce-0123456789abcdef0."
  }
}

variable "lambda_zip_path" {
  description = "data_access = \"api\": the data Lambda's zip (`make lambda` builds bin/lambda/blue-data-lambda.zip), relative to where terraform runs."
  type        = string
  default     = "blue-data-lambda.zip"
}

variable "lambda_architecture" {
  description = "data_access = \"api\": the data Lambda's architecture, x86_64 (make lambda's default) or arm64 (make lambda LAMBDA_ARCH=arm64)."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64, as the zip was built."
  }
}

variable "lambda_log_retention_days" {
  description = "data_access = \"api\": days the data Lambda's logs are kept."
  type        = number
  default     = 90
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.lambda_log_retention_days)
    error_message = "lambda_log_retention_days must be one of CloudWatch Logs' retention periods, such as 30, 90 or 365."
  }
}

variable "cloudtrail_data_events" {
  description = "Create a CloudTrail trail recording the data events of the Blue bucket's objects and the table (trail.tf). Turn it off only when another trail already selects them."
  type        = bool
  default     = true
}

variable "cloudtrail_retention_days" {
  description = "Days the trail's log files are kept in its bucket."
  type        = number
  default     = 365
  validation {
    condition     = var.cloudtrail_retention_days >= 1
    error_message = "cloudtrail_retention_days must be at least 1."
  }
}
