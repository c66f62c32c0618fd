package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Endpoints override where the store's S3 and DynamoDB clients connect
// (tests, other partitions); empty fields keep AWS's.
type Endpoints struct {
	S3       string // path-style
	DynamoDB string
}

// NewFromConfig is New with S3 and DynamoDB clients made from cfg, as the
// client-run commands (import, export) use the client's own credentials.
func NewFromConfig(cfg aws.Config, e Endpoints, o Options) *Store {
	s3c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		// Objects the store wrote before checksums were stored have none to
		// validate: not worth a line per document on stderr.
		so.DisableLogOutputChecksumValidationSkipped = true
		if e.S3 != "" {
			so.BaseEndpoint = aws.String(e.S3)
			so.UsePathStyle = true
		}
	})
	ddb := dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) {
		if e.DynamoDB != "" {
			do.BaseEndpoint = aws.String(e.DynamoDB)
		}
	})
	return New(s3c, ddb, o)
}

// ClientConfig loads the AWS configuration of a client-run command: the
// default credential chain (environment, profile, SSO, instance role), in
// region when it is given. It fails, naming what to pass, without a region.
func ClientConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no region: pass --region or set AWS_REGION")
	}
	return cfg, nil
}
