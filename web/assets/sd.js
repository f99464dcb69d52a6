"use strict";
// The Stable Diffusion explorable: the final image and its settings; a step
// slider over the denoising (decoded x̂₀ at the nearest decoded step, the
// noise prediction); per-token cross-attention maps over the image.
(function () {
  const data = JSON.parse(document.getElementById("loupe-data").textContent);
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const s = data.settings || {};
  $("sd-final").src = data.image;

  // Settings table.
  const rows = [["prompt", s.prompt], ["negative prompt", s.negative_prompt || "(none)"],
    ["scheduler", s.scheduler], ["steps", s.steps + (s.model_calls !== s.steps ? " (" + s.model_calls + " model calls)" : "")],
    ["guidance", s.guidance], ["seed", s.seed], ["size", s.width + "×" + s.height],
    ["prediction", s.prediction_type || "epsilon"]];
  if (s.image_to_image) rows.push(["strength", s.strength]);
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.appendChild(el("th", "", k));
    tr.appendChild(el("td", "", String(v)));
    $("sd-settings").appendChild(tr);
  }

  // Denoising: slider and filmstrip.
  const steps = data.steps || [];
  const slider = $("sd-step");
  slider.max = String(Math.max(1, steps.length));
  function showStep(k) { // k: 0-based index into steps
    const st = steps[k];
    if (!st) return;
    slider.value = String(k + 1);
    $("sd-step-label").textContent = "step " + st.step + " of " + steps.length + ", timestep " + (+st.timestep.toFixed(2));
    let j = k;
    while (j > 0 && !steps[j].predicted) j--;
    if (steps[j].predicted) {
      $("sd-x0").src = steps[j].predicted;
      $("sd-x0-label").textContent = "x̂₀ decoded at step " + steps[j].step;
    }
    $("sd-noise").src = st.noise;
    $("sd-noise-label").textContent = "noise prediction, rms " + st.noise_rms.toFixed(3) + ", full grey scale ±" + st.noise_scale.toFixed(3);
    for (const f of document.querySelectorAll("#sd-strip figure")) f.classList.toggle("on", Number(f.dataset.k) === j);
  }
  steps.forEach((st, k) => {
    if (!st.predicted) return;
    const f = el("figure");
    f.dataset.k = String(k);
    const im = el("img");
    im.src = st.predicted;
    im.alt = "x̂₀ at step " + st.step;
    f.appendChild(im);
    f.appendChild(el("figcaption", "", "step " + st.step));
    f.addEventListener("click", () => showStep(k));
    $("sd-strip").appendChild(f);
  });
  slider.addEventListener("input", () => showStep(Number(slider.value) - 1));
  showStep(0);

  // Cross-attention.
  const att = data.attention;
  const tokens = data.tokens || [];
  const overlay = $("sd-overlay");
  const finalImg = new Image();
  let selected = -1;
  // mapCanvas paints token k's map at its own resolution, in the accent
  // colour with opacity = the scaled value.
  function mapCanvas(k, alpha) {
    const c = document.createElement("canvas");
    c.width = att.width;
    c.height = att.height;
    const ctx = c.getContext("2d");
    const img = ctx.createImageData(att.width, att.height);
    const m = att.maps[k];
    for (let p = 0; p < m.length; p++) {
      img.data[4 * p] = 91; img.data[4 * p + 1] = 60; img.data[4 * p + 2] = 196;
      img.data[4 * p + 3] = Math.round(255 * alpha * Math.max(0, Math.min(1, m[p])));
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }
  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.imageSmoothingEnabled = false;
    if (finalImg.complete) ctx.drawImage(finalImg, 0, 0, overlay.width, overlay.height);
    if (selected >= 0 && att) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(mapCanvas(selected, 0.75), 0, 0, overlay.width, overlay.height);
    }
  }
  function select(k) {
    selected = k;
    for (const t of document.querySelectorAll("#sd-tokens .tok")) t.classList.toggle("selected", Number(t.dataset.k) === k);
    for (const f of document.querySelectorAll("#sd-maps figure")) f.classList.toggle("on", Number(f.dataset.k) === k);
    drawOverlay();
  }
  overlay.width = s.width || 256;
  overlay.height = s.height || 256;
  finalImg.onload = drawOverlay;
  finalImg.src = data.image;
  if (!att) {
    $("sd-noattn").hidden = false;
    overlay.hidden = true;
  }
  tokens.forEach((t, k) => {
    const span = el("span", "tok", t.replace(/<\/w>/g, ""));
    span.dataset.k = String(k);
    if (att) span.addEventListener("click", () => select(k));
    $("sd-tokens").appendChild(span);
    if (!att) return;
    const f = el("figure");
    f.dataset.k = String(k);
    const c = mapCanvas(k, 1);
    f.appendChild(c);
    f.appendChild(el("figcaption", "", t.replace(/<\/w>/g, "")));
    f.appendChild(el("figcaption", "small", att.peak[k].toPrecision(2)));
    f.addEventListener("click", () => select(k));
    $("sd-maps").appendChild(f);
  });
  // Start on the first word (after <|startoftext|>, which soaks up attention).
  if (att && tokens.length > 1) select(1);
})();
