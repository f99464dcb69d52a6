package natsconn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/loupe-ml/loupe/internal/natstest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns their paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loupe test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestUserPassword(t *testing.T) {
	_, url := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "loupe", "s3cret" })
	for _, c := range []struct {
		name string
		opts Options
		want string // error substring; "" for success
	}{
		{"right password", Options{URL: url, User: "loupe", Password: "s3cret"}, ""},
		{"in the URL", Options{URL: strings.Replace(url, "nats://", "nats://loupe:s3cret@", 1)}, ""},
		{"wrong password", Options{URL: url, User: "loupe", Password: "nope"}, "authentication failed"},
		{"no credentials", Options{URL: url}, "authentication failed"},
		{"password without user", Options{URL: url, Password: "s3cret"}, "a password needs a user"},
		{"two methods", Options{URL: url, User: "loupe", Token: "t"}, "give one of"},
	} {
		t.Run(c.name, func(t *testing.T) {
			nc, js, err := ConnectJetStream(context.Background(), c.opts)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if js == nil {
					t.Fatal("no JetStream")
				}
				return
			}
			if err == nil {
				nc.Close()
				t.Fatalf("connected, want an error saying %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestToken(t *testing.T) {
	_, url := natstest.Start(t, func(o *server.Options) { o.Authorization = "tok3n" })
	nc, err := Connect(Options{URL: url, Token: "tok3n"})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if _, err := Connect(Options{URL: url, Token: "wrong"}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	_, url := natstest.Start(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		tc.MinVersion = tls.VersionTLS12
		o.TLSConfig, o.TLS, o.TLSTimeout = tc, true, 2
	})
	tlsURL := strings.Replace(url, "nats://", "tls://", 1)
	nc, js, err := ConnectJetStream(context.Background(), Options{URL: tlsURL, TLSCA: cert})
	if err != nil {
		t.Fatal(err)
	}
	if !nc.TLSRequired() || js == nil {
		t.Error("not a TLS connection")
	}
	nc.Close()
	// Without the CA the server's certificate is not trusted.
	if _, err := Connect(Options{URL: tlsURL}); err == nil || !strings.Contains(err.Error(), "TLS failed") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	if _, err := Connect(Options{URL: tlsURL, TLSCA: filepath.Join(dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "TLS CA file") {
		t.Fatalf("missing CA file: %v", err)
	}
	if _, err := Connect(Options{URL: tlsURL, TLSCert: cert}); err == nil || !strings.Contains(err.Error(), "needs its key") {
		t.Fatalf("certificate without key: %v", err)
	}
}

func TestNoServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close()
	_, err = Connect(Options{URL: url, Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot connect to "+url) {
		t.Fatalf("no server: %v", err)
	}
}

func TestNoJetStream(t *testing.T) {
	_, url := natstest.Start(t, natstest.NoJetStream)
	_, _, err := ConnectJetStream(context.Background(), Options{URL: url})
	if err == nil || !strings.Contains(err.Error(), "JetStream is not enabled") {
		t.Fatalf("server without JetStream: %v", err)
	}
}

func TestNKey(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "user.nk"), filepath.Join(dir, "other.nk")
	os.WriteFile(good, seed, 0o600)
	os.WriteFile(bad, otherSeed, 0o600)
	_, url := natstest.Start(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	nc, js, err := ConnectJetStream(context.Background(), Options{URL: url, NKeyFile: good})
	if err != nil {
		t.Fatal(err)
	}
	if js == nil {
		t.Fatal("no JetStream")
	}
	nc.Close()
	if _, err := Connect(Options{URL: url, NKeyFile: bad}); err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("unknown NKey: %v", err)
	}
	if _, err := Connect(Options{URL: url, NKeyFile: filepath.Join(dir, "missing.nk")}); err == nil || !strings.Contains(err.Error(), "NKey seed file") {
		t.Fatalf("missing seed file: %v", err)
	}
}

// TestCredsFile: a server in operator mode (a trusted operator, an account
// JWT with JetStream in an in-memory resolver) takes a user's credentials
// file, as nsc writes it; a user signed by another account is refused.
func TestCredsFile(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	operator, err := nkeys.CreateOperator()
	must(err)
	opub, _ := operator.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "loupe-test"
	_, err = oc.Encode(operator)
	must(err)
	resolver := &server.MemAccResolver{}
	// account returns a new account's key, its JWT stored in the resolver
	// (signed by signer), with JetStream enabled unless it is the system
	// account.
	account := func(signer nkeys.KeyPair, name string) nkeys.KeyPair {
		akp, err := nkeys.CreateAccount()
		must(err)
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if name != "SYS" {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(signer)
		must(err)
		must(resolver.Store(apub, ajwt))
		return akp
	}
	// creds writes the credentials file of a new user of account akp.
	dir := t.TempDir()
	creds := func(akp nkeys.KeyPair, name string) string {
		ukp, err := nkeys.CreateUser()
		must(err)
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		ujwt, err := uc.Encode(akp)
		must(err)
		seed, _ := ukp.Seed()
		b, err := jwt.FormatUserConfig(ujwt, seed)
		must(err)
		path := filepath.Join(dir, name+".creds")
		must(os.WriteFile(path, b, 0o600))
		return path
	}
	sys := account(operator, "SYS")
	sysPub, _ := sys.PublicKey()
	good := creds(account(operator, "LOUPE"), "worker")
	// An account that the operator did not sign (its own key signs it).
	rogue, _ := nkeys.CreateAccount()
	bad := creds(rogue, "rogue")

	_, url := natstest.Start(t, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oc}
		o.AccountResolver = resolver
		o.SystemAccount = sysPub
	})
	nc, js, err := ConnectJetStream(context.Background(), Options{URL: url, CredsFile: good})
	if err != nil {
		t.Fatal(err)
	}
	if js == nil {
		t.Fatal("no JetStream")
	}
	nc.Close()
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown account", Options{URL: url, CredsFile: bad}, "authentication failed"},
		{"no credentials", Options{URL: url}, "authentication failed"},
		{"missing file", Options{URL: url, CredsFile: filepath.Join(dir, "missing.creds")}, "credentials file"},
	} {
		if _, err := Connect(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
