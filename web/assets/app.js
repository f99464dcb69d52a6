// loupe explain view: renders the JSON of `loupe explain --format json`.
// Self-contained: no libraries, no network requests except POST /api/explain
// when served by `loupe serve`.
(function () {
  "use strict";

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function show(tok) { return tok.replace(/\n/g, "\u21b5"); }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }
  function shadeColor(v, vmax) {
    var a = vmax > 0 ? 0.9 * v / vmax : 0;
    return "rgba(91, 60, 196, " + a.toFixed(3) + ")";
  }
  function textColor(v, vmax) { return vmax > 0 && v / vmax > 0.55 ? "#fff" : ""; }

  // ---------------------------------------------------------------- saliency
  function saliencyView(d) {
    var methods = Object.keys(d.attributions || {}).sort();
    var P = d.prompt_length, G = d.ids.length - P;
    var sec = el("section", { cls: "view", id: "saliency" }, [
      el("h2", { text: "Input saliency" }),
      el("p", { cls: "hint", text: "Hover or tap an output token (underlined) to shade the tokens before it by how much they mattered (target: " + d.target + ")." })
    ]);
    if (!methods.length || G === 0) {
      sec.appendChild(el("p", { cls: "hint", text: "No attributions (nothing was generated)." }));
      return sec;
    }
    var state = { method: methods.indexOf("grad_x_input") >= 0 ? "grad_x_input" : methods[0], sel: -1 };
    var bar = el("div", { cls: "methods" });
    methods.forEach(function (m) {
      bar.appendChild(el("button", { text: m, "data-method": m, cls: m === state.method ? "on" : "", onclick: function () {
        state.method = m;
        Array.prototype.forEach.call(bar.children, function (b) { b.className = b.getAttribute("data-method") === m ? "on" : ""; });
        paint();
      } }));
    });
    sec.appendChild(bar);
    var line = el("div", { cls: "tokens", id: "saliency-tokens" });
    var spans = d.tokens.map(function (t, j) {
      var out = j >= P;
      var passage = d.retrieval && d.retrieval.ralm && j < d.retrieval.ralm.passage_tokens;
      var s = el("span", { cls: "tok " + (out ? "out" : "in") + (passage ? " passage" : ""), "data-j": j, text: show(t) });
      if (out) {
        s.setAttribute("data-i", j - P);
        s.setAttribute("tabindex", "0");
        var pick = function () { state.sel = j - P; paint(); };
        s.addEventListener("mouseenter", pick);
        s.addEventListener("click", pick);
        s.addEventListener("focus", pick);
      }
      line.appendChild(s);
      return s;
    });
    sec.appendChild(line);
    var detail = el("div", { cls: "detail", id: "saliency-detail" });
    sec.appendChild(detail);

    function paint() {
      detail.textContent = "";
      spans.forEach(function (s) { s.style.backgroundColor = ""; s.style.color = ""; s.classList.remove("selected"); s.style.opacity = ""; });
      if (state.sel < 0) return;
      var i = state.sel, scores = d.attributions[state.method][i];
      var vmax = Math.max.apply(null, scores);
      scores.forEach(function (v, j) {
        spans[j].style.backgroundColor = shadeColor(v, vmax);
        spans[j].style.color = textColor(v, vmax);
        spans[j].title = pct(v);
      });
      spans[P + i].classList.add("selected");
      for (var j = P + i + 1; j < spans.length; j++) spans[j].style.opacity = "0.35";
      var head = "Output " + JSON.stringify(d.tokens[P + i]) + " (" + d.target + " " +
        (d.target_values ? d.target_values[i].toPrecision(4) : "?") + ") — " + state.method;
      if (state.method === "integrated_gradients" && d.ig_completeness) {
        var c = d.ig_completeness[i];
        head += "; completeness: Σ=" + c.sum.toPrecision(4) + " vs F(x)−F(0)=" + c.delta.toPrecision(4);
      }
      detail.appendChild(el("div", { cls: "small", text: head }));
      var order = scores.map(function (v, j) { return j; }).sort(function (a, b) { return scores[b] - scores[a]; });
      order.forEach(function (j) {
        detail.appendChild(el("div", { cls: "bar-row" }, [
          el("span", { cls: "tokname", text: JSON.stringify(d.tokens[j]) }),
          el("div", {}, [el("div", { cls: "bar", style: "width:" + (vmax > 0 ? 100 * scores[j] / vmax : 0).toFixed(1) + "%" })]),
          el("span", { text: pct(scores[j]) })
        ]));
      });
    }
    return sec;
  }

  // ---------------------------------------------------------------- rankings + layer predictions
  function rankingsView(d) {
    var P = d.prompt_length, G = d.ids.length - P;
    var sec = el("section", { cls: "view", id: "rankings" }, [
      el("h2", { text: "Rankings and layer predictions" }),
      el("p", { cls: "hint", text: "Rank of each output token in every layer's prediction (logit lens: " + d.logit_lens +
        "; 1 = top). Click a column for that position's top predictions per layer." })
    ]);
    if (!d.rankings || !d.rankings.length || G === 0) return sec;
    var table = el("table", { cls: "grid", id: "rankings-table" });
    var hdr = el("tr", {}, [el("th", { text: "layer" })]);
    var preds = el("div", { id: "layer-predictions" });
    var sel = 0;
    for (var i = 0; i < G; i++) {
      (function (i) {
        hdr.appendChild(el("th", { cls: "clickable", text: show(d.tokens[P + i]), "data-i": i, onclick: function () { sel = i; drawPreds(); } }));
      })(i);
    }
    table.appendChild(hdr);
    d.rankings.forEach(function (row, l) {
      var tr = el("tr", {}, [el("th", { text: String(l + 1) })]);
      row.forEach(function (r, i) {
        var v = Math.min(1, Math.log(r) / Math.log(d.rankings_max || 1000));
        var light = Math.round(35 + 60 * v);
        var td = el("td", { text: String(r), "data-i": i, style: "background:hsl(255,60%," + light + "%);color:" + (light < 60 ? "#fff" : "#222"),
          onclick: function () { sel = i; drawPreds(); } });
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    sec.appendChild(table);
    sec.appendChild(preds);
    function drawPreds() {
      preds.textContent = "";
      Array.prototype.forEach.call(table.querySelectorAll("td"), function (td) {
        td.classList.toggle("sel", +td.getAttribute("data-i") === sel);
      });
      var lp = d.layer_predictions && d.layer_predictions[sel];
      if (!lp) return;
      preds.appendChild(el("h2", { text: "Layer predictions after " + JSON.stringify(d.tokens[P + sel - 1]) + " (output was " + JSON.stringify(d.tokens[P + sel]) + ")" }));
      var t = el("table", { cls: "grid preds" });
      lp.forEach(function (row, l) {
        var tr = el("tr", {}, [el("th", { text: "layer " + (l + 1) })]);
        row.forEach(function (p) {
          var hit = p.id === d.ids[P + sel];
          tr.appendChild(el("td", { text: JSON.stringify(p.token) + " " + pct(p.prob),
            style: "background:rgba(91,60,196," + (0.75 * p.prob).toFixed(3) + ");" + (hit ? "font-weight:700" : "") }));
        });
        t.appendChild(tr);
      });
      preds.appendChild(t);
    }
    drawPreds();
    if (d.rankings_watch) {
      var w = d.rankings_watch;
      var wt = el("table", { cls: "grid", id: "watch-table" });
      wt.appendChild(el("tr", {}, [el("th", { text: "layer" })].concat(w.tokens.map(function (t) { return el("th", { text: show(t) }); }))));
      w.ranks.forEach(function (row, l) {
        wt.appendChild(el("tr", {}, [el("th", { text: String(l + 1) })].concat(row.map(function (r, k) {
          var v = Math.min(1, Math.log(r) / Math.log(1000));
          return el("td", { text: r + " (" + pct(w.probs[l][k]) + ")", style: "background:hsl(255,60%," + Math.round(35 + 60 * v) + "%);color:" + (v < 0.4 ? "#fff" : "#222") });
        }))));
      });
      sec.appendChild(el("h2", { text: "Watched tokens after " + JSON.stringify(d.tokens[w.position]) }));
      sec.appendChild(wt);
    }
    return sec;
  }

  // ---------------------------------------------------------------- NMF
  function nmfView(d) {
    var n = d.nmf;
    var sec = el("section", { cls: "view", id: "nmf" }, [
      el("h2", { text: "Neuron activation factors (NMF)" }),
      el("p", { cls: "hint", text: "MLP activations of layers " + n.from_layer + "–" + n.to_layer + " factorised into " + n.components +
        " factors (reconstruction error " + n.reconstruction_error.toFixed(4) + "). Select a factor to shade the text by it." })
    ]);
    var line = el("div", { cls: "tokens", id: "nmf-tokens" });
    var spans = d.tokens.map(function (t) { var s = el("span", { cls: "tok", text: show(t) }); line.appendChild(s); return s; });
    var list = el("div", {});
    var rows = [];
    function pick(k) {
      rows.forEach(function (r, j) { r.classList.toggle("on", j === k); });
      var f = n.factors[k], vmax = Math.max.apply(null, f);
      f.forEach(function (v, t) { spans[t].style.backgroundColor = shadeColor(v, vmax); spans[t].style.color = textColor(v, vmax); spans[t].title = v.toPrecision(3); });
    }
    n.factors.forEach(function (f, k) {
      var W = Math.max(120, 8 * f.length), H = 26, vmax = Math.max.apply(null, f) || 1;
      var svg = svgEl("svg", { width: W, height: H });
      var pts = f.map(function (v, t) { return (f.length > 1 ? t * (W - 4) / (f.length - 1) + 2 : W / 2) + "," + (H - 2 - (H - 4) * v / vmax).toFixed(1); }).join(" ");
      svg.appendChild(svgEl("polyline", { points: pts, fill: "none", stroke: "#5b3cc4", "stroke-width": "1.5" }));
      var r = el("div", { cls: "spark", "data-k": k, onclick: function () { pick(k); }, onmouseenter: function () { pick(k); } }, [el("span", { cls: "label", text: "factor " + k })]);
      r.appendChild(svg);
      rows.push(r);
      list.appendChild(r);
    });
    sec.appendChild(el("div", { cls: "attn-wrap" }, [list, line]));
    if (n.factors.length) pick(0);
    return sec;
  }

  // ---------------------------------------------------------------- attention
  function attentionView(d) {
    var a = d.attention, T = d.tokens.length;
    var sec = el("section", { cls: "view", id: "attention" }, [
      el("h2", { text: "Attention" }),
      el("p", { cls: "hint", text: "Head view: lines from each token (left) to the tokens it attends to (right); hover a token to isolate it. Model view: every layer × head; click one to show it." })
    ]);
    var state = { layer: 0, head: 0, focus: -1 };
    var rowH = 20, W = 360, H = rowH * T + 10;
    var svg = svgEl("svg", { width: W, height: H, id: "head-view" });
    var title = el("div", { cls: "small" });
    function drawHead() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      title.textContent = "layer " + (state.layer + 1) + ", head " + (state.head + 1);
      var P = a.probs[state.layer][state.head];
      for (var i = 0; i < T; i++) {
        for (var j = 0; j <= i; j++) {
          var w = P[i][j];
          if (w < 0.01) continue;
          if (state.focus >= 0 && state.focus !== i) continue;
          svg.appendChild(svgEl("line", { x1: 110, y1: 10 + i * rowH, x2: W - 110, y2: 10 + j * rowH, stroke: "#5b3cc4", "stroke-opacity": w.toFixed(3), "stroke-width": 2 }));
        }
      }
      d.tokens.forEach(function (t, i) {
        [[104, "end"], [W - 104, "start"]].forEach(function (side, s) {
          var tx = svgEl("text", { x: side[0], y: 14 + i * rowH, "text-anchor": side[1] });
          tx.textContent = show(t);
          if (s === 0) {
            tx.addEventListener("mouseenter", function () { state.focus = i; drawHead(); });
            tx.addEventListener("mouseleave", function () { state.focus = -1; drawHead(); });
          }
          svg.appendChild(tx);
        });
      });
    }
    var grid = el("div", { cls: "modelview", id: "model-view", style: "grid-template-columns: 40px repeat(" + a.heads + ", 42px)" });
    grid.appendChild(el("span"));
    for (var h = 0; h < a.heads; h++) grid.appendChild(el("span", { cls: "lab", text: "h" + (h + 1) }));
    var canvases = [];
    for (var l = 0; l < a.layers; l++) {
      grid.appendChild(el("span", { cls: "lab", text: "L" + (l + 1) }));
      for (h = 0; h < a.heads; h++) {
        (function (l, h) {
          var c = el("canvas", { width: T, height: T, title: "layer " + (l + 1) + " head " + (h + 1) });
          var ctx = c.getContext && c.getContext("2d");
          if (ctx) {
            var img = ctx.createImageData(T, T);
            for (var i = 0; i < T; i++) for (var j = 0; j <= i; j++) {
              var v = a.probs[l][h][i][j], o = 4 * (i * T + j);
              img.data[o] = 255 - Math.round(164 * v); img.data[o + 1] = 255 - Math.round(195 * v); img.data[o + 2] = 255 - Math.round(59 * v); img.data[o + 3] = 255;
            }
            ctx.putImageData(img, 0, 0);
          }
          c.addEventListener("click", function () { state.layer = l; state.head = h; canvases.forEach(function (x) { x.classList.remove("on"); }); c.classList.add("on"); drawHead(); });
          canvases.push(c);
          grid.appendChild(c);
        })(l, h);
      }
    }
    if (canvases.length) canvases[0].classList.add("on");
    drawHead();
    sec.appendChild(el("div", { cls: "attn-wrap" }, [el("div", {}, [title, svg]), grid]));
    return sec;
  }

  // ---------------------------------------------------------------- retrieval
  // kNN-LM: click an output token for the neighbours that moved it.
  function knnView(d, k) {
    var P = d.prompt_length;
    var sec = el("section", { cls: "view", id: "knn" }, [
      el("h2", { text: "kNN-LM: what the retrieved neighbours changed" }),
      el("p", { cls: "hint", text: "p = λ·p_kNN + (1−λ)·p_LM with λ " + k.lambda + ", k " + k.k + ", temperature " + k.temperature +
        (k.datastore ? ", datastore " + k.datastore : "") + ". Output tokens are tinted green where retrieval raised their probability and red where it lowered it; click one for its neighbours (retrieved contexts, the stored next token highlighted, bars = weight in p_kNN). The views below (saliency, rankings, layer predictions) are the plain model's." })
    ]);
    if (!k.tokens.length) return sec;
    var line = el("div", { cls: "tokens", id: "knn-tokens" });
    var maxc = Math.max.apply(null, k.tokens.map(function (t) { return Math.abs(t.change); })) || 1;
    var spans = k.tokens.map(function (t, i) {
      var a = (0.6 * Math.abs(t.change) / maxc).toFixed(3);
      var s = el("span", { cls: "tok out", "data-i": i, tabindex: "0", text: show(t.token),
        title: "p_LM " + pct(t.p_lm) + " → p_mix " + pct(t.p_mix),
        style: "background:" + (t.change >= 0 ? "rgba(30,150,80," + a + ")" : "rgba(200,50,50," + a + ")") });
      s.addEventListener("click", function () { pick(i); });
      s.addEventListener("focus", function () { pick(i); });
      line.appendChild(s);
      return s;
    });
    var prompt = el("div", { cls: "tokens small" , text: "after: " + d.tokens.slice(Math.max(0, P - 12), P).map(show).join("") });
    var detail = el("div", { cls: "detail", id: "knn-detail" });
    sec.appendChild(prompt);
    sec.appendChild(line);
    sec.appendChild(detail);
    function probBar(label, p, cls) {
      return el("div", { cls: "bar-row" }, [
        el("span", { cls: "tokname", text: label }),
        el("div", {}, [el("div", { cls: "bar " + cls, style: "width:" + (100 * p).toFixed(1) + "%" })]),
        el("span", { text: pct(p) })
      ]);
    }
    function pick(i) {
      var t = k.tokens[i];
      spans.forEach(function (s, j) { s.classList.toggle("selected", j === i); });
      detail.textContent = "";
      detail.appendChild(el("div", { cls: "knn-head", id: "knn-change", text: JSON.stringify(t.token) + ": p_LM " + pct(t.p_lm) + " → p_mix " + pct(t.p_mix) +
        " (" + (t.change >= 0 ? "+" : "−") + (100 * Math.abs(t.change)).toFixed(1) + " points; rank " + t.rank_lm + " → " + t.rank_mix + ")" }));
      detail.appendChild(probBar("p_LM", t.p_lm, "lm"));
      detail.appendChild(probBar("p_kNN", t.p_knn, "knn"));
      detail.appendChild(probBar("p_mix", t.p_mix, "mix"));
      detail.appendChild(el("div", { cls: "small", text: t.agreeing + " of the " + t.retrieved + " neighbours retrieved stored this token. p_kNN favours: " +
        (t.knn_predictions || []).map(function (p) { return JSON.stringify(p.token) + " " + pct(p.prob); }).join(", ") }));
      var list = el("ol", { cls: "neighbours", id: "knn-neighbours" });
      var wmax = Math.max.apply(null, t.neighbors.map(function (n) { return n.weight; })) || 1;
      t.neighbors.forEach(function (n) {
        var ctx = el("span", { cls: "ctx" });
        n.context.forEach(function (c) { ctx.appendChild(el("span", { cls: "ctok", text: show(c) })); });
        ctx.appendChild(el("span", { cls: "next " + (n.match ? "match" : "other"), text: show(n.next), title: n.match ? "stored next token = the output token" : "stored next token" }));
        list.appendChild(el("li", { cls: n.match ? "match" : "" }, [
          el("div", { cls: "wbar" }, [el("div", { cls: "bar", style: "width:" + (100 * n.weight / wmax).toFixed(1) + "%" })]),
          el("span", { cls: "w", text: pct(n.weight) }),
          el("span", { cls: "dist", text: "d " + n.distance.toPrecision(4) }),
          ctx
        ]));
      });
      detail.appendChild(list);
    }
    pick(0);
    return sec;
  }

  // In-context RALM: the passage before the prompt, shaded by the selected
  // output token's attribution.
  function ralmView(d, r) {
    var P = d.prompt_length, n = r.passage_tokens;
    var sec = el("section", { cls: "view", id: "ralm" }, [
      el("h2", { text: "In-context RALM: the retrieved passage" }),
      el("p", { cls: "hint", text: "Retrieved once, for the prompt" + (r.query ? " (query: its last " + r.query_tokens + " tokens at most)" : "") +
        ", and put before it: the first " + n + " tokens the model read are passage text. Click an output token to shade the passage by its " + (r.method || "") + " attribution." })
    ]);
    r.passages.forEach(function (p, i) {
      sec.appendChild(el("div", { cls: "small", text: "passage " + (i + 1) + (p.source ? " — " + p.source : "") + " — score " + p.score.toPrecision(4) }));
    });
    var line = el("div", { cls: "tokens", id: "ralm-tokens" });
    var spans = d.tokens.map(function (t, j) {
      var s = el("span", { cls: "tok " + (j < n ? "passage" : j >= P ? "out" : "in"), "data-j": j, text: show(t) });
      if (j >= P) { s.setAttribute("tabindex", "0"); s.addEventListener("click", function () { pick(j - P); }); }
      line.appendChild(s);
      return s;
    });
    sec.appendChild(line);
    var detail = el("div", { cls: "detail", id: "ralm-detail" });
    sec.appendChild(detail);
    function pick(i) {
      if (!r.method || !r.tokens[i]) return;
      var scores = d.attributions[r.method][i], vmax = Math.max.apply(null, scores);
      spans.forEach(function (s, j) {
        s.classList.toggle("selected", j === P + i);
        s.style.backgroundColor = j < scores.length ? shadeColor(scores[j], vmax) : "";
        s.style.color = j < scores.length ? textColor(scores[j], vmax) : "";
        s.style.opacity = j > P + i ? "0.35" : "";
      });
      var t = r.tokens[i];
      detail.textContent = "";
      detail.appendChild(el("div", { cls: "knn-head", id: "ralm-share", text: JSON.stringify(d.tokens[P + i]) + ": " + pct(t.share[r.method]) + " of its " + r.method + " attribution falls on the passage" }));
      t.top.forEach(function (x) {
        detail.appendChild(el("div", { cls: "bar-row" }, [
          el("span", { cls: "tokname", text: "#" + x.position + " " + JSON.stringify(x.token), title: "token " + x.position + " of the input" }),
          el("div", {}, [el("div", { cls: "bar", style: "width:" + (vmax > 0 ? 100 * x.score / vmax : 0).toFixed(1) + "%" })]),
          el("span", { text: pct(x.score) })
        ]));
      });
    }
    if (d.ids.length > P) pick(0);
    return sec;
  }

  // textOf is a continuation's text: the decoded text when the JSON has
  // it (the display tokens show spaces as ␣), else the tokens joined.
  function textOf(text, tokens) {
    return typeof text === "string" ? text : (tokens || []).join("");
  }

  function interventionView(d) {
    var iv = d.intervention;
    return el("section", { cls: "view", id: "intervention" }, [
      el("h2", { text: "Neuron intervention" }),
      el("p", { cls: "tokens", text: "baseline:   " + textOf(iv.baseline_text, iv.baseline_tokens) }),
      el("p", { cls: "tokens", text: "intervened: " + textOf(iv.intervened_text, iv.intervened_tokens) })
    ]);
  }

  function render(d) {
    var views = document.getElementById("views");
    views.textContent = "";
    var sub = document.getElementById("subtitle");
    if (sub && d.model) sub.textContent = d.model;
    views.appendChild(saliencyView(d));
    views.appendChild(rankingsView(d));
    if (d.nmf) views.appendChild(nmfView(d));
    if (d.attention) views.appendChild(attentionView(d));
    if (d.intervention) views.appendChild(interventionView(d));
    if (d.retrieval && d.retrieval.knn) views.insertBefore(knnView(d, d.retrieval.knn), views.firstChild);
    if (d.retrieval && d.retrieval.ralm) views.insertBefore(ralmView(d, d.retrieval.ralm), views.firstChild);
    document.body.setAttribute("data-rendered", "1");
  }

  function serverMode() {
    var form = document.getElementById("explain-form");
    document.getElementById("form-section").hidden = false;
    var status = document.getElementById("status");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var methods = [];
      if (document.getElementById("m-gxi").checked) methods.push("grad_x_input");
      if (document.getElementById("m-grad").checked) methods.push("gradient");
      if (document.getElementById("m-ig").checked) methods.push("integrated_gradients");
      var body = {
        prompt: document.getElementById("prompt").value,
        methods: methods,
        nmf_components: +document.getElementById("nmf").value
      };
      // A field left empty is left out: the model's generation_config.json
      // (as loupe generate) decides.
      var cont = document.getElementById("continuation").value;
      if (cont !== "") body.continuation = cont;
      var decoding = document.getElementById("decoding").value;
      if (decoding) body.greedy = decoding === "greedy";
      [["max-new-tokens", "max_new_tokens"], ["temperature", "temperature"], ["top-k", "top_k"],
        ["top-p", "top_p"], ["seed", "seed"]].forEach(function (f) {
        var v = document.getElementById(f[0]).value;
        if (v !== "") body[f[1]] = +v;
      });
      // One watched token per line, kept as typed (leading spaces and
      // commas are part of a token).
      var watch = document.getElementById("watch").value.split("\n").filter(function (w) { return w !== ""; });
      if (watch.length) body.watch = watch;
      status.className = ""; status.textContent = "working…";
      document.getElementById("go").disabled = true;
      fetch("api/explain", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (x) {
          if (!x.ok) throw new Error(x.j.error || "request failed");
          status.textContent = ""; render(x.j);
        })
        .catch(function (e) {
          // Old results would read as the answer to this request: clear them.
          document.getElementById("views").textContent = "";
          document.body.removeAttribute("data-rendered");
          status.className = "error"; status.textContent = String(e.message || e);
        })
        .then(function () { document.getElementById("go").disabled = false; });
    });
  }

  var app = document.getElementById("app");
  var raw = document.getElementById("loupe-data").textContent.trim();
  if (app.getAttribute("data-mode") === "server") serverMode();
  if (raw && raw !== "null") render(JSON.parse(raw));
})();
