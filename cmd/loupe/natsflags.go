package main

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/natsconn"
)

// addNATSFlags registers the NATS connection flags (--nats and
// --nats-*) of a NATS-using command into o.
func addNATSFlags(f *pflag.FlagSet, o *natsconn.Options) {
	f.StringVar(&o.URL, "nats", nats.DefaultURL, "NATS server URL, or a comma-separated list of a cluster's servers (nats://host:4222, tls://host:4222)")
	f.StringVar(&o.User, "nats-user", "", "NATS user name (with --nats-password)")
	f.StringVar(&o.Password, "nats-password", "", "NATS password")
	f.StringVar(&o.Token, "nats-token", "", "NATS authentication token")
	f.StringVar(&o.NKeyFile, "nats-nkey", "", "file holding a NATS NKey user seed")
	f.StringVar(&o.CredsFile, "nats-creds", "", "NATS credentials file (user JWT and seed, as nsc writes it)")
	f.StringVar(&o.TLSCA, "nats-tls-ca", "", "PEM file of the certificate authorities that signed the NATS server's certificate")
	f.StringVar(&o.TLSCert, "nats-tls-cert", "", "PEM client certificate for NATS servers that verify clients (with --nats-tls-key)")
	f.StringVar(&o.TLSKey, "nats-tls-key", "", "PEM key of --nats-tls-cert")
}

// connectJetStream connects with o for command name; the caller closes
// the connection.
func connectJetStream(ctx context.Context, name string, o natsconn.Options) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := natsconn.ConnectJetStream(ctx, o)
	if err != nil {
		return nil, nil, cmdError(name, err)
	}
	return nc, js, nil
}
