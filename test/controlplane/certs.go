package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/superviber/blue-operator/test/testutil"
)

// KubernetesServiceIP is the kubernetes Service's ClusterIP: the first
// address of the API server's service range (envtest's 10.0.0.0/24), which
// a pod's client library dials (KUBERNETES_SERVICE_HOST).
const KubernetesServiceIP = "10.0.0.1"

// clusterServingNames are the names a cluster's API server certificate
// carries besides its addresses, so that a client in a pod verifies it
// whichever name it dials.
var clusterServingNames = []string{
	"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
}

// writeClusterCerts writes what envtest would write into the API server's
// certificate directory (apiserver.crt and .key, the service-account signing
// key sa-signer.key and its public half sa-signer.crt), and returns the CA
// that signed the serving certificate. envtest keeps files it finds there,
// and its own certificate names 127.0.0.1 and localhost only; this one also
// names the advertised addresses and the kubernetes Service, as a cluster's
// does, so a pod's in-cluster client (the operator's, an ingress
// controller's) verifies the server as it would on a cluster.
func writeClusterCerts(dir string, addresses ...string) (caPEM []byte, err error) {
	ca, err := testutil.NewCA("blue-operator test cluster CA")
	if err != nil {
		return nil, err
	}
	hosts := append(slices.Clone(clusterServingNames), "127.0.0.1", KubernetesServiceIP)
	for _, a := range addresses {
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("API server address %q is not an IP address", a)
		}
		hosts = append(hosts, a)
	}
	crt, key, err := ca.Issue(hosts...)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	// The service-account signer, RSA as envtest's (every token verifier
	// takes RS256).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	saPriv, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"apiserver.crt": crt,
		"apiserver.key": key,
		"sa-signer.crt": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"sa-signer.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saPriv}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return ca.CertPEM, nil
}
