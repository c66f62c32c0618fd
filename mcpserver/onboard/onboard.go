// Package onboard builds a client's onboarding kit: the IAM trust and
// permission policies of the role the tenant's server assumes in the client's
// account, the Infisical secrets the server reads, and the variables of the
// Terraform module in deploy/terraform/client that creates all of it.
//
// A kit is for one of two data-access modes. In "direct" mode the role
// reads and writes the bucket and table itself. In "api" mode the role may
// only invoke the client's private API Gateway (execute-api:Invoke on the
// routes of apigw.Routes), reached only through Superviber's execute-api VPC
// endpoint; the data Lambda behind it is the only principal with S3,
// DynamoDB and KMS rights, and the kit gives its policies and the API's
// resource policy too.
//
// The permission policy is least privilege and derived from what the server
// does, not from what it might do: the S3 and DynamoDB actions are exactly the
// ones the store and the server's access check call (a test runs a document
// journey against the test world and compares, both ways), on the Blue
// bucket's objects, the bucket itself, the table and its two indexes, and the
// client's KMS key only through S3 and DynamoDB (kms:ViaService). The trust
// policy names the tenant's own hop role (not Superviber's account root, so
// another tenant's pod cannot assume the role) and requires the ExternalId;
// it also lets that hop role set a source identity (the engineer calling the
// tool), so the client's CloudTrail tells engineers apart.
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

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

// The data-access modes (Options.DataAccess, the module's data_access).
const (
	// DataAccessDirect: the server reads and writes the client's bucket and
	// table with the role's credentials.
	DataAccessDirect = "direct"
	// DataAccessAPI: the role may only invoke the client's private API
	// Gateway; the data Lambda behind it alone touches the bucket, table
	// and key.
	DataAccessAPI = "api"
)

// APIStageName is the stage of the client's API (the module's
// local.api_stage): API_ENDPOINT ends in it, and every route ARN names it.
const APIStageName = "blue"

// RestAPIIDPlaceholder stands for the id of the API the Terraform module
// creates in policies rendered before it exists. It is not an id, so IAM and
// API Gateway refuse a policy still carrying it.
const RestAPIIDPlaceholder = "<rest_api_id output of deploy/terraform/client>"

// LambdaService is the service principal the data Lambda's role trusts.
const LambdaService = "lambda.amazonaws.com"

// Options are the onboarding inputs. Superviber gives the client Tenant,
// HopRoleARN, ExternalID and, for api mode, SuperviberVPCEndpointID; the
// client chooses the rest.
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
	// DataAccess is DataAccessDirect (the default when empty) or
	// DataAccessAPI.
	DataAccess string
	// SuperviberVPCEndpointID is Superviber's execute-api interface VPC
	// endpoint (vpce-...), from Superviber: in api mode the API's resource
	// policy admits requests only through it. Required in api mode, refused
	// in direct mode.
	SuperviberVPCEndpointID string
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

	// DataAccess is DataAccessDirect or DataAccessAPI.
	DataAccess string `json:"data_access"`
	// SuperviberVPCEndpointID is set in api mode.
	SuperviberVPCEndpointID string `json:"superviber_vpc_endpoint_id,omitempty"`

	TrustPolicy Policy `json:"trust_policy"`
	// PermissionPolicy is the role's inline policy: PermissionPolicy's (the
	// storage and the access check) in direct mode, InvokePolicy's in api
	// mode.
	PermissionPolicy Policy `json:"permission_policy"`

	// In api mode: the data Lambda, its role (the only principal with
	// storage rights) and the API's resource policy. The API's id is
	// RestAPIIDPlaceholder in every policy naming it.
	LambdaFunctionName string  `json:"lambda_function_name,omitempty"`
	LambdaRoleName     string  `json:"lambda_role_name,omitempty"`
	LambdaTrustPolicy  *Policy `json:"lambda_trust_policy,omitempty"`
	LambdaPolicy       *Policy `json:"lambda_policy,omitempty"`
	APIResourcePolicy  *Policy `json:"api_resource_policy,omitempty"`

	// Secrets are the Infisical secrets: in direct mode
	// tenantconfig.WorkspaceKeys, in api mode AWS_ROLE_ARN and API_ENDPOINT.
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
// lists, so every rendering has the same shape. Principal "*" is written
// {"AWS": "*"}, which IAM reads the same.
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
	s3ObjectActions = []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
	s3BucketActions = []string{"s3:ListBucket"}
	ddbTableActions = []string{"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"}
	ddbIndexActions = []string{"dynamodb:Query"}
	kmsActions      = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
	// The server's access check in direct mode (mcpserver/backend): the
	// bucket's default encryption (GetBucketEncryption) and the table's
	// description.
	accessCheckActions = []string{"dynamodb:DescribeTable", "s3:GetEncryptionConfiguration"}
	storeIndexes       = []string{store.IndexByKind, store.IndexByKindStatus}
	supportedDomains   = map[string]string{"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}
)

