package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` bind-mounts named network namespaces.
const netnsDir = "/run/netns"

// ip runs an iproute2 command, inside the named network namespace when ns is
// not empty.
func ip(ctx context.Context, ns string, args ...string) error {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupNetNS creates the node's network namespace and the one its link
// leads to (the network: the cloud's side, where the metadata service and a
// managed API server are). The node has loopback and eth0 with NodeIP and
// the default route through GatewayIP, forwarding, and bridged traffic
// through netfilter, where kube-proxy and the NetworkPolicy engine see it;
// the network holds the other end of eth0, APIServerIP, and the route back
// to the pods. So a pod's traffic to anything off the node is forwarded out
// of the node, through its netfilter hooks, as on a cloud's node. Every
// setting is a namespace's own; the machine's network is untouched.
func setupNetNS(ctx context.Context, name, network string) error {
	for _, ns := range []string{name, network} {
		if err := ip(ctx, "", "netns", "add", ns); err != nil {
			return err
		}
	}
	steps := []struct {
		ns   string
		args []string
	}{
		{name, []string{"link", "set", "lo", "up"}},
		{name, []string{"link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", network}},
		{name, []string{"addr", "add", NodeIP + "/24", "dev", "eth0"}},
		{name, []string{"link", "set", "eth0", "up"}},
		{name, []string{"route", "add", "default", "via", GatewayIP}},
		{network, []string{"link", "set", "lo", "up"}},
		{network, []string{"addr", "add", GatewayIP + "/24", "dev", "eth0"}},
		{network, []string{"addr", "add", APIServerIP + "/32", "dev", "lo"}},
		{network, []string{"link", "set", "eth0", "up"}},
		{network, []string{"route", "add", PodCIDR, "via", NodeIP}},
	}
	for _, s := range steps {
		if err := ip(ctx, s.ns, s.args...); err != nil {
			return err
		}
	}
	for _, s := range []string{"net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"} {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", name, "sysctl", "-qw", s).CombinedOutput()
		if err != nil {
			return fmt.Errorf("sysctl %s in %s: %w: %s", s, name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// inNetNS runs f on an OS thread switched into the network namespace at
// path. Sockets keep the namespace they were made in, so a listener or a
// connection f opens stays there after the thread switches back.
func inNetNS(path string, f func() error) error {
	// On a goroutine of its own: should the thread fail to switch back, the
	// goroutine ends with it still locked, and the runtime ends the thread
	// instead of letting the caller, or anyone, run in the wrong namespace.
	errc := make(chan error, 1)
	go func() { errc <- onThreadInNetNS(path, f) }()
	return <-errc
}

func onThreadInNetNS(path string, f func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("own network namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: leave it locked, so it
		// ends with this goroutine (see inNetNS).
		return errors.Join(ferr, fmt.Errorf("leave network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// dialIn opens a TCP connection from inside the network namespace at path.
// addr must be an IP address and port: a name would be resolved on another
// thread, outside the namespace.
func dialIn(ctx context.Context, path, addr string) (net.Conn, error) {
	return dialNetIn(ctx, path, "tcp", addr)
}

// dialNetIn is dialIn for any network ("tcp", "udp").
func dialNetIn(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(path, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// listenIn opens a TCP listener inside the network namespace at path.
func listenIn(path, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetNS(path, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	return l, err
}

// forwarder copies every connection accepted on its listeners to target,
// dialled from this process's own network namespace: how the node and its
// network, which have no route to the machine, reach the API server on the
// machine's loopback.
type forwarder struct {
	target    string
	listeners []net.Listener
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
}

func newForwarder(target string) *forwarder {
	return &forwarder{target: target, conns: map[net.Conn]struct{}{}}
}

func (f *forwarder) serve(l net.Listener) {
	f.listeners = append(f.listeners, l)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				// Out of file descriptors and the like: wait a moment
				// rather than stop forwarding for good.
				time.Sleep(50 * time.Millisecond)
				continue
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.pipe(c)
			}()
		}
	}()
}

func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, c)
}

func (f *forwarder) pipe(in net.Conn) {
	defer in.Close()
	out, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	defer out.Close()
	if !f.track(in) || !f.track(out) {
		return
	}
	defer f.untrack(in)
	defer f.untrack(out)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// A half-close (TCP's FIN, TLS's close_notify) tells the other
		// side this one is done.
		if hc, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(out, in)
	go cp(in, out)
	<-done
	<-done
}

// Close stops accepting, cuts every open connection and waits for the
// copies to end.
func (f *forwarder) Close() {
	for _, l := range f.listeners {
		_ = l.Close()
	}
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
