// Live views of builds and containers over websockets.
// Each stream remembers the last entry ID it showed, and a reconnect asks for
// what came after it: no gap, no duplicate.
(function () {
  "use strict";

  function connect(path, positions, handlers) {
    let delay = 500;
    function open() {
      const query = Object.entries(positions).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + path + "?" + query);
      ws.onopen = () => { delay = 500; };
      ws.onmessage = (event) => {
        const msg = JSON.parse(event.data);
        if (msg.type === "state") { handlers.state && handlers.state(msg.state); return; }
        const handler = handlers[msg.type];
        if (!handler || !msg.entries.length) return;
        handler(msg.entries);
        positions[msg.type] = msg.entries[msg.entries.length - 1][0];
      };
      ws.onclose = () => { if (!handlers.finished || !handlers.finished()) setTimeout(open, delay = Math.min(delay * 2, 8000)); };
    }
    open();
  }

  function appendLines(pre, lines) {
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const span = document.createElement("span");
      span.className = "line " + (line.stream || "");
      span.textContent = line.text + "\n";
      fragment.appendChild(span);
    }
    pre.appendChild(fragment);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function setState(state) {
    const el = document.getElementById("status");
    if (el && state.status) { el.textContent = state.status; el.className = "state " + state.status; }
    const error = document.getElementById("error");
    if (error) { error.textContent = state.error || ""; error.classList.toggle("hidden", !state.error); }
    const ip = document.getElementById("ip");
    if (ip && state.ip) ip.textContent = state.ip;
    const exit = document.getElementById("exit");
    if (exit && state.exit) exit.textContent = state.exit;
    // Buttons and stats follow the state: no Stop once stopped, stale numbers greyed.
    for (const el of document.querySelectorAll("[data-status]")) el.dataset.status = state.status;
  }

  function sparkline(canvas, values, max) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    if (values.length < 2) return;
    const top = Math.max(max || 0, ...values, 1e-9);
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = (i / (values.length - 1)) * w;
      const y = h - (v / top) * (h - 2) - 1;
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.strokeStyle = "#2b7bb9";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }

  const HISTORY = 300;

  function watchContainer(id) {
    const log = document.getElementById("log");
    const series = { cpu: [], mem: [], pids: [] };
    connect("/ws/containers/" + id + "/", { log: "0", stats: "0" }, {
      log: (entries) => appendLines(log, entries.map(([, f]) => ({ text: f.line, stream: f.s }))),
      stats: (entries) => {
        let last;
        for (const [, f] of entries) {
          last = f;
          series.cpu.push(+f.cpu); series.mem.push(+f.mem); series.pids.push(+f.pids);
        }
        for (const k in series) if (series[k].length > HISTORY) series[k].splice(0, series[k].length - HISTORY);
        document.getElementById("stat-cpu").textContent = (+last.cpu).toFixed(1) + " %";
        document.getElementById("stat-mem").textContent =
          bytes(+last.mem) + (+last.mem_limit ? " / " + bytes(+last.mem_limit) : "");
        document.getElementById("stat-pids").textContent =
          last.pids + (+last.pids_limit ? " / " + last.pids_limit : "");
        sparkline(document.getElementById("chart-cpu"), series.cpu, 100);
        sparkline(document.getElementById("chart-mem"), series.mem, +last.mem_limit);
        sparkline(document.getElementById("chart-pids"), series.pids);
      },
      state: setState,
    });
  }

  function watchBuild(id, done) {
    if (done) return;  // the whole log is already in the page
    const log = document.getElementById("log");
    let finished = false;
    connect("/ws/builds/" + id + "/", { log: "0" }, {
      log: (entries) => {
        const lines = [];
        for (const [, f] of entries) {
          if (f.end) { finished = true; continue; }
          lines.push({ text: f.line });
        }
        appendLines(log, lines);
      },
      state: setState,
      finished: () => finished,
    });
  }

  window.Berth = { watchContainer, watchBuild };
})();
