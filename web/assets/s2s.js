"use strict";
// The seq2seq explorable: an attention heatmap with a view selector (the
// decoder's cross-attention, target × source; the encoder's self-attention,
// source × source; the decoder's causal self-attention, target × decoder
// inputs), layer and head selectors (each may be the mean), and the
// selected row's most attended tokens.
// Served by loupe serve (data-mode "server"), the page starts empty with a
// source box that posts to api/explain and shows the answer.
(function () {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const subtitle = document.getElementById("subtitle").textContent;
  const sections = ["s2s-text", "s2s-cross"].map((id) => document.getElementById(id));
  // show renders explanation data (seq2seq.Explanation's JSON).
  function show(data) {
    sections.forEach((v) => { v.hidden = false; });
    const layerSel = document.getElementById("s2s-layer");
    const headSel = document.getElementById("s2s-head");
    const viewSel = document.getElementById("s2s-view");
    const fill = (sel, n, name) => {
      sel.textContent = "";
      sel.appendChild(new Option("mean", "mean"));
      for (let i = 0; i < n; i++) sel.appendChild(new Option(name + " " + i, String(i)));
    };
    // The views the explanation holds: probs(l, h, i) is row i's
    // probabilities (a causal row is shorter: the missing columns are
    // future positions).
    const views = {
      cross: {
        name: "cross-attention", title: "Cross-attention", layers: data.layers, heads: data.heads,
        rows: data.target, cols: data.source, what: "target", probs: (l, h, i) => data.cross_attention[l][h][i],
        hint: "Each row is a target token, each column a source token: the share of the decoder's attention over the source in the step that produced the row's token.",
      },
    };
    if (data.encoder_attention) {
      const a = data.encoder_attention;
      views.encoder = {
        name: "encoder self-attention", title: "Encoder self-attention", layers: a.layers, heads: a.heads,
        rows: data.source, cols: data.source, what: "source", probs: (l, h, i) => a.probs[l][h][i],
        hint: "Each row is a source token, each column a source token: the share of the encoder's attention the row's token gives each token of the source (both directions).",
      };
    }
    if (data.decoder_attention) {
      const a = data.decoder_attention;
      views.decoder = {
        name: "decoder self-attention", title: "Decoder self-attention", layers: a.layers, heads: a.heads,
        rows: data.target, cols: data.decoder_inputs, what: "target", probs: (l, h, i) => a.probs[l][h][i],
        hint: "Each row is a target token, each column a decoder input (the start token, then the target so far): the share of the decoder's causal self-attention in the step that produced the row's token. Blank cells are future positions it cannot see.",
      };
    }
    let view = views.cross;
    // setView switches to view k: its layers and heads (the last layer, the
    // mean over heads), its rows and columns.
    function setView(k) {
      view = views[k];
      viewSel.value = k;
      fill(layerSel, view.layers, "layer");
      fill(headSel, view.heads, "head");
      layerSel.value = String(view.layers - 1);
      headSel.value = "mean";
      document.getElementById("s2s-title").textContent = view.title;
      document.getElementById("s2s-hint").textContent = view.hint +
        " Numbers are percentages; the shading spans the smallest (white) to the largest cell shown. Click a row or a " + view.what + " token for the tokens it attends to most.";
      selected = Math.min(selected, view.rows.length - 1);
    }
    let selected = 0;

    // matrix returns [rows][cols]: the chosen layer and head, or the mean
    // over them; null for a position a causal row cannot see.
    function matrix() {
      const ls = layerSel.value === "mean" ? [...Array(view.layers).keys()] : [Number(layerSel.value)];
      const hs = headSel.value === "mean" ? [...Array(view.heads).keys()] : [Number(headSel.value)];
      const S = view.cols.length;
      const m = [];
      for (let i = 0; i < view.rows.length; i++) {
        const row = new Array(S).fill(0);
        let seen = S;
        for (const l of ls) for (const h of hs) {
          const a = view.probs(l, h, i);
          seen = a.length;
          for (let j = 0; j < a.length; j++) row[j] += a[j];
        }
        for (let j = 0; j < S; j++) row[j] = j < seen ? row[j] / (ls.length * hs.length) : null;
        m.push(row);
      }
      return m;
    }
    // Cells are shaded from the smallest value shown (white) to the largest
    // (the accent colour), so that weak, near-uniform attention still shows
    // its pattern; the numbers are the percentages.
    const shade = (v, lo, hi) => {
      const a = Math.max(0, Math.min(1, hi > lo ? (v - lo) / (hi - lo) : 1));
      return "rgba(91, 60, 196, " + a.toFixed(3) + ")";
    };

    // renderTarget shows the source and the target; the tokens of the
    // view's rows are clickable (the source's in the encoder view).
    function renderTarget() {
      const p = document.getElementById("s2s-target");
      p.textContent = "";
      const line = (label, toks, rows) => {
        p.appendChild(el("span", "small", label));
        toks.forEach((t, i) => {
          const s = el("span", "tok" + (rows ? " out" : "") + (rows && i === selected ? " selected" : ""), t);
          if (rows) {
            s.dataset.i = String(i);
            s.addEventListener("click", () => select(i));
          }
          p.appendChild(s);
        });
      };
      line("source: ", data.source, view.rows === data.source);
      p.appendChild(el("br"));
      line("target: ", data.target, view.rows === data.target);
    }

    function render() {
      const m = matrix();
      const vals = m.flat().filter((v) => v !== null);
      const hi = Math.max(...vals);
      const lo = Math.min(...vals);
      const wrap = document.getElementById("s2s-heatmap");
      wrap.textContent = "";
      const table = el("table", "grid heatmap");
      const head = el("tr");
      head.appendChild(el("th"));
      view.cols.forEach((t) => head.appendChild(el("th", "src", t)));
      table.appendChild(head);
      m.forEach((row, i) => {
        const tr = el("tr");
        tr.dataset.i = String(i);
        const th = el("th", "clickable tgt", view.rows[i]);
        th.addEventListener("click", () => select(i));
        tr.appendChild(th);
        row.forEach((v, j) => {
          const td = el("td", "cell" + (i === selected ? " sel" : ""));
          if (v === null) { // a future position of a causal row
            td.classList.add("future");
            tr.appendChild(td);
            return;
          }
          td.style.backgroundColor = shade(v, lo, hi);
          td.style.color = v - lo > 0.6 * (hi - lo) ? "#fff" : "#1d1d1f";
          td.title = view.rows[i] + " ← " + view.cols[j] + ": " + (100 * v).toFixed(1) + "%";
          td.dataset.v = String(v);
          td.textContent = Math.round(100 * v);
          tr.appendChild(td);
        });
        table.appendChild(tr);
      });
      wrap.appendChild(table);
      // The selected row's top source tokens.
      const det = document.getElementById("s2s-detail");
      det.textContent = "";
      const row = m[selected];
      det.appendChild(el("div", "knn-head", "“" + view.rows[selected] + "” attends to"));
      const order = [...row.keys()].filter((j) => row[j] !== null).sort((a, b) => row[b] - row[a] || a - b).slice(0, 5);
      for (const j of order) {
        const r = el("div", "bar-row");
        r.appendChild(el("span", "tokname", view.cols[j]));
        const outer = el("div");
        const bar = el("div", "bar");
        bar.style.width = (100 * row[j] / row[order[0]]).toFixed(1) + "%";
        outer.appendChild(bar);
        r.appendChild(outer);
        r.appendChild(el("span", "pct", (100 * row[j]).toFixed(1) + "%"));
        det.appendChild(r);
      }
    }

    // The layer predictions table, when the explanation has them.
    function renderLens() {
      if (!data.layer_predictions) return;
      document.getElementById("s2s-lens").hidden = false;
      const table = el("table", "grid preds");
      const head = el("tr");
      head.appendChild(el("th"));
      for (let l = 0; l < data.layers; l++) head.appendChild(el("th", "", "layer " + l));
      table.appendChild(head);
      data.layer_predictions.forEach((layers, i) => {
        const tr = el("tr");
        tr.dataset.i = String(i);
        tr.appendChild(el("th", "tgt", data.target[i]));
        layers.forEach((preds, l) => {
          const p = data.layer_target_prob[i][l];
          const td = el("td", "lens", preds[0].token + " " + (100 * preds[0].prob).toFixed(1) + "%");
          td.style.backgroundColor = "rgba(91, 60, 196, " + Math.min(1, p).toFixed(3) + ")";
          td.style.color = p > 0.6 ? "#fff" : "#1d1d1f";
          td.title = preds.map((q) => q.token + " " + (100 * q.prob).toFixed(1) + "%").join("\n") +
            "\np(" + data.target[i] + ") = " + (100 * p).toFixed(1) + "%";
          tr.appendChild(td);
        });
        table.appendChild(tr);
      });
      const wrap = document.getElementById("s2s-lens-table");
      wrap.textContent = "";
      wrap.appendChild(table);
    }

    function select(i) {
      selected = i;
      renderTarget();
      render();
    }
    // Assigned, not added: a second show replaces the handlers.
    layerSel.onchange = render;
    headSel.onchange = render;
    viewSel.onchange = () => {
      setView(viewSel.value);
      renderTarget();
      render();
    };
    viewSel.textContent = "";
    for (const k of Object.keys(views)) viewSel.appendChild(new Option(views[k].name, k));
    setView("cross");
    document.getElementById("subtitle").textContent = subtitle + (data.text ? " — " + data.text : "");
    renderTarget();
    render();
    renderLens();
    document.body.setAttribute("data-rendered", "1");
    // Other views of the page (scripts after this one) render each
    // explanation shown, the served page's answers included, from this event.
    document.dispatchEvent(new CustomEvent("loupe-s2s-show", { detail: data }));
  }

  // serverMode shows the source box and explains what it posts.
  function serverMode() {
    document.getElementById("form-section").hidden = false;
    sections.forEach((v) => { v.hidden = true; });
    const status = document.getElementById("status");
    document.getElementById("s2s-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = { prompt: document.getElementById("prompt").value };
      // A field left empty is left out: the model's generation settings decide.
      const cont = document.getElementById("continuation").value;
      if (cont !== "") body.continuation = cont;
      const decoding = document.getElementById("decoding").value;
      if (decoding) body.greedy = decoding === "greedy";
      const methods = document.getElementById("methods").value;
      if (methods) body.methods = [methods];
      [["num-beams", "num_beams"], ["max-new-tokens", "max_new_tokens"], ["seed", "seed"]].forEach((f) => {
        const v = document.getElementById(f[0]).value;
        if (v !== "") body[f[1]] = +v;
      });
      status.className = ""; status.textContent = "working…";
      document.getElementById("go").disabled = true;
      fetch("api/explain", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
        .then((r) => r.json().then((j) => ({ ok: r.ok, j: j })))
        .then((x) => {
          if (!x.ok) throw new Error(x.j.error || "request failed");
          status.textContent = "";
          show(x.j);
        })
        .catch((e) => {
          // Old results would read as the answer to this request: hide them.
          sections.forEach((v) => { v.hidden = true; });
          document.getElementById("s2s-lens").hidden = true;
          document.getElementById("s2s-saliency").hidden = true;
          document.body.removeAttribute("data-rendered");
          status.className = "error"; status.textContent = String(e.message || e);
        })
        .then(() => { document.getElementById("go").disabled = false; });
    });
  }

  const raw = document.getElementById("loupe-data").textContent.trim();
  if (document.getElementById("app").getAttribute("data-mode") === "server") serverMode();
  if (raw && raw !== "null") show(JSON.parse(raw));
})();
