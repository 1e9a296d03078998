// Command sentry is FinFlow's build of Dapr 1.14's Sentry, the certificate
// authority of a local run (tools/launcher): Dapr's own CA, request
// server, jwks validator, health and metrics, wired so that every listen
// address it is given is the one it listens on.
//
// Why not Dapr's cmd/sentry: in Dapr 1.14.0 it parses --listen-address,
// --healthz-listen-address and --metrics-listen-address but honours none of
// them. pkg/sentry.New builds the certificate server without the configured
// ListenAddress, pkg/healthz/server always listens on ":port", and
// cmd/sentry/app hands the metrics exporter its port only, so all three
// listen on every interface (`*:port` in `ss -ltnp`) whatever the flags say.
//
// It also runs with the jwks validator only. Dapr's "insecure" validator
// (the self-hosted default when no validator is configured) signs a
// certificate for any app id to anyone who asks, so a configuration
// without a jwks validator is refused at start; the "kubernetes" validator
// needs a cluster, where Dapr's own Sentry runs. A run configures the jwks
// validator (spec.mtls.tokenValidators) with the run's own key; see
// tools/launcher/topology/sentry.go and SECURITY.md.
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/metrics"
	sentryv1pb "github.com/dapr/dapr/pkg/proto/sentry/v1"
	"github.com/dapr/dapr/pkg/security"
	"github.com/dapr/dapr/pkg/sentry/config"
	"github.com/dapr/dapr/pkg/sentry/monitoring"
	"github.com/dapr/dapr/pkg/sentry/server"
	"github.com/dapr/dapr/pkg/sentry/server/ca"
	"github.com/dapr/dapr/pkg/sentry/server/validator"
	validatorJWKS "github.com/dapr/dapr/pkg/sentry/server/validator/jwks"
	"github.com/dapr/kit/concurrency"
	"github.com/dapr/kit/logger"
	"github.com/dapr/kit/signals"
)

// Build names this build in --help: tools/daprd/ensure.sh (which builds it
// as .bin/finflow-sentry) and the launcher (which warns when it runs another
// Sentry) look for it.
const Build = "FinFlow build of Dapr Sentry 1.14: listen addresses honoured, jwks validator only"

var log = logger.NewLogger("dapr.sentry")

type options struct {
	configName, credentials, trustDomain string
	port, healthzPort, metricsPort       int
	listen, healthzListen, metricsListen string
	metrics                              bool
	logger                               logger.Options
}

func parse(args []string) *options {
	var o options
	fs := pflag.NewFlagSet("sentry", pflag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "%s\n\nUsage of sentry:\n%s", Build, fs.FlagUsages())
	}
	fs.StringVar(&o.configName, "config", "", "Path to the Configuration file (spec.mtls)")
	fs.StringVar(&o.credentials, "issuer-credentials", "", "Folder of the root and issuer certificates and key (made there when absent)")
	fs.StringVar(&o.trustDomain, "trust-domain", "localhost", "The CA trust domain")
	fs.IntVar(&o.port, "port", config.DefaultPort, "The port of the certificate service")
	fs.StringVar(&o.listen, "listen-address", "127.0.0.1", "The address the certificate service listens on")
	fs.IntVar(&o.healthzPort, "healthz-port", 8080, "The port of the health endpoint (/healthz)")
	fs.StringVar(&o.healthzListen, "healthz-listen-address", "127.0.0.1", "The address the health endpoint listens on")
	fs.IntVar(&o.metricsPort, "metrics-port", 9090, "The port of the Prometheus metrics")
	fs.StringVar(&o.metricsListen, "metrics-listen-address", "127.0.0.1", "The address the metrics listen on")
	fs.BoolVar(&o.metrics, "enable-metrics", true, "Serve Prometheus metrics")
	o.logger = logger.DefaultOptions()
	o.logger.AttachCmdFlags(fs.StringVar, fs.BoolVar)
	_ = fs.Parse(args)
	return &o
}

func main() {
	o := parse(os.Args[1:])
	if err := logger.ApplyOptionsToLoggers(&o.logger); err != nil {
		log.Fatal(err)
	}
	if err := run(signals.Context(), o); err != nil {
		log.Fatal(err)
	}
	log.Info("Sentry shut down gracefully")
}

