# data_access = "api": the role the tenant's server assumes may only invoke
# a private REST API in this account, and the API admits only that role and
# only through Superviber's execute-api VPC endpoint. The data Lambda behind
# it (cmd/blue-data-lambda, `make lambda`) is the only principal with rights
# on the bucket, table and key.
#
# The API's resources and methods are the contract of mcpserver/apigw
# (apigw.Routes) under /v1/<kind>, for every kind the server stores
# (tools.StoredKinds): a literal resource per kind, so the resource policy,
# the role's policy or a later review can grant or deny each kind and
# operation. Every method uses IAM authorization (SigV4) and a Lambda proxy
# integration. test/deploy checks the tree against both lists and the
# policies against `blue-mcp onboard --data-access api`'s.
#
# In direct mode (the default) nothing here is created.

locals {
  # tools.StoredKinds(), in its order.
  kinds = [
    "rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook", "dialogue", "audit",
    "dialogue-record", "dialogue-round", "search-catalog",
  ]
  # apigw.Routes, in its order: the operation, its method and its path under
  # /v1/<kind>. Reads are GET.
  api_routes = [
    { op = "list", method = "GET", path = "/documents" },
    { op = "create", method = "POST", path = "/documents" },
    { op = "get", method = "GET", path = "/documents/{id}" },
    { op = "update", method = "PUT", path = "/documents/{id}" },
    { op = "delete", method = "DELETE", path = "/documents/{id}" },
    { op = "restore", method = "POST", path = "/documents/{id}/restore" },
    { op = "purge", method = "DELETE", path = "/documents/{id}/purge" },
    { op = "body", method = "GET", path = "/documents/{id}/body" },
    { op = "revisions", method = "GET", path = "/documents/{id}/revisions" },
    { op = "body-at", method = "GET", path = "/documents/{id}/revisions/{version}/body" },
    { op = "next-number", method = "POST", path = "/numbers" },
    { op = "lookup", method = "GET", path = "/lookup" },
  ]
  # The stage: API_ENDPOINT ends in it (onboard.APIStageName).
  api_stage = "blue"

  api_kinds    = local.api ? local.kinds : []
  api_kind_set = { for k in local.api_kinds : k => k }
  # One method per kind and route, keyed "<kind>/<op>".
  api_methods = {
    for m in flatten([for k in local.api_kinds : [for r in local.api_routes : merge(r, { kind = k })]]) :
    "${m.kind}/${m.op}" => m
  }
  # The resource of each route path, per kind.
  api_resource_ids = {
    for k in local.api_kinds : k => {
      "/documents"                               = aws_api_gateway_resource.documents[k].id
      "/documents/{id}"                          = aws_api_gateway_resource.document[k].id
      "/documents/{id}/restore"                  = aws_api_gateway_resource.restore[k].id
      "/documents/{id}/purge"                    = aws_api_gateway_resource.purge[k].id
      "/documents/{id}/body"                     = aws_api_gateway_resource.body[k].id
      "/documents/{id}/revisions"                = aws_api_gateway_resource.revisions[k].id
      "/documents/{id}/revisions/{version}/body" = aws_api_gateway_resource.revision_body[k].id
      "/numbers"                                 = aws_api_gateway_resource.numbers[k].id
      "/lookup"                                  = aws_api_gateway_resource.lookup[k].id
    }
  }
  api_execution_arn = local.api ? aws_api_gateway_rest_api.this[0].execution_arn : ""
  # The routes' execute-api ARNs in the stage (onboard.RouteARNs): the kind
  # and the path parameters as "*", so each grant is one method on one path
  # shape, and no other method, path or stage.
  api_route_arns = [
    for r in local.api_routes :
    "${local.api_execution_arn}/${local.api_stage}/${r.method}/v1/*${replace(replace(r.path, "{id}", "*"), "{version}", "*")}"
  ]

  # onboard.LambdaFunctionName and onboard.LambdaRoleName: they fit the
  # 64 characters of Lambda and IAM names.
  lambda_name      = "blue-${var.tenant}"
  lambda_role_name = "${substr(var.role_name, 0, 59)}-data"
}

# ---------------------------------------------------------------- the API

resource "aws_api_gateway_rest_api" "this" {
  count       = local.api ? 1 : 0
  name        = "blue-${var.tenant}"
  description = "Blue documents of tenant ${var.tenant}, for Superviber's hosted server only (the contract of mcpserver/apigw)"
  # Private: reachable only through interface VPC endpoints, and the
  # resource policy admits only Superviber's.
  endpoint_configuration {
    types = ["PRIVATE"]
  }
  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.superviber_vpc_endpoint_id != ""
      error_message = "data_access = \"api\" needs superviber_vpc_endpoint_id, Superviber's execute-api VPC endpoint (from Superviber): the API admits requests only through it."
    }
  }
}

resource "aws_api_gateway_resource" "v1" {
  count       = local.api ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_rest_api.this[0].root_resource_id
  path_part   = "v1"
}

# /v1/<kind>
resource "aws_api_gateway_resource" "kind" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.v1[0].id
  path_part   = each.key
}

# /v1/<kind>/documents
resource "aws_api_gateway_resource" "documents" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.kind[each.key].id
  path_part   = "documents"
}

# /v1/<kind>/numbers
resource "aws_api_gateway_resource" "numbers" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.kind[each.key].id
  path_part   = "numbers"
}

# /v1/<kind>/lookup
resource "aws_api_gateway_resource" "lookup" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.kind[each.key].id
  path_part   = "lookup"
}

# /v1/<kind>/documents/{id}
resource "aws_api_gateway_resource" "document" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.documents[each.key].id
  path_part   = "{id}"
}