// TrustPolicy is the client role's trust policy: only the tenant's hop role,
// only with the ExternalId. The hop role may also set a source identity
// (the server passes the engineer calling the tool): AssumeRole with a
// SourceIdentity needs sts:SetSourceIdentity in the trust policy too. It is
// a statement of its own so the ExternalId condition stays exactly on
// sts:AssumeRole; setting a source identity alone grants nothing.
func TrustPolicy(hopRoleARN, externalID string) Policy {
	return Policy{Version: PolicyVersion, Statement: []Statement{
		{
			Sid:       "BlueTenantHopRole",
			Effect:    "Allow",
			Principal: map[string]string{"AWS": hopRoleARN},
			Action:    []string{"sts:AssumeRole"},
			Condition: map[string]map[string]any{"StringEquals": {"sts:ExternalId": externalID}},
		},
		{
			Sid:       "BlueTenantHopRoleSourceIdentity",
			Effect:    "Allow",
			Principal: map[string]string{"AWS": hopRoleARN},
			Action:    []string{"sts:SetSourceIdentity"},
		},
	}}
}

// Grants names what PermissionPolicy grants on.
type Grants struct {
	Partition, Region, AccountID string
	BucketName, TableName        string
	// KMSKeyARN may be KMSKeyPlaceholder.
	KMSKeyARN string
}

// PermissionPolicy is the client role's permission policy in direct mode:
// StoragePolicy's statements and the server's access check, which reads the
// bucket's default encryption and the table's description with the role's
// credentials to tell the client (in the BlueTenant's ClientAccess
// condition) whether its storage is still there and under its key.
func PermissionPolicy(g Grants) Policy {
	p := StoragePolicy(g)
	bucket := BucketARN(g.Partition, g.BucketName)
	table := TableARN(g.Partition, g.Region, g.AccountID, g.TableName)
	p.Statement = append(p.Statement, Statement{
		Sid: "BlueAccessCheck", Effect: "Allow", Action: clone(accessCheckActions), Resource: []string{bucket, table},
	})
	return p
}

