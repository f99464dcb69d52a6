package jobs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/perplexity"
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
	windows, err := splitWindows("job1", []int{5, 6, 7, 8, 9, 10}, []perplexity.Window{{Begin: 0, First: 1, End: 4}, {Begin: 2, First: 4, End: 6}}, 2, 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(windows[0])
	f.Add([]byte(`{"job":"job1","task":0,"windows":[0,1],"tokens":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := decodeTask(b, "job1", 0)
		if err != nil {
			return
		}
		if tk.First < 0 || len(tk.Texts) == 0 && len(tk.Tokens) == 0 {
			t.Fatalf("accepted %+v", tk)
		}
		again, _ := json.Marshal(tk)
		tk2, err := decodeTask(again, "job1", 0)
		if err != nil {
			t.Fatalf("re-encoded task does not decode: %v", err)
		}
		if !reflect.DeepEqual(tk, tk2) {
			t.Fatalf("round trip changed the task: %+v → %+v", tk, tk2)
		}
	})
}

// FuzzDecodeDocs: any input object gives documents or an error, never a
// panic; documents that decode re-encode to the same documents (ids and
// metadata numbers as json.Number, as embed.ReadRecords reads them).
func FuzzDecodeDocs(f *testing.F) {
	recs, err := embed.ReadRecords(strings.NewReader(`{"text": "a", "id": 7, "ref": "Gen 1:1", "n": 1.50}
{"text": "b <&>", "id": "x", "tags": ["t", 2], "m": {"k": null}}

{"text": "ünïcode ✓"}
`), "seed", embed.ReadOptions{})
	if err != nil {
		f.Fatal(err)
	}
	b, err := encodeDocs(recs)
	if err != nil {
		f.Fatal(err)
	}
	got, err := decodeDocs(b)
	if err != nil || !reflect.DeepEqual(got, recs) {
		f.Fatalf("round trip: %v\n%+v\n%+v", err, got, recs)
	}
	f.Add(b)
	f.Add([]byte(`{"text": 3}`))
	f.Add([]byte(`{"text": "a", "meta": [1]}`))
	f.Add([]byte(`{"text": "a"} x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := decodeDocs(b)
		if err != nil {
			return
		}
		again, err := encodeDocs(docs)
		if err != nil {
			return // a JSON number that is not valid on output, say
		}
		docs2, err := decodeDocs(again)
		if err != nil {
			t.Fatalf("re-encoded documents do not decode: %v", err)
		}
		if !reflect.DeepEqual(docs, docs2) {
			t.Fatalf("round trip changed the documents: %+v → %+v", docs, docs2)
		}
	})
}
