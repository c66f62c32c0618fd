output "hop_role_arns" {
  description = "Each tenant's hop role, blue-hop-<tenant>: what the BlueTenant's spec.aws.hopRoleArn is (or defaults to) and what the client gives its module as hop_role_arn."
  value       = { for t, r in aws_iam_role.hop : t => r.arn }
}

output "hop_role_arn_template" {
  description = "The operator's --hop-role-arn-template (Helm: tenants.hopRoleArnTemplate) that yields these roles."
  value       = "arn:${local.partition}:iam::${local.account}:role/${local.hop_role_prefix}{tenant}"
}

output "vpc_endpoint_id" {
  description = "The execute-api VPC endpoint: what every data_access = \"api\" client gives its module as superviber_vpc_endpoint_id."
  value       = aws_vpc_endpoint.execute_api.id
}

output "vpc_endpoint_security_group_id" {
  description = "The endpoint's security group."
  value       = aws_security_group.execute_api.id
}
