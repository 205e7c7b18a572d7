(function () {
  "use strict";
  var cfgEl = document.getElementById("trk-config");
  var list = document.getElementById("timeline");
  if (!cfgEl || !list || !document.querySelector) return;
  var cfg;
  try { cfg = JSON.parse(cfgEl.textContent); } catch (e) { return; }
  var lang = document.documentElement.lang || undefined;

  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    try { return d.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" }); } catch (e) { return d.toLocaleString(); }
  }
  function parseDate(ymd) {
    var p = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || "");
    return p ? new Date(Date.UTC(+p[1], +p[2] - 1, +p[3])) : null;
  }
  function fmtDate(ymd) {
    var d = parseDate(ymd);
    if (!d) return ymd;
    try { return d.toLocaleDateString(lang, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }); } catch (e) { return ymd; }
  }
  function has(arr, v) { return arr.indexOf(v) >= 0; }
  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function label(type) { return cfg.labels[type] || type; }

  // Show times in the reader's time zone.
  var times = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < times.length; i++) {
    var t = fmtTime(times[i].getAttribute("datetime"));
    if (t) times[i].textContent = t;
  }

  if (!window.EventSource || !cfg.events_url) return;

  var seen = {};
  var items = list.querySelectorAll("li[data-id]");
  for (var j = 0; j < items.length; j++) seen[items[j].getAttribute("data-id")] = true;
  var live = byId("live");
  var note = byId("live-note");
  var eta = cfg.expected_delivery || "";

  function setStatus(ev) {
    byId("status-label").textContent = label(ev.type);
    var since = byId("status-since");
    since.textContent = "Updated ";
    var t = el("time", null, fmtTime(ev.time) || ev.time);
    t.setAttribute("datetime", ev.time);
    since.appendChild(t);
    var reason = byId("status-reason");
    if (reason && !has(cfg.problem_types, ev.type)) reason.hidden = true;
    var cls = ev.type === "delivered" ? "done" : has(cfg.problem_types, ev.type) ? "problem" : "progress";
    byId("eta-label").textContent = ev.type === "delivered" ? "Delivered" : "Expected delivery";
    byId("status").className = "status status-" + cls;
    var step = cfg.steps[ev.type];
    if (step === undefined) step = 0;
    var steps = byId("steps");
    steps.hidden = step < 0;
    var lis = steps.querySelectorAll("li");
    for (var k = 0; k < lis.length; k++) {
      var done = k < step || (k === step && ev.type === "delivered");
      lis[k].className = done ? "done" : k === step ? "current" : "";
      if (k === step) lis[k].setAttribute("aria-current", "step"); else lis[k].removeAttribute("aria-current");
    }
  }

  function setDelivery(date) {
    if (!parseDate(date)) return;
    eta = date;
    byId("eta").textContent = fmtDate(date);
    byId("fact-eta").hidden = false;
    var badge = byId("eta-delayed");
    if (cfg.original_delivery && date > cfg.original_delivery && !badge) {
      badge = el("span", "badge", "later than first promised");
      badge.id = "eta-delayed";
      byId("eta").parentNode.appendChild(document.createTextNode(" "));
      byId("eta").parentNode.appendChild(badge);
    }
    if (badge) badge.hidden = !(cfg.original_delivery && date > cfg.original_delivery);
  }

  function setParcel(d) {
    byId("carrier").textContent = d.carrier || "";
    byId("tracking-number").textContent = d.tracking_number;
    byId("fact-carrier").hidden = false;
    var a = byId("tracking-link");
    var url = d.tracking_url || "";
    if (/^https?:\/\//i.test(url)) { a.href = url; a.hidden = false; } else { a.hidden = true; }
  }

  function onEvent(msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    if (!ev || !ev.id || seen[ev.id]) return;
    seen[ev.id] = true;
    var empty = byId("timeline-empty");
    if (empty) empty.parentNode.removeChild(empty);
    var li = el("li", "item fresh" + (has(cfg.supplier_types, ev.type) ? " supplier" : ""));
    li.setAttribute("data-id", ev.id);
    var head = el("p", "item-head");
    head.appendChild(el("span", "what", label(ev.type)));
    head.appendChild(document.createTextNode(" "));
    var t = el("time", null, fmtTime(ev.time) || ev.time);
    t.setAttribute("datetime", ev.time);
    head.appendChild(t);
    li.appendChild(head);
    li.appendChild(el("p", "summary", ev.summary || ""));
    li.appendChild(el("p", "source", cfg.sources[ev.source] || ""));
    list.insertBefore(li, list.firstChild);

    var d = ev.details || {};
    if (has(cfg.status_types, ev.type)) setStatus(ev);
    if (d.expected_delivery) {
      setDelivery(d.expected_delivery);
    } else if (ev.source === "supplier" && (ev.type === "po_acknowledged" || ev.type === "po_shipped")) {
      var base = parseDate(d.expected_arrival) || parseDate(d.promised_date);
      if (base) {
        base.setUTCDate(base.getUTCDate() + cfg.handling_days);
        var cand = base.toISOString().slice(0, 10);
        if (cand > eta) setDelivery(cand);
      }
    }
    if (d.tracking_number) setParcel(d);
    live.textContent = label(ev.type) + ". " + (ev.summary || "");
  }

  var es = new EventSource(cfg.events_url);
  for (var n = 0; n < cfg.types.length; n++) es.addEventListener(cfg.types[n], onEvent);
  es.onmessage = onEvent;
  es.onopen = function () { note.textContent = "This page updates automatically."; };
  es.onerror = function () {
    // The browser reconnects by itself (resuming after the last event it
    // saw) unless the server refused the stream.
    note.textContent = es.readyState === 2
      ? "Live updates are unavailable. Reload this page to see new updates."
      : "Connection lost. Reconnecting\u2026";
  };
})();
