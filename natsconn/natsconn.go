package natsconn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options say where a NATS server is and how to authenticate to it. The
// zero value connects to nats://127.0.0.1:4222 without credentials.
type Options struct {
	// URL is the server, or a comma-separated list of a cluster's servers
	// (nats://host:4222, tls://host:4222); empty means nats.DefaultURL.
	URL string
	// User and Password authenticate with a user name and password (the
	// URL may also carry them: nats://user:pass@host:4222).
	User, Password string
	// Token authenticates with a token.
	Token string
	// NKeyFile is a file holding an NKey user seed (SU…).
	NKeyFile string
	// CredsFile is a credentials file (a user JWT and its NKey seed), as
	// nsc writes it.
	CredsFile string
	// TLSCA is a PEM file of certificate authorities to trust for the
	// server's certificate (the system's roots when empty).
	TLSCA string
	// TLSCert and TLSKey are a PEM client certificate and its key, for
	// servers that verify clients.
	TLSCert, TLSKey string
	// Name is the client name the server shows (monitoring, logs).
	Name string
	// Timeout bounds the connection attempt (default 5s).
	Timeout time.Duration
}

// Validate checks that the options go together and that their files
// exist, naming the option in error.
func (o Options) Validate() error {
	methods := 0
	for _, set := range []bool{o.User != "" || o.Password != "", o.Token != "", o.NKeyFile != "", o.CredsFile != ""} {
		if set {
			methods++
		}
	}
	switch {
	case methods > 1:
		return errors.New("natsconn: give one of user/password, token, NKey seed file or credentials file")
	case o.Password != "" && o.User == "":
		return errors.New("natsconn: a password needs a user")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return errors.New("natsconn: a TLS client certificate needs its key and a key its certificate")
	}
	for _, f := range []struct{ what, path string }{
		{"NKey seed file", o.NKeyFile}, {"credentials file", o.CredsFile},
		{"TLS CA file", o.TLSCA}, {"TLS certificate", o.TLSCert}, {"TLS key", o.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("natsconn: %s: %w", f.what, err)
		}
	}
	return nil
}

// url returns the server URL list to dial.
func (o Options) url() string {
	if o.URL == "" {
		return nats.DefaultURL
	}
	return o.URL
}

// natsOptions turns o into nats.Connect options.
func (o Options) natsOptions() ([]nats.Option, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	opts := []nats.Option{
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	switch {
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	case o.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("natsconn: NKey seed file %s: %w", o.NKeyFile, err)
		}
		opts = append(opts, opt)
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	return opts, nil
}

// Connect connects to the server (or one of the cluster's servers) of o.
// Its errors say which of these went wrong: the server cannot be reached,
// authentication failed, or the TLS handshake failed.
func Connect(o Options) (*nats.Conn, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts, err := o.natsOptions()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(o.url(), opts...)
	if err != nil {
		return nil, connectError(o.url(), err)
	}
	return nc, nil
}

// connectError explains a nats.Connect error for url.
func connectError(url string, err error) error {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(msg, "authorization violation"),
		strings.Contains(msg, "authentication"), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("natsconn: %s: authentication failed (check the user and password, token, NKey or credentials file): %w", url, err)
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("natsconn: %s: TLS failed (check the TLS CA, certificate and key, and tls:// in the URL): %w", url, err)
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("natsconn: cannot connect to %s (no NATS server answered): %w", url, err)
	}
	return fmt.Errorf("natsconn: cannot connect to %s: %w", url, err)
}

// JetStream returns nc's JetStream context after checking that the
// server has JetStream enabled for this account.
func JetStream(ctx context.Context, nc *nats.Conn) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsconn: %w", err)
	}
	// A cluster that is electing a JetStream leader (a node was just lost)
	// does not answer for a few seconds: ask again for up to 15s.
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = js.AccountInfo(c)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
			ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		url := nc.ConnectedUrlRedacted()
		switch {
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return nil, fmt.Errorf("natsconn: %s: JetStream is not enabled on the server (start nats-server with -js, or jetstream {} in its config): %w", url, err)
		}
		return nil, fmt.Errorf("natsconn: %s: JetStream: %w", url, err)
	}
	return js, nil
}

// ConnectJetStream is Connect then JetStream; the caller closes the
// connection.
func ConnectJetStream(ctx context.Context, o Options) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(o)
	if err != nil {
		return nil, nil, err
	}
	js, err := JetStream(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
