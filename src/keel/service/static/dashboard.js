// Keel dashboard: live view of one run over the REST API and the run's WebSocket (no external assets).
(function () {
  "use strict";
  var runId = null, socket = null, noStream = false, dirty = true, busy = false, lastRefresh = 0;
  var CHARTS = ["pnl", "delta", "margin", "price", "base_fee"];
  var config = {responsive: true, displaylogo: false};
  function $(id) { return document.getElementById(id); }
  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "n/a";
    return Number(x).toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }
  function utc(ns) { return ns ? new Date(ns / 1e6).toISOString().slice(0, 19).replace("T", " ") : ""; }
  function getJSON(path) {
    return fetch(path, {headers: {"Accept": "application/json"}}).then(function (r) {
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    });
  }
  function setStatus(status) {
    var el = $("status"); el.textContent = status; el.className = "badge " + status;
    document.body.setAttribute("data-status", status);
  }
  function table(id, columns, rows) {
    var head = "<tr>" + columns.map(function (c) { return "<th>" + esc(c[0]) + "</th>"; }).join("") + "</tr>";
    var body = rows.map(function (row) {
      return "<tr>" + columns.map(function (c) {
        var v = c[2] ? c[2](row[c[1]], row) : row[c[1]];
        return "<td" + (typeof row[c[1]] === "number" ? " class=n" : "") + ">" + esc(v) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    $(id).innerHTML = head + (body || "<tr><td class=muted colspan=" + columns.length + ">none yet</td></tr>");
  }
  function showGreeks(g) {  // a block message or GET /greeks: vega shown per vol point (1/100 of per-1.0)
    $("net-delta").textContent = fmt(g.net_delta, 2);
    $("gamma").textContent = fmt(g.gamma, 4);
    $("vega").textContent = fmt(g.vega_usd === null || g.vega_usd === undefined ? null : g.vega_usd / 100, 0);
    $("theta").textContent = fmt(g.theta_usd_per_day, 0);
    document.body.setAttribute("data-theta", g.theta_usd_per_day === null || g.theta_usd_per_day === undefined ? "" : g.theta_usd_per_day);
  }
  function showBlock(m) {
    showGreeks(m);
    $("blocks").textContent = m.block;
    document.body.setAttribute("data-block", m.block);
    $("pnl-total").textContent = fmt(m.pnl ? m.pnl.total : null, 2);
    $("margin-ratio").textContent = fmt(m.margin_ratio, 3);
    $("health").textContent = m.health || "";
    if (m.oracle) {
      $("oracle-price").textContent = fmt(m.oracle.price, 2);
      var os = $("oracle-status"); os.textContent = m.oracle.status; os.className = "badge " + m.oracle.status;
    }
  }
  function drawCharts(figs) {
    CHARTS.forEach(function (key) {
      var fig = figs.figures[key]; if (!fig) return;
      var layout = Object.assign({}, fig.layout, {height: 320});
      Plotly.react("chart-" + key, fig.data, layout, config);
    });
    var pnl = figs.figures.pnl.data.filter(function (t) { return t.name === "total PnL"; })[0];
    document.body.setAttribute("data-pnl-points", pnl ? pnl.x.length : 0);
    document.body.setAttribute("data-pnl-last", pnl && pnl.y.length ? pnl.y[pnl.y.length - 1] : "");
    document.body.setAttribute("data-pnl-x", pnl && pnl.x.length ? pnl.x[pnl.x.length - 1] : "");
  }
  function drawAlerts(rows) {
    $("alerts").innerHTML = rows.length ? rows.map(function (a) {
      return "<li class='" + esc(a.severity) + "'><b>" + esc(a.kind.replace(/_/g, " ")) + "</b> block " + esc(a.block_number) +
        ": " + esc(a.message) + "</li>";
    }).join("") : "<li class=muted>none</li>";
  }
  function refresh() {
    if (!runId || busy) return;
    busy = true; dirty = false; lastRefresh = Date.now();
    var base = "/api/runs/" + encodeURIComponent(runId);
    Promise.all([
      getJSON(base + "/charts").then(drawCharts),
      getJSON(base + "/intents?limit=200").then(function (rows) {
        table("intents", [["block", "block_number"], ["agent", "agent"], ["quantity", "quantity", function (v) { return fmt(v, 4); }],
          ["status", "status"], ["reason", "reason"]], rows);
      }),
      getJSON(base + "/transactions?limit=200").then(function (rows) {
        table("transactions", [["block", "block_number"], ["tx", "tx_id"], ["sender", "sender"], ["tag", "tag"],
          ["status", "status"], ["latency s", "latency_s", function (v) { return fmt(v, 1); }], ["detail", "detail"]], rows);
      }),
      getJSON(base + "/fills?limit=200").then(function (rows) {
        table("fills", [["time (UTC)", "ts_ns", utc], ["kind", "kind"], ["instrument", "instrument"],
          ["quantity", "quantity", function (v) { return fmt(v, 4); }], ["price USD", "price_usd", function (v) { return fmt(v, 2); }]], rows);
      }),
      getJSON(base + "/alerts?limit=200").then(drawAlerts),
      getJSON(base + "/greeks").then(function (g) { if (!socket) showGreeks(g); }),
      getJSON(base).then(function (run) {
        setStatus(run.status);
        if (!socket) $("blocks").textContent = run.blocks === null ? "n/a" : run.blocks;
      })
    ]).catch(function (err) { console.log(err); }).then(function () { busy = false; });
  }
  function connect() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/runs/" + encodeURIComponent(runId) + "/stream");
    ws.onmessage = function (ev) {
      var m = JSON.parse(ev.data);
      if (m.type === "block") { showBlock(m); dirty = true; }
      else if (m.type === "status") { setStatus(m.status); dirty = true; }
      else if (m.type === "hello") { setStatus(m.run.status); }
      else { dirty = true; }
    };
    ws.onclose = function (ev) { if (socket === ws) socket = null; if (ev.code === 4404) noStream = true; };
    socket = ws;
  }
  function choose(id) {
    runId = id; dirty = true; noStream = false;
    var url = new URL(location.href); url.searchParams.set("run", id); history.replaceState(null, "", url);
    connect(); refresh();
  }
  function loadRuns() {
    return getJSON("/api/runs?limit=100").then(function (runs) {
      var sel = $("run-select");
      sel.innerHTML = runs.map(function (r) {
        return "<option value='" + esc(r.id) + "'>" + esc(r.name + " · " + r.id + " · " + r.status) + "</option>";
      }).join("");
      var wanted = new URL(location.href).searchParams.get("run");
      var pick = runs.filter(function (r) { return r.id === wanted; })[0] ||
        runs.filter(function (r) { return r.live && (r.status === "running" || r.status === "paused"); })[0] || runs[0];
      if (pick && pick.id !== runId) { sel.value = pick.id; choose(pick.id); }
      if (!pick) setStatus("no run");
    });
  }
  function control(action) {
    if (!runId) return;
    var token = $("token").value.trim();
    try { sessionStorage.setItem("keel-token", token); } catch (e) { /* private mode */ }
    var headers = {"Accept": "application/json"};
    if (token) headers["Authorization"] = "Bearer " + token;
    fetch("/api/runs/" + encodeURIComponent(runId) + "/" + action, {method: "POST", headers: headers})
      .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
      .then(function (res) {
        // 200: applied here; 202: written to the store for the process that runs it (applied at its next block)
        var text = res[0] === 200 ? action + ": " + res[1].status :
          res[0] === 202 ? action + ": requested (the run applies it at its next block)" : res[0] + ": " + res[1].detail;
        $("control-result").textContent = text;
        document.body.setAttribute("data-control", String(res[0]));
        dirty = true;
      });
  }
  $("run-select").addEventListener("change", function (e) { choose(e.target.value); });
  $("kill").addEventListener("click", function () {
    if (window.confirm("Kill the run? No new transactions; pending ones are followed to their receipts.")) control("kill");
  });
  $("pause").addEventListener("click", function () { control("pause"); });
  $("resume").addEventListener("click", function () { control("resume"); });
  try { $("token").value = sessionStorage.getItem("keel-token") || ""; } catch (e) { /* private mode */ }
  loadRuns();
  setInterval(function () {
    if (!runId) { loadRuns(); return; }
    if ((dirty && Date.now() - lastRefresh > 1000) || Date.now() - lastRefresh > 5000) refresh();
    if (!socket && !noStream && Date.now() - lastRefresh > 2000) connect();
  }, 250);
}());
