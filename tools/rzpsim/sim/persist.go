package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

// saved is what the simulator keeps across restarts: Razorpay's records
// (orders, payments, refunds and refund idempotency keys). Webhook
// deliveries in flight, faults and call counts are not kept: after a
// restart FinFlow finds what a lost webhook would have told it by asking
// the API, as it must of Razorpay.
type saved struct {
	Orders     map[string]*order   `json:"orders"`
	Payments   map[string]*payment `json:"payments"`
	Refunds    map[string]*refund  `json:"refunds"`
	RefundKeys map[string]string   `json:"refund_keys"`
}

// Persist keeps s's records in the file at path: what it holds is loaded
// now (a missing file is an empty simulator), and what changes is written
// every second and when s is closed, so a simulator restarted over it
// remembers the orders, payments and refunds it had, as Razorpay does (a
// restarted `make run` had failed every open order and a paid one as
// "The id provided does not exist"). Call it before serving.
func (s *Server) Persist(path string) error {
	if err := s.load(path); err != nil {
		return err
	}
	s.wg.Add(1)
	go s.keepSaved(path)
	return nil
}

// saveEvery is how often a simulator with a state file writes what changed.
const saveEvery = time.Second

// load reads the state file into s (s.mu not needed: before serving). A
// missing file is an empty simulator; an unreadable one is an error, so a
// run never silently forgets the orders a FinFlow store still refers to.
// Refunds still pending are processed after the settle delay again.
func (s *Server) load(path string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var st saved
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%s is not the simulator's state (%v): move it away to start empty", path, err)
	}
	for k, v := range st.Orders {
		s.orders[k] = v
	}
	for k, v := range st.Payments {
		s.payments[k] = v
	}
	for k, v := range st.RefundKeys {
		s.refundKeys[k] = v
	}
	for k, v := range st.Refunds {
		s.refunds[k] = v
		if v.Status == "pending" && s.payments[v.PaymentID] != nil {
			s.settleLater(v.ID)
		}
	}
	s.saved = raw
	return nil
}

// snapshot encodes s's records (s.mu held).
func (s *Server) snapshot() ([]byte, error) {
	return json.Marshal(saved{Orders: s.orders, Payments: s.payments, Refunds: s.refunds, RefundKeys: s.refundKeys})
}

// save writes s's records to path if they changed since the last write,
// through a temporary file renamed over it, so a crash leaves the old state
// or the new one, never half of one.
func (s *Server) save(path string) error {
	s.mu.Lock()
	raw, err := s.snapshot()
	s.mu.Unlock()
	if err != nil || bytes.Equal(raw, s.saved) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	s.saved = raw
	return nil
}

// keepSaved writes the state file every saveEvery while s runs, and once
// more when it stops.
func (s *Server) keepSaved(path string) {
	defer s.wg.Done()
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			if err := s.save(path); err != nil {
				log.Printf("rzpsim: saving %s: %v", path, err)
			}
			return
		}
		if err := s.save(path); err != nil {
			log.Printf("rzpsim: saving %s: %v", path, err)
		}
	}
}
