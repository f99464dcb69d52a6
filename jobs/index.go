package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
)

// IndexSpec is what an index job builds: the search index that
// `loupe index build --input FILE --out DIR` builds on one machine. The
// workers embed the documents' texts (as an embed job's tasks do); Wait
// builds the index of the documents and their vectors (search.BuildEmbedded).
type IndexSpec struct {
	// Input names the input file (for humans; the documents travel in the
	// job's input object).
	Input string `json:"input,omitempty"`
	// Output is the index directory Wait writes.
	Output string `json:"output"`
	// Model is the embedding model (default: defaults.Embed), and
	// BatchSize, MaxSeqLength and Quantize its options, as in EmbedSpec.
	Model        string `json:"model"`
	BatchSize    int    `json:"batch_size,omitempty"`
	MaxSeqLength int    `json:"max_seq_length,omitempty"`
	Quantize     string `json:"quantize,omitempty"`
	// Options are the index's kind, metric and parameters (the zero value:
	// index.DefaultOptions()); Dim and Model are set from the vectors and
	// the model.
	Options index.Options `json:"options"`
	// Overwrite lets Wait replace an index already in Output.
	Overwrite bool `json:"overwrite,omitempty"`
}

// SubmitIndex submits a job that builds a search index of docs (as
// embed.ReadRecordsFile reads them without KeepBlank, which is what
// `loupe index build --input` reads): its tasks embed the texts, and Wait
// builds the index directory, the one `loupe index build --input FILE
// --model M --out DIR` builds from the same documents. The documents (ids
// and metadata included) go into the job's input object for Wait.
func SubmitIndex(ctx context.Context, js jetstream.JetStream, docs []embed.Record, spec IndexSpec, opts SubmitOptions) (*Job, error) {
	if spec.Output == "" {
		return nil, fmt.Errorf("jobs: no output directory for the index")
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("jobs: no documents to index")
	}
	emb := EmbedSpec{Input: spec.Input, Model: spec.Model, BatchSize: spec.BatchSize, MaxSeqLength: spec.MaxSeqLength, Quantize: spec.Quantize}
	if err := emb.check(); err != nil {
		return nil, err
	}
	// A model directory is recorded as an absolute path (search.Build
	// does the same), which the workers load.
	emb.Model = embed.RecordedModel(emb.Model)
	spec.Model = emb.Model
	o := spec.Options
	if o == (index.Options{}) {
		o = index.DefaultOptions()
	}
	o.Dim = 1 // set from the vectors
	if err := o.Validate(); err != nil {
		return nil, err
	}
	input, err := encodeDocs(docs)
	if err != nil {
		return nil, err
	}
	job := &Job{Kind: KindIndex, Embed: &emb, Index: &spec, Rows: len(docs)}
	return submit(ctx, js, job, opts, input, func(size, limit int) ([][]byte, error) {
		return splitTasks(job.ID, docs, size, limit)
	})
}

// doc is one document of an index job's input object: an embed.Record.
type doc struct {
	Text string         `json:"text"`
	ID   any            `json:"id,omitempty"`
	Meta map[string]any `json:"meta,omitempty"`
	Line int            `json:"line"`
}

// encodeDocs writes docs as JSON lines of doc.
func encodeDocs(docs []embed.Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i, d := range docs {
		if err := enc.Encode(doc{Text: d.Text, ID: d.ID, Meta: d.Meta, Line: d.Line}); err != nil {
			return nil, fmt.Errorf("jobs: document %d (input line %d): %w", i+1, d.Line, err)
		}
	}
	return b.Bytes(), nil
}

// decodeDocs reads what encodeDocs wrote, numbers as json.Number (as
// embed.ReadRecords reads them).
func decodeDocs(b []byte) ([]embed.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []embed.Record
	for dec.More() {
		var d doc
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("documents: record %d: %w", len(out)+1, err)
		}
		if len(d.Meta) == 0 {
			d.Meta = nil // as embed.ReadRecords leaves a record without other fields
		}
		out = append(out, embed.Record{Text: d.Text, ID: d.ID, Meta: d.Meta, Line: d.Line})
	}
	return out, nil
}

// buildIndex is Wait's output of an index job: it collects the vectors of
// the tasks and builds the index of the job's documents in dir.
func buildIndex(ctx context.Context, s *store, job *Job, dir string, collect func(add func(d taskDone, b []byte) error) error) error {
	var docs []embed.Record
	err := retry(ctx, func(ctx context.Context) error {
		b, err := s.objects.GetBytes(ctx, inputName(job.ID))
		if err != nil {
			return err
		}
		docs, err = decodeDocs(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("input %s: %w", inputName(job.ID), err)
	}
	if len(docs) != job.Rows {
		return fmt.Errorf("input %s: %d documents, the job has %d", inputName(job.ID), len(docs), job.Rows)
	}
	if err := index.CheckFree(dir, index.DirOptions{Overwrite: job.Index.Overwrite}); err != nil {
		return err
	}
	vecs := make([][]float32, 0, job.Rows)
	err = collect(func(d taskDone, b []byte) error {
		all := floats(b)
		for i := range d.Rows {
			vecs = append(vecs, all[i*d.Dim:(i+1)*d.Dim])
		}
		return nil
	})
	if err != nil {
		return err
	}
	spec := job.Index
	st, _, err := search.BuildEmbedded(dir, docs, vecs, search.Options{Model: spec.Model, Index: spec.Options},
		search.AddOptions{}, index.DirOptions{Overwrite: spec.Overwrite})
	if err != nil {
		return err
	}
	return st.Close()
}
