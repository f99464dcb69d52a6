package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/loupe-ml/loupe/recommend"
	"github.com/spf13/cobra"
)

var recCmd = &cobra.Command{
	Use:   "recommend",
	Short: "Item embeddings from sessions (item2vec, Airbnb-style) and recommendations",
}

func init() {
	rootCmd.AddCommand(recCmd)
	recCmd.AddCommand(recTrainCmd(), recSimilarCmd(), recForUserCmd(), recEvalCmd(), recSynthCmd())
}

// recTrainFlags names the flags of recommend train by the recommend.Options
// field they set.
var recTrainFlags = map[string]string{
	"Dim": "--size", "Window": "--window", "Negative": "--negative", "Epochs": "--epochs",
	"MinCount": "--min-count", "Alpha": "--alpha", "Threads": "--threads",
}

func recTrainCmd() *cobra.Command {
	opt := recommend.DefaultOptions("")
	var out, markets string
	c := &cobra.Command{
		Use:   "train --sessions sessions.txt --out model.bin",
		Short: "Learn item vectors from sessions (one per line, item ids separated by spaces)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if markets != "" {
				m, err := recommend.ReadMarkets(markets)
				if err != nil {
					return err
				}
				opt.Markets = m
			}
			m, st, err := recommend.Train(context.Background(), opt)
			if err != nil {
				return flagError(err, recTrainFlags)
			}
			if err := m.Save(out); err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"seconds": st.Seconds, "sessions": st.Sessions, "events": st.Events, "items": st.Items, "pairs": st.Pairs, "out": out})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %d items × %d dims on %d sessions (%d events, %d pairs) in %.1fs; wrote %s\n", st.Items, m.Dim, st.Sessions, st.Events, st.Pairs, st.Seconds, out)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opt.Sessions, "sessions", "", "sessions file")
	f.StringVar(&out, "out", "", "output model (word2vec binary format)")
	f.IntVar(&opt.Dim, "size", opt.Dim, "vector dimension (1..65536)")
	f.IntVar(&opt.Window, "window", opt.Window, "context window (0: the whole session)")
	f.IntVar(&opt.Negative, "negative", opt.Negative, "negative samples per positive pair (> 0)")
	f.IntVar(&opt.Epochs, "epochs", opt.Epochs, "passes over the sessions (> 0)")
	f.IntVar(&opt.MinCount, "min-count", opt.MinCount, "ignore items seen fewer times")
	f.Float64Var(&opt.Alpha, "alpha", opt.Alpha, "initial learning rate (> 0)")
	f.BoolVar(&opt.GlobalContext, "global-context", false, "use each session's last (booked) item as a context of every item in it")
	f.StringVar(&markets, "markets", "", "item→market file (\"item market\" lines): draw half the negatives in-market")
	f.IntVar(&opt.Threads, "threads", 0, "training threads (0: all CPUs)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed (deterministic with --threads 1)")
	return c
}

func printRecs(cmd *cobra.Command, key string, query any, ns []recNeighbor) error {
	if jsonOutput() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{key: query, "results": ns})
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%.4f\n", n.Item, n.Score)
	}
	return tw.Flush()
}

type recNeighbor struct {
	Item  string  `json:"item"`
	Score float64 `json:"score"`
}

func recSimilarCmd() *cobra.Command {
	var model string
	var n int
	c := &cobra.Command{
		Use:   "similar --model model.bin ITEM",
		Short: "Items most similar to ITEM",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n <= 0 {
				return fmt.Errorf("-n/--top %d: want > 0", n)
			}
			m, err := loadRecModel(model)
			if err != nil {
				return err
			}
			ns, err := m.Similar(args[0], n)
			if err != nil {
				return err
			}
			out := make([]recNeighbor, len(ns))
			for i, x := range ns {
				out[i] = recNeighbor{x.Word, x.Score}
			}
			return printRecs(cmd, "item", args[0], out)
		},
	}
	c.Flags().StringVar(&model, "model", "", "model file from recommend train")
	c.Flags().IntVarP(&n, "top", "n", 10, "number of results")
	return c
}

func loadRecModel(path string) (*recommend.Model, error) {
	if path == "" {
		return nil, fmt.Errorf("--model is required")
	}
	return recommend.Load(path)
}

