// Package mcpserver is the per-tenant Blue MCP server (cmd/blue-mcp). Its
// parts, one package each:
//
//   - server: HTTP, authentication, tier session limits, health, metrics, audit
//   - tools: Blue's tool set and document resources, one file per document kind
//   - blue: Blue's document model (kinds, lifecycles, markdown), no I/O
//   - store: the revisioned document store over the client's S3 and DynamoDB
//   - apigw: the same store behind the client's own API Gateway (API_ENDPOINT):
//     the SigV4-signing client the server uses, and the handler that serves
//     the contract in docs/api-gateway.md
//   - tenantconfig: the client's settings from Infisical, revocation, rotation
//   - awscreds: the client's role through STS with the ExternalId, cached
//   - backend: ties config, credentials and store together per caller
//   - tracing: OpenTelemetry spans of tool calls, AWS operations and
//     Infisical requests, exported over OTLP when an endpoint is set
//
// Three client-run commands of blue-mcp live here too, because they share the
// store's layout and the tools' policies:
//
//   - onboard: `blue-mcp onboard`, the client's onboarding kit (IAM policies,
//     Infisical secrets, the variables of deploy/terraform/client)
//   - importer: `blue-mcp import`, a local Blue checkout (either of Blue's
//     layouts) into the client's bucket and table
//   - export: `blue-mcp export`, the client's documents in Blue's on-disk layout
//
// What the server and the operator agree on (environment, ports, token hash)
// is in api/contract. The test servers that stand in for STS, Infisical, S3,
// DynamoDB and API Gateway, and the tests that need them, are under test/.
package mcpserver
