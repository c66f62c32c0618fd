package importer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Run is the `blue-mcp import` subcommand. The client runs it as itself,
// with the default AWS credential chain, to move a local Blue checkout into
// its bucket and table:
//
//	blue-mcp import --bucket B --table T --kms-key-id K --region R [--dir .blue/docs]
//	  [--dry-run] [--s3-endpoint URL] [--dynamodb-endpoint URL]
//
// It needs what the server's policy grants on the bucket, table and key. It
// prints the plan (one line per file: create, unchanged or conflict) and,
// unless --dry-run or a conflict stops it, carries it out.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("blue-mcp import", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var bucket, table, kmsKey, region, s3Endpoint, ddbEndpoint, dir string
	var dryRun bool
	fs.StringVar(&bucket, "bucket", os.Getenv("BLUE_S3_BUCKET"), "the Blue bucket (env BLUE_S3_BUCKET)")
	fs.StringVar(&table, "table", os.Getenv("BLUE_DYNAMODB_TABLE"), "the Blue table (env BLUE_DYNAMODB_TABLE)")
	fs.StringVar(&kmsKey, "kms-key-id", os.Getenv("BLUE_KMS_KEY_ID"), "the KMS key the bucket's objects are written with (env BLUE_KMS_KEY_ID)")
	fs.StringVar(&region, "region", "", "their region (default: AWS_REGION or your AWS profile's)")
	fs.StringVar(&s3Endpoint, "s3-endpoint", "", "S3 endpoint override (path-style)")
	fs.StringVar(&ddbEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint override")
	fs.StringVar(&dir, "dir", ".blue/docs", "Blue's docs folder to read (either of Blue's layouts)")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be imported; write nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("import: unexpected arguments %q", fs.Args())
	case bucket == "" || table == "":
		return errors.New("import: --bucket and --table are required (see blue-mcp import -h)")
	case kmsKey == "" && !dryRun:
		return errors.New("import: --kms-key-id is required: every object is written with the client's KMS key")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("import: --dir %s is not a folder: %v", dir, err)
	}
	files, skipped, err := Read(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cfg, err := store.ClientConfig(ctx, region)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	st := newStore(cfg, bucket, table, kmsKey, s3Endpoint, ddbEndpoint)
	plan, err := PlanImport(ctx, st, files)
	if err != nil {
		return err
	}
	for _, s := range plan.Steps {
		line := fmt.Sprintf("  %-9s %s → %s %s (%s)", s.Action, s.Path, s.Kind, s.ID, s.Status)
		if s.Reason != "" {
			line += ": " + s.Reason
		}
		fmt.Fprintln(stdout, line)
	}
	for _, s := range skipped {
		fmt.Fprintf(stdout, "  skipped   %s: %s\n", s.Path, s.Reason)
	}
	fmt.Fprintf(stdout, "%d to create, %d unchanged, %d conflicts, %d skipped\n", plan.Count(Create), plan.Count(Unchanged), plan.Count(Conflict), len(skipped))
	if n := plan.Count(Conflict); n > 0 {
		return fmt.Errorf("import: %d conflicts: %w", n, ErrConflicts)
	}
	if dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was written")
		return nil
	}
	sum, err := Apply(ctx, st, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Imported %d documents into s3://%s and table %s (%d were already there)\n", sum.Created, bucket, table, sum.Unchanged)
	return nil
}

func newStore(cfg aws.Config, bucket, table, kmsKey, s3Endpoint, ddbEndpoint string) *store.Store {
	return store.NewFromConfig(cfg, store.Endpoints{S3: s3Endpoint, DynamoDB: ddbEndpoint},
		store.Options{Bucket: bucket, Table: table, KMSKeyID: kmsKey, Plural: blue.Plural, BodyCacheBytes: -1})
}