func run(ctx context.Context, o *options) error {
	log.Infof("Starting %s", Build)
	if o.configName == "" || o.credentials == "" {
		return errors.New("--config and --issuer-credentials are required")
	}
	if config.IsKubernetesHosted() {
		return errors.New("this build runs self-hosted only (KUBERNETES_SERVICE_HOST is set); use Dapr's own Sentry in Kubernetes")
	}
	if err := monitoring.InitMetrics(); err != nil {
		return err
	}
	cfg, err := config.FromConfigName(o.configName)
	if err != nil {
		return err
	}
	cfg.IssuerCertPath = filepath.Join(o.credentials, config.DefaultIssuerCertFilename)
	cfg.IssuerKeyPath = filepath.Join(o.credentials, config.DefaultIssuerKeyFilename)
	cfg.RootCertPath = filepath.Join(o.credentials, config.DefaultRootCertFilename)
	cfg.TrustDomain = o.trustDomain
	cfg.Port = o.port
	cfg.ListenAddress = o.listen

	hz := healthz.New()
	vals, err := validators(cfg, hz)
	if err != nil {
		return err
	}
	camngr, err := ca.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("error creating CA: %w", err)
	}
	log.Info("CA certificate key pair ready")
	ns := security.CurrentNamespace()
	// Sentry's own serving certificate, from its in-memory CA (as Dapr's
	// pkg/sentry.New does).
	sec, err := security.New(ctx, security.Options{
		ControlPlaneTrustDomain: cfg.TrustDomain,
		ControlPlaneNamespace:   ns,
		AppID:                   "dapr-sentry",
		TrustAnchors:            camngr.TrustAnchors(),
		MTLSEnabled:             true,
		Healthz:                 hz,
		OverrideCertRequestFn: func(ctx context.Context, csrDER []byte) ([]*x509.Certificate, error) {
			csr, err := x509.ParseCertificateRequest(csrDER)
			if err != nil {
				return nil, err
			}
			return camngr.SignIdentity(ctx, &ca.SignRequest{
				PublicKey:          csr.PublicKey.(crypto.PublicKey),
				SignatureAlgorithm: csr.SignatureAlgorithm,
				TrustDomain:        cfg.TrustDomain,
				Namespace:          ns,
				AppID:              "dapr-sentry",
			})
		},
	})
	if err != nil {
		return fmt.Errorf("error creating security: %w", err)
	}
	runners := []concurrency.Runner{
		sec.Run,
		server.New(server.Options{
			Port:             cfg.Port,
			ListenAddress:    cfg.ListenAddress,
			Security:         sec,
			Validators:       vals,
			DefaultValidator: cfg.DefaultValidator,
			CA:               camngr,
			Healthz:          hz,
		}).Start,
		healthzServer(hz, net.JoinHostPort(o.healthzListen, strconv.Itoa(o.healthzPort))),
		metrics.New(metrics.Options{
			Log:           log,
			Enabled:       o.metrics,
			Namespace:     metrics.DefaultMetricNamespace,
			Port:          strconv.Itoa(o.metricsPort),
			ListenAddress: o.metricsListen,
			Healthz:       hz,
		}).Start,
	}
	for _, v := range vals {
		runners = append(runners, v.Start)
	}
	log.Infof("Certificate service on %s, health on %s:%d, metrics on %s:%d (enabled: %t)",
		net.JoinHostPort(cfg.ListenAddress, strconv.Itoa(cfg.Port)), o.healthzListen, o.healthzPort, o.metricsListen, o.metricsPort, o.metrics)
	return concurrency.NewRunnerManager(runners...).Run(ctx)
}

// validators builds the configured validators: jwks only. Dapr's config
// adds "insecure" when none is configured; that is refused here.
func validators(cfg config.Config, hz healthz.Healthz) (map[sentryv1pb.SignCertificateRequest_TokenValidator]validator.Validator, error) {
	out := map[sentryv1pb.SignCertificateRequest_TokenValidator]validator.Validator{}
	for id, opts := range cfg.Validators {
		if id != sentryv1pb.SignCertificateRequest_JWKS {
			return nil, fmt.Errorf("validator %q refused: this Sentry signs only for a caller that proves its app id; configure spec.mtls.tokenValidators with a jwks validator", id.String())
		}
		td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
		if err != nil {
			return nil, err
		}
		sentryID, err := security.SentryID(td, security.CurrentNamespace())
		if err != nil {
			return nil, err
		}
		o := validatorJWKS.Options{SentryID: sentryID, Source: opts["source"], Healthz: hz}
		if o.Source == "" {
			return nil, errors.New("the jwks validator needs options.source")
		}
		v, err := validatorJWKS.New(o)
		if err != nil {
			return nil, err
		}
		log.Infof("Using validator 'jwks' with Sentry ID %s", sentryID)
		out[id] = v
	}
	if len(out) == 0 {
		return nil, errors.New("no validator configured: configure spec.mtls.tokenValidators with a jwks validator")
	}
	return out, nil
}

// healthzServer serves /healthz on addr: 200 once every part is ready, 503
// before.
func healthzServer(hz healthz.Healthz, addr string) concurrency.Runner {
	target := hz.AddTarget()
	return func(ctx context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			if !hz.IsReady() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		errc := make(chan error, 1)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
				return
			}
			errc <- nil
		}()
		log.Infof("Healthz server is listening on %s", ln.Addr())
		target.Ready()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(srv.Shutdown(sctx), <-errc)
	}
}
