# Inputs of Superviber's platform module.

variable "tenants" {
  description = "Every BlueTenant: its name => the client's role (what the client's module outputs as role_arn) and the client's account (the BlueTenant's spec.aws.accountId)."
  type = map(object({
    client_role_arn   = string
    client_account_id = string
  }))
  validation {
    condition     = length(var.tenants) > 0
    error_message = "tenants must name at least one tenant (the endpoint's policy lists their client roles)."
  }
  validation {
    # blue-hop-<tenant> must fit IAM's 64 characters: 55 for the name.
    condition     = length([for t, _ in var.tenants : t if !can(regex("^[a-z0-9]([-a-z0-9]{0,53}[a-z0-9])?$", t))]) == 0
    error_message = "Every tenant must be a BlueTenant's name, a lower-case DNS label, of at most 55 characters (blue-hop-<tenant> is an IAM role name of at most 64)."
  }
  validation {
    condition     = length([for t, v in var.tenants : t if !can(regex("^arn:(aws|aws-us-gov|aws-cn):iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", v.client_role_arn))]) == 0
    error_message = "Every client_role_arn must be an IAM role ARN such as arn:aws:iam::222222222222:role/blue-acme."
  }
  validation {
    condition     = length([for t, v in var.tenants : t if !can(regex("^[0-9]{12}$", v.client_account_id)) || !can(regex("^arn:[^:]+:iam::${v.client_account_id}:role/", v.client_role_arn))]) == 0
    error_message = "Every client_account_id must be 12 digits and the account of its client_role_arn (the BlueTenant's spec.aws.accountId)."
  }
}

variable "oidc_provider_arn" {
  description = "The EKS cluster's IAM OIDC provider in this account, arn:aws:iam::<account>:oidc-provider/<oidc_issuer>."
  type        = string
  validation {
    condition     = can(regex("^arn:(aws|aws-us-gov|aws-cn):iam::[0-9]{12}:oidc-provider/[^\\s*]+$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be an IAM OIDC provider ARN such as arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE."
  }
}

variable "oidc_issuer" {
  description = "The cluster's OIDC issuer without https://, e.g. oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE: the prefix of the :sub and :aud condition keys."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9](/[A-Za-z0-9._-]+)*$", var.oidc_issuer))
    error_message = "oidc_issuer must be the issuer's host and path without a scheme, such as oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE."
  }
}

variable "vpc_id" {
  description = "The cluster's VPC, where the execute-api endpoint goes."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8}([0-9a-f]{9})?$", var.vpc_id))
    error_message = "vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Subnets of the endpoint's interfaces, one per availability zone the cluster uses."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) > 0 && length([for s in var.subnet_ids : s if !can(regex("^subnet-[0-9a-f]{8}([0-9a-f]{9})?$", s))]) == 0
    error_message = "subnet_ids must be one or more subnet ids such as subnet-0123456789abcdef0."
  }
}

variable "cluster_cidrs" {
  description = "IPv4 CIDRs of the cluster's nodes and pods: the only sources the endpoint accepts (HTTPS)."
  type        = list(string)
  validation {
    condition     = length(var.cluster_cidrs) > 0 && length([for c in var.cluster_cidrs : c if !can(regex("^[0-9.]+/[0-9]+$", c)) || !can(cidrhost(c, 0))]) == 0
    error_message = "cluster_cidrs must be one or more IPv4 CIDRs such as 10.0.0.0/16."
  }
  validation {
    condition     = length([for c in var.cluster_cidrs : c if endswith(c, "/0")]) == 0
    error_message = "cluster_cidrs must be the cluster's own ranges, not 0.0.0.0/0."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
