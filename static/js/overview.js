// Host and team pages: a live table of running containers like `docker stats`, sortable by
// any column; and, there and on the container page, charts of the per-minute history.
(function () {
  "use strict";

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    n = +n;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }
  const rate = (n) => bytes(n) + "/s";
  const pct = (n) => (+n).toFixed(1) + " %";
  const num = (n) => (+n).toFixed(+n % 1 ? 2 : 0);

  // --- the live table ------------------------------------------------------------

  // Each column: its value for sorting (from the row and the newest sample), and its text.
  const text = (key) => ({ value: (row) => row[key], text: (row) => row[key] });
  const figure = (key, show) => ({ value: (row, f) => (f ? +f[key] || 0 : -1), text: (row, f) => (f ? show(f[key] || 0) : "…") });
  const COLUMNS = {
    name: text("name"), app: text("app"), team: text("team"), host: text("host"),
    cpu: figure("cpu", pct), cpu_of_limit: figure("cpu_of_limit", pct),
    mem: { value: (row, f) => (f ? +f.mem : -1), text: (row, f) => (f ? bytes(f.mem) + (+f.mem_limit ? " / " + bytes(f.mem_limit) : "") : "…") },
    mem_pct: { value: (row, f) => (f && +f.mem_limit ? (100 * f.mem) / f.mem_limit : -1),
      text: (row, f) => (f && +f.mem_limit ? pct((100 * f.mem) / f.mem_limit) : "…") },
    net_rx: figure("net_rx", rate), net_tx: figure("net_tx", rate),
    io_read: figure("io_read", rate), io_write: figure("io_write", rate),
    pids: figure("pids", num), throttled_ms: figure("throttled_ms", (v) => num(v) + " ms"), oom_kills: figure("oom_kills", num),
  };

  class Table {
    constructor(table) {
      this.table = table;
      this.body = table.querySelector("tbody");
      this.empty = document.querySelector("[data-table=empty]");
      this.heads = [...table.querySelectorAll("th[data-sort]")];
      this.rows = [];
      this.figures = {};   // container id -> newest sample
      this.sort = { key: "cpu", down: true };  // the busiest first, as `top` does
      this.timer = 0;
      for (const th of this.heads) th.addEventListener("click", () => this.sortBy(th.dataset.sort));
    }

    sortBy(key) {
      const numeric = COLUMNS[key].value({}, null) !== undefined;  // text columns sort A to Z first
      this.sort = { key, down: this.sort.key === key ? !this.sort.down : numeric };
      this.render();
    }

    setRows(rows) {
      this.rows = rows;
      const ids = new Set(rows.map((r) => String(r.id)));
      for (const id of Object.keys(this.figures)) if (!ids.has(id)) delete this.figures[id];
      this.render();
    }

    add(id, entries) {
      this.figures[id] = JSON.parse(entries[entries.length - 1][1].j);
      // Redrawn at most once a second: a host's hundred containers each send one sample a second.
      if (!this.timer) this.timer = setTimeout(() => { this.timer = 0; this.render(); }, 1000 - (Date.now() % 1000));
    }

    ordered() {
      const column = COLUMNS[this.sort.key];
      const sign = this.sort.down ? -1 : 1;
      const keyed = this.rows.map((row) => [column.value(row, this.figures[row.id]), row]);
      keyed.sort(([a], [b]) => sign * (typeof a === "string" ? a.localeCompare(b) : a - b));
      return keyed.map(([, row]) => row);
    }

    cells(row) {
      const f = this.figures[row.id];
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      for (const th of this.heads) {
        const key = th.dataset.sort, column = COLUMNS[key];
        const td = document.createElement("td");
        td.dataset.key = key;
        td.dataset.value = column.value(row, f);
        if (th.classList.contains("num")) td.className = "num";
        if (key === "name") {
          const a = document.createElement("a");
          a.href = row.url;
          a.textContent = row.name;
          td.appendChild(a);
        } else {
          td.textContent = column.text(row, f);
        }
        tr.appendChild(td);
      }
      return tr;
    }

    render() {
      for (const th of this.heads) {
        th.setAttribute("aria-sort", th.dataset.sort !== this.sort.key ? "none" : this.sort.down ? "descending" : "ascending");
      }
      this.body.replaceChildren(...this.ordered().map((row) => this.cells(row)));
      this.table.dataset.rows = this.rows.length;
      this.table.dataset.live = Object.keys(this.figures).length;
      if (this.empty) this.empty.classList.toggle("hidden", this.rows.length > 0);
    }
  }

  function showHost(host) {
    const set = (name, value) => { const el = document.querySelector("[data-host=" + name + "]"); if (el) el.textContent = value; };
    set("cpu", pct(host.cpu_percent) + " of " + host.cpus + " CPUs");
    set("memory", bytes(host.memory_used_bytes) + " / " + bytes(host.memory_bytes) +
        (+host.memory_bytes ? " · " + pct((100 * host.memory_used_bytes) / host.memory_bytes) : ""));
    set("disk", bytes(host.disk_free_bytes) + " free" + (+host.disk_total_bytes ? " of " + bytes(host.disk_total_bytes) : ""));
    set("load", (+host.load).toFixed(2));
    set("containers", host.containers);
    set("last_seen", new Date(host.last_seen).toLocaleTimeString());
    const up = document.getElementById("host-up");
    if (up) { up.textContent = host.up ? "up" : "down"; up.className = "state " + (host.up ? "running" : "failed"); }
    const figures = document.getElementById("host-figures");
    if (figures) figures.dataset.beats = (+figures.dataset.beats || 0) + 1;
  }

  // The websocket of a table streams one stats stream per running container (``c<id>``).
  // The server picks the streams when the socket opens, so when the set of running
  // containers changes the page opens a new socket; a stream it already follows resumes
  // from its last entry, a new one starts a few seconds back (in the server's clock).
  function table(path, serverMs) {
    const view = new Table(document.getElementById("containers"));
    const offset = serverMs - Date.now();
    const positions = {};
    let following = new Set();
    let socket = null, delay = 500;

    function query() {
      const back = Date.now() + offset - 3000;
      return [...following].map((id) => "c" + id + "=" + (positions[id] || back + "-0")).join("&");
    }

    function onState(state) {
      if (state.host) showHost(state.host);
      view.setRows(state.containers);
      const running = new Set(state.containers.map((r) => String(r.id)));
      const same = running.size === following.size && [...running].every((id) => following.has(id));
      if (!same) { following = running; delay = 0; socket.close(); }
    }

    function open() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = socket = new WebSocket(scheme + location.host + path + "?" + query());
      ws.onopen = () => { delay = 500; document.body.dataset.connects = (+document.body.dataset.connects || 0) + 1; };
      ws.onmessage = (event) => {
        if (ws !== socket) return;
        const msg = JSON.parse(event.data);
        if (msg.type === "state") { onState(msg.state); return; }
        if (!msg.entries.length) return;
        const id = msg.type.slice(1);
        positions[id] = msg.entries[msg.entries.length - 1][0];
        view.add(id, msg.entries);
      };
      ws.onclose = () => { if (ws === socket) setTimeout(open, delay); delay = Math.min(Math.max(delay, 250) * 2, 8000); };
    }

    const initial = JSON.parse(document.getElementById("table-state").textContent);
    following = new Set(initial.containers.map((r) => String(r.id)));
    if (initial.host) showHost(initial.host);
    view.setRows(initial.containers);
    open();
    return view;
  }

  // --- history charts ---------------------------------------------------------------

  // Each chart: the columns of the JSON it draws, the axis, and the figure above it (the newest minute).
  const HISTORY = {
    c_cpu: { series: [["cpu", "CPU % (average)"], ["cpu_max", "peak"]], axis: (v) => v + " %", text: (d, i) => pct(d.cpu[i]) + " · peak " + pct(d.cpu_max[i]) },
    c_mem: { series: [["mem", "working set"], ["mem_max", "peak"], ["mem_limit", "limit"]], axis: bytes, text: (d, i) => bytes(d.mem[i]) + " · peak " + bytes(d.mem_max[i]) },
    c_net: { series: [["net_rx", "received"], ["net_tx", "sent"]], axis: rate, text: (d, i) => "↓ " + rate(d.net_rx[i]) + " · ↑ " + rate(d.net_tx[i]) },
    c_io: { series: [["io_read", "read"], ["io_write", "written"]], axis: rate, text: (d, i) => "read " + rate(d.io_read[i]) + " · write " + rate(d.io_write[i]) },
    c_pids: { series: [["pids", "processes"]], axis: num, text: (d, i) => num(d.pids[i]) },
    c_throttle: { series: [["throttled_ms", "throttled ms"]], axis: (v) => v + " ms", text: (d, i) => num(d.throttled_ms[i]) + " ms · " + num(d.oom_kills[i]) + " OOM kills" },
    host_cpu: { series: [["cpu_percent", "CPU % (average)"], ["cpu_max", "peak"]], axis: (v) => v + " %", text: (d, i) => pct(d.cpu_percent[i]) },
    host_mem: { series: [["memory_used_bytes", "used"], ["memory_bytes", "total"]], axis: bytes, text: (d, i) => bytes(d.memory_used_bytes[i]) + " / " + bytes(d.memory_bytes[i]) },
    host_disk: { series: [["disk_free_bytes", "free"]], axis: bytes, text: (d, i) => bytes(d.disk_free_bytes[i]) },
    host_load: { series: [["load", "load"]], axis: (v) => v, text: (d, i) => (+d.load[i]).toFixed(2) },
    host_containers: { series: [["containers", "running"]], axis: (v) => v, text: (d, i) => num(d.containers[i]) },
    team_cpu: { series: [["cpu", "CPU % (sum)"]], axis: (v) => v + " %", text: (d, i) => pct(d.cpu[i]) },
    team_mem: { series: [["mem", "working set"], ["mem_limit", "limits"]], axis: bytes, text: (d, i) => bytes(d.mem[i]) + " / " + bytes(d.mem_limit[i]) },
    team_net: { series: [["net_rx", "received"], ["net_tx", "sent"]], axis: rate, text: (d, i) => "↓ " + rate(d.net_rx[i]) + " · ↑ " + rate(d.net_tx[i]) },
    team_io: { series: [["io_read", "read"], ["io_write", "written"]], axis: rate, text: (d, i) => "read " + rate(d.io_read[i]) + " · write " + rate(d.io_write[i]) },
    team_containers: { series: [["containers", "containers"]], axis: (v) => v, text: (d, i) => num(d.containers[i]) },
  };
  const WINDOW_S = 24 * 3600;  // what the pages ask for: the JSON's default of 24 hours

  function history(root = document.getElementById("history"), everyMs = 60000) {
    const charts = [];
    for (const tile of root.querySelectorAll("[data-history]")) {
      const spec = HISTORY[tile.dataset.history];
      // The whole window on the axis, so a few minutes of history read as recent, not as a year.
      const scales = { x: { time: true, range: () => [Date.now() / 1000 - WINDOW_S, Date.now() / 1000] } };
      const plot = new uPlot(Berth.chartOptions(tile, spec, scales), [[]], tile.querySelector(".plot"));
      charts.push({ spec, plot, tile });
    }
    window.addEventListener("resize", () => { for (const c of charts) c.plot.setSize({ width: Berth.chartWidth(c.tile), height: 120 }); });

    async function load() {
      const response = await fetch(root.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      const last = data.t.length - 1;
      for (const c of charts) {
        c.plot.setData([data.t, ...c.spec.series.map(([field]) => data[field])]);
        c.tile.dataset.points = data.t.length;
        c.tile.querySelector(".value").textContent = last >= 0 ? c.spec.text(data, last) : "no minutes yet";
      }
    }
    load();
    setInterval(load, everyMs);  // a new point comes once a minute
  }

  window.Berth = window.Berth || {};
  // The Hosts list: each heartbeat (and a host going down) sends that host's row again.
  function fleet(path) {
    const text = (el, value) => { if (el) el.textContent = value; };
    function showRow(host) {
      const row = document.querySelector("[data-host-row='" + host.id + "']");
      if (!row) { location.reload(); return; }  // a host that joined since the page loaded
      const cell = (name) => row.querySelector("[data-f=" + name + "]");
      const state = cell("state");
      state.replaceChildren();
      const up = document.createElement("span");
      up.className = "state " + (host.up ? "running" : "failed");
      up.textContent = host.up ? "up" : "down";
      state.append(up);
      if (host.cordoned) {
        const c = document.createElement("span");
        c.className = "state pending";
        c.textContent = "cordoned";
        state.append(" ", c);
      }
      const labels = Object.entries(host.labels || {}).map(([k, v]) => k + "=" + v).join(" ");
      text(cell("labels"), labels || "none");
      text(cell("cpus"), host.cpus);
      text(cell("cpu"), pct(host.cpu_percent));
      text(cell("memory"), bytes(host.memory_used_bytes) + " / " + bytes(host.memory_bytes));
      text(cell("disk"), bytes(host.disk_free_bytes));
      text(cell("load"), (+host.load).toFixed(2));
      text(cell("containers"), host.containers);
      text(cell("agent"), host.agent_version);
      row.dataset.beats = (+row.dataset.beats || 0) + 1;
    }
    let delay = 500;
    function open() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + path);
      ws.onopen = () => { delay = 500; };
      ws.onmessage = (event) => {
        const msg = JSON.parse(event.data);
        if (msg.type !== "state") return;
        if (msg.state.host) showRow(msg.state.host);
        (msg.state.hosts || []).forEach(showRow);
      };
      ws.onclose = () => { setTimeout(open, delay); delay = Math.min(delay * 2, 8000); };
    }
    open();
  }

  window.Berth.overview = { table, history, fleet };
})();
