package topology

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one supervised process (an app or a daprd) in its own process
// group, so that stopping it also stops anything it started (`go run`
// starts the real app as its child).
type proc struct {
	name    string // "user" or "user-daprd"
	argv    []string
	dir     string
	env     []string
	logPath string
	console *console
	toFile  bool
	toCons  bool
	// onExit is called when the process ends without having been asked to.
	onExit func(p *proc, err error)

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exitErr  error
	expected bool // stop or kill was requested
	logFile  *os.File

	// recent holds the last lines of the current run's output, for saying
	// why it failed (whatever its log destination).
	recentMu sync.Mutex
	recent   []string
}

// recentLines is how many lines of output a process keeps for diagnosis.
const recentLines = 64

// start launches the process. It may be called again after the process
// ended (a restart).
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running", p.name)
		}
	}
	if p.toFile && p.logFile == nil {
		f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening log %s: %w", p.logPath, err)
		}
		p.logFile = f
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.SysProcAttr = sysProcAttr()
	out := &lineWriter{emit: p.emit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s (%s): %w", p.name, strings.Join(p.argv, " "), err)
	}
	p.cmd, p.expected, p.exitErr = cmd, false, nil
	p.recentMu.Lock()
	p.recent = nil
	p.recentMu.Unlock()
	done := make(chan struct{})
	p.done = done
	go func() {
		err := cmd.Wait()
		out.flush()
		p.mu.Lock()
		p.exitErr = err
		expected := p.expected
		p.mu.Unlock()
		close(done)
		if !expected && p.onExit != nil {
			p.onExit(p, err)
		}
	}()
	return nil
}

// emit writes one line of output to the log file and, with a prefix, to the
// console.
func (p *proc) emit(line string) {
	p.recentMu.Lock()
	if len(p.recent) == recentLines {
		p.recent = append(p.recent[:0], p.recent[1:]...)
	}
	p.recent = append(p.recent, line)
	p.recentMu.Unlock()
	if p.toFile && p.logFile != nil {
		_, _ = p.logFile.WriteString(line + "\n")
	}
	if p.toCons {
		p.console.line(p.name, line)
	}
}

// pid returns the process id, or 0 when not running.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) exited() bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// running reports whether the process is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.exited()
}

// signalGroup sends sig to the process's whole group.
func (p *proc) signalGroup(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// stop asks the process group to end (SIGTERM), waits up to grace, then
// kills it (SIGKILL) and waits for it.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	p.expected = true
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return
	}
	p.signalGroup(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		p.signalGroup(syscall.SIGKILL)
		<-done
	}
	// Reap anything of the group that outlived its leader.
	p.killGroupLeftovers()
}

// kill ends the process group at once (SIGKILL), as a crash would.
func (p *proc) kill() {
	p.mu.Lock()
	p.expected = true
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return
	}
	p.signalGroup(syscall.SIGKILL)
	<-done
	p.killGroupLeftovers()
}

func (p *proc) killGroupLeftovers() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (p *proc) closeLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logFile != nil {
		_ = p.logFile.Close()
		p.logFile = nil
	}
}

// tail returns the last n lines of the process's output since it was last
// started.
func (p *proc) tail(n int) []string {
	p.recentMu.Lock()
	defer p.recentMu.Unlock()
	lines := p.recent
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return slices.Clone(lines)
}

// lineWriter splits a process's output into lines.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	// Guard against a process that never writes a newline.
	if len(w.buf) > 64<<10 {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// console serialises prefixed lines from every process.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	color bool
}

var palette = []string{"36", "32", "33", "35", "34", "31", "96", "92", "93", "95"}

func (c *console) line(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := fmt.Sprintf("%-*s |", c.width, name)
	if c.color {
		prefix = "\x1b[" + palette[hash(strings.TrimSuffix(name, "-daprd"))%len(palette)] + "m" + prefix + "\x1b[0m"
	}
	fmt.Fprintf(c.w, "%s %s\n", prefix, text)
}

// loud prints a message that must not be missed.
func (c *console) loud(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if c.color {
		fmt.Fprintf(c.w, "\x1b[1;41;97m!!! %s\x1b[0m\n", msg)
		return
	}
	fmt.Fprintf(c.w, "!!! %s\n", msg)
}

// say prints a launcher message.
func (c *console) say(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "finflow-run | "+format+"\n", args...)
}

func hash(s string) int {
	h := 0
	for i := 0; i < len(s); i++ {
		h = h*31 + int(s[i])
	}
	if h < 0 {
		h = -h
	}
	return h
}
