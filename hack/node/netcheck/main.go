// Command netcheck is the test node's probe pod: it listens on the TCP ports
// it is given and answers every connection at once, without reading, with an
// HTTP response whose body names itself: a test that dials it from another
// pod's network namespace can tell an answered connection from a dropped one
// and which pod answered, and the kubelet's HTTP probes find it ready. Tests
// run it in the namespaces a NetworkPolicy governs, in place of the server
// (hack/setup-node.sh builds its image). With -dns it also stands in for the
// cluster's DNS: on UDP port 53 it answers every A question with that
// address.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	ports := flag.String("ports", "8080,9090", "comma-separated TCP ports to listen on")
	dnsAnswer := flag.String("dns", "", "answer DNS A questions on UDP port 53 with this IPv4 address")
	flag.Parse()
	name, _ := os.Hostname()
	errs := make(chan error, 1)
	if *dnsAnswer != "" {
		ip := net.ParseIP(*dnsAnswer).To4()
		if ip == nil {
			slog.Error("-dns wants an IPv4 address", "got", *dnsAnswer)
			os.Exit(2)
		}
		pc, err := net.ListenPacket("udp", ":53")
		if err != nil {
			slog.Error("listen", "port", "53/udp", "err", err)
			os.Exit(1)
		}
		go func() { errs <- serveDNS(pc, ip) }()
	}
	for _, p := range strings.Split(*ports, ",") {
		ln, err := net.Listen("tcp", ":"+strings.TrimSpace(p))
		if err != nil {
			slog.Error("listen", "port", p, "err", err)
			os.Exit(1)
		}
		slog.Info("listening", "addr", ln.Addr().String())
		go func() { errs <- serve(ln, name) }()
	}
	slog.Error("serve", "err", <-errs)
	os.Exit(1)
}

func serve(ln net.Listener, name string) error {
	port := ln.Addr().(*net.TCPAddr).Port
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			body := fmt.Sprintf("netcheck %s %d\n", name, port)
			fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}()
	}
}

// serveDNS answers each query with one A record for its question (any
// name), and no records for other types: just what a resolver needs to
// show that its queries get through.
func serveDNS(pc net.PacketConn, ip net.IP) error {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if reply := dnsReply(buf[:n], ip); reply != nil {
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

// dnsReply builds the answer to one query (RFC 1035, section 4.1), or nil
// for a packet that is not a one-question query.
func dnsReply(q []byte, ip net.IP) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || q[4] != 0 || q[5] != 1 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	isA := q[i+1] == 0 && q[i+2] == 1
	reply := make([]byte, 0, 12+len(question)+16)
	reply = append(reply, q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
	reply = append(reply, question...)
	if isA {
		reply[7] = 1 // one answer
		// The name as a pointer to the question's, type A, class IN,
		// TTL 30 s, four bytes of address.
		reply = append(reply, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4)
		reply = append(reply, ip...)
	}
	return reply
}
