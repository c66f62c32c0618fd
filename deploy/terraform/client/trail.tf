# CloudTrail data events of the Blue bucket's objects and the table's items,
# in both modes: every read and write of a document, by whom (the role's
# session, blue-<tenant>-<caller>, and its source identity, the engineer),
# lands in this account. Management events (the AssumeRole itself) are in
# the account's event history and any trail the client already has; this
# trail records only the Blue data events, so it costs only what Blue does.
#
# cloudtrail_data_events = false leaves it out, for an account whose
# organization trail already selects these data events.

locals {
  trail      = var.cloudtrail_data_events
  trail_name = "blue-${var.tenant}-data-events"
  # The trail's ARN, written out: the bucket policy names it before the
  # trail exists (CloudTrail checks the policy when the trail is created).
  trail_arn = "arn:${data.aws_partition.current.partition}:cloudtrail:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:trail/${local.trail_name}"
  # At most 63 characters, as bucket names must be.
  trail_bucket = "${substr(var.bucket_name, 0, 57)}-trail"
}

resource "aws_cloudtrail" "this" {
  count                         = local.trail ? 1 : 0
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  include_global_service_events = false
  is_multi_region_trail         = false
  enable_log_file_validation    = true

  # Every object of the Blue bucket: reads and writes.
  advanced_event_selector {
    name = "Blue document objects"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field       = "resources.ARN"
      starts_with = ["${aws_s3_bucket.this.arn}/"]
    }
  }
  # Every item call on the table and its indexes: reads and writes.
  advanced_event_selector {
    name = "Blue table items"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::DynamoDB::Table"]
    }
    field_selector {
      field  = "resources.ARN"
      equals = [aws_dynamodb_table.this.arn]
    }
  }
  tags       = var.tags
  depends_on = [aws_s3_bucket_policy.trail]
}

# ---------------------------------------------------------------- its log bucket

# Private, encrypted, TLS only, written only by this trail. A bucket holding
# logs cannot be deleted by Terraform (force_destroy is off).
resource "aws_s3_bucket" "trail" {
  count  = local.trail ? 1 : 0
  bucket = local.trail_bucket
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  count  = local.trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count                   = local.trail ? 1 : 0
  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# SSE-S3: CloudTrail writes with it without a grant in a key policy (the
# Blue key's policy is the client's and stays as it is).
resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count  = local.trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count  = local.trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    id     = "expire-trail-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.cloudtrail_retention_days
    }
  }
}

# CloudTrail's own statements (it checks the ACL, then writes under
# AWSLogs/<account>/), both only for this trail (aws:SourceArn), and TLS
# only for everyone.
resource "aws_s3_bucket_policy" "trail" {
  count  = local.trail ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CloudTrailAclCheck"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["s3:GetBucketAcl"]
        Resource  = [aws_s3_bucket.trail[0].arn]
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
      },
      {
        Sid       = "CloudTrailWrite"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = ["s3:PutObject"]
        Resource  = ["${aws_s3_bucket.trail[0].arn}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
        Condition = {
          StringEquals = {
            "aws:SourceArn" = local.trail_arn
            "s3:x-amz-acl"  = "bucket-owner-full-control"
          }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
  depends_on = [aws_s3_bucket_public_access_block.trail]
}