# /v1/<kind>/documents/{id}/restore
resource "aws_api_gateway_resource" "restore" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.document[each.key].id
  path_part   = "restore"
}

# /v1/<kind>/documents/{id}/purge
resource "aws_api_gateway_resource" "purge" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.document[each.key].id
  path_part   = "purge"
}

# /v1/<kind>/documents/{id}/body
resource "aws_api_gateway_resource" "body" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.document[each.key].id
  path_part   = "body"
}

# /v1/<kind>/documents/{id}/revisions
resource "aws_api_gateway_resource" "revisions" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.document[each.key].id
  path_part   = "revisions"
}

# /v1/<kind>/documents/{id}/revisions/{version}
resource "aws_api_gateway_resource" "revision" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.revisions[each.key].id
  path_part   = "{version}"
}

# /v1/<kind>/documents/{id}/revisions/{version}/body
resource "aws_api_gateway_resource" "revision_body" {
  for_each    = local.api_kind_set
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_resource.revision[each.key].id
  path_part   = "body"
}

# Every route of every kind, IAM-authorized: the caller's SigV4 signature
# decides, against the resource policy and its own IAM policy.
resource "aws_api_gateway_method" "this" {
  for_each      = local.api_methods
  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  resource_id   = local.api_resource_ids[each.value.kind][each.value.path]
  http_method   = each.value.method
  authorization = "AWS_IAM"
}

# Lambda proxy integrations (payload 1.0, what cmd/blue-data-lambda reads).
resource "aws_api_gateway_integration" "this" {
  for_each                = aws_api_gateway_method.this
  rest_api_id             = each.value.rest_api_id
  resource_id             = each.value.resource_id
  http_method             = each.value.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.data[0].invoke_arn
}

# Only through Superviber's VPC endpoint, only as the role the server
# assumes: both denials hold whatever an IAM policy in this account grants.
resource "aws_api_gateway_rest_api_policy" "this" {
  count       = local.api ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyOutsideSuperviberEndpoint"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = ["execute-api:Invoke"]
        Resource  = ["${local.api_execution_arn}/*"]
        Condition = { StringNotEquals = { "aws:SourceVpce" = var.superviber_vpc_endpoint_id } }
      },
      {
        Sid       = "DenyOtherPrincipals"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = ["execute-api:Invoke"]
        Resource  = ["${local.api_execution_arn}/*"]
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = aws_iam_role.this.arn } }
      },
      {
        Sid       = "AllowBlueRole"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.this.arn }
        Action    = ["execute-api:Invoke"]
        Resource  = local.api_route_arns
      },
    ]
  })
}

resource "aws_api_gateway_deployment" "this" {
  count       = local.api ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  # A deployment is a snapshot: deploy again when a method, an integration
  # or the resource policy changes (a new resource policy takes effect only
  # with a deployment).
  triggers = {
    redeployment = sha1(jsonencode([
      [for k, m in aws_api_gateway_method.this : [k, m.id, m.http_method, m.authorization]],
      [for k, i in aws_api_gateway_integration.this : [k, i.id, i.uri]],
      aws_api_gateway_rest_api_policy.this[0].policy,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
  depends_on = [aws_api_gateway_integration.this, aws_api_gateway_rest_api_policy.this]
}

# Its invoke URL, https://<api id>.execute-api.<region>.amazonaws.com/blue,
# is API_ENDPOINT (output api_endpoint).
resource "aws_api_gateway_stage" "this" {
  count         = local.api ? 1 : 0
  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  deployment_id = aws_api_gateway_deployment.this[0].id
  stage_name    = local.api_stage
  tags          = var.tags
}

# ---------------------------------------------------------------- the data Lambda

resource "aws_iam_role" "lambda" {
  count       = local.api ? 1 : 0
  name        = local.lambda_role_name
  description = "The Blue data Lambda of tenant ${var.tenant}: the only principal with rights on its bucket, table and key"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaService"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["sts:AssumeRole"]
    }]
  })
  tags = var.tags
}

# The storage statements of direct mode's role (the Lambda runs the same
# store) and writing to its own log group, nothing else.
resource "aws_iam_role_policy" "lambda" {
  count = local.api ? 1 : 0
  name  = "blue-storage"
  role  = aws_iam_role.lambda[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.storage_statements, [{
      Sid      = "BlueLambdaLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.lambda[0].arn}:*"]
    }])
  })
}

# Created here, so the function needs no logs:CreateLogGroup and its logs
# expire.
resource "aws_cloudwatch_log_group" "lambda" {
  count             = local.api ? 1 : 0
  name              = "/aws/lambda/${local.lambda_name}"
  retention_in_days = var.lambda_log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "data" {
  count         = local.api ? 1 : 0
  function_name = local.lambda_name
  description   = "Blue documents of tenant ${var.tenant} behind its private API (cmd/blue-data-lambda)"
  role          = aws_iam_role.lambda[0].arn
  # `make lambda` builds it: a static bootstrap for provided.al2023.
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.lambda_architecture]
  memory_size      = 256
  # API Gateway gives up on an integration after 29 s.
  timeout = 29

  environment {
    variables = {
      BLUE_BUCKET      = aws_s3_bucket.this.id
      BLUE_TABLE       = aws_dynamodb_table.this.name
      BLUE_KMS_KEY_ARN = local.kms_key_arn
      BLUE_ACCOUNT_ID  = data.aws_caller_identity.current.account_id
    }
  }
  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

# API Gateway may invoke the function for this API's stage only.
resource "aws_lambda_permission" "api" {
  count         = local.api ? 1 : 0
  statement_id  = "BlueAPI"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.data[0].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${local.api_execution_arn}/${local.api_stage}/*"
}
