package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// proxy serves an http.Handler to a REST API's Lambda proxy integration
// (payload format 1.0): the event becomes an http.Request, what the handler
// writes becomes the response event.
type proxy struct{ h http.Handler }

func (p *proxy) serve(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	r, err := request(ctx, ev)
	if err != nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"error":"invalid","message":"the request event cannot be read"}`}, nil
	}
	w := &recorder{header: http.Header{}}
	p.h.ServeHTTP(w, r)
	return w.response(), nil
}

// request turns a proxy event into the request the gateway received.
func request(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	for k, vs := range ev.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range ev.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u := &url.URL{Path: ev.Path, RawQuery: q.Encode()}
	r, err := http.NewRequestWithContext(ctx, ev.HTTPMethod, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	r.Host = r.Header.Get("Host")
	r.RemoteAddr = ev.RequestContext.Identity.SourceIP
	r.RequestURI = u.RequestURI()
	return r, nil
}

// recorder is the http.ResponseWriter the handler writes into.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *recorder) response() events.APIGatewayProxyResponse {
	w.WriteHeader(http.StatusOK)
	resp := events.APIGatewayProxyResponse{StatusCode: w.code, MultiValueHeaders: map[string][]string{}}
	for k, vs := range w.header {
		resp.MultiValueHeaders[k] = vs
	}
	ct := w.header.Get("Content-Type")
	if b := w.body.Bytes(); utf8.Valid(b) && (ct == "" || strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json")) {
		resp.Body = string(b)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(b), true
	}
	return resp
}
