"use strict";
// The seq2seq explorable's saliency view: hover or click a target token to
// shade the source tokens and the target prefix before it by their share of
// its attribution (data.saliency, seq2seq.Saliency's JSON), per method. It
// renders the page's embedded explanation, and each one s2s.js shows later
// (the served page's answers) through the loupe-s2s-show event.
(function () {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const section = document.getElementById("s2s-saliency");
  const methodSel = document.getElementById("s2s-sal-method");
  // Shaded from white (0) to the accent colour (the row's largest share).
  const shade = (v, hi) => "rgba(91, 60, 196, " + (hi > 0 ? Math.min(1, v / hi) : 0).toFixed(3) + ")";

  function show(data) {
    const sal = data && data.saliency;
    section.hidden = !sal;
    if (!sal) return;
    methodSel.textContent = "";
    for (const m of sal.methods) methodSel.appendChild(new Option(m, m));
    document.getElementById("s2s-sal-what").textContent = sal.target === "logit" ? "logit" : "probability";
    let selected = 0;

    function render() {
      const m = methodSel.value;
      const src = sal.source[m][selected], pre = sal.prefix[m][selected];
      const hi = Math.max(...src, ...pre);
      const share = src.reduce((a, b) => a + b, 0);
      const wrap = document.getElementById("s2s-sal-tokens");
      wrap.textContent = "";
      const line = (label, toks, scores, cls) => {
        const p = el("div", "tokens");
        p.appendChild(el("span", "small", label));
        toks.forEach((t, j) => {
          const s = el("span", "tok " + cls);
          s.textContent = t;
          s.dataset.j = String(j);
          if (j < scores.length) {
            const v = scores[j];
            s.dataset.v = String(v);
            s.style.backgroundColor = shade(v, hi);
            s.style.color = hi > 0 && v > 0.6 * hi ? "#fff" : "#1d1d1f";
            s.title = t + ": " + (100 * v).toFixed(1) + "%";
          } else {
            s.classList.add("future");
            s.style.opacity = "0.35";
          }
          p.appendChild(s);
        });
        wrap.appendChild(p);
      };
      line("source: ", data.source, src, "sal-src");
      line("target prefix: ", sal.prefix_tokens, pre, "sal-pre");
      const out = el("div", "tokens");
      out.appendChild(el("span", "small", "target: "));
      data.target.forEach((t, i) => {
        const s = el("span", "tok out" + (i === selected ? " selected" : ""), t);
        s.dataset.i = String(i);
        s.addEventListener("mouseenter", () => select(i));
        s.addEventListener("click", () => select(i));
        out.appendChild(s);
      });
      wrap.appendChild(out);
      const v = sal.value[selected];
      document.getElementById("s2s-sal-summary").textContent = "“" + data.target[selected] + "” (" +
        (sal.target === "logit" ? "logit " + v.toFixed(3) : "p = " + (100 * v).toFixed(1) + "%") + "): source " +
        (100 * share).toFixed(1) + "%, target prefix " + (100 * (1 - share)).toFixed(1) + "%";
    }
    function select(i) {
      if (i === selected) return;
      selected = i;
      render();
    }
    // Assigned, not added: a second explanation replaces the handler.
    methodSel.onchange = render;
    render();
  }

  document.addEventListener("loupe-s2s-show", (ev) => show(ev.detail));
  // s2s.js has already shown the embedded explanation (before this
  // listener existed): render it here.
  const raw = document.getElementById("loupe-data").textContent.trim();
  if (raw && raw !== "null") show(JSON.parse(raw));
})();
