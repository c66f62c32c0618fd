// Command sdkfloor is the idle-memory baseline of make bench-mcp: a binary
// that links every third-party package blue-mcp links, and so runs their
// package initialisation (the AWS SDK's operation schemas, endpoint rules,
// the SDKs' registries), but runs nothing of the server. What blue-mcp
// holds idle above this floor is the server's own; the floor is what the
// SDKs cost any process that imports them. Built with -tags noinfisical it
// leaves out the Infisical go-sdk, to show that SDK's share.
//
// It prints "ready" once its start-up garbage is returned to the OS, as
// blue-mcp does after its first config, then waits until stdin closes.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/go-jose/go-jose/v4/jwt"
	_ "github.com/google/jsonschema-go/jsonschema"
	_ "github.com/modelcontextprotocol/go-sdk/auth"
	_ "github.com/modelcontextprotocol/go-sdk/mcp"
	_ "github.com/prometheus/client_golang/prometheus/collectors"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "golang.org/x/sync/singleflight"
)

func main() {
	debug.FreeOSMemory()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
}
