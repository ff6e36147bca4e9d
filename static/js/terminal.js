// The container page's terminal: xterm.js on a websocket whose binary frames are the bytes of a
// shell in the container (webui/containers/terminal.py). Each opening is a new session: a closed
// one is not reopened by itself, since reconnecting cannot bring the old shell back.
(function () {
  "use strict";

  function open(containerId, root) {
    const term = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000 });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    root.hidden = false;
    root.replaceChildren();
    term.open(root);
    fit.fit();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/containers/" + containerId + "/exec/?cols=" +
                             term.cols + "&rows=" + term.rows);
    ws.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    ws.onopen = () => { root.dataset.state = "open"; term.focus(); };
    ws.onmessage = (event) => term.write(new Uint8Array(event.data));
    ws.onclose = () => {
      root.dataset.state = "closed";
      term.write("\r\n\x1b[2m[terminal closed]\x1b[0m\r\n");
      term.options.disableStdin = true;
    };
    term.onData((data) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
    term.onResize(({ cols, rows }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: [cols, rows] }));
    });
    const refit = () => fit.fit();
    window.addEventListener("resize", refit);
    return () => { window.removeEventListener("resize", refit); ws.close(); term.dispose(); };
  }

  window.Berth = window.Berth || {};
  window.Berth.terminal = function (containerId) {
    const button = document.getElementById("terminal-open");
    const root = document.getElementById("terminal");
    let close = null;
    button.addEventListener("click", () => {
      if (close) close();
      close = open(containerId, root);
      button.textContent = "Open a new terminal";
    });
    button.dataset.ready = "yes";  // scripts load after the button shows: a click before this did nothing
  };
})();
