package backend

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

// Problems is what a settings source can say about settings it refuses.
type Problems interface {
	Problems() []string
}

// CheckAccess is access.Checker's check: the settings, a fresh AssumeRole,
// then the storage the settings name (the bucket's default encryption and
// the table's description, both read with the fresh credentials) or, with
// API_ENDPOINT, one signed read of the client's API. A refused AssumeRole
// also forgets every store, so no call goes on with a session the client
// meant to end.
func (b *Backend) CheckAccess(ctx context.Context) access.Report {
	cfg, err := b.cfg.Current()
	var problems []string
	if p, ok := b.cfg.(Problems); ok {
		problems = p.Problems()
	}
	if r, ok := access.FromSettings(err, problems); !ok {
		return r
	}
	mode := access.ModeDirect
	if cfg.APIEndpoint != "" {
		mode = access.ModeAPI
	}
	creds, err := b.creds.Verify(ctx, awscreds.Target{RoleARN: cfg.RoleARN, ExternalID: cfg.ExternalID})
	if r, ok := access.FromAssume(err); !ok {
		if errors.Is(err, awscreds.ErrRoleRefused) {
			b.forget()
		}
		r.Mode = mode
		return r
	}
	static := credentials.StaticCredentialsProvider{Value: creds}
	var r access.Report
	if mode == access.ModeAPI {
		r = b.checkAPI(ctx, cfg, static)
	} else {
		r = b.checkStorage(ctx, cfg, static)
	}
	r.Mode = mode
	return r
}

func (b *Backend) checkAPI(ctx context.Context, cfg tenantconfig.Config, creds aws.CredentialsProvider) access.Report {
	c, err := apigw.NewClient(cfg.APIEndpoint, b.o.Region, creds, b.apigwHTTP)
	if err != nil {
		return access.New(access.ReasonSettingsIncomplete, "API_ENDPOINT is not an https URL")
	}
	_, _, err = c.List(ctx, "rfc", store.ListOptions{Limit: 1})
	return access.FromAPI(err)
}

func (b *Backend) checkStorage(ctx context.Context, cfg tenantconfig.Config, creds aws.CredentialsProvider) access.Report {
	s3c, ddb := b.checkClients(creds)
	st := access.Storage{WantKey: cfg.KMSKeyID}
	enc, err := s3c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(cfg.Bucket), ExpectedBucketOwner: optional(b.o.Account)})
	st.BucketErr = err
	if err == nil && enc.ServerSideEncryptionConfiguration != nil {
		for _, rule := range enc.ServerSideEncryptionConfiguration.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				st.BucketSSE, st.BucketKey = string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
				break
			}
		}
	}
	tbl, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.Table)})
	st.TableErr = err
	if err == nil && tbl.Table != nil && tbl.Table.SSEDescription != nil {
		d := tbl.Table.SSEDescription
		st.TableSSE, st.TableKey = string(d.SSEType), aws.ToString(d.KMSMasterKeyArn)
		st.TableSSEOn = d.Status == ddbtypes.SSEStatusEnabled
	}
	return access.FromStorage(st)
}

// checkClients are the check's S3 and DynamoDB clients, made once: every
// check signs with the credentials it was just given (probeCreds), so a
// check every 30 s does not rebuild two SDK clients.
func (b *Backend) checkClients(creds aws.CredentialsProvider) (*s3.Client, *dynamodb.Client) {
	b.probeCreds.Store(&creds)
	b.probeOnce.Do(func() {
		b.probeS3, b.probeDDB = b.clients(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
			return (*b.probeCreds.Load()).Retrieve(ctx)
		}))
	})
	return b.probeS3, b.probeDDB
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
