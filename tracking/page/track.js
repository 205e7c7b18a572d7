(function () {
  "use strict";
  var cfgEl = document.getElementById("trk-config");
  var list = document.getElementById("timeline");
  if (!cfgEl || !list || !document.querySelector) return;
  var cfg;
  try { cfg = JSON.parse(cfgEl.textContent); } catch (e) { return; }
  var lang = cfg.lang || document.documentElement.lang || undefined;
  var tx = cfg.texts || {};

  // One date style per language: "December 10, 2026, 12:24 PM CET" /
  // "10. Dezember 2026, 12:24 MEZ" in the reader's time zone, and delivery
  // days as "Thursday, December 10, 2026" — the server's fallback uses the
  // same patterns in the shop's zone.
  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    try {
      return d.toLocaleDateString(lang, { day: "numeric", month: "long", year: "numeric" }) + ", " +
        d.toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit", timeZoneName: "short" });
    } catch (e) { return d.toLocaleString(); }
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
  function fill(text, v) { return text.replace("%s", v); }
  function products(list) {
    return list.split(", ").map(function (it) {
      var m = /^(\d+) × (.+)$/.exec(it);
      var name = m && cfg.products[m[2]];
      return name ? tx.quantity.replace("%[1]d", m[1]).replace("%[2]s", name) : it;
    }).join(", ");
  }
  // summary words an event in the page's language from its details, as the
  // server does (EventSummary); unknown types keep the stored summary.
  function summary(ev) {
    var parts = cfg.summaries[ev.type], d = ev.details || {}, out = "";
    if (!parts) return ev.summary || "";
    for (var i = 0; i < parts.length; i++) {
      var key = parts[i][0], text = parts[i][1];
      if (!key) { out += text; continue; }
      var v = d[key];
      if (!v) { if (!out) return ev.summary || ""; continue; }
      if (has(cfg.date_details, key)) v = fmtDate(v);
      else if (key === "short_items") v = products(v);
      out += fill(text, v);
    }
    return out;
  }

  // Show times in the reader's time zone, and say which.
  var times = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < times.length; i++) {
    var t = fmtTime(times[i].getAttribute("datetime"));
    if (t) times[i].textContent = t;
  }
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && byId("tz-note")) byId("tz-note").textContent = fill(tx.timesIn, zone);
  } catch (e) { /* keep the shop's zone */ }

  if (!window.EventSource || !cfg.events_url) return;

  var seen = {};
  var lastId = "";
  var items = list.querySelectorAll("li[data-id]");
  for (var j = 0; j < items.length; j++) seen[items[j].getAttribute("data-id")] = true;
  if (items.length) lastId = items[0].getAttribute("data-id");
  var live = byId("live");
  var note = byId("live-note");
  var eta = cfg.expected_delivery || "";

  function setStatus(ev) {
    byId("status-label").textContent = label(ev.type);
    var since = byId("status-since");
    since.textContent = tx.updated + " ";
    var t = el("time", null, fmtTime(ev.time) || ev.time);
    t.setAttribute("datetime", ev.time);
    since.appendChild(t);
    var reason = byId("status-reason");
    if (reason && !has(cfg.problem_types, ev.type)) reason.hidden = true;
    var cls = ev.type === "delivered" ? "done" : has(cfg.problem_types, ev.type) ? "problem" : "progress";
    byId("eta-label").textContent = ev.type === "delivered" ? tx.deliveredOn : tx.expectedDelivery;
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
      badge = el("span", "badge", tx.later);
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
    if (!ev || !ev.id) return;
    lastId = ev.id;
    if (seen[ev.id]) return;
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
    var text = summary(ev);
    li.appendChild(el("p", "summary", text));
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
    live.textContent = label(ev.type) + ". " + text;
  }

  // The stream is closed when the page is hidden (pagehide), so that the
  // browser may keep it in its back/forward cache, and opened again on
  // pageshow, resuming after the last event the page shows (last_event_id:
  // an EventSource cannot set Last-Event-ID itself on a new connection).
  var es = null;
  function open() {
    if (es) return;
    var url = cfg.events_url;
    if (lastId) url += (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastId);
    es = new EventSource(url);
    for (var n = 0; n < cfg.types.length; n++) es.addEventListener(cfg.types[n], onEvent);
    es.onmessage = onEvent;
    es.onopen = function () { note.textContent = tx.liveOn; };
    es.onerror = function () {
      // The browser reconnects by itself (resuming after the last event it
      // saw) unless the server refused the stream.
      if (!es) return;
      note.textContent = es.readyState === 2 ? tx.liveOff : tx.reconnecting;
    };
  }
  function close() {
    if (!es) return;
    es.close();
    es = null;
  }
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", function (e) { if (e.persisted || !es) open(); });
  open();
  window.erpgateStream = function () { return es ? es.readyState : -1; };
})();
