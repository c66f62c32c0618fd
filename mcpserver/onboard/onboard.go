// Package onboard builds a client's onboarding kit: the IAM trust and
// permission policies of the role the tenant's server assumes in the client's
// account, the Infisical secrets the server reads, and the variables of the
// Terraform module in deploy/terraform/client that creates all of it.
//
// The permission policy is least privilege and derived from what the server
// does, not from what it might do: the S3 and DynamoDB actions are exactly the
// ones the store calls (the package's tests run a document journey against
// the test world and compare, both ways), on the Blue bucket's objects, the
// bucket itself, the table and its two indexes, and the client's KMS key only
// through S3 and DynamoDB (kms:ViaService). The trust policy names the
// tenant's own hop role (not Superviber's account root, so another tenant's
// pod cannot assume the role) and requires the ExternalId.
package onboard

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

// Options are the onboarding inputs. Superviber gives the client Tenant and
// HopRoleARN; the client chooses the rest.
type Options struct {
	// Tenant is the BlueTenant's name (a DNS label of at most 58 characters).
	Tenant string
	// HopRoleARN is Superviber's IRSA role for this tenant's pods, e.g.
	// arn:aws:iam::111111111111:role/blue-hop-acme. The client's role trusts
	// exactly this role.
	HopRoleARN string
	// ClientAccountID is the client's 12-digit AWS account id.
	ClientAccountID string
	// Region of the bucket, table and key, e.g. eu-west-1 (the BlueTenant's
	// spec.aws.region).
	Region string
	// BucketName and TableName name the client's Blue bucket and table.
	BucketName, TableName string
	// KMSKeyARN is the client's key (a key ARN in Region, not an alias).
	// Optional: when empty the Terraform module creates a key with rotation.
	KMSKeyARN string
	// ExternalID is the sts:ExternalId the trust policy requires. Optional:
	// when empty one is generated (48 hex characters from crypto/rand). A
	// given one must be 32 to 1224 characters of [A-Za-z0-9+=,.@:/_-].
	ExternalID string
	// RoleName names the client's role; default "blue-<tenant>".
	RoleName string
}

