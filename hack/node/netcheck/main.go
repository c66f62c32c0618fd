// Command netcheck is the test node's probe pod: it listens on the TCP ports
// it is given and answers every connection at once, without reading, with an
// HTTP response whose body names itself: a test that dials it from another
// pod's network namespace can tell an answered connection from a dropped one
// and which pod answered, and the kubelet's HTTP probes find it ready. Tests
// run it in the namespaces a NetworkPolicy governs, in place of the server
// (hack/setup-node.sh builds its image).
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
	flag.Parse()
	name, _ := os.Hostname()
	errs := make(chan error, 1)
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
