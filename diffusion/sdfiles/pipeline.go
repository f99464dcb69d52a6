package sdfiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/hub"
)

// ModelIndexFile is the file naming a diffusers pipeline's class and
// components.
const ModelIndexFile = "model_index.json"

// Component is one entry of model_index.json: the library and class that
// load a subfolder, as ["diffusers", "UNet2DConditionModel"].
type Component struct {
	Library string `json:"library"`
	Class   string `json:"class"`
}

// ModelIndex is a parsed model_index.json.
type ModelIndex struct {
	ClassName        string               `json:"_class_name"`
	DiffusersVersion string               `json:"_diffusers_version,omitempty"`
	Components       map[string]Component `json:"components"` // entries [null, null] are left out
}

// ParseModelIndex decodes model_index.json bytes: an object with
// "_class_name", other "_"-prefixed metadata, components as
// [library, class] pairs (either may be null: an absent optional
// component, such as a removed safety checker) and plain settings
// (requires_safety_checker), which are ignored. name is used in errors.
func ParseModelIndex(name string, b []byte) (*ModelIndex, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("sdfiles: %s: %w", name, err)
	}
	x := &ModelIndex{Components: map[string]Component{}}
	if v, ok := raw["_class_name"]; !ok || json.Unmarshal(v, &x.ClassName) != nil || x.ClassName == "" {
		return nil, fmt.Errorf("sdfiles: %s: _class_name is missing or not a string (want a pipeline class such as StableDiffusionPipeline)", name)
	}
	if v, ok := raw["_diffusers_version"]; ok {
		json.Unmarshal(v, &x.DiffusersVersion) // informative only
	}
	for k, v := range raw {
		if strings.HasPrefix(k, "_") {
			continue
		}
		var pair []*string
		if json.Unmarshal(v, &pair) != nil {
			continue // a setting such as requires_safety_checker
		}
		if len(pair) != 2 {
			return nil, fmt.Errorf("sdfiles: %s: component %q is a list of %d, want [library, class]", name, k, len(pair))
		}
		if pair[0] == nil || pair[1] == nil {
			continue
		}
		if *pair[0] == "" || *pair[1] == "" {
			return nil, fmt.Errorf("sdfiles: %s: component %q has an empty library or class", name, k)
		}
		if k == "." || k == ".." || strings.ContainsAny(k, `/\`) {
			return nil, fmt.Errorf("sdfiles: %s: component name %q is not a folder name", name, k)
		}
		x.Components[k] = Component{Library: *pair[0], Class: *pair[1]}
	}
	return x, nil
}

// ReadModelIndex reads and parses a model_index.json file.
func ReadModelIndex(path string) (*ModelIndex, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sdfiles: %w", err)
	}
	return ParseModelIndex(path, b)
}

// Pipelines are the pipeline classes whose components loupe loads: Stable
// Diffusion 1.x/2.x text-to-image, image-to-image and inpainting (same
// components), and latent consistency models distilled from them.
var Pipelines = []string{
	"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
	"LatentConsistencyModelPipeline", "LatentConsistencyModelImg2ImgPipeline",
}

// want lists the components a Stable Diffusion pipeline needs: folder,
// library and accepted classes (a class ending in "Scheduler" for the
// scheduler).
var want = []struct {
	name, library string
	classes       []string
}{
	{"text_encoder", "transformers", []string{"CLIPTextModel"}},
	{"tokenizer", "transformers", []string{"CLIPTokenizer", "CLIPTokenizerFast"}},
	{"unet", "diffusers", []string{"UNet2DConditionModel"}},
	{"vae", "diffusers", []string{"AutoencoderKL"}},
	{"scheduler", "diffusers", nil},
}

// CheckStableDiffusion reports whether the index describes a pipeline this
// package's callers can run, naming the class or component that is not.
func (x *ModelIndex) CheckStableDiffusion() error {
	if !slices.Contains(Pipelines, x.ClassName) {
		return fmt.Errorf("_class_name %q is not a Stable Diffusion 1.x/2.x pipeline (want one of %s)", x.ClassName, strings.Join(Pipelines, ", "))
	}
	for _, w := range want {
		c, ok := x.Components[w.name]
		if !ok {
			return fmt.Errorf("component %q is missing (want [%q, %q])", w.name, w.library, strings.Join(w.classes, "|"))
		}
		if c.Library != w.library {
			return fmt.Errorf("component %q is from library %q, want %q", w.name, c.Library, w.library)
		}
		if w.classes == nil {
			if !strings.HasSuffix(c.Class, "Scheduler") {
				return fmt.Errorf("component %q has class %q, want a diffusers scheduler", w.name, c.Class)
			}
		} else if !slices.Contains(w.classes, c.Class) {
			return fmt.Errorf("component %q has class %q, want %s", w.name, c.Class, strings.Join(w.classes, " or "))
		}
	}
	return nil
}

// Pipeline is a diffusers pipeline on disk: the folder of each component.
type Pipeline struct {
	Dir     string // the folder holding model_index.json
	Index   *ModelIndex
	Variant string // "", "fp16", "bf16": the weights variant asked for
}

// ComponentDir returns the folder of a component (text_encoder,
// tokenizer, unet, vae, scheduler).
func (p *Pipeline) ComponentDir(name string) string { return filepath.Join(p.Dir, name) }

// Options control Open.
type Options struct {
	// Variant picks weights files named with it, as diffusers'
	// variant="fp16" does: diffusion_pytorch_model.fp16.safetensors,
	// model.fp16.safetensors. A component without them uses its plain
	// files.
	Variant string
	// Client resolves hub ids; nil means hub.NewClient() (the environment's
	// cache, token and offline mode).
	Client *hub.Client
}

// Open resolves ref, a local pipeline folder or a hub id (ORG/NAME with an
// optional @REVISION, from the Hugging Face cache or downloaded), reads
// model_index.json and checks it describes a Stable Diffusion pipeline,
// and checks that every component has its config and weights. For a hub
// id it fetches only the files the components need, in the variant asked
// for.
func Open(ctx context.Context, ref string, opt Options) (*Pipeline, error) {
	if err := checkVariant(opt.Variant); err != nil {
		return nil, err
	}
	c := opt.Client
	if c == nil {
		c = hub.NewClient()
	}
	dir, err := c.ModelDir(ctx, ref, []string{ModelIndexFile}, nil)
	if err != nil {
		return nil, fmt.Errorf("sdfiles: %w", err)
	}
	x, err := ReadModelIndex(filepath.Join(dir, ModelIndexFile))
	if err != nil {
		return nil, err
	}
	if err := x.CheckStableDiffusion(); err != nil {
		return nil, fmt.Errorf("sdfiles: %s: %w", filepath.Join(dir, ModelIndexFile), err)
	}
	p := &Pipeline{Dir: dir, Index: x, Variant: opt.Variant}
	if st, err := os.Stat(ref); !(err == nil && st.IsDir()) {
		if err := fetchComponents(ctx, c, ref, p); err != nil {
			return nil, err
		}
	}
	return p, p.check()
}

func checkVariant(v string) error {
	if v != "" && (strings.ContainsAny(v, `./\ `) || len(v) > 32) {
		return fmt.Errorf("sdfiles: variant %q: want a name such as fp16", v)
	}
	return nil
}

// configFiles are the files each component reads besides its weights.
var configFiles = map[string]struct{ required, optional []string }{
	"text_encoder": {[]string{"config.json"}, nil},
	"tokenizer":    {[]string{"vocab.json", "merges.txt"}, []string{"tokenizer_config.json", "special_tokens_map.json"}},
	"unet":         {[]string{"config.json"}, nil},
	"vae":          {[]string{"config.json"}, nil},
	"scheduler":    {[]string{"scheduler_config.json"}, nil},
}

// weightsBase is the weights file name of each component with weights:
// diffusers' models save diffusion_pytorch_model.*, transformers' model.*.
var weightsBase = map[string]string{
	"text_encoder": "model",
	"unet":         "diffusion_pytorch_model",
	"vae":          "diffusion_pytorch_model",
}

// WeightFiles lists, in the order they are tried, the weights files of a
// component folder whose files are named base ("diffusion_pytorch_model"
// or "model"): with a variant first its safetensors file and shard index
// (diffusers' names: base.VARIANT.safetensors,
// base.safetensors.index.VARIANT.json), then base.safetensors, its index,
// base.bin and its index.
func WeightFiles(base, variant string) []string {
	var f []string
	if variant != "" {
		f = append(f, base+"."+variant+".safetensors", base+".safetensors.index."+variant+".json")
	}
	return append(f, base+".safetensors", base+".safetensors.index.json", base+".bin", base+".bin.index.json")
}

// findWeights returns the first of WeightFiles in dir.
func findWeights(dir, base, variant string) (string, error) {
	for _, n := range WeightFiles(base, variant) {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("sdfiles: %w", err)
		}
	}
	return "", fmt.Errorf("sdfiles: %s has none of %s: %w", dir, strings.Join(WeightFiles(base, variant), ", "), checkpoint.ErrNoWeights)
}

// OpenWeights opens the weights of a component folder whose files are
// named base ("diffusion_pytorch_model" for unet/ and vae/, "model" for
// text_encoder/), the first of WeightFiles(base, variant) that exists.
// Sharded variants (base.safetensors.index.VARIANT.json) are not supported
// and say so.
func OpenWeights(dir, base, variant string) (*checkpoint.Checkpoint, error) {
	p, err := findWeights(dir, base, variant)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(p, "."+variant+".json") && variant != "" {
		return nil, fmt.Errorf("sdfiles: %s: sharded %s weights are not supported; use the plain shards or a single file", p, variant)
	}
	c, err := checkpoint.OpenFile(p)
	if err != nil {
		return nil, fmt.Errorf("sdfiles: %w", err)
	}
	return c, nil
}

// check verifies that every component folder has its config files and
// weights.
func (p *Pipeline) check() error {
	for _, name := range sortedKeys(configFiles) {
		d := p.ComponentDir(name)
		for _, f := range configFiles[name].required {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				return fmt.Errorf("sdfiles: pipeline %s: component %s has no %s", p.Dir, name, f)
			}
		}
		if base, ok := weightsBase[name]; ok {
			if _, err := findWeights(d, base, p.Variant); err != nil {
				if p.Variant == "" {
					if m, _ := filepath.Glob(filepath.Join(d, base+".*.safetensors")); len(m) > 0 {
						err = fmt.Errorf("%w (it has %s: ask for that variant)", err, filepath.Base(m[0]))
					}
				}
				return fmt.Errorf("sdfiles: pipeline %s: component %s: %w", p.Dir, name, err)
			}
		}
	}
	return nil
}

// fetchComponents makes the components' files available in the snapshot
// of hub id ref: configs and tokenizer files, then for each model the
// first weights file of WeightFiles the repository has, and the shards a
// shard index lists.
func fetchComponents(ctx context.Context, c *hub.Client, ref string, p *Pipeline) error {
	var required, optional []string
	for _, name := range sortedKeys(configFiles) {
		for _, f := range configFiles[name].required {
			required = append(required, name+"/"+f)
		}
		for _, f := range configFiles[name].optional {
			optional = append(optional, name+"/"+f)
		}
	}
	if _, err := c.ModelDir(ctx, ref, required, optional); err != nil {
		return fmt.Errorf("sdfiles: %w", err)
	}
	for _, name := range sortedKeys(weightsBase) {
		var got string
		for _, f := range WeightFiles(weightsBase[name], p.Variant) {
			file := name + "/" + f
			if _, err := c.ModelDir(ctx, ref, nil, []string{file}); err != nil {
				return fmt.Errorf("sdfiles: %w", err)
			}
			if _, err := os.Stat(filepath.Join(p.Dir, filepath.FromSlash(file))); err == nil {
				got = file
				break
			}
		}
		if got == "" {
			return fmt.Errorf("sdfiles: %s: component %s has none of %s (in the cache or on the hub)", ref, name, strings.Join(WeightFiles(weightsBase[name], p.Variant), ", "))
		}
		if strings.HasSuffix(got, ".json") {
			x, err := checkpoint.ReadIndex(filepath.Join(p.Dir, filepath.FromSlash(got)))
			if err != nil {
				return fmt.Errorf("sdfiles: %w", err)
			}
			var shards []string
			for _, s := range x.Shards() {
				shards = append(shards, path.Join(name, s))
			}
			if _, err := c.ModelDir(ctx, ref, shards, nil); err != nil {
				return fmt.Errorf("sdfiles: %w", err)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
