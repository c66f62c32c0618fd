# Blue's storage in the client's own AWS account, for one BlueTenant:
#
#   - the role the tenant's server assumes: trusts only Superviber's hop role
#     for this tenant, only with the ExternalId (and lets it set a source
#     identity, the engineer calling the tool); least-privilege permissions;
#   - the S3 bucket of markdown bodies: SSE-KMS with a bucket key, versioned,
#     public access blocked, TLS only;
#   - the DynamoDB table of index and state, with the store's schema
#     (mcpserver/store/doc.go), on demand, point-in-time recovery, SSE-KMS;
#   - a KMS key with rotation, unless kms_key_arn names one;
#   - with data_access = "api" (api.tf), a private API Gateway and the data
#     Lambda behind it, and the role may only invoke that API;
#   - a CloudTrail trail of the data events on the bucket and table
#     (trail.tf), unless cloudtrail_data_events is false.
#
# The policies are the ones `blue-mcp onboard` prints (mcpserver/onboard);
# test/deploy checks that they match, that the table matches
# store.CreateTable, that the API is the contract of mcpserver/apigw, and
# what every resource declares.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  api            = var.data_access == "api"
  create_kms_key = var.kms_key_arn == ""
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  dns_suffix     = data.aws_partition.current.dns_suffix
  account_root   = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

# ---------------------------------------------------------------- KMS key

resource "aws_kms_key" "this" {
  count                   = local.create_kms_key ? 1 : 0
  description             = "Blue documents of tenant ${var.tenant}: S3 bucket ${var.bucket_name} and DynamoDB table ${var.table_name}"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  # The account administers the key and IAM policies grant its use: the
  # role's policy allows it only through S3 and DynamoDB.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersKeyAndDelegatesToIAM"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "this" {
  count         = local.create_kms_key ? 1 : 0
  name          = "alias/blue-${var.tenant}"
  target_key_id = aws_kms_key.this[0].key_id
}

# ---------------------------------------------------------------- S3 bucket

resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name
  tags   = var.tags

  lifecycle {
    prevent_destroy = true
    precondition {
      condition     = data.aws_region.current.region == var.region
      error_message = "The aws provider is configured for another region than var.region: the BlueTenant's data must live in var.region."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------- DynamoDB table

# The schema of mcpserver/store (store.CreateTable): PK/SK, and the GSIs
# ByKind (GSI1PK/GSI1SK) and ByKindStatus (GSI2PK/GSI2SK), projection ALL.
resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = true

  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }
  attribute {
    name = "GSI1PK"
    type = "S"
  }
  attribute {
    name = "GSI1SK"
    type = "S"
  }
  attribute {
    name = "GSI2PK"
    type = "S"
  }
  attribute {
    name = "GSI2SK"
    type = "S"
  }

  global_secondary_index {
    name            = "ByKind"
    hash_key        = "GSI1PK"
    range_key       = "GSI1SK"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "ByKindStatus"
    hash_key        = "GSI2PK"
    range_key       = "GSI2SK"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }
  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

# ---------------------------------------------------------------- IAM role

resource "aws_iam_role" "this" {
  name                 = var.role_name
  description          = "Superviber's hosted Blue server for tenant ${var.tenant} reads and writes Blue documents"
  max_session_duration = 3600
  # Only the tenant's own hop role (never Superviber's account root, which
  # would let any tenant's pod in), and only with the ExternalId. The hop
  # role may also set a source identity: the server names the engineer
  # calling the tool, so this account's CloudTrail tells engineers apart.
  # That is its own statement, so the ExternalId condition stays exactly on
  # sts:AssumeRole; setting a source identity alone grants nothing.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "BlueTenantHopRole"
        Effect    = "Allow"
        Principal = { AWS = var.hop_role_arn }
        Action    = ["sts:AssumeRole"]
        Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }
      },
      {
        Sid       = "BlueTenantHopRoleSourceIdentity"
        Effect    = "Allow"
        Principal = { AWS = var.hop_role_arn }
        Action    = ["sts:SetSourceIdentity"]
      },
    ]
  })
  tags = var.tags
}

# Direct mode: the storage and the server's access check, exactly what the
# server calls (test/mcpserver/onboard compares these actions with a recorded
# document journey). API mode: execute-api:Invoke on the API's routes and
# nothing else; the data Lambda's role (api.tf) holds the storage statements
# instead.
resource "aws_iam_role_policy" "this" {
  name = local.api ? "blue-api" : "blue-storage"
  role = aws_iam_role.this.id
  policy = local.api ? jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "BlueAPI"
      Effect   = "Allow"
      Action   = ["execute-api:Invoke"]
      Resource = local.api_route_arns
    }]
    }) : jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.storage_statements, [{
      # The server's access check: is the bucket still encrypted under the
      # key, is the table there (the BlueTenant's ClientAccess condition).
      Sid      = "BlueAccessCheck"
      Effect   = "Allow"
      Action   = ["dynamodb:DescribeTable", "s3:GetEncryptionConfiguration"]
      Resource = [aws_s3_bucket.this.arn, aws_dynamodb_table.this.arn]
    }])
  })
}

locals {
  # What the store calls on the bucket, table and key: the role's policy in
  # direct mode, the data Lambda's in api mode.
  storage_statements = [
    {
      Sid      = "BlueObjects"
      Effect   = "Allow"
      Action   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
      Resource = ["${aws_s3_bucket.this.arn}/*"]
    },
    {
      Sid      = "BlueBucket"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [aws_s3_bucket.this.arn]
    },
    {
      Sid      = "BlueTable"
      Effect   = "Allow"
      Action   = ["dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      Resource = [aws_dynamodb_table.this.arn]
    },
    {
      Sid    = "BlueIndexes"
      Effect = "Allow"
      Action = ["dynamodb:Query"]
      Resource = [
        "${aws_dynamodb_table.this.arn}/index/ByKind",
        "${aws_dynamodb_table.this.arn}/index/ByKindStatus",
      ]
    },
    {
      # SSE-KMS needs the caller's own permission on the key; only through
      # S3 and DynamoDB in this region.
      Sid      = "BlueKeyViaStorage"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      Resource = [local.kms_key_arn]
      Condition = {
        StringEquals = {
          "kms:ViaService" = [
            "s3.${var.region}.${local.dns_suffix}",
            "dynamodb.${var.region}.${local.dns_suffix}",
          ]
        }
      }
    },
  ]
}
