package export

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Run is the `blue-mcp export` subcommand. It reads the client's bucket and
// table with the default AWS credential chain (environment, shared config
// and SSO profiles, instance or container roles), so the client runs it as
// itself, without Superviber:
//
//	blue-mcp export --bucket B --table T --region R [--dir .blue/docs]
//	  [--s3-endpoint URL] [--dynamodb-endpoint URL] [--kind rfc,adr] [--force]
//	  [--layout rfc-0073|db1da8c]
//
// It needs s3:GetObject on the bucket, dynamodb:Query on the table's
// ByKind index, and kms:Decrypt on the key through S3 (and GetItem on the
// table for documents that change during the export). It writes a summary
// to stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("blue-mcp export", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var bucket, table, region, s3Endpoint, ddbEndpoint, dir, kinds, layout string
	var force bool
	fs.StringVar(&bucket, "bucket", os.Getenv("BLUE_S3_BUCKET"), "the Blue bucket (env BLUE_S3_BUCKET)")
	fs.StringVar(&table, "table", os.Getenv("BLUE_DYNAMODB_TABLE"), "the Blue table (env BLUE_DYNAMODB_TABLE)")
	fs.StringVar(&region, "region", "", "their region (default: AWS_REGION or your AWS profile's)")
	fs.StringVar(&s3Endpoint, "s3-endpoint", "", "S3 endpoint override (path-style)")
	fs.StringVar(&ddbEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint override")
	fs.StringVar(&dir, "dir", ".blue/docs", "Blue's docs folder to write into")
	fs.StringVar(&kinds, "kind", "", "only these doc_types, comma-separated (default all: "+strings.Join(blue.KindNames(), ",")+")")
	fs.BoolVar(&force, "force", false, "overwrite or remove files changed locally since the last export")
	fs.StringVar(&layout, "layout", string(blue.DefaultLayout), "Blue's layout to write: "+string(blue.LayoutRFC0073)+" (today's Blue CLI: NNNN-{D|A|I|S}-slug.md) or "+string(blue.LayoutDB1DA8C)+" (the last MCP server: NNNN-slug.<status>.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected arguments %q", fs.Args())
	}
	if bucket == "" || table == "" {
		return errors.New("export: --bucket and --table are required (see blue-mcp export -h)")
	}
	if dir == "" {
		return errors.New("export: --dir must not be empty")
	}
	l, err := blue.ParseLayout(layout)
	if err != nil {
		return fmt.Errorf("export: --layout: %w", err)
	}
	cfg, err := store.ClientConfig(ctx, region)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	st := NewStore(cfg, bucket, table, s3Endpoint, ddbEndpoint)
	o := Options{Force: force, Layout: l}
	if kinds != "" {
		for _, k := range strings.Split(kinds, ",") {
			if k = strings.TrimSpace(k); k != "" {
				o.Kinds = append(o.Kinds, k)
			}
		}
	}
	sum, err := ExportWith(ctx, st, dir, o)
	if err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	fmt.Fprintf(stdout, "Exported %d documents and %d plans from s3://%s and table %s into %s\n", sum.Total(), sum.Plans, bucket, table, dir)
	for _, k := range blue.Kinds {
		if n := sum.Documents[k.Name]; n > 0 {
			fmt.Fprintf(stdout, "  %-12s %d\n", k.Plural, n)
		}
	}
	fmt.Fprintf(stdout, "%d files written, %d unchanged, %d removed\n", len(sum.Written), len(sum.Unchanged), len(sum.Removed))
	for _, p := range sum.Removed {
		fmt.Fprintf(stdout, "  removed %s\n", p)
	}
	for _, p := range sum.Conflicts {
		fmt.Fprintf(stdout, "  left alone (changed locally) %s\n", p)
	}
	return err
}

// NewStore is a read-only use of the client's bucket and table with cfg's
// credentials (the export writes nothing to AWS, so it needs no KMS key id).
func NewStore(cfg aws.Config, bucket, table, s3Endpoint, ddbEndpoint string) *store.Store {
	return store.NewFromConfig(cfg, store.Endpoints{S3: s3Endpoint, DynamoDB: ddbEndpoint},
		store.Options{Bucket: bucket, Table: table, Plural: blue.Plural, BodyCacheBytes: -1})
}
