// dfctl web: live updates and keys. The pages work without it; with it a
// running run's page reads itself again when the server says a record was
// written (server-sent events), the runs list every 2 s, and j/k move
// between rows as in the TUI.
"use strict";
(function () {
  const body = document.getElementById("body");

  // swap reads the page again and replaces its body, keeping the focused
  // row and the open groups.
  let swapping = false, again = false;
  async function swap() {
    if (swapping) { again = true; return; }
    swapping = true;
    try {
      do {
        again = false;
        const u = new URL(location.href);
        u.searchParams.set("partial", "1");
        const r = await fetch(u, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
        if (!r.ok) { return; }
        const html = await r.text();
        const focused = document.activeElement && document.activeElement.getAttribute("href");
        const open = Array.from(body.querySelectorAll("details[open] a[data-row]")).map(a => a.getAttribute("href"));
        const y = window.scrollY;
        body.innerHTML = html;
        for (const h of open) {
          const a = body.querySelector(`a[data-row][href="${CSS.escape(h)}"]`);
          const d = a && a.closest("details");
          if (d) { d.open = true; }
        }
        if (focused) {
          const a = body.querySelector(`a[href="${CSS.escape(focused)}"]`);
          if (a) { a.focus({ preventScroll: true }); }
        }
        window.scrollTo(0, y);
        markLive();
      } while (again);
    } finally {
      swapping = false;
    }
  }

  let live = null;
  function markLive() {
    const b = document.getElementById("live-badge");
    if (b) { b.hidden = !live; }
  }

  if (body && body.dataset.live && window.EventSource) {
    live = new EventSource(body.dataset.live);
    live.addEventListener("open", markLive);
    live.addEventListener("record", swap);
    live.addEventListener("closed", () => { live.close(); live = null; swap(); });
    live.addEventListener("problem", (e) => {
      const s = document.getElementById("status");
      if (s) { s.textContent = "live updates stopped: " + e.data; s.classList.add("err"); }
      live.close(); live = null; markLive();
    });
  } else if (body && body.dataset.refresh) {
    setInterval(() => { if (!document.hidden) { swap(); } }, Number(body.dataset.refresh));
  }

  // Keys: j/k (and arrows with no modifier when a row has focus) move
  // between rows; / focuses the filter; t the timeline; esc goes back.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) {
      if (e.key === "Escape") { t.blur(); }
      return;
    }
    const rows = Array.from(document.querySelectorAll("a[data-row]")).filter(a => a.offsetParent !== null);
    const i = rows.indexOf(document.activeElement);
    const move = (d) => {
      e.preventDefault();
      let n = i < 0 ? (d > 0 ? 0 : rows.length - 1) : i + d;
      n = Math.max(0, Math.min(rows.length - 1, n));
      if (rows[n]) { rows[n].focus(); rows[n].scrollIntoView({ block: "nearest" }); }
    };
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "ArrowDown": if (i >= 0) { move(1); } break;
      case "ArrowUp": if (i >= 0) { move(-1); } break;
      case "/": {
        const q = document.getElementById("q");
        if (q) { e.preventDefault(); q.focus(); q.select(); }
        break;
      }
      case "t": {
        const tl = document.getElementById("timeline");
        if (tl) { e.preventDefault(); tl.scrollIntoView(); tl.focus(); }
        break;
      }
      case " ": {
        const d = document.activeElement && document.activeElement.closest("summary");
        if (d) { e.preventDefault(); d.parentElement.open = !d.parentElement.open; }
        break;
      }
      case "Escape": {
        const crumbs = document.querySelectorAll(".crumbs a");
        if (crumbs.length > 1) { location.href = crumbs[crumbs.length - 1].getAttribute("href"); }
        break;
      }
    }
  });
  markLive();
})();
