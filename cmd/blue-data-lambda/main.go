// Command blue-data-lambda is the client's data-access Lambda: it serves the
// API Gateway contract (docs/api-gateway.md, mcpserver/apigw.Handler) over
// the client's S3 bucket and DynamoDB table, writing every object with
// SSE-KMS under the client's key. It runs in the client's account with its
// own role, the only principal with rights on the bucket, table and key;
// the gateway's IAM authorization decides who may invoke it.
//
// It is a provided.al2023 function (the binary is named bootstrap; make
// lambda builds it and its zip) behind a REST API's Lambda proxy
// integration. Its settings come from the environment the Terraform module
// sets:
//
//	BLUE_BUCKET       the client's bucket
//	BLUE_TABLE        the client's table
//	BLUE_KMS_KEY_ARN  the client's KMS key; every object is written under it
//	BLUE_ACCOUNT_ID   the client's account: S3 refuses a bucket another account owns
//	AWS_REGION        set by Lambda itself
//
// Credentials are the function role's, from the environment Lambda sets.
// AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_DYNAMODB (the SDK's own
// variables) point it at other endpoints; a custom S3 endpoint is addressed
// path-style.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// The function's environment.
const (
	EnvBucket   = "BLUE_BUCKET"
	EnvTable    = "BLUE_TABLE"
	EnvKMSKey   = "BLUE_KMS_KEY_ARN"
	EnvAccount  = "BLUE_ACCOUNT_ID"
	envS3Custom = "AWS_ENDPOINT_URL_S3"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		log.Error("blue-data-lambda cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.serve)
}

// newHandler builds the store from the environment.
func newHandler(ctx context.Context, getenv func(string) string) (*proxy, error) {
	o := store.Options{
		Bucket: getenv(EnvBucket), Table: getenv(EnvTable), KMSKeyID: getenv(EnvKMSKey),
		ExpectedBucketOwner: getenv(EnvAccount), Plural: blue.Plural,
	}
	var missing []error
	for name, v := range map[string]string{EnvBucket: o.Bucket, EnvTable: o.Table, EnvKMSKey: o.KMSKeyID, EnvAccount: o.ExpectedBucketOwner} {
		if v == "" {
			missing = append(missing, fmt.Errorf("%s is not set", name))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("AWS_REGION is not set")
	}
	s3c := s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = getenv(envS3Custom) != "" })
	st := store.New(s3c, dynamodb.NewFromConfig(cfg), o)
	return &proxy{h: apigw.Handler(st)}, nil
}
