package main

import (
	"context"
	"fmt"
	"strings"

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

// recFlags names the flags of the recommend commands by the options field
// they set (recommend.Options, ProfileOptions, EvalOptions, SynthOptions;
// the same name means the same flag across them).
var recFlags = map[string]string{
	"Dim": "--size", "Window": "--window", "Negative": "--negative", "Epochs": "--epochs",
	"MinCount": "--min-count", "Alpha": "--alpha", "Threads": "--threads", "MarketsFile": "--markets",
	"N": "-n/--top", "K": "-k/--k", "HalfLife": "--half-life",
	"Items": "--items", "Groups": "--groups", "Markets": "--markets", "Sessions": "--sessions",
	"MinLen": "--min-len", "MaxLen": "--max-len", "Noise": "--noise", "TestFraction": "--test",
}

func recTrainCmd() *cobra.Command {
	opt := recommend.DefaultOptions("")
	var out string
	c := &cobra.Command{
		Use:   "train --sessions sessions.txt --out model.bin",
		Short: "Learn item vectors from sessions (one per line, item ids separated by spaces)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			m, st, err := recommend.Train(context.Background(), opt)
			if err != nil {
				return cliError("", err, recFlags)
			}
			if err := m.Save(out); err != nil {
				return err
			}
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{"seconds": st.Seconds, "sessions": st.Sessions, "events": st.Events, "items": st.Items, "pairs": st.Pairs, "out": out}, "trained %d items × %d dims on %d sessions (%d events, %d pairs) in %.1fs; wrote %s\n", st.Items, m.Dim, st.Sessions, st.Events, st.Pairs, st.Seconds, out)
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
	f.StringVar(&opt.MarketsFile, "markets", "", "item→market file (\"item market\" lines): draw half the negatives in-market")
	f.IntVar(&opt.Threads, "threads", 0, "training threads (0: all CPUs)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed (deterministic with --threads 1)")
	return c
}

// recModelCmd is a loadingCmd for --model.
func recModelCmd(use, short string, nargs cobra.PositionalArgs, run func(cmd *cobra.Command, m *recommend.Model, args []string) error) *cobra.Command {
	return loadingCmd(use, short, nargs, "model", "model file from recommend train", recFlags, recommend.Load, run)
}

func recSimilarCmd() *cobra.Command {
	n := recommend.DefaultProfileOptions().N
	c := recModelCmd("similar --model model.bin ITEM", "Items most similar to ITEM", cobra.ExactArgs(1),
		func(cmd *cobra.Command, m *recommend.Model, args []string) error {
			ns, err := m.Similar(args[0], n)
			if err != nil {
				return err
			}
			return printNeighbors(cmd, map[string]any{"item": args[0]}, ns, true)
		})
	c.Flags().IntVarP(&n, "top", "n", n, "number of results")
	return c
}

func recForUserCmd() *cobra.Command {
	var recent string
	opt := recommend.DefaultProfileOptions()
	c := recModelCmd("for-user --model model.bin --recent \"a b c\"", "Top-N unseen items for a user's recent items (oldest first), by a time-decayed profile", cobra.NoArgs,
		func(cmd *cobra.Command, m *recommend.Model, args []string) error {
			items := strings.Fields(recent)
			ns, err := m.ForUser(items, opt)
			if err != nil {
				return err
			}
			return printNeighbors(cmd, map[string]any{"recent": items}, ns, true)
		})
	c.Flags().StringVar(&recent, "recent", "", "the user's recent items, oldest first, separated by spaces")
	c.Flags().IntVarP(&opt.N, "top", "n", opt.N, "number of recommendations")
	c.Flags().Float64Var(&opt.HalfLife, "half-life", opt.HalfLife, "items after which a weight halves (0: equal weights)")
	c.Flags().BoolVar(&opt.IgnoreUnknown, "ignore-unknown", false, "skip recent items missing from the model")
	return c
}

func recEvalCmd() *cobra.Command {
	var sessions string
	opt := recommend.DefaultEvalOptions()
	c := recModelCmd("eval --model model.bin --sessions test.txt", "Hit-rate@K and MRR@K on each session's held-out last item, against the most-popular baseline", cobra.NoArgs,
		func(cmd *cobra.Command, m *recommend.Model, args []string) error {
			if sessions == "" {
				return fmt.Errorf("--sessions is required")
			}
			res, err := m.EvaluateFile(sessions, opt)
			if err != nil {
				return err
			}
			return jsonOrText(cmd.OutOrStdout(), res, res.WriteText)
		})
	c.Flags().StringVar(&sessions, "sessions", "", "held-out sessions (the last item of each is predicted)")
	c.Flags().IntVarP(&opt.K, "k", "k", opt.K, "cut-off K")
	c.Flags().Float64Var(&opt.HalfLife, "half-life", opt.HalfLife, "profile half-life over the session prefix (0: equal weights)")
	return c
}

func recSynthCmd() *cobra.Command {
	opt := recommend.DefaultSynthOptions()
	var dir string
	c := &cobra.Command{
		Use:   "synth --out-dir DIR",
		Short: "Write synthetic sessions with known groups: train.txt, test.txt, markets.tsv, groups.tsv",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("--out-dir is required")
			}
			s, err := recommend.Synthesize(opt)
			if err != nil {
				return cliError("", err, recFlags)
			}
			train, test, err := s.WriteDir(dir)
			if err != nil {
				return err
			}
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{"dir": dir, "train_sessions": train, "test_sessions": test, "items": len(s.Group)}, "wrote %d training and %d test sessions over %d items to %s\n", train, test, len(s.Group), dir)
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "out-dir", "", "output directory")
	f.IntVar(&opt.Items, "items", opt.Items, "catalogue size")
	f.IntVar(&opt.Groups, "groups", opt.Groups, "latent groups")
	f.IntVar(&opt.Markets, "markets", opt.Markets, "markets")
	f.IntVar(&opt.Sessions, "sessions", opt.Sessions, "sessions")
	f.IntVar(&opt.MinLen, "min-len", opt.MinLen, "shortest session")
	f.IntVar(&opt.MaxLen, "max-len", opt.MaxLen, "longest session")
	f.Float64Var(&opt.Noise, "noise", opt.Noise, "probability of an item from anywhere")
	f.Float64Var(&opt.TestFraction, "test", opt.TestFraction, "fraction of sessions held out in test.txt")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed")
	return c
}
