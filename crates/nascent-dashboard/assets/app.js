// nascent dashboard: fills the pages from the JSON API and follows the study live through
// server-sent events. Every text from storage is set with textContent, never as HTML.
"use strict";
(function () {
  const body = document.body;
  const page = body.dataset.page;
  const api = body.dataset.api;
  const base = body.dataset.base;
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Math.round(v * 10000) / 10000);
  }
  function secs(v) {
    if (v === null || v === undefined) return "–";
    if (v < 120) return v.toFixed(1) + " s";
    if (v < 7200) return (v / 60).toFixed(1) + " min";
    return (v / 3600).toFixed(2) + " h";
  }
  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.statusText);
    return j;
  }
  function setStatus(msg) {
    let s = document.getElementById("status");
    if (!s) {
      s = el("p", { id: "status", class: "error" });
      document.querySelector("main").prepend(s);
    }
    s.textContent = msg;
    s.hidden = !msg;
  }

  // ---- charts (uPlot) ----
  const charts = {};
  function chartWidth(id) {
    const c = document.getElementById(id);
    return Math.max(280, (c && c.clientWidth) || 480);
  }
  function drawChart(id, opts, data) {
    const target = document.getElementById(id);
    if (!target) return;
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    target.textContent = "";
    if (!data[0] || data[0].length === 0) {
      target.appendChild(el("p", { class: "empty" }, "nothing to show yet"));
      return;
    }
    opts.width = chartWidth(id);
    opts.height = opts.height || 260;
    charts[id] = new uPlot(opts, data, target);
  }
  window.addEventListener("resize", () => {
    for (const id in charts) charts[id].setSize({ width: chartWidth(id), height: charts[id].height });
  });

  const INT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

  function stepChart(id, pts, xLabel, yLabel, integers) {
    const xs = pts.map(p => p[0]);
    const ys = pts.map(p => p[1]);
    drawChart(id, {
      scales: { x: { time: false } },
      axes: [integers ? { label: xLabel, incrs: INT_INCRS } : { label: xLabel }, { label: yLabel, size: 60 }],
      legend: { show: false },
      series: [{}, {
        label: "best so far", stroke: COLORS[0], width: 2,
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 5 },
      }],
    }, [xs, ys]);
  }

  // Learning curves: one series per trial over the union of their steps; single points show
  // as points.
  function curvesChart(id, curves, yLabel) {
    const steps = Array.from(new Set(curves.flatMap(c => c.points.map(p => p[0])))).sort((a, b) => a - b);
    const data = [steps];
    const series = [{}];
    curves.forEach((c, i) => {
      const m = new Map(c.points.map(p => [p[0], p[1]]));
      data.push(steps.map(s => (m.has(s) ? m.get(s) : null)));
      series.push({
        label: "#" + c.number, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
        points: { show: true, size: 6 },
      });
    });
    const pad = steps.length === 1 ? 1 : 0;
    drawChart(id, {
      scales: { x: { time: false, range: (u, lo, hi) => [lo - pad, hi + pad] } },
      axes: [{ label: "epoch", incrs: INT_INCRS }, { label: yLabel || "value", size: 60 }],
      series: series,
    }, data);
  }

  // ---- study page ----
  const selected = new Set();
  const table = { page: 1, sort: "number", desc: true };

  function countsCards(c, elapsed) {
    const box = document.getElementById("counts");
    box.textContent = "";
    const cards = [["trials", c.total], ["running", c.running], ["queued", c.queued],
      ["complete", c.complete], ["pruned", c.pruned], ["failed", c.failed], ["wall time", secs(elapsed)]];
    for (const [k, v] of cards) {
      const d = el("div", { class: "card", "data-count": k });
      d.appendChild(el("span", { class: "v" }, v));
      d.appendChild(el("span", { class: "k" }, k));
      box.appendChild(d);
    }
  }

  function bestLine(s) {
    const box = document.getElementById("best");
    box.textContent = "";
    if (!s.best) { box.appendChild(el("p", {}, "No complete trial yet.")); return; }
    const p = el("p");
    p.appendChild(el("span", {}, "best: "));
    p.appendChild(el("a", { href: base + "/trials/" + s.best.number }, "#" + s.best.number));
    const obj = s.objectives[0];
    p.appendChild(el("span", {}, " " + (obj ? obj.metric : "") + " = " + fmt(s.best.values[0]) + " "));
    p.appendChild(el("code", {}, s.best.arch));
    box.appendChild(p);
  }

  const archCache = new Map();
  async function trialArch(n) {
    if (!archCache.has(n)) archCache.set(n, getJSON(api + "/trials/" + n).then(t => t.arch));
    return archCache.get(n);
  }

  function scatterChart(s) {
    const sc = s.scatter;
    const pts = sc.points.slice().sort((a, b) => a[0] - b[0]);
    const front = new Map(sc.front.map(p => [p[2], p]));
    const xs = pts.map(p => p[0]);
    const ys = pts.map(p => p[1]);
    const fy = pts.map(p => (front.has(p[2]) ? p[1] : null));
    const hover = document.getElementById("scatter-hover");
    let hovered = null;
    drawChart("chart-scatter", {
      mode: 1,
      scales: { x: { time: false } },
      axes: [{ label: sc.x }, { label: sc.y, size: 60 }],
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      series: [{}, { label: "trials", stroke: "rgba(31,119,180,0.7)", paths: () => null,
        points: { show: true, size: 5, fill: "rgba(31,119,180,0.5)" } },
      { label: "Pareto front", stroke: "#d62728", width: 2, spanGaps: true,
        points: { show: true, size: 7, fill: "#d62728" } }],
      hooks: {
        setCursor: [u => {
          const { left, top } = u.cursor;
          if (left == null || left < 0) return;
          let best = -1, bd = Infinity;
          for (let i = 0; i < xs.length; i++) {
            const dx = u.valToPos(xs[i], "x") - left, dy = u.valToPos(ys[i], "y") - top;
            const d = dx * dx + dy * dy;
            if (d < bd) { bd = d; best = i; }
          }
          if (best < 0 || bd > 400) return;
          const p = pts[best];
          if (hovered === p[2]) return;
          hovered = p[2];
          hover.textContent = "";
          hover.appendChild(el("a", { href: base + "/trials/" + p[2] }, "#" + p[2]));
          hover.appendChild(el("span", {}, " " + sc.y + " " + fmt(p[1]) + ", " + sc.x + " " + fmt(p[0]) +
            (front.has(p[2]) ? " (Pareto front)" : "") + " "));
          hover.dataset.trial = p[2];
          trialArch(p[2]).then(a => {
            if (hovered === p[2] && a) hover.appendChild(el("code", {}, a));
          }).catch(() => {});
        }],
      },
    }, [xs, ys, fy]);
    const chart = document.getElementById("chart-scatter");
    chart.onclick = () => { if (hovered !== null) location.href = base + "/trials/" + hovered; };
  }

  function xMetricSelect(s) {
    const sel = document.getElementById("x-metric");
    const names = Array.from(new Set(s.objectives.slice(1).map(o => o.metric).concat(s.metrics)));
    const current = s.x_metric;
    sel.textContent = "";
    for (const n of names) {
      const o = el("option", { value: n }, n);
      if (n === current) o.selected = true;
      sel.appendChild(o);
    }
  }

  async function refreshSummary() {
    const x = document.getElementById("x-metric").value;
    const s = await getJSON(api + (x ? "?x=" + encodeURIComponent(x) : ""));
    countsCards(s.counts, s.elapsed_seconds);
    bestLine(s);
    xMetricSelect(s);
    const y = s.objectives[0] ? s.objectives[0].metric : "";
    stepChart("chart-best-trials", s.best_so_far.trials, "trial", y, true);
    stepChart("chart-best-time", s.best_so_far.time, "seconds", y);
    scatterChart(s);
  }

  function tableHead(objectives) {
    const thead = document.querySelector("#trials thead");
    thead.textContent = "";
    const tr = el("tr");
    const cols = [["", null], ["#", "number"], ["state", "state"]]
      .concat(objectives.map((o, i) => [o.metric + (o.direction === "maximize" ? " ↑" : " ↓"), i === 0 ? "value" : o.metric]))
      .concat([["epochs", "epochs"], ["cost", "cost"], ["finished", "finished"], ["architecture", "arch"]]);
    for (const [label, key] of cols) {
      const th = el("th", {}, label);
      if (key) {
        th.dataset.sort = key;
        th.classList.add("sortable");
        if (table.sort === key) th.classList.add(table.desc ? "desc" : "asc");
        th.onclick = () => {
          if (table.sort === key) table.desc = !table.desc;
          else { table.sort = key; table.desc = key !== "number" && key !== "arch" && key !== "state"; }
          table.page = 1;
          refreshTable();
        };
      }
      tr.appendChild(th);
    }
    thead.appendChild(tr);
  }

  async function refreshTable() {
    const q = new URLSearchParams({
      page: table.page, per_page: document.getElementById("f-per-page").value,
      sort: table.sort, desc: table.desc ? "1" : "0",
      state: document.getElementById("f-state").value, q: document.getElementById("f-q").value,
    });
    const r = await getJSON(api + "/trials?" + q.toString());
    tableHead(r.objectives);
    const tbody = document.querySelector("#trials tbody");
    tbody.textContent = "";
    const start = r.created;
    for (const t of r.rows) {
      const tr = el("tr", { "data-number": t.number, class: "state-" + t.state.toLowerCase() });
      const cb = el("input", { type: "checkbox", "aria-label": "select trial " + t.number });
      cb.checked = selected.has(t.number);
      cb.onchange = () => { if (cb.checked) selected.add(t.number); else selected.delete(t.number); selectionChanged(); };
      const c0 = el("td"); c0.appendChild(cb); tr.appendChild(c0);
      const c1 = el("td", { class: "num" }); c1.appendChild(el("a", { href: base + "/trials/" + t.number }, t.number)); tr.appendChild(c1);
      tr.appendChild(el("td", { class: "state" }, t.state));
      for (const v of t.values) tr.appendChild(el("td", { class: "num" }, fmt(v)));
      tr.appendChild(el("td", { class: "num" }, t.epochs));
      tr.appendChild(el("td", { class: "num" }, secs(t.cost_seconds)));
      tr.appendChild(el("td", { class: "num" }, t.finished ? secs(t.finished - start) : "–"));
      const ca = el("td", { class: "arch" }); ca.appendChild(el("code", { title: t.arch }, t.arch)); tr.appendChild(ca);
      tbody.appendChild(tr);
    }
    document.getElementById("matched").textContent = r.matched + " of " + r.total + " trials";
    const pager = document.getElementById("pager");
    pager.textContent = "";
    const prev = el("button", { type: "button" }, "‹ previous");
    prev.disabled = r.page <= 1;
    prev.onclick = () => { table.page -= 1; refreshTable(); };
    const next = el("button", { type: "button" }, "next ›");
    next.disabled = r.page >= r.pages;
    next.onclick = () => { table.page += 1; refreshTable(); };
    pager.appendChild(prev);
    pager.appendChild(el("span", {}, " page " + r.page + " of " + r.pages + " "));
    pager.appendChild(next);
  }

  function selectionChanged() {
    const b = document.getElementById("compare");
    b.disabled = selected.size !== 2;
    refreshCurves(Array.from(selected).join(",")).catch(e => setStatus(e.message));
  }

  async function refreshCurves(list) {
    const r = await getJSON(api + "/curves" + (list ? "?trials=" + list : ""));
    curvesChart("chart-curves", r.curves, r.metric ? "intermediate " + r.metric : "value");
  }

  // The analysis: an HTML fragment rendered by the server (which escapes what it shows).
  async function refreshAnalysis() {
    const box = document.getElementById("analysis-body");
    if (!box) return;
    const r = await fetch(base + "/analysis");
    if (!r.ok) throw new Error("analysis: " + r.status);
    box.innerHTML = await r.text();
  }

  function live(onUpdate) {
    const dot = document.getElementById("live");
    let busy = false, again = false;
    async function run() {
      if (busy) { again = true; return; }
      busy = true;
      try { await onUpdate(); setStatus(""); } catch (e) { setStatus(String(e.message || e)); }
      busy = false;
      if (again) { again = false; run(); }
    }
    const es = new EventSource(api + "/events");
    es.addEventListener("update", () => run());
    es.onopen = () => { dot.textContent = "● live"; dot.className = "live on"; };
    es.onerror = () => { dot.textContent = "○ reconnecting"; dot.className = "live off"; };
    return run;
  }

  function studyPage() {
    const run = live(async () => {
      // The three requests run at once; the table waits only for its own.
      await Promise.all([
        refreshSummary(),
        refreshTable(),
        refreshCurves(Array.from(selected).join(",")),
        refreshAnalysis(),
      ]);
    });
    document.getElementById("x-metric").onchange = () => refreshSummary().catch(e => setStatus(e.message));
    for (const id of ["f-state", "f-per-page"]) {
      document.getElementById(id).onchange = () => { table.page = 1; refreshTable().catch(e => setStatus(e.message)); };
    }
    let timer = null;
    document.getElementById("f-q").oninput = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { table.page = 1; refreshTable().catch(e => setStatus(e.message)); }, 200);
    };
    document.getElementById("controls").onsubmit = e => e.preventDefault();
    document.getElementById("compare").onclick = () => {
      const [a, b] = Array.from(selected);
      location.href = base + "/compare?a=" + a + "&b=" + b;
    };
    run();
  }

  function curvesPage() {
    const list = body.dataset.trials;
    const run = live(() => refreshCurves(list));
    run();
  }

  function studiesPage() {
    async function poll() {
      try {
        const rows = await getJSON("/api/studies");
        for (const r of rows) {
          const tr = Array.from(document.querySelectorAll("#studies tbody tr")).find(x => x.dataset.name === r.name);
          if (!tr) { location.reload(); return; }
          tr.children[4].textContent = r.counts.total;
          tr.children[5].textContent = r.counts.running;
          tr.children[6].textContent = r.counts.complete;
        }
        setStatus("");
      } catch (e) { setStatus(String(e.message || e)); }
    }
    setInterval(poll, 2000);
  }

  if (page === "study") studyPage();
  else if (page === "trial" || page === "compare") curvesPage();
  else if (page === "studies") studiesPage();
})();
