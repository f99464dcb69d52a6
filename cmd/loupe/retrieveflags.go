package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/retrieval"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// retrievalFlags are the retrieval flags loupe generate and loupe explain
// share, with one name and one default each: kNN-LM (--knn DS, --lambda,
// --k, --knn-temperature) and in-context RALM (--retrieve STORE,
// --retrieval-stride, --retrieval-query-tokens, --retrieve-k).
type retrievalFlags struct {
	knn            string
	lambda         float64
	k              int
	knnTemperature float64

	retrieve    string
	stride      int
	queryTokens int
	retrieveK   int
}

// register adds the retrieval flags to f; stride adds
// --retrieval-stride (loupe explain retrieves once, for the prompt, and
// has none).
func (r *retrievalFlags) register(f *pflag.FlagSet, stride bool) {
	d := knnlm.DefaultOptions()
	f.StringVar(&r.knn, "knn", "", "kNN-LM: interpolate with this datastore (loupe knnlm build)")
	f.Float64Var(&r.lambda, "lambda", d.Lambda, "kNN-LM: weight of p_kNN in λ·p_kNN + (1−λ)·p_LM, 0 to 1")
	f.IntVar(&r.k, "k", d.K, "kNN-LM: neighbours retrieved per token")
	f.Float64Var(&r.knnTemperature, "knn-temperature", d.Temperature, "kNN-LM: temperature of the softmax over negative squared distances")
	f.StringVar(&r.retrieve, "retrieve", "", "in-context RALM: put passages retrieved from this chunk store (loupe rag build) before the text")
	if stride {
		f.IntVar(&r.stride, "retrieval-stride", retrieval.DefaultStride, "in-context RALM: retrieve again every this many generated tokens")
	}
	f.IntVar(&r.queryTokens, "retrieval-query-tokens", retrieval.DefaultQueryTokens, "in-context RALM: the query is the text's last this many tokens")
	f.IntVar(&r.retrieveK, "retrieve-k", retrieval.DefaultPassages, "in-context RALM: passages put before the text")
}

// check refuses a method's settings given without the method, and
// settings out of range, before anything is loaded.
func (r *retrievalFlags) check(f *pflag.FlagSet) error {
	need := func(flag string, names ...string) error {
		for _, n := range names {
			if f.Lookup(n) != nil && f.Changed(n) {
				return fmt.Errorf("--%s needs %s", n, flag)
			}
		}
		return nil
	}
	if r.knn == "" {
		if err := need("--knn (a kNN-LM datastore)", "lambda", "k", "knn-temperature"); err != nil {
			return err
		}
	} else if err := r.knnOptions().Check(); err != nil {
		return knnFlagError(err)
	}
	if r.retrieve == "" {
		return need("--retrieve (a chunk store)", "retrieval-stride", "retrieval-query-tokens", "retrieve-k")
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"retrieval-stride", r.stride}, {"retrieval-query-tokens", r.queryTokens}, {"retrieve-k", r.retrieveK}} {
		if f.Lookup(c.name) != nil && c.v < 1 {
			return fmt.Errorf("--%s %d: want a positive number", c.name, c.v)
		}
	}
	return nil
}

func (r *retrievalFlags) knnOptions() knnlm.Options {
	return knnlm.Options{Lambda: r.lambda, K: r.k, Temperature: r.knnTemperature}
}

// openRetrieval is what the retrieval flags opened for a pipeline: the
// kNN-LM Adjuster and the RALM, each nil when its flag is not given.
type openRetrieval struct {
	adjuster *knnlm.Adjuster
	ralm     *retrieval.RALM
	closers  []func() error
}

// open opens --knn's datastore and --retrieve's store for p's model and
// tokenizer (each refuses one built for another).
func (r *retrievalFlags) open(ctx context.Context, p *generate.Pipeline) (_ *openRetrieval, err error) {
	o := &openRetrieval{}
	defer func() {
		if err != nil {
			o.Close()
		}
	}()
	if r.knn != "" {
		if err := p.NeedTokenizer(); err != nil {
			return nil, err
		}
		ds, err := knnlm.Open(r.knn, p.Model, p.Tokenizer)
		if err != nil {
			return nil, err
		}
		o.closers = append(o.closers, ds.Close)
		if o.adjuster, err = ds.NewAdjuster(r.knnOptions()); err != nil {
			return nil, knnFlagError(err)
		}
	}
	if r.retrieve != "" {
		if err := p.NeedTokenizer(); err != nil {
			return nil, err
		}
		s, err := retrieval.Open(ctx, r.retrieve, retrieval.OpenOptions{LM: p.Name, Tokenizer: p.Tokenizer, Hub: hubClient()})
		if err != nil {
			return nil, err
		}
		o.closers = append(o.closers, s.Close)
		opt := retrieval.RALMOptions{Stride: r.stride, QueryTokens: r.queryTokens, K: r.retrieveK}
		if o.ralm, err = retrieval.NewRALM(s, opt); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// hooks returns what is open as generate's retrieval hooks (nil when not
// open), for generate.Settings.
func (o *openRetrieval) hooks() (generate.Adjuster, generate.Contexter) {
	var a generate.Adjuster
	var c generate.Contexter
	if o.adjuster != nil {
		a = o.adjuster
	}
	if o.ralm != nil {
		c = o.ralm
	}
	return a, c
}

// Close releases the datastore and the store.
func (o *openRetrieval) Close() error {
	var errs []error
	for i := len(o.closers) - 1; i >= 0; i-- {
		errs = append(errs, o.closers[i]())
	}
	o.closers = nil
	return errors.Join(errs...)
}
