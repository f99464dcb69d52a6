// Package natsconn connects loupe to a NATS server or cluster with the
// options NATS clients take: one or more server URLs, user and password, a
// token, an NKey seed file, a credentials (JWT) file, and TLS (a CA to
// trust, a client certificate and key).
//
// Connect returns a *nats.Conn whose connection errors name the problem
// (the server cannot be reached, authentication failed, TLS failed);
// JetStream checks that the server has JetStream enabled. The connection
// reconnects for ever after a server goes away, trying the other servers
// of a cluster, so a long-running worker outlives the restart of a node.
//
// Packages that distribute loupe's work over NATS (jobs, and later the
// sharded search server) share these options, and cmd/loupe maps them to
// the --nats-* flags of every NATS-using command.
package natsconn