// Secret is one value the client stores in its Infisical folder.
type Secret struct {
	Name string `json:"name"`
	// Value is empty when it is known only after terraform apply (the
	// generated KMS key); Note then says where to read it.
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// Result is the onboarding kit.
type Result struct {
	Tenant    string `json:"tenant"`
	Partition string `json:"partition"`
	Region    string `json:"region"`
	AccountID string `json:"account_id"`

	HopRoleARN string `json:"hop_role_arn"`
	RoleName   string `json:"role_name"`
	RoleARN    string `json:"role_arn"`
	ExternalID string `json:"external_id"`
	// ExternalIDGenerated is true when Kit generated the ExternalId.
	ExternalIDGenerated bool `json:"external_id_generated"`

	BucketName string `json:"bucket_name"`
	BucketARN  string `json:"bucket_arn"`
	TableName  string `json:"table_name"`
	TableARN   string `json:"table_arn"`
	// KMSKeyARN is empty when the Terraform module creates the key; the
	// permission policy then names KMSKeyPlaceholder.
	KMSKeyARN string `json:"kms_key_arn"`

	TrustPolicy      Policy `json:"trust_policy"`
	PermissionPolicy Policy `json:"permission_policy"`
	// Secrets are the Infisical secrets, in tenantconfig.RequiredKeys order.
	Secrets []Secret `json:"infisical_secrets"`
	// TerraformVars are the inputs of deploy/terraform/client (terraform.tfvars.json).
	TerraformVars map[string]string `json:"terraform_vars"`
}

// KMSKeyPlaceholder stands for the key the Terraform module creates in a
// permission policy rendered before it exists. It is not an ARN, so IAM
// refuses a policy still carrying it.
const KMSKeyPlaceholder = "<kms_key_arn output of deploy/terraform/client>"

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement. Action and Resource are always
// lists, so every rendering has the same shape.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]string         `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// JSON renders the policy as indented JSON, as IAM and Terraform take it.
func (p Policy) JSON() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" stays "<" in the placeholder
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		// Only strings, string slices and maps of them: cannot fail.
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// PolicyVersion is the IAM policy language version.
const PolicyVersion = "2012-10-17"

// What the server calls, as IAM actions. The store uses nothing else: the
// tests compare these with the calls the test world records.
var (
	s3ObjectActions  = []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
	s3BucketActions  = []string{"s3:ListBucket"}
	ddbTableActions  = []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	ddbIndexActions  = []string{"dynamodb:Query"}
	kmsActions       = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
	storeIndexes     = []string{store.IndexByKind, store.IndexByKindStatus}
	supportedDomains = map[string]string{"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}
)

// TrustPolicy is the client role's trust policy: only the tenant's hop role,
// only with the ExternalId.
func TrustPolicy(hopRoleARN, externalID string) Policy {
	return Policy{Version: PolicyVersion, Statement: []Statement{{
		Sid:       "BlueTenantHopRole",
		Effect:    "Allow",
		Principal: map[string]string{"AWS": hopRoleARN},
		Action:    []string{"sts:AssumeRole"},
		Condition: map[string]map[string]any{"StringEquals": {"sts:ExternalId": externalID}},
	}}}
}

// Grants names what PermissionPolicy grants on.
type Grants struct {
	Partition, Region, AccountID string
	BucketName, TableName        string
	// KMSKeyARN may be KMSKeyPlaceholder.
	KMSKeyARN string
}

// PermissionPolicy is the client role's permission policy.
func PermissionPolicy(g Grants) Policy {
	bucket := BucketARN(g.Partition, g.BucketName)
	table := TableARN(g.Partition, g.Region, g.AccountID, g.TableName)
	var indexes []string
	for _, ix := range storeIndexes {
		indexes = append(indexes, table+"/index/"+ix)
	}
	domain := supportedDomains[g.Partition]
	return Policy{Version: PolicyVersion, Statement: []Statement{
		{Sid: "BlueObjects", Effect: "Allow", Action: clone(s3ObjectActions), Resource: []string{bucket + "/*"}},
		{Sid: "BlueBucket", Effect: "Allow", Action: clone(s3BucketActions), Resource: []string{bucket}},
		{Sid: "BlueTable", Effect: "Allow", Action: clone(ddbTableActions), Resource: []string{table}},
		{Sid: "BlueIndexes", Effect: "Allow", Action: clone(ddbIndexActions), Resource: indexes},
		{
			// SSE-KMS needs the caller's own KMS permission: S3 and DynamoDB
			// use the key on the caller's behalf. Only through them.
			Sid: "BlueKeyViaStorage", Effect: "Allow", Action: clone(kmsActions), Resource: []string{g.KMSKeyARN},
			Condition: map[string]map[string]any{"StringEquals": {"kms:ViaService": []string{
				"s3." + g.Region + "." + domain,
				"dynamodb." + g.Region + "." + domain,
			}}},
		},
	}}
}

func clone(s []string) []string { return append([]string(nil), s...) }

// BucketARN is an S3 bucket's ARN.
func BucketARN(partition, bucket string) string { return "arn:" + partition + ":s3:::" + bucket }

// TableARN is a DynamoDB table's ARN.
func TableARN(partition, region, account, table string) string {
	return "arn:" + partition + ":dynamodb:" + region + ":" + account + ":table/" + table
}

// The expressions are compiled on first use: only the onboard subcommand
// needs them, and their counted repeats would otherwise cost every server
// start close to 1 MB of heap.
var (
	tenantRE     = lazyRegexp(`^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$`)
	hopRoleRE    = lazyRegexp(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):iam::([0-9]{12}):role/([A-Za-z0-9+=,.@_/-]{1,512})$`)
	accountRE    = lazyRegexp(`^[0-9]{12}$`)
	regionRE     = lazyRegexp(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$`)
	bucketRE     = lazyRegexp(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	tableRE      = lazyRegexp(`^[A-Za-z0-9_.-]{3,255}$`)
	kmsKeyRE     = lazyRegexp(`^arn:(aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):([0-9]{12}):key/([A-Za-z0-9-]{1,128})$`)
	externalIDRE = lazyRegexp(`^[\w+=,.@:/-]+$`) // and 32 to 1224 long (RE2 repeats stop at 1000)
	roleNameRE   = lazyRegexp(`^[\w+=,.@-]{1,64}$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Kit validates the options and builds the onboarding kit. Every error says
// which field is wrong and what a valid one looks like.
func Kit(o Options) (*Result, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !tenantRE().MatchString(o.Tenant) {
		bad("tenant %q must be the BlueTenant's name: a lower-case DNS label of at most 58 characters, such as acme", o.Tenant)
	}
	partition, hopAccount := "", ""
	if m := hopRoleRE().FindStringSubmatch(o.HopRoleARN); m == nil || strings.Contains(m[3], "//") || strings.HasSuffix(m[3], "/") {
		bad("hop role ARN %q must be the IAM role ARN Superviber gave you, such as arn:aws:iam::111111111111:role/blue-hop-acme (a role, not an account root, user or assumed-role session)", o.HopRoleARN)
	} else {
		partition, hopAccount = m[1], m[2]
		if _, ok := supportedDomains[partition]; !ok {
			bad("hop role ARN %q: partition %s is not supported (use aws, aws-us-gov or aws-cn)", o.HopRoleARN, partition)
		}
	}
	if !accountRE().MatchString(o.ClientAccountID) {
		bad("client account id %q must be the 12 digits of your AWS account id", o.ClientAccountID)
	} else if o.ClientAccountID == hopAccount {
		bad("client account id %s is Superviber's account (from the hop role ARN): give the id of your own account, where your data lives", o.ClientAccountID)
	}
	if !regionRE().MatchString(o.Region) {
		bad("region %q must be an AWS region such as eu-west-1 (the BlueTenant's aws.region)", o.Region)
	}
	if !bucketRE().MatchString(o.BucketName) || strings.HasPrefix(o.BucketName, "xn--") || strings.HasSuffix(o.BucketName, "-s3alias") {
		bad("bucket name %q must be 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit (no dots: the server uses virtual-hosted TLS)", o.BucketName)
	}
	if !tableRE().MatchString(o.TableName) {
		bad("table name %q must be 3-255 characters of A-Z, a-z, 0-9, '_', '-' and '.'", o.TableName)
	}
	if o.KMSKeyARN != "" {
		if m := kmsKeyRE().FindStringSubmatch(o.KMSKeyARN); m == nil {
			bad("KMS key ARN %q must be a key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias), or empty to let the Terraform module create one", o.KMSKeyARN)
		} else {
			if partition != "" && m[1] != partition {
				bad("KMS key ARN %q is in partition %s, the hop role in %s", o.KMSKeyARN, m[1], partition)
			}
			if m[2] != o.Region {
				bad("KMS key ARN %q is in region %s: S3 and DynamoDB need a key in the data's region %s", o.KMSKeyARN, m[2], o.Region)
			}
		}
	}
	externalID, generated := o.ExternalID, false
	if externalID == "" {
		externalID, generated = NewExternalID(), true
	} else if len(externalID) < 32 || len(externalID) > 1224 || !externalIDRE().MatchString(externalID) {
		bad("external id must be 32 to 1224 characters of letters, digits and +=,.@:/_- (leave it empty to generate one)")
	}
	roleName := o.RoleName
	if roleName == "" {
		roleName = "blue-" + o.Tenant
	}
	if !roleNameRE().MatchString(roleName) {
		bad("role name %q must be 1-64 characters of letters, digits and +=,.@_-", roleName)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("onboarding options: %w", errors.Join(errs...))
	}

	r := &Result{
		Tenant: o.Tenant, Partition: partition, Region: o.Region, AccountID: o.ClientAccountID,
		HopRoleARN: o.HopRoleARN, RoleName: roleName,
		RoleARN:    "arn:" + partition + ":iam::" + o.ClientAccountID + ":role/" + roleName,
		ExternalID: externalID, ExternalIDGenerated: generated,
		BucketName: o.BucketName, BucketARN: BucketARN(partition, o.BucketName),
		TableName: o.TableName, TableARN: TableARN(partition, o.Region, o.ClientAccountID, o.TableName),
		KMSKeyARN: o.KMSKeyARN,
	}
	key := o.KMSKeyARN
	if key == "" {
		key = KMSKeyPlaceholder
	}
	r.TrustPolicy = TrustPolicy(o.HopRoleARN, externalID)
	r.PermissionPolicy = PermissionPolicy(Grants{
		Partition: partition, Region: o.Region, AccountID: o.ClientAccountID,
		BucketName: o.BucketName, TableName: o.TableName, KMSKeyARN: key,
	})
	kmsSecret := Secret{Name: tenantconfig.KeyKMSKeyID, Value: o.KMSKeyARN}
	if o.KMSKeyARN == "" {
		kmsSecret.Note = "after terraform apply: terraform output -raw kms_key_arn"
	}
	r.Secrets = []Secret{
		// No EXTERNAL_ID: the server presents the one the operator issued.
		{Name: tenantconfig.KeyRoleARN, Value: r.RoleARN},
		{Name: tenantconfig.KeyBucket, Value: o.BucketName},
		{Name: tenantconfig.KeyTable, Value: o.TableName},
		kmsSecret,
	}
	r.TerraformVars = map[string]string{
		"tenant":       o.Tenant,
		"region":       o.Region,
		"hop_role_arn": o.HopRoleARN,
		"external_id":  externalID,
		"role_name":    roleName,
		"bucket_name":  o.BucketName,
		"table_name":   o.TableName,
		"kms_key_arn":  o.KMSKeyARN,
	}
	return r, nil
}

// NewExternalID returns 192 random bits as 48 hex characters.
func NewExternalID() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// TerraformVarsJSON is terraform.tfvars.json for deploy/terraform/client. It holds
// the ExternalId: keep it out of version control.
func (r *Result) TerraformVarsJSON() []byte {
	b, err := json.MarshalIndent(r.TerraformVars, "", "  ")
	if err != nil {
		panic(err) // a map of strings cannot fail
	}
	return append(b, '\n')
}

// Text renders the kit for a person: what to apply, what to store where, and
// what to send Superviber.
func (r *Result) Text() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Blue onboarding kit for tenant %s\n", r.Tenant)
	p("================================%s\n\n", strings.Repeat("=", len(r.Tenant)))
	p("Your AWS account %s, region %s. Superviber's server for %s reaches your data\n", r.AccountID, r.Region, r.Tenant)
	p("only by assuming role %s\n", r.RoleARN)
	p("from its hop role %s with the ExternalId below.\n", r.HopRoleARN)
	p("Revoke access at any time by deleting that role (or its trust policy).\n\n")

	p("1. Create the resources with Terraform (deploy/terraform/client)\n\n")
	p("   Copy deploy/terraform/client and save this in it as terraform.tfvars.json (it holds the\n")
	p("   ExternalId: keep it out of version control):\n\n")
	for _, line := range strings.Split(strings.TrimRight(string(r.TerraformVarsJSON()), "\n"), "\n") {
		p("   %s\n", line)
	}
	p("\n   Then, with credentials for account %s:\n\n", r.AccountID)
	p("   AWS_REGION=%s terraform init && AWS_REGION=%s terraform apply\n\n", r.Region, r.Region)
	p("   It creates: role %s with the two policies below; bucket %s (SSE-KMS\n", r.RoleName, r.BucketName)
	p("   with a bucket key, versioning, public access blocked, TLS only); table %s\n", r.TableName)
	p("   (on-demand, point-in-time recovery, SSE with your key)")
	if r.KMSKeyARN == "" {
		p("; and a KMS key with yearly rotation")
	}
	p(".\n\n")

	p("2. Or create the role by hand with these policies\n\n")
	p("   Trust policy:\n\n%s\n\n", indent(r.TrustPolicy.JSON(), "   "))
	p("   Permission policy (inline):\n\n%s\n\n", indent(r.PermissionPolicy.JSON(), "   "))
	if r.KMSKeyARN == "" {
		p("   %s is the key the Terraform module creates.\n\n", KMSKeyPlaceholder)
	}

	p("3. Create these secrets in your Infisical project (environment and folder as\n")
	p("   you will tell Superviber, e.g. prod and /blue)\n\n")
	w := 0
	for _, s := range r.Secrets {
		w = max(w, len(s.Name))
	}
	for _, s := range r.Secrets {
		v := s.Value
		if v == "" {
			v = "(" + s.Note + ")"
		}
		p("   %-*s  %s\n", w, s.Name, v)
	}
	p("\n   and give the machine identity the server logs in with read access to that\n")
	p("   folder (docs/onboarding.md).\n\n")

	p("4. Send Superviber: the Infisical project id, environment and folder, and the\n")
	p("   region %s. Nothing else: the values above stay in your Infisical.\n\n", r.Region)

	p("Export and offboarding: blue-mcp export --bucket %s --table %s --region %s --dir .blue/docs\n", r.BucketName, r.TableName, r.Region)
	p("writes every document in Blue's .blue/docs layout with your own AWS credentials.\n")
	return b.String()
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
