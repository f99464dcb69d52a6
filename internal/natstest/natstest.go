// Package natstest starts embedded NATS servers (one, or a JetStream
// cluster) on loopback with random ports and temporary store directories,
// for the tests of the packages that use NATS. Only tests import it, so
// the server is not linked into loupe.
package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options adjusts a server before it starts (auth, TLS, no JetStream).
type Options func(o *server.Options)

// NoJetStream starts the server without JetStream.
func NoJetStream(o *server.Options) { o.JetStream = false }

// Start starts one server with JetStream (unless an option turns it off)
// and stops it when the test ends. It returns the server and its client
// URL.
func Start(t testing.TB, opts ...Options) (*server.Server, string) {
	t.Helper()
	o := baseOptions(t, "solo")
	for _, f := range opts {
		f(o)
	}
	s := run(t, o)
	return s, s.ClientURL()
}

// Cluster is a JetStream cluster of embedded servers.
type Cluster struct {
	Servers []*server.Server

	opts  []*server.Options // each server's options as given, for Restart
	ports []int             // each server's client port
}

// URL is the comma-separated client URL list of the servers that run.
func (c *Cluster) URL() string {
	var urls []string
	for _, s := range c.Servers {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// StartCluster starts an n-node JetStream cluster on loopback, waits until
// it has a JetStream meta leader, and stops it when the test ends.
func StartCluster(t testing.TB, n int, opts ...Options) *Cluster {
	t.Helper()
	ports := freePorts(t, n)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{}
	for i := range n {
		o := baseOptions(t, fmt.Sprintf("n%d", i+1))
		o.Cluster = server.ClusterOpts{Name: "loupe-test", Host: "127.0.0.1", Port: ports[i]}
		o.Routes = routes
		for _, f := range opts {
			f(o)
		}
		c.opts = append(c.opts, o.Clone())
		c.Servers = append(c.Servers, start(t, o))
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("natstest: server %s not ready", s.Name())
		}
		c.ports = append(c.ports, s.Addr().(*net.TCPAddr).Port)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader := false
		for _, s := range c.Servers {
			leader = leader || s.JetStreamIsLeader()
		}
		if leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("natstest: no JetStream meta leader after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.waitPlacement(t, n)
	return c
}

// AllURLs is the comma-separated client URL list of every server, running
// or not: what a client that must outlive the loss of a node is given.
func (c *Cluster) AllURLs() string {
	var urls []string
	for _, p := range c.ports {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(urls, ",")
}

// Restart starts server i again after it was shut down: the same name,
// client and cluster ports, routes and store directory, so it rejoins the
// cluster and catches up from what it had stored. It waits until the
// server takes connections and is current with the JetStream meta group,
// and stops it when the test ends.
func (c *Cluster) Restart(t testing.TB, i int) *server.Server {
	t.Helper()
	if c.Servers[i].Running() {
		t.Fatalf("natstest: server %s still runs", c.Servers[i].Name())
	}
	c.Servers[i].WaitForShutdown()
	name := c.opts[i].ServerName
	var s *server.Server
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The port may be held for a moment after the shutdown.
		o := c.opts[i].Clone()
		o.Port = c.ports[i]
		var err error
		if s, err = server.NewServer(o); err != nil {
			t.Fatalf("natstest: %v", err)
		}
		if !o.NoLog {
			s.ConfigureLogger()
		}
		go s.Start()
		if s.ReadyForConnections(5 * time.Second) {
			break
		}
		s.Shutdown()
		s.WaitForShutdown()
		if time.Now().After(deadline) {
			t.Fatalf("natstest: server %s not ready again after 10s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	c.Servers[i] = s
	deadline = time.Now().Add(20 * time.Second)
	for !s.JetStreamIsCurrent() {
		if time.Now().After(deadline) {
			t.Fatalf("natstest: server %s not current with the JetStream cluster 20s after its restart", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// waitPlacement waits until the cluster can place an n-replica stream: the
// meta leader has heard from every peer.
func (c *Cluster) waitPlacement(t testing.TB, n int) {
	t.Helper()
	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NATSTEST_READY", Subjects: []string{"natstest.ready"}, Replicas: n, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "NATSTEST_READY")
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: cluster cannot place an R%d stream after 30s: %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func baseOptions(t testing.TB, name string) *server.Options {
	return &server.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 256 << 20,
	}
}

// start starts a server without waiting for it.
func start(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	if !o.NoLog {
		s.ConfigureLogger() // an option turned logging on: to stderr
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// run starts a server and waits until it takes connections.
func run(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s := start(t, o)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("natstest: server %s not ready", o.ServerName)
	}
	return s
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
