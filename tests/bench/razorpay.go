package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/finflow/finflow/tests/harness"
)

// RazorpayResult is the Razorpay flow: orders created through the gateway
// at a fixed rate, each paid at the simulator at once, which sends the
// signed webhook; the payment turns SUCCESS when the verified result has
// gone through pub/sub to the payment service.
type RazorpayResult struct {
	Rate    float64
	Create  Level // POST /Payment/rozarpay
	Flows   int   // orders paid at the simulator
	Success int   // payments SUCCESS by the deadline
	// WebhookToSuccess runs from the simulator starting the first webhook
	// delivery to the payment's SUCCESS (its updated_at); EndToEnd from the
	// client's POST /Payment/rozarpay to SUCCESS.
	WebhookToSuccess Percentiles
	EndToEnd         Percentiles
	Problems         []string
}

// Percentiles of a set of durations.
type Percentiles struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

func percentiles(ds []time.Duration) Percentiles {
	var l vegeta.LatencyMetrics
	for _, d := range ds {
		l.Add(d)
	}
	if len(ds) == 0 {
		return Percentiles{}
	}
	return Percentiles{N: len(ds), P50: l.Quantile(0.50), P95: l.Quantile(0.95), P99: l.Quantile(0.99), Max: l.Max}
}

type flow struct {
	paymentID, orderID string
	started            time.Time
}

// Razorpay runs the flow at rate per second for d.
func (w *Workload) Razorpay(tb testing.TB, rate float64, d time.Duration, procs []Process, progress io.Writer) RazorpayResult {
	n := int(rate*d.Seconds()) + 1
	q := &Queue{}
	q.Push(w.MakeBills(tb, n, "/Payment/rozarpay")...)
	res := RazorpayResult{Rate: rate}
	var mu sync.Mutex
	var flows []flow
	var pays sync.WaitGroup
	simClient := &http.Client{Timeout: 30 * time.Second}
	atk := Attack{Name: "razorpay", Targeter: q.Targeter(), Procs: procs, OnResult: func(r *vegeta.Result) {
		var p harness.Payment
		if r.Code != http.StatusCreated || json.Unmarshal(r.Body, &p) != nil || p.Razorpay == nil {
			return
		}
		f := flow{paymentID: p.ID, orderID: p.Razorpay.OrderID, started: r.Timestamp}
		pays.Add(1)
		go func() {
			defer pays.Done()
			body := []byte(`{"outcome":"captured","method":"upi","duplicates":0,"deliver":true}`)
			resp, err := simClient.Post(w.Env.SimURL()+"/sim/orders/"+f.orderID+"/pay", "application/json", bytes.NewReader(body))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Problems = append(res.Problems, "simulator pay: "+err.Error())
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				res.Problems = append(res.Problems, fmt.Sprintf("simulator pay %s = %d", f.orderID, resp.StatusCode))
				return
			}
			flows = append(flows, f)
		}()
	}}
	atk.Progress = progress
	res.Create = atk.Open(rate, d)
	pays.Wait()
	res.Flows = len(flows)

	// Every paid order must end SUCCESS; read each payment until it does.
	deadline := time.Now().Add(60 * time.Second)
	var webhook, e2e []time.Duration
	for _, f := range flows {
		var p harness.Payment
		for {
			r := w.Env.Do(tb, http.MethodGet, "/Payment/"+f.paymentID, nil, nil)
			if r.Status == http.StatusOK && json.Unmarshal(r.Body, &p) == nil && p.Status != "PENDING" {
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if p.Status != "SUCCESS" {
			res.Problems = append(res.Problems, fmt.Sprintf("payment %s is %q after the flow", f.paymentID, p.Status))
			continue
		}
		res.Success++
		done, err := time.Parse(time.RFC3339Nano, p.UpdatedAt)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("payment %s updated_at %q: %v", f.paymentID, p.UpdatedAt, err))
			continue
		}
		var first time.Time
		for _, dl := range w.Env.SimDeliveries(tb, f.orderID) {
			if first.IsZero() || dl.SentAt.Before(first) {
				first = dl.SentAt
			}
		}
		if first.IsZero() {
			res.Problems = append(res.Problems, "no webhook delivery recorded for "+f.orderID)
			continue
		}
		webhook = append(webhook, done.Sub(first))
		e2e = append(e2e, done.Sub(f.started))
	}
	res.WebhookToSuccess = percentiles(webhook)
	res.EndToEnd = percentiles(e2e)
	return res
}
