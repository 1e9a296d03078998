// Command rzpsim runs FinFlow's Razorpay gateway simulator: Razorpay's
// order, payment and refund API with basic auth, and signed webhooks
// delivered to FinFlow with Razorpay's retries. It is how FinFlow is
// developed and tested offline; see the README.
//
//	go run ./tools/rzpsim -addr 127.0.0.1:8090 -webhook http://127.0.0.1:8080/razorpay/webhook
//
// Credentials come from the test-mode secrets file (never real keys).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/finflow/finflow/tools/rzpsim/sim"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	webhook := flag.String("webhook", "http://127.0.0.1:8080/razorpay/webhook", "where webhooks are delivered")
	secrets := flag.String("secrets", "config/test-mode-secrets.json", "test-mode secrets file (razorpay key_id, key_secret, webhook_secret)")
	state := flag.String("state", "", "keep orders, payments and refunds in this file across restarts (default: in memory only)")
	flag.Parse()

	raw, err := os.ReadFile(*secrets)
	if err != nil {
		log.Fatalf("rzpsim: %v", err)
	}
	var file struct {
		Razorpay struct {
			KeyID         string `json:"key_id"`
			KeySecret     string `json:"key_secret"`
			WebhookSecret string `json:"webhook_secret"`
		} `json:"razorpay"`
	}
	if err := json.Unmarshal(raw, &file); err != nil || file.Razorpay.KeyID == "" {
		log.Fatalf("rzpsim: %s has no razorpay keys (%v)", *secrets, err)
	}
	s := sim.New(sim.Config{KeyID: file.Razorpay.KeyID, KeySecret: file.Razorpay.KeySecret,
		WebhookSecret: file.Razorpay.WebhookSecret, WebhookURL: *webhook})
	if *state != "" {
		if err := s.Persist(*state); err != nil {
			log.Fatalf("rzpsim: %v", err)
		}
	}
	srv := &http.Server{Addr: *addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		s.Close()
	}()
	fmt.Printf("rzpsim: Razorpay simulator on http://%s, webhooks to %s\n", *addr, *webhook)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("rzpsim: %v", err)
	}
}
