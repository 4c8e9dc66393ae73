package mockapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Cert is a self-signed certificate for 127.0.0.1, ::1 and localhost, with
// which Start serves a mock API over HTTPS, HTTP/2 offered: the transport a
// real API speaks, whose new connections cost a TLS handshake and whose
// requests may share one connection as streams. A client trusts it with
// ClientConfig, or a Go program (`politely crawl`) through SSL_CERT_FILE
// naming a file that holds PEM.
type Cert struct {
	cert tls.Certificate
	pem  []byte
	pool *x509.CertPool
}

// NewCert makes a Cert (an ECDSA P-256 key), valid from an hour ago for a
// day.
func NewCert() (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mockapi: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("mockapi: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A name of its own: a verifier that looks a root up by its name
		// (OpenSSL) finds this one among other mocks' in one bundle.
		Subject:               pkix.Name{Organization: []string{"politely mock API"}, CommonName: fmt.Sprintf("politely mock API %x", serial)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own root, so that a client can trust it alone
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("mockapi: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("mockapi: certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &Cert{
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pool: pool,
	}, nil
}

// PEM is the certificate, PEM-encoded (no key).
func (c *Cert) PEM() []byte { return c.pem }

// ClientConfig is a TLS client config that trusts c alone.
func (c *Cert) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}
}

// ServerConfig is a TLS server config that serves c, as Start does (a front
// before a mock serves the same certificate with it); http.Server.ServeTLS
// adds HTTP/2 to its protocols.
func (c *Cert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, MinVersion: tls.VersionTLS12}
}