// StoragePolicy is what the store calls on the bucket, the table and its
// indexes, and the key: the data Lambda's storage rights in api mode, and
// the direct-mode role's with the access check.
func StoragePolicy(g Grants) Policy {
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

// What the data Lambda writes to CloudWatch Logs (the module creates its log
// group, so it never needs logs:CreateLogGroup).
var lambdaLogActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

// LambdaPolicy is the data Lambda role's policy in api mode: StoragePolicy
// (the Lambda serves the same store) and its own log group.
func LambdaPolicy(g Grants, functionName string) Policy {
	p := StoragePolicy(g)
	p.Statement = append(p.Statement, Statement{
		Sid: "BlueLambdaLogs", Effect: "Allow", Action: clone(lambdaLogActions),
		Resource: []string{LambdaLogGroupARN(g.Partition, g.Region, g.AccountID, functionName) + ":*"},
	})
	return p
}

// LambdaTrustPolicy is the data Lambda role's trust policy: Lambda only.
func LambdaTrustPolicy() Policy {
	return Policy{Version: PolicyVersion, Statement: []Statement{{
		Sid: "LambdaService", Effect: "Allow", Principal: map[string]string{"Service": LambdaService},
		Action: []string{"sts:AssumeRole"},
	}}}
}

// LambdaFunctionName is the data Lambda's name for a tenant (the module's
// local.lambda_name): at most 63 characters for a tenant of at most 58.
func LambdaFunctionName(tenant string) string { return "blue-" + tenant }

// LambdaRoleName is the data Lambda role's name for the client role's name
// (the module's local.lambda_role_name): the role name cut to 59
// characters, then "-data", so it fits IAM's 64.
func LambdaRoleName(roleName string) string {
	return roleName[:min(len(roleName), 59)] + "-data"
}

// LambdaLogGroupARN is the ARN of the data Lambda's log group.
func LambdaLogGroupARN(partition, region, account, functionName string) string {
	return "arn:" + partition + ":logs:" + region + ":" + account + ":log-group:/aws/lambda/" + functionName
}

// APIGrants names what the api-mode policies grant on and to.
type APIGrants struct {
	Partition, Region, AccountID string
	// RestAPIID may be RestAPIIDPlaceholder.
	RestAPIID string
	// RoleARN is the client role the server assumes.
	RoleARN string
	// VPCEndpointID is Superviber's execute-api VPC endpoint.
	VPCEndpointID string
}

// ExecutionARN is the execute-api ARN of a REST API.
func ExecutionARN(partition, region, account, restAPIID string) string {
	return "arn:" + partition + ":execute-api:" + region + ":" + account + ":" + restAPIID
}

// RouteARNs are the execute-api ARNs of the contract's routes in the API's
// stage, in apigw.Routes order: <stage>/<METHOD>/v1/*/<path>, the kind and
// the path parameters as "*". Only these methods and paths are granted.
func RouteARNs(executionARN string) []string {
	var out []string
	for _, r := range apigw.Routes {
		p := strings.NewReplacer("{id}", "*", "{version}", "*").Replace(r.Path)
		out = append(out, executionARN+"/"+APIStageName+"/"+r.Method+"/v1/*"+p)
	}
	return out
}

// InvokePolicy is the client role's policy in api mode: execute-api:Invoke
// on the API's routes and nothing else (no S3, DynamoDB or KMS).
func InvokePolicy(a APIGrants) Policy {
	exec := ExecutionARN(a.Partition, a.Region, a.AccountID, a.RestAPIID)
	return Policy{Version: PolicyVersion, Statement: []Statement{{
		Sid: "BlueAPI", Effect: "Allow", Action: []string{"execute-api:Invoke"}, Resource: RouteARNs(exec),
	}}}
}

// APIResourcePolicy is the private API's resource policy: it refuses every
// request that does not come through Superviber's VPC endpoint and every
// principal but the client role, and allows that role the routes.
func APIResourcePolicy(a APIGrants) Policy {
	exec := ExecutionARN(a.Partition, a.Region, a.AccountID, a.RestAPIID)
	anyone := map[string]string{"AWS": "*"}
	return Policy{Version: PolicyVersion, Statement: []Statement{
		{
			Sid: "DenyOutsideSuperviberEndpoint", Effect: "Deny", Principal: anyone,
			Action: []string{"execute-api:Invoke"}, Resource: []string{exec + "/*"},
			Condition: map[string]map[string]any{"StringNotEquals": {"aws:SourceVpce": a.VPCEndpointID}},
		},
		{
			Sid: "DenyOtherPrincipals", Effect: "Deny", Principal: anyone,
			Action: []string{"execute-api:Invoke"}, Resource: []string{exec + "/*"},
			Condition: map[string]map[string]any{"ArnNotEquals": {"aws:PrincipalArn": a.RoleARN}},
		},
		{
			Sid: "AllowBlueRole", Effect: "Allow", Principal: map[string]string{"AWS": a.RoleARN},
			Action: []string{"execute-api:Invoke"}, Resource: RouteARNs(exec),
		},
	}}
}

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
	tenantRE   = lazyRegexp(`^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$`)
	hopRoleRE  = lazyRegexp(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):iam::([0-9]{12}):role/([A-Za-z0-9+=,.@_/-]{1,512})$`)
	accountRE  = lazyRegexp(`^[0-9]{12}$`)
	regionRE   = lazyRegexp(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$`)
	bucketRE   = lazyRegexp(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	tableRE    = lazyRegexp(`^[A-Za-z0-9_.-]{3,255}$`)
	kmsKeyRE   = lazyRegexp(`^arn:(aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):([0-9]{12}):key/([A-Za-z0-9-]{1,128})$`)
	roleNameRE = lazyRegexp(`^[\w+=,.@-]{1,64}$`)
	vpceRE     = lazyRegexp(`^vpce-[0-9a-f]{8}([0-9a-f]{9})?$`)
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
	} else if len(externalID) < 32 || len(externalID) > contract.MaxExternalIDLen || !contract.ExternalIDChars(externalID) {
		bad("external id must be 32 to 1224 characters of letters, digits and +=,.@:/_- (leave it empty to generate one)")
	}
	roleName := o.RoleName
	if roleName == "" {
		roleName = "blue-" + o.Tenant
	}
	if !roleNameRE().MatchString(roleName) {
		bad("role name %q must be 1-64 characters of letters, digits and +=,.@_-", roleName)
	}
	mode := o.DataAccess
	if mode == "" {
		mode = DataAccessDirect
	}
	switch mode {
	case DataAccessDirect:
		if o.SuperviberVPCEndpointID != "" {
			bad("Superviber's VPC endpoint %q is only for data access %q (the API is reached only through it); leave it empty in %q mode", o.SuperviberVPCEndpointID, DataAccessAPI, DataAccessDirect)
		}
	case DataAccessAPI:
		if !vpceRE().MatchString(o.SuperviberVPCEndpointID) {
			bad("Superviber's VPC endpoint id %q must be the execute-api endpoint id Superviber gave you, such as vpce-0123456789abcdef0 (data access %q requires it)", o.SuperviberVPCEndpointID, DataAccessAPI)
		}
	default:
		bad("data access %q must be %q (the server uses your bucket and table) or %q (only your private API Gateway)", o.DataAccess, DataAccessDirect, DataAccessAPI)
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
		KMSKeyARN: o.KMSKeyARN, DataAccess: mode,
	}
	key := o.KMSKeyARN
	if key == "" {
		key = KMSKeyPlaceholder
	}
	storage := Grants{
		Partition: partition, Region: o.Region, AccountID: o.ClientAccountID,
		BucketName: o.BucketName, TableName: o.TableName, KMSKeyARN: key,
	}
	r.TrustPolicy = TrustPolicy(o.HopRoleARN, externalID)
	if mode == DataAccessAPI {
		api := APIGrants{
			Partition: partition, Region: o.Region, AccountID: o.ClientAccountID,
			RestAPIID: RestAPIIDPlaceholder, RoleARN: r.RoleARN, VPCEndpointID: o.SuperviberVPCEndpointID,
		}
		r.SuperviberVPCEndpointID = o.SuperviberVPCEndpointID
		r.PermissionPolicy = InvokePolicy(api)
		r.LambdaFunctionName = LambdaFunctionName(o.Tenant)
		r.LambdaRoleName = LambdaRoleName(roleName)
		lt, lp, rp := LambdaTrustPolicy(), LambdaPolicy(storage, r.LambdaFunctionName), APIResourcePolicy(api)
		r.LambdaTrustPolicy, r.LambdaPolicy, r.APIResourcePolicy = &lt, &lp, &rp
		r.Secrets = []Secret{
			// Only the role and the API: the bucket, table and key are the
			// Lambda's business, not the server's.
			{Name: tenantconfig.KeyRoleARN, Value: r.RoleARN},
			{Name: tenantconfig.KeyAPIEndpoint, Note: "after terraform apply: terraform output -raw api_endpoint"},
		}
	} else {
		r.PermissionPolicy = PermissionPolicy(storage)
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
		"data_access":  mode,
	}
	if mode == DataAccessAPI {
		r.TerraformVars["superviber_vpc_endpoint_id"] = o.SuperviberVPCEndpointID
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
	api := r.DataAccess == DataAccessAPI
	p("Blue onboarding kit for tenant %s\n", r.Tenant)
	p("================================%s\n\n", strings.Repeat("=", len(r.Tenant)))
	p("Your AWS account %s, region %s. Superviber's server for %s reaches your data\n", r.AccountID, r.Region, r.Tenant)
	p("only by assuming role %s\n", r.RoleARN)
	p("from its hop role %s with the ExternalId below.\n", r.HopRoleARN)
	if api {
		p("Data access %q: that role may only invoke your private API Gateway, and only\n", r.DataAccess)
		p("through Superviber's VPC endpoint %s; your data Lambda %s alone\n", r.SuperviberVPCEndpointID, r.LambdaFunctionName)
		p("reads and writes the bucket and table.\n")
	}
	p("Revoke access at any time by deleting that role (or its trust policy).\n\n")

	p("1. Create the resources with Terraform (deploy/terraform/client)\n\n")
	p("   Copy deploy/terraform/client and save this in it as terraform.tfvars.json (it holds the\n")
	p("   ExternalId: keep it out of version control):\n\n")
	for _, line := range strings.Split(strings.TrimRight(string(r.TerraformVarsJSON()), "\n"), "\n") {
		p("   %s\n", line)
	}
	if api {
		p("\n   Put the data Lambda's zip beside it as blue-data-lambda.zip (`make lambda` builds\n")
		p("   bin/lambda/blue-data-lambda.zip; for arm64, LAMBDA_ARCH=arm64 and lambda_architecture = \"arm64\").\n")
	}
	p("\n   Then, with credentials for account %s:\n\n", r.AccountID)
	p("   AWS_REGION=%s terraform init && AWS_REGION=%s terraform apply\n\n", r.Region, r.Region)
	p("   It creates: role %s with the two policies below; bucket %s (SSE-KMS\n", r.RoleName, r.BucketName)
	p("   with a bucket key, versioning, public access blocked, TLS only); table %s\n", r.TableName)
	p("   (on-demand, point-in-time recovery, SSE with your key)")
	if r.KMSKeyARN == "" {
		p("; a KMS key with yearly rotation")
	}
	if api {
		p(";\n   a private REST API (IAM authorization on every method) with its resource\n")
		p("   policy; Lambda %s with its own role %s", r.LambdaFunctionName, r.LambdaRoleName)
	}
	p(";\n   and a CloudTrail trail recording every object and item access (its own bucket).\n\n")

	p("2. Or create the role by hand with these policies\n\n")
	p("   Trust policy:\n\n%s\n\n", indent(r.TrustPolicy.JSON(), "   "))
	if api {
		p("   Permission policy (inline): execute-api:Invoke on your API's routes, nothing else:\n\n%s\n\n", indent(r.PermissionPolicy.JSON(), "   "))
		p("   The data Lambda's role %s, the only one with storage rights. Trust policy:\n\n%s\n\n", r.LambdaRoleName, indent(r.LambdaTrustPolicy.JSON(), "   "))
		p("   Its permission policy (inline):\n\n%s\n\n", indent(r.LambdaPolicy.JSON(), "   "))
		p("   The API's resource policy:\n\n%s\n\n", indent(r.APIResourcePolicy.JSON(), "   "))
		p("   %s is the id of the API the Terraform module creates.\n", RestAPIIDPlaceholder)
	} else {
		p("   Permission policy (inline):\n\n%s\n\n", indent(r.PermissionPolicy.JSON(), "   "))
	}
	if r.KMSKeyARN == "" {
		p("   %s is the key the Terraform module creates.\n", KMSKeyPlaceholder)
	}
	if api || r.KMSKeyARN == "" {
		p("\n")
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
