//go:build !noinfisical

package main

// The Infisical go-sdk links its every auth method's dependencies (GCP's
// auth and gRPC, Oracle's OCI SDK, the AWS SDK's config), whichever a
// caller uses.
import _ "github.com/infisical/go-sdk"
