package dynamotest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/test/dynamotest"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestDynaliteServesRecordsAndFaults(t *testing.T) {
	srv := dynamotest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := srv.Client("AKIDCLIENTROLE", "secret")

	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String("tab1"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("G"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("ByG"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("G"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// CreateTable answers while the table is still CREATING.
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("tab1")}, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	put := func() error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String("tab1"),
			Item:                map[string]types.AttributeValue{"PK": s("a"), "SK": s("1"), "G": s("g")},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := put(); !errors.As(err, &ccf) {
		t.Fatalf("second conditional put: got %v, want ConditionalCheckFailedException", err)
	}
	q, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String("tab1"),
		IndexName:                 aws.String("ByG"),
		KeyConditionExpression:    aws.String("G = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": s("g")},
	})
	if err != nil || len(q.Items) != 1 {
		t.Fatalf("GSI query: %d items, %v", len(q.Items), err)
	}

	// The limitation the store is designed around.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
		Put: &types.Put{TableName: aws.String("tab1"), Item: map[string]types.AttributeValue{"PK": s("b"), "SK": s("1")}},
	}}})
	if err == nil {
		t.Fatal("dynalite accepted TransactWriteItems; the store's single-item design note is out of date")
	}

	calls := srv.Calls()
	ops := map[string]bool{}
	for _, call := range calls {
		ops[call.Op] = true
		if call.AccessKeyID != "AKIDCLIENTROLE" {
			t.Errorf("call %s signed by %q", call.Op, call.AccessKeyID)
		}
	}
	for _, want := range []string{"dynamodb:CreateTable", "dynamodb:PutItem", "dynamodb:Query"} {
		if !ops[want] {
			t.Errorf("missing recorded op %s in %+v", want, calls)
		}
	}
	for _, call := range calls {
		if call.Op == "dynamodb:Query" && (call.Table != "tab1" || call.Index != "ByG") {
			t.Errorf("query recorded as %+v", call)
		}
	}

	// An answered fault reaches the SDK as the API error it names.
	srv.SetFault(func(r dynamotest.Request) *dynamotest.Fault {
		if r.Op == "GetItem" {
			return &dynamotest.Fault{Status: 400, Type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", Message: "revoked"}
		}
		return nil
	})
	_, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tab1"), Key: map[string]types.AttributeValue{"PK": s("a"), "SK": s("1")}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("fault: got %v", err)
	}
	// A dropped connection is an error too, and clearing the hook heals.
	srv.SetFault(func(r dynamotest.Request) *dynamotest.Fault { return &dynamotest.Fault{Drop: true} })
	nc := dynamodb.New(c.Options(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if _, err = nc.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tab1"), Key: map[string]types.AttributeValue{"PK": s("a"), "SK": s("1")}}); err == nil {
		t.Fatal("dropped connection: no error")
	}
	srv.SetFault(nil)
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tab1"), Key: map[string]types.AttributeValue{"PK": s("a"), "SK": s("1")}})
	if err != nil || got.Item["G"].(*types.AttributeValueMemberS).Value != "g" {
		t.Fatalf("after fault: %v %v", got, err)
	}
}

func TestCloseKillsDynalite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := dynamotest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid := srv.Pid()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("dynalite not running before Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for the process, so it is gone (reaped) by now.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("dynalite pid %d still exists after Close: %v", pid, err)
	}
	if _, err := srv.Client("", "").ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Fatal("endpoint still answers after Close")
	}
}

func TestMissingNodeModulesNamesTheMakeTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := dynamotest.FindNodeModulesFrom(dir)
	if err == nil || !strings.Contains(err.Error(), "make node_modules") {
		t.Fatalf("got %v, want an error naming `make node_modules`", err)
	}
}
