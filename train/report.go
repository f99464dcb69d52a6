package train

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// Report is what the training report shows.
type Report struct {
	Title       string
	Model       gpt2.Config
	Params      int
	Options     Options
	History     History
	TrainTokens int
	EvalTokens  int
}

// WriteReport writes r as one self-contained HTML file (inline SVG charts
// of the training and held-out loss, the learning rate and the gradient
// norm; no scripts, nothing fetched), atomically.
func WriteReport(path string, r Report) error {
	return atomicfile.Write(path, func(w io.Writer) error { return r.Render(w) })
}

// Render writes the report's HTML to w.
func (r Report) Render(w io.Writer) error {
	h := r.History
	steps := make([]float64, len(h.Losses))
	for i := range steps {
		steps[i] = float64(i + 1)
	}
	var es, el []float64
	for _, e := range h.EvalLosses {
		es, el = append(es, float64(e.Step)), append(el, e.Loss)
	}
	last := func(x []float64) string {
		if len(x) == 0 {
			return "–"
		}
		return fmt.Sprintf("%.4f", x[len(x)-1])
	}
	ppl := "–"
	if len(el) > 0 {
		ppl = fmt.Sprintf("%.2f", math.Exp(el[len(el)-1]))
	}
	tps := 0.0
	if h.StepSeconds > 0 {
		tps = float64(h.Tokens) / h.StepSeconds
	}
	data := map[string]any{
		"Title": r.Title, "Model": r.Model, "Params": r.Params, "O": r.Options,
		"Steps": len(h.Losses), "Tokens": h.Tokens, "Seconds": fmt.Sprintf("%.1f", h.Seconds),
		"TPS": fmt.Sprintf("%.0f", tps), "LastLoss": last(h.Losses), "LastEval": last(el), "PPL": ppl,
		"TrainTokens": r.TrainTokens, "EvalTokens": r.EvalTokens,
		"Loss":  chart("loss (nats per token)", []series{{"training", steps, h.Losses, "#1f77b4", false}, {"held-out", es, el, "#d62728", true}}),
		"LR":    chart("learning rate", []series{{"learning rate", steps, h.LRs, "#2ca02c", false}}),
		"Norms": chart("gradient norm before clipping", []series{{"norm", steps, h.GradNorms, "#9467bd", false}}),
	}
	return reportTemplate.Execute(w, data)
}

type series struct {
	name   string
	x, y   []float64
	color  string
	points bool
}

// chart draws series as an SVG line chart with axes and a legend.
func chart(title string, ss []series) template.HTML {
	const W, H, L, R, T, B = 720.0, 260.0, 60.0, 16.0, 24.0, 32.0
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i := range s.x {
			if math.IsNaN(s.y[i]) || math.IsInf(s.y[i], 0) {
				continue
			}
			x0, x1 = math.Min(x0, s.x[i]), math.Max(x1, s.x[i])
			y0, y1 = math.Min(y0, s.y[i]), math.Max(y1, s.y[i])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`, W, H, W, H, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="16" class="t">%s</text>`, L, template.HTMLEscapeString(title))
	if math.IsInf(x0, 0) {
		b.WriteString(`<text x="60" y="120">no data</text></svg>`)
		return template.HTML(b.String())
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	pad := (y1 - y0) * 0.05
	if y0 >= 0 {
		y0 = math.Max(0, y0-pad)
	} else {
		y0 -= pad
	}
	y1 += pad
	px := func(x float64) float64 { return L + (x-x0)/(x1-x0)*(W-L-R) }
	py := func(y float64) float64 { return H - B - (y-y0)/(y1-y0)*(H-T-B) }
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" class="f"/>`, L, T, W-L-R, H-T-B)
	for i := 0; i <= 4; i++ {
		y := y0 + (y1-y0)*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="g"/><text x="%g" y="%.1f" class="a" text-anchor="end">%.3g</text>`, L, W-R, py(y), py(y), L-4, py(y)+4, y)
		x := x0 + (x1-x0)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="a" text-anchor="middle">%.0f</text>`, px(x), H-B+16, x)
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="a" text-anchor="middle">step</text>`, (L+W-R)/2, H-4)
	for k, s := range ss {
		var pts []string
		for i := range s.x {
			if math.IsNaN(s.y[i]) || math.IsInf(s.y[i], 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.x[i]), py(s.y[i])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, s.color, strings.Join(pts, " "))
		if s.points {
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], s.color)
			}
		}
		lx := W - R - 150
		ly := T + 16 + 16*float64(k)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="3"/><text x="%g" y="%g" class="a">%s</text>`, lx, lx+20, ly-4, ly-4, s.color, lx+26, ly, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:780px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
svg{display:block;margin:1em 0}.t{font-weight:600;font-size:14px}.a{font-size:11px;fill:#555}.g{stroke:#eee}.f{fill:#fcfcfc;stroke:#ccc}
</style></head><body>
<h1>{{.Title}}</h1>
<table>
<tr><th>steps</th><td>{{.Steps}}</td><th>final training loss</th><td>{{.LastLoss}}</td></tr>
<tr><th>tokens trained</th><td>{{.Tokens}}</td><th>final held-out loss</th><td id="eval-loss">{{.LastEval}}</td></tr>
<tr><th>tokens per second</th><td id="tps">{{.TPS}}</td><th>held-out perplexity</th><td id="ppl">{{.PPL}}</td></tr>
<tr><th>seconds</th><td>{{.Seconds}}</td><th>parameters</th><td>{{.Params}}</td></tr>
</table>
<figure id="loss">{{.Loss}}</figure>
<figure id="lr">{{.LR}}</figure>
<figure id="norm">{{.Norms}}</figure>
<h2>Model</h2>
<table><tr><th>n_layer</th><td>{{.Model.NLayer}}</td><th>n_embd</th><td>{{.Model.NEmbd}}</td><th>n_head</th><td>{{.Model.NHead}}</td></tr>
<tr><th>n_positions</th><td>{{.Model.NPositions}}</td><th>vocab_size</th><td>{{.Model.VocabSize}}</td><th>activation</th><td>{{.Model.Activation}}</td></tr></table>
<h2>Settings</h2>
<table>
<tr><th>batch size</th><td>{{.O.BatchSize}}</td><th>sequence length</th><td>{{.O.SeqLen}}</td><th>gradient accumulation</th><td>{{.O.GradAccum}}</td></tr>
<tr><th>learning rate</th><td>{{.O.LR}}</td><th>schedule</th><td>{{.O.Schedule}} (min {{.O.MinLR}})</td><th>warm-up</th><td>{{.O.Warmup}}</td></tr>
<tr><th>weight decay</th><td>{{.O.WeightDecay}}</td><th>betas</th><td>{{.O.Beta1}}, {{.O.Beta2}}</td><th>eps</th><td>{{.O.Eps}}</td></tr>
<tr><th>gradient clip</th><td>{{.O.GradClip}}</td><th>dropout</th><td>{{.O.Dropout}}</td><th>seed</th><td>{{.O.Seed}}</td></tr>
<tr><th>data order</th><td>{{.O.DataOrder}}</td><th>training tokens</th><td>{{.TrainTokens}}</td><th>held-out tokens</th><td>{{.EvalTokens}}</td></tr>
</table>
<p>Written by loupe train gpt2.</p>
</body></html>
`))
