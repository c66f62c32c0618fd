package backend

import (
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The client's API CAs (spec.aws.apiCABundle) are trusted by the client
// API's HTTP client and by nothing else: the client the S3 and DynamoDB
// SDK clients use still refuses a server those CAs sign, and so does Go's
// default transport, which other code shares.
func TestAPIRootsOnlyForTheClientsAPI(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	roots, err := APIRoots(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := New(nil, nil, Options{APIRoots: roots})

	resp, err := b.apigwHTTP.Get(srv.URL)
	if err != nil {
		t.Fatalf("the client API's HTTP client refused a server its CA signs: %v", err)
	}
	_ = resp.Body.Close()
	for name, c := range map[string]*http.Client{"the S3 and DynamoDB clients'": b.o.HTTPClient, "Go's default": {}} {
		if resp, err := c.Get(srv.URL); err == nil {
			_ = resp.Body.Close()
			t.Errorf("%s HTTP client trusted the client API's CA", name)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s HTTP client: %v, want a certificate error", name, err)
		}
	}
}

func TestAPIRoots(t *testing.T) {
	if pool, err := APIRoots(""); pool != nil || err != nil {
		t.Errorf(`APIRoots("") = %v, %v; want nil, nil (the system's CAs)`, pool, err)
	}
	if _, err := APIRoots("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"); err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("APIRoots(a key) = %v, want it refused", err)
	}
}
