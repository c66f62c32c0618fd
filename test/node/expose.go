package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
)

// InternetPrefix holds the addresses Expose gives the machine's servers in
// the node's network: as a cloud's public endpoints are, off the node and
// outside every private range, so a tenant's NetworkPolicy treats them as
// the internet. 203.0.113.0/24 is TEST-NET-3 (RFC 5737), reserved for
// documentation and routed nowhere.
var InternetPrefix = netip.MustParsePrefix("203.0.113.0/24")

// ExposedPort is the port Expose listens on: HTTPS's, the only one a tenant
// pod may send to besides DNS.
const ExposedPort = "443"

// Expose makes target, a server on this machine (host:port), reachable from
// the node's pods at the address at (in InternetPrefix), port ExposedPort, in the node's
// network: a client-side system (Infisical, STS, S3, DynamoDB) as the pods
// of a real cluster reach it, through the node's netfilter hooks, where
// kube-proxy and the NetworkPolicy engine see the traffic. It returns
// at:ExposedPort. The bytes are copied as they are: TLS stays end to end.
// Stop removes the address and the forwarder with the network.
func (n *Node) Expose(ctx context.Context, at, target string) (string, error) {
	return n.expose(ctx, at, target, nil)
}

// ExposeTLS is Expose for a plain-HTTP server that the pods reach over TLS
// with cert, terminated at the exposed address, as a cloud's endpoints
// terminate TLS at their edge: the local stack's client-side systems, whose
// certificate the local internet's CA signs.
func (n *Node) ExposeTLS(ctx context.Context, at, target string, cert tls.Certificate) (string, error) {
	return n.expose(ctx, at, target, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

func (n *Node) expose(ctx context.Context, at, target string, tlsConf *tls.Config) (string, error) {
	a, err := netip.ParseAddr(at)
	if err != nil || !InternetPrefix.Contains(a) {
		return "", fmt.Errorf("expose %s at %s: the address must be in %s", target, at, InternetPrefix)
	}
	if err := ip(ctx, n.l.network(), "addr", "add", a.String()+"/32", "dev", "lo"); err != nil {
		return "", fmt.Errorf("expose %s: %w", target, err)
	}
	addr := net.JoinHostPort(a.String(), ExposedPort)
	l, err := listenIn(n.l.networkPath(), addr)
	if err != nil {
		return "", fmt.Errorf("expose %s at %s: %w", target, addr, err)
	}
	if tlsConf != nil {
		l = tls.NewListener(l, tlsConf)
	}
	f := newForwarder(target)
	f.serve(l)
	n.exposed = append(n.exposed, f)
	return addr, nil
}

// DialFromNetwork opens a TCP connection to addr (an IP address and port)
// from the node's network, off the node, as a cloud's load balancer in front
// of its nodes connects: the way in to a NodePort Service at NodeIP.
func (n *Node) DialFromNetwork(ctx context.Context, addr string) (net.Conn, error) {
	return dialIn(ctx, n.l.networkPath(), addr)
}
