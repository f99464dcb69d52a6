package jobs

import (
	"encoding/json"
	"testing"

	"github.com/loupe-ml/loupe/embed"
)

// FuzzDecodeTask: any message body gives a task or an error, never a
// panic; a task that decodes re-encodes to one that decodes the same.
func FuzzDecodeTask(f *testing.F) {
	recs := []embed.Record{{Text: "In the beginning", Line: 1}, {Text: "", Line: 2}, {Text: "ünïcode ✓", Line: 3}}
	tasks, err := splitTasks("job1", recs, 2, 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range tasks {
		f.Add(b)
	}
	f.Add([]byte(`{"job":"job1","task":0,"first":-1,"texts":["a"]}`))
	f.Add([]byte(`{"job":"job1","task":0,"texts":[]}`))
	f.Add([]byte(`{"job":"other","task":0,"texts":["a"]}`))
	f.Add([]byte(`{"job":"job1","task":0,"texts":[`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := decodeTask(b, "job1", 0)
		if err != nil {
			return
		}
		if tk.First < 0 || len(tk.Texts) == 0 {
			t.Fatalf("accepted %+v", tk)
		}
		again, _ := json.Marshal(tk)
		tk2, err := decodeTask(again, "job1", 0)
		if err != nil {
			t.Fatalf("re-encoded task does not decode: %v", err)
		}
		if len(tk2.Texts) != len(tk.Texts) || tk2.First != tk.First {
			t.Fatalf("round trip changed the task: %+v → %+v", tk, tk2)
		}
	})
}
