package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// SelfSignedTLS makes a certificate for hosts (IP addresses or DNS names),
// valid for a day, signed by its own key: a test server's certificate that
// a client trusts by adding certPEM to its roots.
func SelfSignedTLS(hosts ...string) (certPEM string, cert tls.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	tpl, err := certTemplate("blue-operator test server")
	if err != nil {
		return "", tls.Certificate{}, err
	}
	tpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	// Its own issuer: a CA certificate, so verifiers that want one in the
	// roots accept it.
	tpl.IsCA, tpl.BasicConstraintsValid = true, true
	addHosts(tpl, hosts)
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return "", tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	cert, err = tls.X509KeyPair([]byte(certPEM), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certPEM, cert, err
}
