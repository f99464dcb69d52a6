"use strict";
// The seq2seq explorable: a cross-attention heatmap (target × source) with
// layer and head selectors (each may be the mean), and the selected target
// token's top source tokens.
(function () {
  const data = JSON.parse(document.getElementById("loupe-data").textContent);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const layerSel = document.getElementById("s2s-layer");
  const headSel = document.getElementById("s2s-head");
  const fill = (sel, n, name) => {
    sel.appendChild(new Option("mean", "mean"));
    for (let i = 0; i < n; i++) sel.appendChild(new Option(name + " " + i, String(i)));
  };
  fill(layerSel, data.layers, "layer");
  fill(headSel, data.heads, "head");
  // Defaults: the last layer, the mean over its heads.
  layerSel.value = String(data.layers - 1);
  headSel.value = "mean";
  let selected = 0;

  const T = data.target.length, S = data.source.length;
  // matrix returns [T][S]: the chosen layer and head, or the mean over them.
  function matrix() {
    const ls = layerSel.value === "mean" ? [...Array(data.layers).keys()] : [Number(layerSel.value)];
    const hs = headSel.value === "mean" ? [...Array(data.heads).keys()] : [Number(headSel.value)];
    const m = [];
    for (let i = 0; i < T; i++) {
      const row = new Array(S).fill(0);
      for (const l of ls) for (const h of hs) {
        const a = data.cross_attention[l][h][i];
        for (let j = 0; j < S; j++) row[j] += a[j];
      }
      for (let j = 0; j < S; j++) row[j] /= ls.length * hs.length;
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

  function renderTarget() {
    const p = document.getElementById("s2s-target");
    p.textContent = "";
    p.appendChild(el("span", "small", "source: "));
    data.source.forEach((t) => p.appendChild(el("span", "tok", t)));
    p.appendChild(el("br"));
    p.appendChild(el("span", "small", "target: "));
    data.target.forEach((t, i) => {
      const s = el("span", "tok out" + (i === selected ? " selected" : ""), t);
      s.dataset.i = String(i);
      s.addEventListener("click", () => select(i));
      p.appendChild(s);
    });
  }

  function render() {
    const m = matrix();
    const hi = Math.max(...m.map((r) => Math.max(...r)));
    const lo = Math.min(...m.map((r) => Math.min(...r)));
    const wrap = document.getElementById("s2s-heatmap");
    wrap.textContent = "";
    const table = el("table", "grid heatmap");
    const head = el("tr");
    head.appendChild(el("th"));
    data.source.forEach((t) => head.appendChild(el("th", "src", t)));
    table.appendChild(head);
    m.forEach((row, i) => {
      const tr = el("tr");
      tr.dataset.i = String(i);
      const th = el("th", "clickable tgt", data.target[i]);
      th.addEventListener("click", () => select(i));
      tr.appendChild(th);
      row.forEach((v, j) => {
        const td = el("td", "cell" + (i === selected ? " sel" : ""));
        td.style.backgroundColor = shade(v, lo, hi);
        td.style.color = v - lo > 0.6 * (hi - lo) ? "#fff" : "#1d1d1f";
        td.title = data.target[i] + " ← " + data.source[j] + ": " + (100 * v).toFixed(1) + "%";
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
    det.appendChild(el("div", "knn-head", "“" + data.target[selected] + "” attends to"));
    const order = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, 5);
    for (const j of order) {
      const r = el("div", "bar-row");
      r.appendChild(el("span", "tokname", data.source[j]));
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
    document.getElementById("s2s-lens-table").appendChild(table);
  }

  function select(i) {
    selected = i;
    renderTarget();
    render();
  }
  layerSel.addEventListener("change", render);
  headSel.addEventListener("change", render);
  document.getElementById("subtitle").textContent += (data.text ? " — " + data.text : "");
  renderTarget();
  render();
  renderLens();
})();
