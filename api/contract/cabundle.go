package contract

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseCABundle reads PEM holding CA certificates only, at least one, as
// the API server accepts it in spec.infisical.caBundle and
// spec.aws.apiCABundle: a private key pasted by mistake, or text around
// the certificates, is refused rather than carried into a pod's
// environment or trusted in part.
func ParseCABundle(pemText string) ([]*x509.Certificate, error) {
	rest := []byte(pemText)
	var certs []*x509.Certificate
	for {
		// pem.Decode skips text before a block: refuse it, as the API
		// server's validation does.
		rest = bytes.TrimSpace(rest)
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, errors.New("text outside the PEM certificates")
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("a PEM block that does not end")
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q block; give only certificates", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}
