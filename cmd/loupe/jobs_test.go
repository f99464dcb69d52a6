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

// submitJob runs loupe jobs submit args… --format json and returns the
// job's id.
func submitJob(t *testing.T, args ...string) string {
	t.Helper()
	stdout, _, err := runCmd(t, append(append([]string{"jobs", "submit"}, args...), "--format", "json")...)
	if err != nil {
		t.Fatalf("jobs submit %v: %v", args, err)
	}
	var sub struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &sub); err != nil || sub.ID == "" {
		t.Fatalf("submit printed %q: %v", stdout, err)
	}
	return sub.ID
}

// sameFiles fails unless the files rel of directories a and b are equal.
func sameFiles(t *testing.T, a, b string, rel ...string) {
	t.Helper()
	for _, f := range rel {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s (%d vs %d bytes)", f, a, b, len(x), len(y))
		}
	}
}

// TestJobsKindsCLI: loupe jobs submit index, knnlm-datastore and explain
// with two loupe worker processes give what loupe index build + loupe
// search, loupe knnlm build and loupe explain --format json give on one
// machine.
func TestJobsKindsCLI(t *testing.T) {
	_, url := natstest.Start(t)
	dir := t.TempDir()
	startLoupe(t, "worker", "--nats", url)
	startLoupe(t, "worker", "--nats", url)
	wait := func(id string) {
		t.Helper()
		if _, _, err := runCmd(t, "jobs", "wait", "--nats", url, "--timeout", "60s", id); err != nil {
			t.Fatal(err)
		}
	}

	// index: the same index file, the same top-k.
	var docs strings.Builder
	for i := range 40 {
		fmt.Fprintf(&docs, `{"text": "verse %d: the LORD spake unto Moses, saying %d", "id": "v%d", "book": "Exodus"}`+"\n", i, i*3, i)
	}
	input := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(input, []byte(docs.String()), 0o644)
	jobIdx, single := filepath.Join(dir, "jobs.idx"), filepath.Join(dir, "single.idx")
	id := submitJob(t, "index", "--nats", url, "--input", input, "--output", jobIdx, "--kind", "flat", "--batch", "9")
	wait(id)
	if _, _, err := runCmd(t, "index", "build", "--input", input, "--kind", "flat", "--out", single); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, jobIdx, single, "index.loupe")
	var top [2]string
	for i, d := range []string{jobIdx, single} {
		out, _, err := runCmd(t, "search", "--index", d, "--k", "5", "Moses spake 7")
		if err != nil {
			t.Fatal(err)
		}
		top[i] = out
	}
	if top[0] != top[1] || !strings.Contains(top[0], "Moses") {
		t.Errorf("top-5 differ:\n%s\n%s", top[0], top[1])
	}

	// knnlm-datastore: the same tokens, keys and index file.
	var corpus strings.Builder
	for i := range 30 {
		fmt.Fprintf(&corpus, "And the LORD said unto Moses, Stretch out thine hand %d times.\n", i)
	}
	text := filepath.Join(dir, "corpus.txt")
	os.WriteFile(text, []byte(corpus.String()), 0o644)
	jobDS, singleDS := filepath.Join(dir, "jobs.knn"), filepath.Join(dir, "single.knn")
	id = submitJob(t, "knnlm-datastore", "--nats", url, "--input", text, "--documents", "lines", "--max-length", "48", "--output", jobDS, "--batch", "100")
	wait(id)
	if _, _, err := runCmd(t, "knnlm", "build", "--corpus", text, "--documents", "lines", "--max-length", "48", "--out", singleDS); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, jobDS, singleDS, "tokens.npy", filepath.Join("index", "index.loupe"))

	// explain: line i is loupe explain --format json of prompt i.
	prompts := []string{"In the beginning", "And Moses said", "The LORD is my shepherd"}
	in := filepath.Join(dir, "prompts.txt")
	os.WriteFile(in, []byte(strings.Join(prompts, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "explained.jsonl")
	flags := []string{"--greedy", "--max-new-tokens", "3", "--nmf-components", "2", "--watch", " the"}
	id = submitJob(t, append([]string{"explain", "--nats", url, "--input", in, "--output", out, "--batch", "2"}, flags...)...)
	wait(id)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(prompts) {
		t.Fatalf("%d lines for %d prompts", len(lines), len(prompts))
	}
	for i, p := range prompts {
		want, _, err := runCmd(t, append(append([]string{"explain", "--format", "json"}, flags...), p)...)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameExplanation(lines[i], strings.TrimSpace(want)); d != "" {
			t.Errorf("prompt %d: the job's line differs from loupe explain's: %s", i, d)
		}
	}
}

// sameExplanation says where two explanations (JSON) differ, timings_ms
// aside: in structure, text or numbers. loupe explain with a seed gives
// the same bits on every run on one machine (its sums are added in a
// fixed order whatever the threads do), so a job's lines must equal it.
func sameExplanation(a, b string) string {
	var x, y map[string]any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		return err.Error()
	}
	if x["timings_ms"] == nil || y["timings_ms"] == nil {
		return "no timings_ms"
	}
	delete(x, "timings_ms")
	delete(y, "timings_ms")
	var diff func(path string, x, y any) string
	diff = func(path string, x, y any) string {
		switch x := x.(type) {
		case map[string]any:
			y, ok := y.(map[string]any)
			if !ok || len(x) != len(y) {
				return path + ": different objects"
			}
			for k, v := range x {
				if d := diff(path+"."+k, v, y[k]); d != "" {
					return d
				}
			}
		case []any:
			y, ok := y.([]any)
			if !ok || len(x) != len(y) {
				return path + ": different arrays"
			}
			for i := range x {
				if d := diff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i]); d != "" {
					return d
				}
			}
		case float64:
			y, ok := y.(float64)
			if !ok || x != y {
				return fmt.Sprintf("%s: %v vs %v", path, x, y)
			}
		default:
			if x != y {
				return fmt.Sprintf("%s: %v vs %v", path, x, y)
			}
		}
		return ""
	}
	return diff("$", x, y)
}
