package topology

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// sentry is a local Dapr Sentry: the certificate authority of the run. It
// makes its own root and issuer certificates in a fresh folder, so every
// run has its own trust anchors.
type sentry struct {
	addr, healthz string
	dir           string
	args          []string
	proc          *proc
}

const sentryConfig = `# The local Sentry's configuration (written by the launcher).
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprsystem
spec:
  mtls:
    enabled: true
    workloadCertTTL: "24h"
    allowedClockSkew: "15m"
`

func newSentry(runDir, listen string) (*sentry, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	dir := filepath.Join(runDir, "sentry")
	if err := os.MkdirAll(filepath.Join(dir, "issuer"), 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(sentryConfig), 0o600); err != nil {
		return nil, err
	}
	s := &sentry{
		addr:    net.JoinHostPort(listen, strconv.Itoa(ports[0])),
		healthz: fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[1]),
		dir:     dir,
	}
	s.args = []string{
		"--config", cfg, "--issuer-credentials", filepath.Join(dir, "issuer"),
		"--trust-domain", sentryTrustDomain,
		"--port", strconv.Itoa(ports[0]), "--listen-address", listen,
		"--healthz-port", strconv.Itoa(ports[1]), "--healthz-listen-address", "127.0.0.1",
		"--metrics-port", strconv.Itoa(ports[2]), "--metrics-listen-address", "127.0.0.1",
	}
	return s, nil
}

// startSentry runs Sentry, waits until it is healthy and has written its
// root certificate, and hands that certificate to every sidecar as its
// trust anchor.
func (t *Topology) startSentry(ctx context.Context) error {
	s := t.sentry
	if s == nil {
		return nil
	}
	logDir := t.opts.LogDir
	if logDir == "" {
		logDir = filepath.Join(filepath.Dir(t.opts.RunFile.Path), "var", "logs")
	}
	s.proc = &proc{name: "sentry", argv: append([]string{t.opts.Sentry}, s.args...), dir: s.dir, env: os.Environ(),
		logPath: filepath.Join(logDir, "sentry.log"), console: t.console, toFile: true, toCons: false}
	s.proc.onExit = func(p *proc, err error) {
		t.console.loud("sentry died unexpectedly: %v; sidecars cannot renew certificates. Log: %s", err, p.logPath)
	}
	if err := s.proc.start(); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	ca := filepath.Join(s.dir, "issuer", "ca.crt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !s.proc.running() {
			return t.exitError(ctx, s.proc)
		}
		if httpOK(ctx, client, s.healthz) && fileExists(ca) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentry not ready after 30s; see %s", s.proc.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	anchors, err := os.ReadFile(ca)
	if err != nil {
		return err
	}
	for _, a := range t.apps {
		a.daprd.env = append(a.daprd.env, "DAPR_TRUST_ANCHORS="+string(anchors))
	}
	t.console.say("sentry is up (mTLS between sidecars; trust domain %s)", sentryTrustDomain)
	return nil
}

// FindSentry returns the sentry binary ($DAPR_SENTRY, <root>/.bin/sentry,
// or next to daprd), or "".
func FindSentry(root, daprd string) string {
	cands := []string{os.Getenv("DAPR_SENTRY"), filepath.Join(root, ".bin", "sentry")}
	if daprd != "" {
		cands = append(cands, filepath.Join(filepath.Dir(daprd), "sentry"))
	}
	for _, c := range cands {
		if c != "" && fileExists(c) {
			return c
		}
	}
	return ""
}
