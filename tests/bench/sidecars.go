package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"

	"github.com/finflow/finflow/tests/bench/floor"
)

// Counters are what one app did through its sidecar, from the sidecar's
// Prometheus metrics: state round trips by kind (gRPC calls of the Dapr
// API, whatever their outcome) and service invocations by target app.
type Counters struct {
	Gets, Sets, Deletes float64
	// Conflicts are the state writes the store refused because another
	// writer came first (gRPC Aborted: an ETag mismatch, or an
	// insert-if-absent that found the key): each one is a retried
	// read-modify-write or a lost race.
	Conflicts float64
	Calls     map[string]float64
}

// stateMethods maps the Dapr API's gRPC state methods to a kind of round
// trip.
var stateMethods = map[string]string{
	"/dapr.proto.runtime.v1.Dapr/GetState":                "get",
	"/dapr.proto.runtime.v1.Dapr/GetBulkState":            "get",
	"/dapr.proto.runtime.v1.Dapr/SaveState":               "set",
	"/dapr.proto.runtime.v1.Dapr/ExecuteStateTransaction": "set",
	"/dapr.proto.runtime.v1.Dapr/DeleteState":             "delete",
	"/dapr.proto.runtime.v1.Dapr/DeleteBulkState":         "delete",
}

// Snapshot is every watched sidecar's counters and Redis's command counts
// at one moment.
type Snapshot struct {
	At    time.Time
	Apps  map[string]Counters
	Redis map[string]float64 // command -> calls, from INFO commandstats
}

// Scraper reads the sidecars' metrics endpoints and Redis's command
// statistics.
type Scraper struct {
	MetricsPorts map[string]int // app id -> its daprd's metrics port
	Redis        *redis.Client
	client       http.Client
}

// Snapshot scrapes everything once.
func (s *Scraper) Snapshot(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{At: time.Now(), Apps: map[string]Counters{}}
	for app, port := range s.MetricsPorts {
		c, err := s.scrape(ctx, port)
		if err != nil {
			return snap, fmt.Errorf("metrics of the %s sidecar: %w", app, err)
		}
		snap.Apps[app] = c
	}
	if s.Redis != nil {
		info, err := s.Redis.Info(ctx, "commandstats").Result()
		if err != nil {
			return snap, fmt.Errorf("redis INFO commandstats: %w", err)
		}
		snap.Redis = parseCommandStats(info)
	}
	return snap, nil
}

func (s *Scraper) scrape(ctx context.Context, port int) (Counters, error) {
	c := Counters{Calls: map[string]float64{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/metrics", nil)
	if err != nil {
		return c, err
	}
	s.client.Timeout = 5 * time.Second
	resp, err := s.client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return c, err
	}
	if f := families["dapr_grpc_io_server_completed_rpcs"]; f != nil {
		for _, m := range f.GetMetric() {
			kind := stateMethods[label(m.GetLabel(), "grpc_server_method")]
			v := value(m.GetCounter().GetValue(), m.GetUntyped().GetValue())
			if kind != "" && kind != "get" && label(m.GetLabel(), "grpc_server_status") == "Aborted" {
				c.Conflicts += v
			}
			switch kind {
			case "get":
				c.Gets += v
			case "set":
				c.Sets += v
			case "delete":
				c.Deletes += v
			}
		}
	}
	if f := families["dapr_runtime_service_invocation_req_sent_total"]; f != nil {
		for _, m := range f.GetMetric() {
			c.Calls[label(m.GetLabel(), "dst_app_id")] += value(m.GetCounter().GetValue(), m.GetUntyped().GetValue())
		}
	}
	return c, nil
}

type labelPair interface {
	GetName() string
	GetValue() string
}

func label[L labelPair](labels []L, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(counter, untyped float64) float64 {
	if counter != 0 {
		return counter
	}
	return untyped
}

// parseCommandStats reads "cmdstat_get:calls=12,usec=..." lines.
func parseCommandStats(info string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

// Rates is what happened between two snapshots, per second or per request.
type Rates struct {
	Apps  map[string]Counters
	Redis map[string]float64
}

// Delta returns (b - a) scaled by 1/per.
func Delta(a, b Snapshot, per float64) Rates {
	r := Rates{Apps: map[string]Counters{}, Redis: map[string]float64{}}
	for app, cb := range b.Apps {
		ca := a.Apps[app]
		d := Counters{Gets: (cb.Gets - ca.Gets) / per, Sets: (cb.Sets - ca.Sets) / per, Deletes: (cb.Deletes - ca.Deletes) / per,
			Conflicts: (cb.Conflicts - ca.Conflicts) / per, Calls: map[string]float64{}}
		for dst, v := range cb.Calls {
			d.Calls[dst] = (v - ca.Calls[dst]) / per
		}
		r.Apps[app] = d
	}
	for cmd, v := range b.Redis {
		r.Redis[cmd] = (v - a.Redis[cmd]) / per
	}
	return r
}

// PerRequest turns the counters of a calibration window into per-request
// figures: what happened in the window, minus the background (idle rates
// times the window's length), divided by the requests sent.
func PerRequest(before, after Snapshot, idle Rates, requests int) Rates {
	window := after.At.Sub(before.At).Seconds()
	raw := Delta(before, after, 1)
	out := Rates{Apps: map[string]Counters{}, Redis: map[string]float64{}}
	n := float64(requests)
	for app, c := range raw.Apps {
		bg := idle.Apps[app]
		pc := Counters{
			Gets:      math.Max(0, c.Gets-bg.Gets*window) / n,
			Sets:      math.Max(0, c.Sets-bg.Sets*window) / n,
			Deletes:   math.Max(0, c.Deletes-bg.Deletes*window) / n,
			Conflicts: math.Max(0, c.Conflicts-bg.Conflicts*window) / n,
			Calls:     map[string]float64{},
		}
		for dst, v := range c.Calls {
			pc.Calls[dst] = math.Max(0, v-bg.Calls[dst]*window) / n
		}
		out.Apps[app] = pc
	}
	for cmd, v := range raw.Redis {
		out.Redis[cmd] = math.Max(0, v-idle.Redis[cmd]*window) / n
	}
	return out
}

// RedisTotal is the Redis commands per request, all kinds together.
func (r Rates) RedisTotal() float64 {
	t := 0.0
	for _, v := range r.Redis {
		t += v
	}
	return t
}

// Step rounds an app's per-request counters into a floor step. The
// gateway's direct Redis commands (its rate limiter's EVALSHA) are given
// by evalsha.
func (c Counters) Step(evalsha float64) floor.Step {
	s := floor.Step{Gets: round(c.Gets), Sets: round(c.Sets), Deletes: round(c.Deletes), Redis: round(evalsha)}
	dsts := make([]string, 0, len(c.Calls))
	for dst := range c.Calls {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		for i := 0; i < round(c.Calls[dst]); i++ {
			s.Calls = append(s.Calls, dst)
		}
	}
	return s
}

func round(v float64) int { return int(math.Round(v)) }