func recForUserCmd() *cobra.Command {
	var model, recent string
	var opt recommend.ProfileOptions
	c := &cobra.Command{
		Use:   "for-user --model model.bin --recent \"a b c\"",
		Short: "Top-N unseen items for a user's recent items (oldest first), by a time-decayed profile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opt.N <= 0 {
				return fmt.Errorf("-n/--top %d: want > 0", opt.N)
			}
			m, err := loadRecModel(model)
			if err != nil {
				return err
			}
			items := strings.Fields(recent)
			ns, err := m.ForUser(items, opt)
			if err != nil {
				return flagError(err, recProfileFlags)
			}
			out := make([]recNeighbor, len(ns))
			for i, x := range ns {
				out[i] = recNeighbor{x.Word, x.Score}
			}
			return printRecs(cmd, "recent", items, out)
		},
	}
	c.Flags().StringVar(&model, "model", "", "model file from recommend train")
	c.Flags().StringVar(&recent, "recent", "", "the user's recent items, oldest first, separated by spaces")
	c.Flags().IntVarP(&opt.N, "top", "n", 10, "number of recommendations")
	c.Flags().Float64Var(&opt.HalfLife, "half-life", 0, "items after which a weight halves (0: equal weights)")
	c.Flags().BoolVar(&opt.IgnoreUnknown, "ignore-unknown", false, "skip recent items missing from the model")
	return c
}

// recProfileFlags names the flags of for-user and eval by the options
// field they set.
var recProfileFlags = map[string]string{"HalfLife": "--half-life"}

func recEvalCmd() *cobra.Command {
	var model, sessions string
	var opt recommend.EvalOptions
	c := &cobra.Command{
		Use:   "eval --model model.bin --sessions test.txt",
		Short: "Hit-rate@K and MRR@K on each session's held-out last item, against the most-popular baseline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opt.K <= 0 {
				return fmt.Errorf("-k/--k %d: want > 0", opt.K)
			}
			m, err := loadRecModel(model)
			if err != nil {
				return err
			}
			if sessions == "" {
				return fmt.Errorf("--sessions is required")
			}
			s, err := recommend.ReadSessions(sessions)
			if err != nil {
				return err
			}
			res, err := m.Evaluate(s, opt)
			if err != nil {
				return flagError(err, recProfileFlags)
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "method\thit-rate@%d\tMRR@%d\n", res.K, res.K)
			fmt.Fprintf(tw, "embedding profile\t%.4f\t%.4f\n", res.Embedding.HitRate, res.Embedding.MRR)
			fmt.Fprintf(tw, "most popular\t%.4f\t%.4f\n", res.Popular.HitRate, res.Popular.MRR)
			tw.Flush()
			fmt.Fprintf(w, "%d held-out items (%d sessions skipped: no known prefix item)\n", res.Questions, res.Skipped)
			return nil
		},
	}
	c.Flags().StringVar(&model, "model", "", "model file from recommend train")
	c.Flags().StringVar(&sessions, "sessions", "", "held-out sessions (the last item of each is predicted)")
	c.Flags().IntVarP(&opt.K, "k", "k", 10, "cut-off K")
	c.Flags().Float64Var(&opt.HalfLife, "half-life", 0, "profile half-life over the session prefix (0: equal weights)")
	return c
}

// recSynthFlags names the flags of synth by the options field they set.
var recSynthFlags = map[string]string{
	"Items": "--items", "Groups": "--groups", "Markets": "--markets", "Sessions": "--sessions",
	"MinLen": "--min-len", "MaxLen": "--max-len", "Noise": "--noise", "TestFraction": "--test",
}

func recSynthCmd() *cobra.Command {
	var opt recommend.SynthOptions
	var dir string
	var testFrac float64
	c := &cobra.Command{
		Use:   "synth --out-dir DIR",
		Short: "Write synthetic sessions with known groups: train.txt, test.txt, markets.tsv, groups.tsv",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--out-dir is required")
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"--items", opt.Items}, {"--groups", opt.Groups}, {"--markets", opt.Markets}, {"--sessions", opt.Sessions}, {"--min-len", opt.MinLen}, {"--max-len", opt.MaxLen}} {
				if f.v <= 0 {
					return fmt.Errorf("%s %d: want > 0", f.name, f.v)
				}
			}
			s, err := recommend.Synthesize(opt)
			if err != nil {
				return flagError(err, recSynthFlags)
			}
			train, test, err := s.WriteDir(dir, testFrac)
			if err != nil {
				return flagError(err, recSynthFlags)
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": dir, "train_sessions": train, "test_sessions": test, "items": len(s.Group)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d training and %d test sessions over %d items to %s\n", train, test, len(s.Group), dir)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "out-dir", "", "output directory")
	f.IntVar(&opt.Items, "items", 1000, "catalogue size")
	f.IntVar(&opt.Groups, "groups", 25, "latent groups")
	f.IntVar(&opt.Markets, "markets", 5, "markets")
	f.IntVar(&opt.Sessions, "sessions", 20000, "sessions")
	f.IntVar(&opt.MinLen, "min-len", 3, "shortest session")
	f.IntVar(&opt.MaxLen, "max-len", 12, "longest session")
	f.Float64Var(&opt.Noise, "noise", 0.1, "probability of an item from anywhere")
	f.Float64Var(&testFrac, "test", 0.2, "fraction of sessions held out in test.txt")
	f.Uint64Var(&opt.Seed, "seed", 1, "random seed")
	return c
}
