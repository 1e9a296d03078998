package topology

import (
	"os/exec"
	"testing"
	"time"
)

// A daprd in this network namespace counts as a running FinFlow; one in
// another (a Compose container, a test's private topology) does not, since
// it can take neither this run's ports nor its mDNS answers. The stand-ins
// are shells whose argv[0] is daprd, as the process scan reads it.
func TestRunningDaprdsSeesOnlyThisNetwork(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed to start a process in another network namespace")
	}
	start := func(prefix ...string) {
		args := append(prefix, "bash", "-c", "exec -a daprd bash -c 'sleep 30; :' x --app-id "+map[bool]string{true: "probe-other", false: "probe-here"}[len(prefix) > 0])
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	start()
	start("unshare", "-n")
	var found map[string]int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if found = runningDaprds(); found["probe-here"] != 0 {
			break
		}
	}
	if found["probe-here"] == 0 {
		t.Fatalf("a daprd in this network namespace was not found: %v", found)
	}
	// Give the other one the same time to appear, then it must not be there.
	time.Sleep(200 * time.Millisecond)
	if pid, ok := runningDaprds()["probe-other"]; ok {
		t.Fatalf("a daprd in another network namespace (pid %d) counted as running here", pid)
	}
}
