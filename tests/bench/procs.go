// Package bench is FinFlow's benchmark (`make bench`) and the floor it is
// measured against; see bench_test.go for what it runs and reports.
package bench

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// Process is one process the benchmark watches: an app, a sidecar, Redis,
// Sentry or the load generator itself.
type Process struct {
	Name string // "payment app", "payment daprd", "redis", "load generator"
	PID  int
}

// FindProcesses finds FinFlow's processes in /proc: every daprd (named by
// its --app-id), every app (the process with APP_ID in its environment that
// is not the `go run` wrapper or daprd), redis-server and sentry. When
// under is not 0, only descendants of that process count (the topology the
// benchmark started itself); the load generator (this process) is added.
func FindProcesses(under int) ([]Process, error) {
	all, err := procfs.AllProcs()
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, p := range all {
		if st, err := p.Stat(); err == nil {
			parent[p.PID] = st.PPID
		}
	}
	descends := func(pid int) bool {
		for i := 0; pid > 1 && i < 64; i++ {
			if pid == under {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	var out []Process
	for _, p := range all {
		if p.PID == os.Getpid() || (under != 0 && !descends(p.PID)) {
			continue
		}
		comm, err := p.Comm()
		if err != nil {
			continue
		}
		switch comm {
		case "daprd":
			if id := flagValue(p, "--app-id"); id != "" {
				out = append(out, Process{Name: id + " daprd", PID: p.PID})
			}
			continue
		case "redis-server":
			out = append(out, Process{Name: "redis", PID: p.PID})
			continue
		case "sentry":
			out = append(out, Process{Name: "sentry", PID: p.PID})
			continue
		case "go":
			continue
		}
		env, err := p.Environ()
		if err != nil {
			continue
		}
		for _, kv := range env {
			if id, ok := strings.CutPrefix(kv, "APP_ID="); ok && id != "" {
				out = append(out, Process{Name: id + " app", PID: p.PID})
				break
			}
		}
	}
	out = append(out, Process{Name: "load generator", PID: os.Getpid()})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func flagValue(p procfs.Proc, flag string) string {
	args, err := p.CmdLine()
	if err != nil {
		return ""
	}
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// Usage is what one process used during a phase.
type Usage struct {
	Process
	CPUSeconds float64
	PeakRSS    uint64 // bytes, the largest resident set sampled in the phase
}

// Sampler measures CPU seconds (from /proc/<pid>/stat) and samples resident
// memory of a set of processes over a phase.
type Sampler struct {
	procs []Process
	start map[int]float64
	peak  map[int]uint64
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

// StartSampler starts measuring procs, sampling memory every interval.
func StartSampler(procs []Process, interval time.Duration) *Sampler {
	s := &Sampler{procs: procs, start: map[int]float64{}, peak: map[int]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range procs {
		if st, err := stat(p.PID); err == nil {
			s.start[p.PID] = st.CPUTime()
		}
	}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func stat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

func (s *Sampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if st, err := stat(p.PID); err == nil {
			if rss := uint64(st.ResidentMemory()); rss > s.peak[p.PID] {
				s.peak[p.PID] = rss
			}
		}
	}
}

// Stop ends the phase and returns each process's usage. A process that
// ended during the phase reports what was measured before it did.
func (s *Sampler) Stop() []Usage {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Usage, 0, len(s.procs))
	for _, p := range s.procs {
		u := Usage{Process: p, PeakRSS: s.peak[p.PID]}
		if st, err := stat(p.PID); err == nil {
			u.CPUSeconds = st.CPUTime() - s.start[p.PID]
		}
		out = append(out, u)
	}
	return out
}

// MiB formats bytes as mebibytes.
func MiB(b uint64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

// MetricsPortOf reads a daprd's --metrics-port from its command line.
func MetricsPortOf(pid int) int {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(flagValue(p, "--metrics-port"))
	return port
}
