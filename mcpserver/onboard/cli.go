package onboard

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Run is the `blue-mcp onboard` subcommand: it prints the kit (text, or JSON
// with --json) and, with --out, writes its files into a directory.
//
//	blue-mcp onboard --tenant acme --hop-role-arn arn:aws:iam::111111111111:role/blue-hop-acme \
//	  --account-id 222222222222 --region eu-west-1 --bucket acme-blue-docs --table acme-blue \
//	  [--kms-key-arn ARN] [--external-id ID] [--role-name NAME] [--out DIR] [--force] [--json] \
//	  [--data-access api --superviber-vpc-endpoint-id vpce-0123456789abcdef0]
//
// It reads nothing and calls nothing: it is pure computation on its flags.
func Run(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("blue-mcp onboard", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o Options
	var out string
	var force, asJSON bool
	fs.StringVar(&o.Tenant, "tenant", "", "the BlueTenant's name, from Superviber (required)")
	fs.StringVar(&o.HopRoleARN, "hop-role-arn", "", "Superviber's hop role for this tenant, from Superviber (required)")
	fs.StringVar(&o.ClientAccountID, "account-id", "", "your 12-digit AWS account id (required)")
	fs.StringVar(&o.Region, "region", "", "region of your Blue data, e.g. eu-west-1 (required)")
	fs.StringVar(&o.BucketName, "bucket", "", "name of the S3 bucket to create for Blue documents (required)")
	fs.StringVar(&o.TableName, "table", "", "name of the DynamoDB table to create (required)")
	fs.StringVar(&o.KMSKeyARN, "kms-key-arn", "", "an existing KMS key ARN in --region; empty: the Terraform module creates one")
	fs.StringVar(&o.ExternalID, "external-id", "", "the sts:ExternalId; empty: generated")
	fs.StringVar(&o.RoleName, "role-name", "", "name of the role to create (default blue-<tenant>)")
	fs.StringVar(&o.DataAccess, "data-access", DataAccessDirect, "direct (the server uses your bucket and table) or api (only your private API Gateway, whose Lambda alone uses them)")
	fs.StringVar(&o.SuperviberVPCEndpointID, "superviber-vpc-endpoint-id", "", "Superviber's execute-api VPC endpoint, from Superviber (required with --data-access api)")
	fs.StringVar(&out, "out", "", "also write the kit's policy files, terraform.tfvars.json and infisical.env here")
	fs.BoolVar(&force, "force", false, "overwrite files in --out (a new ExternalId would no longer match an applied role)")
	fs.BoolVar(&asJSON, "json", false, "print the kit as JSON instead of text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("onboard: unexpected arguments %q", fs.Args())
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"--tenant", o.Tenant}, {"--hop-role-arn", o.HopRoleARN}, {"--account-id", o.ClientAccountID},
		{"--region", o.Region}, {"--bucket", o.BucketName}, {"--table", o.TableName},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("onboard: %s required (see blue-mcp onboard -h)", strings.Join(missing, ", "))
	}
	r, err := Kit(o)
	if err != nil {
		return err
	}
	if out != "" {
		if err := r.WriteFiles(out, force); err != nil {
			return err
		}
	}
	if asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if _, err := io.WriteString(stdout, r.Text()); err != nil {
		return err
	}
	if out != "" {
		_, err = fmt.Fprintf(stdout, "\nWrote %s in %s.\n", strings.Join(r.FileNames(), ", "), out)
	}
	return err
}

// Files WriteFiles writes. The Lambda and API files are written in api mode
// only.
const (
	FileTrustPolicy       = "trust-policy.json"
	FilePermissionPolicy  = "permission-policy.json"
	FileLambdaTrustPolicy = "lambda-trust-policy.json"
	FileLambdaPolicy      = "lambda-policy.json"
	FileAPIResourcePolicy = "api-resource-policy.json"
	FileTFVars            = "terraform.tfvars.json"
	FileInfisicalEnv      = "infisical.env"
)

type kitFile struct {
	name string
	data []byte
	mode os.FileMode
}

// files are the kit's files, those holding the ExternalId private (0600).
func (r *Result) files() []kitFile {
	var env strings.Builder
	for _, s := range r.Secrets {
		if s.Value == "" {
			fmt.Fprintf(&env, "# %s: %s\n", s.Name, s.Note)
			continue
		}
		fmt.Fprintf(&env, "%s=%s\n", s.Name, s.Value)
	}
	files := []kitFile{
		{FileTrustPolicy, []byte(r.TrustPolicy.JSON() + "\n"), 0o600},
		{FilePermissionPolicy, []byte(r.PermissionPolicy.JSON() + "\n"), 0o644},
	}
	if r.DataAccess == DataAccessAPI {
		files = append(files,
			kitFile{FileLambdaTrustPolicy, []byte(r.LambdaTrustPolicy.JSON() + "\n"), 0o644},
			kitFile{FileLambdaPolicy, []byte(r.LambdaPolicy.JSON() + "\n"), 0o644},
			kitFile{FileAPIResourcePolicy, []byte(r.APIResourcePolicy.JSON() + "\n"), 0o644})
	}
	return append(files,
		kitFile{FileTFVars, r.TerraformVarsJSON(), 0o600},
		kitFile{FileInfisicalEnv, []byte(env.String()), 0o600})
}

// FileNames names the files WriteFiles writes for this kit.
func (r *Result) FileNames() []string {
	var out []string
	for _, f := range r.files() {
		out = append(out, f.name)
	}
	return out
}

// WriteFiles writes the kit's files into dir (created if absent). The files
// holding the ExternalId are private (0600). Existing files are kept unless
// force: regenerating would change a generated ExternalId.
func (r *Result) WriteFiles(dir string, force bool) error {
	files := r.files()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("onboard: %w", err)
	}
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
				exist = append(exist, f.name)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("onboard: %w", err)
			}
		}
		if len(exist) > 0 {
			return fmt.Errorf("onboard: %s already in %s; keep them (they hold the ExternalId your role may already trust) or pass --force", strings.Join(exist, ", "), dir)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("onboard: %w", err)
		}
	}
	return nil
}
