package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/loupe-ml/loupe/internal/natstest"
)

// mainArgsEnv, set to a JSON list of arguments, makes the test binary run
// loupe with them (a worker process that the test can signal).
const mainArgsEnv = "LOUPE_CMD_TEST_MAIN"

func TestMain(m *testing.M) {
	if args := os.Getenv(mainArgsEnv); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Args = append([]string{"loupe"}, a...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startLoupe starts the test binary as `loupe args…`; its stdout lines go
// to the returned channel.
func startLoupe(t *testing.T, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(a))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, lines
}

// TestJobsEmbedCLI: loupe jobs submit embed, two loupe worker processes,
// loupe jobs wait and status. OUT.npy equals loupe embed's file byte for
// byte; a worker stops cleanly on SIGTERM.
func TestJobsEmbedCLI(t *testing.T) {
	_, url := natstest.Start(t)
	dir := t.TempDir()
	var in strings.Builder
	for i := range 120 {
		if i == 50 {
			in.WriteString("\n") // a blank line is a text too
		}
		fmt.Fprintf(&in, "verse %d: in the beginning God created the heaven and the earth %d\n", i, i*7)
	}
	input := filepath.Join(dir, "in.txt")
	os.WriteFile(input, []byte(in.String()), 0o644)

	w1, lines := startLoupe(t, "worker", "--nats", url, "--format", "json")
	startLoupe(t, "worker", "--nats", url, "--concurrency", "2")

	out := filepath.Join(dir, "out.npy")
	stdout, _, err := runCmd(t, "jobs", "submit", "embed", "--nats", url, "--input", input, "--output", out, "--batch", "16", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var sub struct {
		ID    string `json:"id"`
		Tasks int    `json:"tasks"`
		Rows  int    `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &sub); err != nil || sub.ID == "" {
		t.Fatalf("submit printed %q: %v", stdout, err)
	}
	if sub.Rows != 121 || sub.Tasks != 8 {
		t.Fatalf("submitted %+v, want 121 rows in 8 tasks", sub)
	}
	if _, _, err := runCmd(t, "jobs", "wait", "--nats", url, "--timeout", "30s", sub.ID); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "single.npy")
	if _, _, err := runCmd(t, "embed", "--input", input, "--output", single); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(single)
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("jobs output (%d bytes) differs from loupe embed's (%d bytes)", len(got), len(want))
	}
	stdout, _, err = runCmd(t, "jobs", "status", "--nats", url, sub.ID, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Done, Pending, Failed int
		Written               string
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.Done != 8 || st.Pending != 0 || st.Failed != 0 || st.Written != out {
		t.Fatalf("status %s (%v)", stdout, err)
	}

	if _, _, err := runCmd(t, "jobs", "delete", "--nats", url, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "jobs", "status", "--nats", url, sub.ID); err == nil || !strings.Contains(err.Error(), "no job") {
		t.Fatalf("status after delete: %v", err)
	}

	// Worker 1 printed JSON lines, one per task it did.
	if err := w1.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error)
	go func() { exited <- w1.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("worker exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running 10s after SIGTERM")
	}
	for l := range lines {
		var ev struct{ Job, Outcome string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Job != sub.ID {
			t.Errorf("worker line %q (%v)", l, err)
		}
	}
}

// TestJobsWaitFails: a job whose model no worker can load fails every
// task after --max-deliver deliveries; jobs wait exits non-zero naming the
// tasks and the error.
func TestJobsWaitFails(t *testing.T) {
	_, url := natstest.Start(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "in.txt")
	os.WriteFile(input, []byte("one\ntwo\nthree\n"), 0o644)
	startLoupe(t, "worker", "--nats", url)
	missing := filepath.Join(dir, "no-such-model")
	stdout, _, err := runCmd(t, "jobs", "submit", "embed", "--nats", url, "--input", input, "--output", filepath.Join(dir, "out.npy"),
		"--model", missing, "--batch", "2", "--max-deliver", "2", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var sub struct{ ID string }
	json.Unmarshal([]byte(stdout), &sub)
	_, _, err = runCmd(t, "jobs", "wait", "--nats", url, "--timeout", "30s", sub.ID)
	if err == nil {
		t.Fatal("jobs wait succeeded for a job that cannot run")
	}
	for _, want := range []string{"2 of 2 tasks failed", "task 0 (input lines 1-2, 2 deliveries)", "task 1", "no-such-model"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.npy")); !os.IsNotExist(err) {
		t.Errorf("output written for a failed job")
	}
}

// TestJobsCLIErrors: connection problems and bad arguments are named.
func TestJobsCLIErrors(t *testing.T) {
	_, url := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "u", "p" })
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "status", "--nats", url, "--nats-user", "u", "--nats-password", "bad", "x"}, "authentication failed"},
		{[]string{"jobs", "status", "--nats", url, "--nats-user", "u", "--nats-password", "p", "nosuch"}, "no job nosuch"},
		{[]string{"jobs", "submit", "embed", "--nats", url, "--input", "x.txt"}, "give --input FILE and --output OUT.npy"},
		{[]string{"jobs", "wait", "--nats", "nats://127.0.0.1:1", "x"}, "cannot connect to nats://127.0.0.1:1"},
	} {
		_, _, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
