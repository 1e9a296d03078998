package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Level is one step of a run: a fixed concurrency (closed loop) or a fixed
// arrival rate (open loop), and what it measured.
type Level struct {
	Concurrency int     // workers, for a closed-loop level
	Rate        float64 // requests per second offered, for an open-loop level
	Requests    uint64
	Seconds     float64
	Throughput  float64 // successful (2xx) answers per second
	P50, P95    time.Duration
	P99, Max    time.Duration
	Mean        time.Duration
	ErrorRate   float64        // share of requests without a 2xx answer
	BytesIn     float64        // mean size of an answer's body, bytes
	Codes       map[string]int // status code -> count ("0" is no answer)
	Errors      []string       // distinct transport errors and unexpected answers, a few
	Usage       []Usage
	// State is what the sidecars did per request while the level ran (the
	// background included), when the attack has a Scraper: state round
	// trips and refused writes (conflicts) by app.
	State map[string]Counters `json:",omitempty"`
	// RedisPerRequest is Redis's commands per request over the level.
	RedisPerRequest float64 `json:",omitempty"`
}

// Label names the level: "c=16" or "r=120/s".
func (l Level) Label() string {
	if l.Concurrency > 0 {
		return "c=" + strconv.Itoa(l.Concurrency)
	}
	return fmt.Sprintf("r=%.0f/s", l.Rate)
}

// Attack is one measured run of requests against the gateway.
type Attack struct {
	Name     string
	Targeter vegeta.Targeter
	// OnResult, when set, sees every result (the body included).
	OnResult func(*vegeta.Result)
	// Procs are sampled for CPU and memory while it runs.
	Procs []Process
	// Progress receives the live progress line; nil for none.
	Progress io.Writer
	// Scraper, when set, reads the sidecars' counters before and after
	// each level (Level.State).
	Scraper *Scraper
}

// Closed runs the attack with c workers sending back to back for d.
func (a Attack) Closed(c int, d time.Duration) Level {
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(c)), vegeta.MaxWorkers(uint64(c)),
		vegeta.Connections(c), vegeta.MaxConnections(c), vegeta.Timeout(60*time.Second), vegeta.KeepAlive(true))
	l := a.run(atk, vegeta.ConstantPacer{}, d, fmt.Sprintf("%s c=%d", a.Name, c))
	l.Concurrency = c
	return l
}

// Open offers rate requests per second for d, whatever the answers' pace
// (up to 1000 in flight).
func (a Attack) Open(rate float64, d time.Duration) Level {
	atk := vegeta.NewAttacker(vegeta.Workers(16), vegeta.MaxWorkers(1000), vegeta.Timeout(60*time.Second), vegeta.KeepAlive(true))
	freq := int(rate + 0.5)
	if freq < 1 {
		freq = 1
	}
	l := a.run(atk, vegeta.ConstantPacer{Freq: freq, Per: time.Second}, d, fmt.Sprintf("%s r=%d/s", a.Name, freq))
	l.Rate = float64(freq)
	return l
}

func (a Attack) run(atk *vegeta.Attacker, pacer vegeta.Pacer, d time.Duration, label string) Level {
	var m vegeta.Metrics
	var sampler *Sampler
	if len(a.Procs) > 0 {
		sampler = StartSampler(a.Procs, 250*time.Millisecond)
	}
	var before *Snapshot
	if a.Scraper != nil {
		if snap, err := a.Scraper.Snapshot(context.Background()); err == nil {
			before = &snap
		}
	}
	var sent, failed atomic.Int64
	stopProgress := a.progress(label, d, &sent, &failed)
	errs := map[string]bool{}
	var mu sync.Mutex
	began := time.Now()
	for r := range atk.Attack(a.Targeter, pacer, d, a.Name) {
		if r.Error == vegeta.ErrNoTargets.Error() {
			continue // the targets ran out: the attack ends here
		}
		ok := r.Code >= 200 && r.Code < 300 && r.Error == ""
		if !ok {
			failed.Add(1)
			mu.Lock()
			if len(errs) < 5 {
				msg := r.Error
				if msg == "" {
					msg = fmt.Sprintf("%d %s", r.Code, truncate(r.Body, 160))
				}
				errs[msg] = true
			}
			mu.Unlock()
		}
		sent.Add(1)
		if a.OnResult != nil {
			a.OnResult(r)
		}
		// vegeta counts 2xx-3xx as success and keeps the body; the report
		// needs neither the body nor the URL of every result.
		r.Body = nil
		m.Add(r)
	}
	m.Close()
	stopProgress()
	l := Level{
		Requests: m.Requests, Seconds: time.Since(began).Seconds(),
		P50: m.Latencies.P50, P95: m.Latencies.P95, P99: m.Latencies.P99, Max: m.Latencies.Max, Mean: m.Latencies.Mean,
		Codes: m.StatusCodes, BytesIn: m.BytesIn.Mean,
	}
	if m.Requests > 0 {
		ok := m.Requests - uint64(failed.Load())
		l.Throughput = float64(ok) / m.Duration.Seconds()
		if m.Duration == 0 {
			l.Throughput = 0
		}
		l.ErrorRate = float64(failed.Load()) / float64(m.Requests)
	}
	for e := range errs {
		l.Errors = append(l.Errors, e)
	}
	sort.Strings(l.Errors)
	if sampler != nil {
		l.Usage = sampler.Stop()
	}
	if before != nil && m.Requests > 0 {
		if after, err := a.Scraper.Snapshot(context.Background()); err == nil {
			r := Delta(*before, after, float64(m.Requests))
			l.State, l.RedisPerRequest = r.Apps, r.RedisTotal()
		}
	}
	return l
}

