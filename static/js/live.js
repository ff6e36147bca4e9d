// Live views of builds and containers over websockets.
// Each stream remembers the last entry ID it showed, and a reconnect asks for
// what came after it: no gap, no duplicate. Lines are kept whole in memory and
// drawn once per animation frame, so a flood of output costs frames, not lines.
(function () {
  "use strict";

  function connect(path, positions, handlers) {
    let delay = 500;
    const status = { connects: 0 };
    function open() {
      const query = Object.entries(positions).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + path + "?" + query);
      ws.onopen = () => { delay = 500; status.connects++; document.body.dataset.connects = status.connects; };
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
    return status;
  }

  // --- the log viewer ---------------------------------------------------------

  const MAX_KEPT = 250000;   // lines held for search and redraw (the stream keeps as many)
  const MAX_DRAWN = 5000;    // lines in the page at once; older ones leave the DOM, not memory

  class LogView {
    constructor(root, AnsiUp) {
      this.pre = root.querySelector("pre.log");
      this.count = root.querySelector("[data-log=count]");
      this.lines = [];
      this.pending = [];      // received, not yet drawn
      this.paused = false;
      this.query = "";
      this.frame = 0;
      this.ansi = AnsiUp ? { stdout: new AnsiUp(), stderr: new AnsiUp(), "": new AnsiUp() } : null;
      const on = (name, event, fn) => { const el = root.querySelector("[data-log=" + name + "]"); if (el) el.addEventListener(event, fn); };
      on("follow", "change", (e) => { this.paused = !e.target.checked; if (!this.paused) this.redraw(); });
      on("timestamps", "change", (e) => this.pre.classList.toggle("with-time", e.target.checked));
      on("search", "input", (e) => { this.query = e.target.value.toLowerCase(); this.redraw(); });
    }

    add(lines) {
      for (const line of lines) {
        // Colours carry from line to line within a stream, as in a terminal.
        line.html = this.ansi ? this.ansi[line.stream || ""].ansi_to_html(line.text) : null;
        this.lines.push(line);
      }
      if (this.lines.length > MAX_KEPT) this.lines.splice(0, this.lines.length - MAX_KEPT);
      if (this.paused) { this.showCount(); return; }
      this.pending.push(...lines);
      if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
    }

    matches(line) { return !this.query || line.text.toLowerCase().includes(this.query); }

    render(line) {
      const span = document.createElement("span");
      span.className = "line " + (line.stream || "");
      if (line.time) {
        const ts = document.createElement("time");
        ts.textContent = line.time.replace("T", " ").slice(0, 23) + " ";
        span.appendChild(ts);
      }
      const body = document.createElement("span");
      if (line.html !== null) body.innerHTML = line.html; else body.textContent = line.text;  // ansi_up escapes HTML
      span.appendChild(body);
      span.appendChild(document.createTextNode("\n"));
      return span;
    }

    draw() {
      this.frame = 0;
      const fresh = this.pending.filter((l) => this.matches(l)).slice(-MAX_DRAWN);
      this.pending = [];
      const fragment = document.createDocumentFragment();
      for (const line of fresh) fragment.appendChild(this.render(line));
      this.pre.appendChild(fragment);
      while (this.pre.childNodes.length > MAX_DRAWN) this.pre.firstChild.remove();
      this.pre.scrollTop = this.pre.scrollHeight;
      this.showCount();
    }

    redraw() {
      this.pre.textContent = "";
      this.pending = this.lines.filter((l) => this.matches(l));
      if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
    }

    showCount() {
      if (!this.count) return;
      const shown = this.query ? this.lines.filter((l) => this.matches(l)).length + " of " : "";
      this.count.textContent = shown + this.lines.length + " lines" + (this.paused ? " · paused" : "");
    }
  }

  // --- stats: numbers and charts ---------------------------------------------

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    n = +n;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }
  const rate = (n) => bytes(n) + "/s";
  const pct = (n) => (+n).toFixed(1) + " %";

  // Each chart: the fields it draws, how its axis reads, and the figure shown above it.
  const CHARTS = {
    cpu: { series: [["cpu", "CPU %"]], axis: (v) => v + " %",
      text: (f) => pct(f.cpu) + (+f.cpu_of_limit ? " · " + pct(f.cpu_of_limit) + " of limit" : "") },
    mem: { series: [["mem", "working set"], ["rss", "RSS"], ["cache", "cache"]], axis: bytes,
      text: (f) => bytes(f.mem) + (+f.mem_limit ? " / " + bytes(f.mem_limit) : "") + " · RSS " + bytes(f.rss) + " · cache " + bytes(f.cache) },
    pids: { series: [["pids", "processes"]], axis: (v) => v,
      text: (f) => f.pids + (+f.pids_limit ? " / " + f.pids_limit : "") },
    net: { series: [["net_rx", "received"], ["net_tx", "sent"]], axis: rate,
      text: (f) => "↓ " + rate(f.net_rx) + " · ↑ " + rate(f.net_tx) },
    io: { series: [["io_read", "read"], ["io_write", "written"]], axis: rate,
      text: (f) => "read " + rate(f.io_read) + " · write " + rate(f.io_write) },
    throttle: { series: [["throttled_ms", "throttled ms"]], axis: (v) => v + " ms",
      text: (f) => f.throttled_periods + " periods · " + (+f.throttled_ms).toFixed(0) + " ms throttled · " + f.oom_kills + " OOM kills" },
  };
  const WINDOW_S = 15 * 60;

  class StatsView {
    constructor(root) {
      this.times = [];
      this.values = {};
      this.charts = {};
      this.drawn = false;
      for (const [name, chart] of Object.entries(CHARTS)) {
        const tile = root.querySelector("[data-chart=" + name + "]");
        if (!tile) continue;
        for (const [field] of chart.series) this.values[field] = [];
        const plot = new uPlot(Berth.chartOptions(tile, chart, { x: { time: true } }), [[]], tile.querySelector(".plot"));
        this.charts[name] = { chart, plot, tile, figure: tile.querySelector(".value") };
      }
      window.addEventListener("resize", () => {
        for (const c of Object.values(this.charts)) c.plot.setSize({ width: Berth.chartWidth(c.tile), height: 120 });
      });
    }

    add(entries) {
      let last;
      for (const [, fields] of entries) {
        const f = JSON.parse(fields.j);
        last = f;
        this.times.push(f.t / 1000);
        for (const field in this.values) this.values[field].push(+(f[field] || 0));
      }
      const cut = this.times.findIndex((t) => t >= this.times[this.times.length - 1] - WINDOW_S);
      if (cut > 0) { this.times.splice(0, cut); for (const k in this.values) this.values[k].splice(0, cut); }
      for (const c of Object.values(this.charts)) c.figure.textContent = c.chart.text(last);
      if (!this.drawn) {
        this.drawn = true;
        requestAnimationFrame(() => this.draw());
      }
    }

    draw() {
      this.drawn = false;
      for (const c of Object.values(this.charts)) {
        c.plot.setData([this.times, ...c.chart.series.map(([field]) => this.values[field])]);
        c.tile.dataset.points = this.times.length;
      }
    }
  }

  function setState(state) {
    const el = document.getElementById("status");
    if (el && state.status) { el.textContent = state.status; el.className = "state " + state.status; }
    const error = document.getElementById("error");
    if (error) { error.textContent = state.error || ""; error.classList.toggle("hidden", !state.error); }
    // A build's place in the fair queue, and a note that the team's images fill their quota.
    for (const name of ["queue", "notice"]) {
      const el = document.getElementById(name);
      if (el && state[name] !== undefined) { el.textContent = state[name]; el.classList.toggle("hidden", !state[name]); }
    }
    const ip = document.getElementById("ip");
    if (ip && state.ip) ip.textContent = state.ip;
    const exit = document.getElementById("exit");
    if (exit) exit.textContent = state.exit || "—";  // cleared when the container runs again
    const restarts = document.getElementById("restarts");
    if (restarts && state.restarts !== undefined) restarts.textContent = state.restarts;
    // Buttons and stats follow the state: no Stop once stopped, stale numbers greyed.
    for (const el of document.querySelectorAll("[data-status]")) el.dataset.status = state.status;
  }

  const LOG_TAIL = 5000;

  function watchContainer(id, AnsiUp) {
    const logs = new LogView(document.getElementById("logview"), AnsiUp);
    const stats = new StatsView(document.getElementById("stats"));
    // A page opens on the newest lines, as `docker logs --tail` would; the download has them all.
    connect("/ws/containers/" + id + "/", { log: "last:" + LOG_TAIL, stats: "0" }, {
      log: (entries) => logs.add(entries.map(([, f]) => ({ text: f.line, stream: f.s, time: f.t }))),
      stats: (entries) => stats.add(entries),
      state: setState,
    });
  }

  function watchBuild(id, done, AnsiUp) {
    const logs = new LogView(document.getElementById("logview"), AnsiUp);
    if (done) {  // the whole log came with the page
      const pre = logs.pre;
      logs.add(pre.textContent.split("\n").slice(0, -1).map((text) => ({ text })));
      pre.textContent = "";
      return;
    }
    let finished = false;
    connect("/ws/builds/" + id + "/", { log: "0" }, {
      log: (entries) => {
        const lines = [];
        for (const [, f] of entries) {
          if (f.end) { finished = true; continue; }
          lines.push({ text: f.line, time: f.t });
        }
        logs.add(lines);
      },
      state: setState,
      finished: () => finished,
    });
  }

  window.Berth = Object.assign(window.Berth || {}, { watchContainer, watchBuild });
})();
