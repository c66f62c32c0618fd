# Superviber's side of hosted Blue, in Superviber's AWS account (the EKS
# cluster's):
#
#   - one hop role per tenant, blue-hop-<tenant>: the IRSA role of that
#     tenant's pods and of nothing else (the EKS OIDC provider's token for
#     ServiceAccount blue-mcp in namespace blue-<tenant>, audience
#     sts.amazonaws.com), allowed only to assume that tenant's client role
#     (sts:AssumeRole, and sts:SetSourceIdentity so the client's CloudTrail
#     names the engineer);
#   - the execute-api interface VPC endpoint through which tenant servers
#     reach clients' private API Gateways (data_access = "api" in the client
#     module, which admits requests only through this endpoint's id).
#
# The naming rule (docs/onboarding.md, "One naming rule"): tenant <t> has
# namespace blue-<t>, ServiceAccount blue-mcp and hop role
# arn:aws:iam::<this account>:role/blue-hop-<t>, which is what the
# operator's --hop-role-arn-template arn:aws:iam::<this account>:role/blue-hop-{tenant}
# gives (output hop_role_arn_template). test/deploy checks the roles against
# the operator's own builders and default template.

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
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
  # The rule, once: the operator's controllers.NamespaceFor and ServerName,
  # and its default --hop-role-arn-template.
  hop_role_prefix = "blue-hop-"
  subjects        = { for t, _ in var.tenants : t => "system:serviceaccount:blue-${t}:blue-mcp" }
}

# ---------------------------------------------------------------- hop roles

resource "aws_iam_role" "hop" {
  for_each             = var.tenants
  name                 = "${local.hop_role_prefix}${each.key}"
  description          = "IRSA role of Blue tenant ${each.key}'s pods: may only assume the client's role ${each.value.client_role_arn}"
  max_session_duration = 3600
  # Only tokens the cluster issued to this tenant's ServiceAccount, for STS.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TenantServiceAccount"
      Effect    = "Allow"
      Principal = { Federated = var.oidc_provider_arn }
      Action    = ["sts:AssumeRoleWithWebIdentity"]
      Condition = {
        StringEquals = {
          "${var.oidc_issuer}:sub" = local.subjects[each.key]
          "${var.oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
  tags = merge(var.tags, { "blue.superviber.com/tenant" = each.key })

  lifecycle {
    precondition {
      condition     = var.oidc_provider_arn == "arn:${local.partition}:iam::${local.account}:oidc-provider/${var.oidc_issuer}"
      error_message = "oidc_provider_arn must be this account's IAM OIDC provider for oidc_issuer (arn:<partition>:iam::<account>:oidc-provider/<oidc_issuer>)."
    }
  }
}

# One tenant's client role, nothing else: a pod of another tenant has
# another hop role, which names only its own client's role.
resource "aws_iam_role_policy" "hop" {
  for_each = var.tenants
  name     = "blue-client-role"
  role     = aws_iam_role.hop[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "AssumeTheClientRole"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole", "sts:SetSourceIdentity"]
      Resource = [each.value.client_role_arn]
    }]
  })
}

# ---------------------------------------------------------------- execute-api VPC endpoint

# The endpoint's interfaces accept HTTPS from the cluster's nodes and pods
# only; they send nothing of their own, so there is no egress rule.
resource "aws_security_group" "execute_api" {
  name        = "blue-execute-api-endpoint"
  description = "Blue tenant servers to clients' private API Gateways (HTTPS from the cluster only)"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "execute_api" {
  for_each          = { for c in var.cluster_cidrs : c => c }
  security_group_id = aws_security_group.execute_api.id
  description       = "HTTPS from the cluster (${each.value})"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

# Private DNS: <api id>.execute-api.<region>.amazonaws.com resolves to this
# endpoint inside the VPC, so a client's API_ENDPOINT (its stage's invoke
# URL) works as it is. The endpoint's policy lets only the tenants' client
# roles invoke APIs, and only APIs in the clients' accounts.
resource "aws_vpc_endpoint" "execute_api" {
  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${local.region}.execute-api"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.execute_api.id]
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TenantClientRolesInvokeClientAPIs"
      Effect    = "Allow"
      Principal = { AWS = "*" }
      Action    = ["execute-api:Invoke"]
      Resource  = sort(distinct([for t, v in var.tenants : "arn:${local.partition}:execute-api:${local.region}:${v.client_account_id}:*"]))
      Condition = {
        ArnEquals = { "aws:PrincipalArn" = sort([for t, v in var.tenants : v.client_role_arn]) }
      }
    }]
  })
  tags = merge(var.tags, { Name = "blue-execute-api" })
}