// Conflicts is the level's refused state writes per request, over every
// app (0 when it was not scraped).
func (l Level) Conflicts() float64 {
	n := 0.0
	for _, c := range l.State {
		n += c.Conflicts
	}
	return n
}

// StateOps is the level's state round trips per request, over every app.
func (l Level) StateOps() float64 {
	n := 0.0
	for _, c := range l.State {
		n += c.Gets + c.Sets + c.Deletes
	}
	return n
}

// progress prints a live line every second while a level runs: on a
// terminal it rewrites one line, elsewhere it prints a line every 5 s.
func (a Attack) progress(label string, d time.Duration, sent, failed *atomic.Int64) func() {
	if a.Progress == nil {
		return func() {}
	}
	tty := false
	if f, ok := a.Progress.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	began := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, lastAt := int64(0), began
		for n := 1; ; n++ {
			select {
			case <-stop:
				if tty {
					fmt.Fprint(a.Progress, "\r\033[K")
				}
				return
			case now := <-tick.C:
				s := sent.Load()
				rate := float64(s-last) / now.Sub(lastAt).Seconds()
				last, lastAt = s, now
				line := fmt.Sprintf("bench: %-22s %4.0fs/%-4.0fs %7d requests %7.0f/s now  %d failed",
					label, now.Sub(began).Seconds(), d.Seconds(), s, rate, failed.Load())
				if tty {
					fmt.Fprint(a.Progress, "\r\033[K"+line)
				} else if n%5 == 0 {
					fmt.Fprintln(a.Progress, line)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// Ramp runs closed-loop levels of rising concurrency for d each, until
// throughput stops rising: two levels in a row below 5 % over the best so
// far, or more than 5 % errors. prepare runs before each level (to create
// enough data for it) with the best throughput so far.
func (a Attack) Ramp(levels []int, d time.Duration, prepare func(level int, best float64) error) ([]Level, error) {
	var out []Level
	best, flat := 0.0, 0
	for _, c := range levels {
		if prepare != nil {
			if err := prepare(c, best); err != nil {
				return out, err
			}
		}
		l := a.Closed(c, d)
		out = append(out, l)
		if a.Progress != nil {
			extra := ""
			if l.State != nil {
				extra = fmt.Sprintf("  state %.1f/req  conflicts %.2f/req", l.StateOps(), l.Conflicts())
			}
			fmt.Fprintf(a.Progress, "bench: %-22s %7.0f/s  p50 %s  p99 %s  errors %.2f%%%s\n",
				fmt.Sprintf("%s c=%d", a.Name, c), l.Throughput, ms(l.P50), ms(l.P99), 100*l.ErrorRate, extra)
		}
		if l.ErrorRate > 0.05 {
			break
		}
		if l.Throughput > best*1.05 {
			best, flat = l.Throughput, 0
		} else if flat++; flat >= 2 {
			break
		}
		if l.Throughput > best {
			best = l.Throughput
		}
	}
	return out, nil
}

// Peak returns the level with the highest throughput.
func Peak(levels []Level) Level {
	var p Level
	for _, l := range levels {
		if l.Throughput > p.Throughput {
			p = l
		}
	}
	return p
}

// ListTargeter hands out targets from a channel until it is empty.
func ListTargeter(ch <-chan vegeta.Target) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		select {
		case next, ok := <-ch:
			if !ok {
				return vegeta.ErrNoTargets
			}
			*t = next
			return nil
		default:
			return vegeta.ErrNoTargets
		}
	}
}

// RoundRobin hands out targets from a fixed list, round and round.
func RoundRobin(targets []vegeta.Target) vegeta.Targeter {
	var i atomic.Uint64
	return func(t *vegeta.Target) error {
		if len(targets) == 0 {
			return vegeta.ErrNoTargets
		}
		*t = targets[(i.Add(1)-1)%uint64(len(targets))]
		return nil
	}
}

// JSONTarget builds a JSON request with a bearer token.
func JSONTarget(method, url, token string, body []byte, extra ...string) vegeta.Target {
	h := http.Header{"Authorization": {"Bearer " + token}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return vegeta.Target{Method: method, URL: url, Body: body, Header: h}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
