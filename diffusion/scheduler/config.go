package scheduler

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Config is a parsed scheduler_config.json: the raw fields, read with each
// scheduler's defaults by New.
type Config struct {
	path string
	raw  map[string]json.RawMessage
}

// ReadConfig reads scheduler_config.json.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	c, err := parseConfig(b, path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseConfig parses the bytes of a scheduler_config.json.
func ParseConfig(b []byte) (*Config, error) { return parseConfig(b, "scheduler_config.json") }

func parseConfig(b []byte, path string) (*Config, error) {
	c := &Config{path: path}
	if err := json.Unmarshal(quoteNonFinite(b), &c.raw); err != nil {
		return nil, fmt.Errorf("scheduler: %s: %w", path, err)
	}
	if c.raw == nil {
		return nil, fmt.Errorf("scheduler: %s: want a JSON object", path)
	}
	return c, nil
}

// ClassName returns _class_name (for example "PNDMScheduler"), or "".
func (c *Config) ClassName() string {
	var s string
	if c == nil {
		return ""
	}
	_ = json.Unmarshal(c.raw["_class_name"], &s)
	return s
}

func (c *Config) fieldErr(name string, format string, args ...any) error {
	return fmt.Errorf("scheduler: %s: %s: %s", c.path, name, fmt.Sprintf(format, args...))
}

// present reports whether the file sets name to a non-null value.
func (c *Config) present(name string) bool {
	if c == nil {
		return false
	}
	v, ok := c.raw[name]
	return ok && string(v) != "null"
}

func (c *Config) str(name string, def string, allowed ...string) (string, error) {
	if !c.present(name) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(c.raw[name], &s); err != nil {
		return "", c.fieldErr(name, "want a string, got %s", c.raw[name])
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", c.fieldErr(name, "%q is not supported (want one of %q)", s, allowed)
}

func (c *Config) boolean(name string, def bool) (bool, error) {
	if !c.present(name) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(c.raw[name], &v); err != nil {
		return false, c.fieldErr(name, "want true or false, got %s", c.raw[name])
	}
	return v, nil
}

func (c *Config) float(name string, def float64) (float64, error) {
	if !c.present(name) {
		return def, nil
	}
	var v float64
	if err := json.Unmarshal(c.raw[name], &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, c.fieldErr(name, "want a number, got %s", c.raw[name])
	}
	return v, nil
}

// floatOrInf is float that also accepts ±Infinity, which Python's json
// module writes for infinite floats (diffusers saves lambda_min_clipped so).
func (c *Config) floatOrInf(name string, def float64) (float64, error) {
	if c.present(name) {
		var s string
		if json.Unmarshal(c.raw[name], &s) == nil {
			switch s {
			case nonFinitePrefix + "Infinity":
				return math.Inf(1), nil
			case nonFinitePrefix + "-Infinity":
				return math.Inf(-1), nil
			}
		}
	}
	return c.float(name, def)
}

// nonFinitePrefix marks the strings quoteNonFinite makes of bare tokens.
const nonFinitePrefix = "loupe-nonfinite:"

// quoteNonFinite turns the bare NaN, Infinity and -Infinity tokens that
// Python's json module writes (not JSON) into marked strings, leaving
// string contents alone.
func quoteNonFinite(b []byte) []byte {
	var out []byte
	inStr := false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inStr {
			out = append(out, ch)
			if ch == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if ch == '"' {
				inStr = false
			}
			continue
		}
		if ch == '"' {
			inStr = true
			out = append(out, ch)
			continue
		}
		matched := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if len(b)-i >= len(tok) && string(b[i:i+len(tok)]) == tok {
				out = append(out, '"')
				out = append(out, nonFinitePrefix...)
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, ch)
		}
	}
	return out
}

func (c *Config) integer(name string, def, lo, hi int) (int, error) {
	if !c.present(name) {
		return def, nil
	}
	var v float64
	if err := json.Unmarshal(c.raw[name], &v); err != nil || v != math.Trunc(v) {
		return 0, c.fieldErr(name, "want an integer, got %s", c.raw[name])
	}
	if v < float64(lo) || v > float64(hi) {
		return 0, c.fieldErr(name, "%v out of range [%d, %d]", v, lo, hi)
	}
	return int(v), nil
}

func (c *Config) floats(name string) ([]float64, error) {
	if !c.present(name) {
		return nil, nil
	}
	var v []float64
	if err := json.Unmarshal(c.raw[name], &v); err != nil {
		return nil, c.fieldErr(name, "want a list of numbers")
	}
	return v, nil
}

// unsupported errors when name is set to anything but its default.
func (c *Config) unsupported(name string, def any) error {
	if !c.present(name) {
		return nil
	}
	want, _ := json.Marshal(def)
	var got, norm any
	_ = json.Unmarshal(c.raw[name], &got)
	_ = json.Unmarshal(want, &norm)
	if fmt.Sprint(got) == fmt.Sprint(norm) {
		return nil
	}
	return c.fieldErr(name, "%s is not supported (only %s)", c.raw[name], want)
}
