package localstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"

	"github.com/superviber/blue-operator/test/node"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// The client-side systems' addresses in the node's network
// (node.InternetPrefix), as a cloud's public endpoints are to its pods.
var (
	stsIP       = netip.MustParseAddr("203.0.113.10")
	s3IP        = netip.MustParseAddr("203.0.113.11")
	dynamoIP    = netip.MustParseAddr("203.0.113.12")
	infisicalIP = netip.MustParseAddr("203.0.113.13")
	// firstAPIIP is the first client API Gateway's address; each next
	// client's is the one after.
	firstAPIIP = netip.MustParseAddr("203.0.113.20")
)

// Internet is the local stand-in for the public internet the pods reach:
// where each client-side system is, and the CA that signs the
// certificates of the client's own systems (its Infisical and its API
// Gateway's domain), which its BlueTenant names as a client with a private
// CA does (spec.infisical.caBundle, spec.aws.apiCABundle). The server image
// is the shipped one and trusts only the public CAs otherwise, so the
// stand-ins for AWS's own endpoints are plain HTTP, on the HTTPS port the
// NetworkPolicy opens.
type Internet struct {
	ca *testutil.CA
	// CAPEM is the CA's certificate.
	CAPEM []byte
	// The URLs the pods use: what the operator's AWS endpoint flags and the
	// tenants' spec.infisical.siteURL name.
	STSURL, S3URL, DynamoDBURL, InfisicalURL string
	nextAPI                                  netip.Addr
}

func newInternet() (*Internet, error) {
	ca, err := testutil.NewCA("blue-operator local internet CA")
	if err != nil {
		return nil, err
	}
	return &Internet{
		ca: ca, CAPEM: ca.CertPEM,
		STSURL: plainURL(stsIP), S3URL: plainURL(s3IP), DynamoDBURL: plainURL(dynamoIP),
		InfisicalURL: "https://" + infisicalIP.String(),
		nextAPI:      firstAPIIP,
	}, nil
}

// plainURL is plain HTTP at ip on the exposed (HTTPS) port.
func plainURL(ip netip.Addr) string {
	return "http://" + net.JoinHostPort(ip.String(), node.ExposedPort)
}

// Issue signs a server certificate for hosts, PEM-encoded.
func (in *Internet) Issue(hosts ...string) (certPEM, keyPEM []byte, err error) {
	return in.ca.Issue(hosts...)
}

// expose puts STS, S3 and DynamoDB at their addresses in the node's
// network, and Infisical, HTTPS terminated there.
func (in *Internet) expose(ctx context.Context, n *node.Node, w *world.World) error {
	for _, e := range []struct {
		ip     netip.Addr
		target string
	}{
		{stsIP, w.STSURL}, {s3IP, w.S3.Endpoint()}, {dynamoIP, w.DDB.Endpoint()},
	} {
		host, err := hostOf(e.target)
		if err != nil {
			return err
		}
		if _, err := n.Expose(ctx, e.ip.String(), host); err != nil {
			return err
		}
	}
	_, err := in.exposeAt(ctx, n, infisicalIP, w.Infisical.URL())
	return err
}

// exposeAPI puts a client's API Gateway at the next free address, and
// returns its URL there.
func (in *Internet) exposeAPI(ctx context.Context, n *node.Node, tenant, target string) (string, error) {
	ip := in.nextAPI
	in.nextAPI = ip.Next()
	u, err := in.exposeAt(ctx, n, ip, target)
	if err != nil {
		return "", fmt.Errorf("%s's API Gateway: %w", tenant, err)
	}
	return u, nil
}

func (in *Internet) exposeAt(ctx context.Context, n *node.Node, ip netip.Addr, target string) (string, error) {
	host, err := hostOf(target)
	if err != nil {
		return "", err
	}
	cert, err := in.ca.IssueTLS(ip.String())
	if err != nil {
		return "", err
	}
	if _, err := n.ExposeTLS(ctx, ip.String(), host, cert); err != nil {
		return "", err
	}
	return "https://" + ip.String(), nil
}

// hostOf is the host:port of a local server's URL.
func hostOf(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a server's URL", target)
	}
	return u.Host, nil
}
