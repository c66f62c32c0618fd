package contract

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSignedCA returns a CA certificate and its key, PEM-encoded.
func selfSignedCA(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestParseCABundle(t *testing.T) {
	ca, key := selfSignedCA(t)
	other, _ := selfSignedCA(t)
	for _, tc := range []struct {
		name  string
		pem   string
		certs int
		err   string
	}{
		{"one certificate", ca, 1, ""},
		{"two, with blank lines around", "\n" + ca + "\n\n" + other + "\n", 2, ""},
		{"empty", "", 0, "no PEM certificate"},
		{"the key with the certificate", ca + key, 0, `"PRIVATE KEY" block`},
		{"text before", "our CA:\n" + ca, 0, "text outside"},
		{"text after", ca + "trailing", 0, "text outside"},
		{"base64 only", "MIIBkTCB+wIJ", 0, "text outside"},
		{"a block that does not end", strings.TrimSuffix(ca, "-----END CERTIFICATE-----\n"), 0, "does not end"},
		{"not a certificate inside", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0, "certificate 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCABundle(tc.pem)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseCABundle = %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != tc.certs {
				t.Fatalf("ParseCABundle = %d certificates, %v; want %d", len(got), err, tc.certs)
			}
		})
	}
}
