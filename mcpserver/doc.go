// Package mcpserver is the per-tenant Blue MCP server (cmd/blue-mcp). Its
// parts, one package each:
//
//   - server: HTTP, authentication, tier session limits, health, metrics, audit
//   - tools: Blue's tool set and document resources
//   - blue: Blue's document model (kinds, lifecycles, markdown), no I/O
//   - store: the revisioned document store over the client's S3 and DynamoDB
//   - tenantconfig: the client's settings from Infisical, revocation, rotation
//   - awscreds: the client's role through STS with the ExternalId, cached
//   - backend: ties config, credentials and store together per caller
//   - serverenv: the environment the operator sets
//   - testbackends: real-protocol test servers for STS, Infisical, S3, DynamoDB
package mcpserver
