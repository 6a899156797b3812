// The live page of fakebbs: reads the admin API (../v1/...), follows the feed (server-sent
// events from the fake itself) and re-reads only what the feed says changed. No timers.
"use strict";
(() => {
  const PAGE = 50;
  const MAX_EVENTS = 200;
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function api(path, options) {
    const response = await fetch("../v1/" + path, options);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null) q.set(key, value);
    return q.toString();
  }

  const time = (seconds) => {
    if (!seconds) return "";
    const d = new Date(seconds * 1000);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  };
  const nanos = (ns) => (ns ? time(ns / 1e9) : "");
  const json = (value) => JSON.stringify(value, null, 2);
  const count = (n, one, many) => [el("b", {}, n), ` ${n === 1 ? one : many}`];

  function problem(error) {
    const box = $("problem");
    box.hidden = !error;
    box.textContent = error ? String(error.message || error) : "";
  }

  // -- refreshing, coalesced: one request per view in flight, one more if asked meanwhile ---
  const busy = {};
  const again = {};
  const stale = new Set();
  function refresh(view) {
    if (!visible(view)) { stale.add(view); return; }
    if (busy[view]) { again[view] = true; return; }
    busy[view] = true;
    stale.delete(view);
    views[view]().then(() => problem(null), problem).finally(() => {
      busy[view] = false;
      if (again[view]) { again[view] = false; refresh(view); }
    });
  }
  const TAB_VIEWS = { lrps: ["lrps"], tasks: ["tasks"], cells: [], journal: ["journal"], made: ["made"], controls: ["controls"], events: [] };
  const visible = (view) => view === "summary" || (TAB_VIEWS[currentTab()] || []).includes(view);
  const TOPIC_VIEWS = {
    lrps: ["summary", "lrps"], tasks: ["summary", "tasks"], domains: ["summary"], cells: ["summary"],
    journal: ["summary", "journal", "controls"], made: ["summary", "made"], controls: ["summary", "controls"],
  };

  // -- pagers and filters ---------------------------------------------------------------
  const offsets = { lrps: 0, tasks: 0, journal: 0, made: 0 };
  function pager(view, total) {
    const box = $(view + "-pager");
    const from = offsets[view];
    const shown = total ? `${from + 1}–${Math.min(from + PAGE, total)} of ${total}` : "none";
    box.replaceChildren(
      el("button", { disabled: from === 0, title: "previous page", on: { click: () => move(view, -PAGE) } }, "‹"),
      el("span", { className: "shown" }, shown),
      el("button", { disabled: from + PAGE >= total, title: "next page", on: { click: () => move(view, PAGE) } }, "›"),
    );
    if (from && from >= total) move(view, -from);
  }
  function move(view, by) { offsets[view] = Math.max(0, offsets[view] + by); refresh(view); }
  function filterOn(id, view) {
    $(id).addEventListener("input", () => { offsets[view] = 0; refresh(view); });
  }

  // -- the views ------------------------------------------------------------------------
  let namespace = null;
  const views = {
    async summary() {
      const s = await api("summary");
      namespace = s.namespace;
      document.title = `fakebbs · ${s.namespace || "default"}`;
      $("clock").textContent = (s.clock.frozen ? "frozen at " : "") + s.clock.time.replace(/\.\d+/, "").replace("T", " ");
      const c = s.counts;
      const states = Object.entries(s.actual_lrps_by_state).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(", ");
      const tasks = Object.entries(s.tasks_by_state).filter(([, v]) => v).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(", ");
      $("summary").replaceChildren(
        el("span", { id: "count-desired" }, count(c.desired_lrps, "desired LRP", "desired LRPs")),
        el("span", { id: "count-actual" }, count(c.actual_lrps, "instance", "instances"), states ? ` (${states})` : ""),
        el("span", { id: "count-tasks" }, count(c.tasks, "task", "tasks"), tasks ? ` (${tasks})` : ""),
        el("span", {}, count(c.cells, "cell", "cells")),
        el("span", {}, count(c.domains, "domain", "domains")),
        el("span", { id: "count-journal" }, count(c.journal, "call received", "calls received")),
        el("span", {}, count(c.rep_calls + c.auctioneer_calls, "call made", "calls made")),
      );
      renderCells(s.cells);
      $("domains-table").tBodies[0].replaceChildren(...(s.domains.length ? s.domains.map((d) =>
        el("tr", {}, el("td", {}, d.name), el("td", {}, d.ttl_seconds === null ? "forever" : `${d.ttl_seconds.toFixed(0)} s`))) : [empty(2, "no fresh domains")]));
    },

    async lrps() {
      const page = await api("lrps?" + query({ offset: offsets.lrps, limit: PAGE, filter: $("lrps-filter").value }));
      const table = $("lrps-table");
      for (const body of [...table.tBodies]) body.remove();
      if (!page.lrps.length) table.append(el("tbody", {}, empty(11, "no LRPs")));
      for (const lrp of page.lrps) {
        const rows = lrp.rows.length ? lrp.rows : [null];
        const group = el("tbody", { class: "group", "data-guid": lrp.process_guid });
        rows.forEach((row, i) => {
          const cells = [];
          if (i === 0) {
            const wanted = lrp.desired ? `${lrp.instances} desired` : "not desired";
            cells.push(el("td", { class: "guid", rowSpan: rows.length }, lrp.process_guid, el("div", { class: "empty" }, wanted)));
            cells.push(el("td", { rowSpan: rows.length }, lrp.domain));
          }
          if (row === null) cells.push(el("td", { class: "empty", colSpan: 9 }, "no instances"));
          else cells.push(
            el("td", {}, row.index),
            el("td", { class: `state state-${row.state}` }, row.state),
            el("td", { class: `presence-${row.presence}` }, row.presence === "ORDINARY" ? "" : row.presence.toLowerCase()),
            el("td", {}, row.cell_id), el("td", {}, row.zone), el("td", {}, row.crash_count || ""),
            el("td", {}, row.crash_reason), el("td", { class: "failed" }, row.placement_error), el("td", {}, nanos(row.since)),
          );
          group.append(el("tr", row === null ? {} : { "data-index": row.index, "data-state": row.state }, cells));
        });
        table.append(group);
      }
      pager("lrps", page.total);
    },

    async tasks() {
      const page = await api("tasks?" + query({ offset: offsets.tasks, limit: PAGE, state: $("tasks-state").value, filter: $("tasks-filter").value }));
      $("tasks-table").tBodies[0].replaceChildren(...(page.tasks.length ? page.tasks.map((t) => el("tr", { "data-guid": t.task_guid },
        el("td", { class: "guid" }, t.task_guid), el("td", {}, t.domain), el("td", { class: `state state-${t.state}` }, t.state),
        el("td", {}, t.cell_id), el("td", { class: "failed" }, t.failed ? "failed" : ""), el("td", {}, t.failure_reason),
        el("td", {}, t.result), el("td", {}, t.rejection_count || ""), el("td", {}, nanos(t.updated_at)))) : [empty(9, "no tasks")]));
      pager("tasks", page.total);
    },

    async journal() {
      const where = $("journal-where").value.trim();
      const page = await api("journal/page?" + query({ offset: offsets.journal, limit: PAGE, route: $("journal-route").value, where: where ? whereJSON(where) : "", filter: $("journal-filter").value }));
      routeOptions($("journal-route"), page.routes);
      calls($("journal-table"), page.calls, 4, (c) => [
        el("td", {}, time(c.time)), el("td", {}, c.route || `${c.method} ${c.path}`),
        el("td", { class: c.error || c.fault ? "failed" : "" }, outcome(c)), el("td", { class: "guid" }, c.trace_id),
      ], (c) => [["request", c.request], ["response", c.response], ...(c.error ? [["error", c.error]] : []), ...(c.fault ? [["fault", c.fault]] : [])]);
      pager("journal", page.total);
    },

    async made() {
      const page = await api(`${$("made-which").value}/page?` + query({ offset: offsets.made, limit: PAGE, filter: $("made-filter").value }));
      calls($("made-table"), page.calls, 5, (c) => [
        el("td", {}, time(c.time)), el("td", {}, c.route), el("td", {}, c.cell_id || ""),
        el("td", { class: c.error || c.fault ? "failed" : "" }, c.fault ? `fault ${c.fault.kind}` : c.error || c.outcome || (c.sent ? `status ${c.status}` : "recorded")),
        el("td", {}, c.attempt),
      ], (c) => [["body", c.request || c.body], ["to", { url: c.url, method: c.method, path: c.path, status: c.status }]]);
      pager("made", page.total);
    },

    async controls() {
      const [faults, holds] = await Promise.all([api("faults"), api("holds")]);
      $("faults-table").tBodies[0].replaceChildren(...(faults.faults.length ? faults.faults.map((f) => el("tr", { "data-id": f.id },
        el("td", {}, f.id), el("td", {}, f.route), el("td", {}, f.error ? `${f.error.type}: ${f.error.message || ""}` : `fault ${json(f.fault)}`),
        el("td", {}, f.times === null ? "always" : f.times), el("td", {}, f.hits),
        el("td", {}, el("button", { class: "remove", on: { click: () => act(`faults/${encodeURIComponent(f.id)}`) } }, "remove")))) : [empty(6, "no fault rules")]));
      $("holds-table").tBodies[0].replaceChildren(...(holds.holds.length ? holds.holds.map((h) => el("tr", { "data-id": h.id },
        el("td", {}, h.id), el("td", {}, h.route), el("td", {}, h.arrived),
        el("td", {}, el("button", { class: "release", on: { click: () => act(`holds/${encodeURIComponent(h.id)}`) } }, "release")))) : [empty(4, "no held routes")]));
    },
  };

  function empty(span, text) { return el("tr", {}, el("td", { class: "empty", colSpan: span }, text)); }

  function outcome(c) {
    if (c.fault) return `fault ${c.fault.kind}`;
    if (c.error) return `${c.error.type}: ${c.error.message}`;
    return c.status ? `${c.status}` : "no answer";
  }

  function whereJSON(text) {
    const where = {};
    for (const part of text.split(/[,\s]+/).filter(Boolean)) {
      const at = part.indexOf("=");
      if (at < 1) throw new Error(`field filter: expected field=value, got ${part}`);
      const raw = part.slice(at + 1);
      let value = raw;
      try { value = JSON.parse(raw); } catch (_) { value = raw; }
      where[part.slice(0, at)] = value;
    }
    return JSON.stringify(where);
  }

  function routeOptions(select, routes) {
    const chosen = select.value;
    const names = new Set([...routes, ...(chosen ? [chosen] : [])]);
    const have = [...select.options].slice(1).map((o) => o.value).join();
    if (have === [...names].sort().join()) return;
    select.replaceChildren(el("option", { value: "" }, "every route"), ...[...names].sort().map((r) => el("option", { value: r }, r)));
    select.value = chosen;
  }

  const openDetails = new Set();
  function calls(table, list, span, columns, details) {
    const body = table.tBodies[0];
    const rows = [];
    for (const c of list) {
      const key = `${c.time}|${c.trace_id}|${c.route}`;
      const detail = el("tr", { class: "detail", hidden: !openDetails.has(key) },
        el("td", { colSpan: span }, el("div", { class: "detail-grid" }, details(c).map(([name, value]) =>
          el("div", {}, el("h3", {}, name), el("pre", {}, value === null || value === undefined ? "(none)" : json(value)))))));
      const row = el("tr", { class: "call", "data-route": c.route || "", on: { click: () => {
        detail.hidden = !detail.hidden;
        if (detail.hidden) openDetails.delete(key); else openDetails.add(key);
      } } }, columns(c));
      rows.push(row, detail);
    }
    body.replaceChildren(...(rows.length ? rows : [empty(span, "no calls")]));
  }

  function renderCells(cells) {
    $("cells-table").tBodies[0].replaceChildren(...(cells.length ? cells.map((c) => el("tr", { "data-cell": c.cell_id },
      el("td", {}, c.cell_id, c.registered ? null : el("div", { class: "unregistered" }, "no presence")),
      el("td", {}, c.zone), el("td", { class: "guid" }, c.rep_url),
      el("td", {}, Object.entries(c.instances).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(", ") || "none"),
      el("td", {}, c.tasks || ""),
      el("td", {}, use(c, "memory_mb", " MB"), " · ", use(c, "disk_mb", " MB"), " · ", use(c, "containers", "")))) : [empty(6, "no cells")]));
  }

  function use(cell, field, unit) {
    const used = cell.in_use[field];
    const capacity = cell.capacity ? cell.capacity[field] : 0;
    if (!capacity) return `${used}${unit}`;
    const share = Math.min(100, (100 * used) / capacity);
    return el("span", { title: `${used} of ${capacity}${unit}` }, `${used}/${capacity}${unit}`, el("span", { class: "meter" }, el("i", { style: `width:${share}%` })));
  }

  async function act(path) {
    try { await api(path, { method: "DELETE" }); problem(null); } catch (error) { problem(error); }
    refresh("controls");
  }

  // -- events -----------------------------------------------------------------------------
  function eventOf(data) {
    const e = data.event;
    const key = e.actual_lrp_key || (e.actual_lrp && e.actual_lrp.actual_lrp_key);
    if (key) return `${key.process_guid} #${key.index || 0}`;
    const item = e.desired_lrp || e.after || e.before || e.task || {};
    return item.process_guid || item.task_guid || "";
  }
  function addEvent(data) {
    const body = $("events-table").tBodies[0];
    const detail = el("tr", { class: "detail", hidden: true }, el("td", { colSpan: 3 }, el("pre", {}, json(data.event))));
    const row = el("tr", { class: "call", "data-type": data.type, on: { click: () => { detail.hidden = !detail.hidden; } } },
      el("td", {}, time(Date.now() / 1000)), el("td", {}, data.type), el("td", { class: "guid" }, eventOf(data)));
    body.prepend(row, detail);
    while (body.rows.length > 2 * MAX_EVENTS) body.lastElementChild.remove();
  }

  // -- tabs, namespaces, the feed ---------------------------------------------------------
  const currentTab = () => (TAB_VIEWS[location.hash.slice(1)] ? location.hash.slice(1) : "lrps");
  function showTab() {
    const tab = currentTab();
    for (const section of document.querySelectorAll(".tab")) section.classList.toggle("active", section.id === tab);
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.hash === "#" + tab);
    for (const view of TAB_VIEWS[tab]) if (stale.has(view) || !busy[view]) refresh(view);
  }

  const root = location.pathname.replace(/(\/ns\/[^/]+)?\/fakebbs\/ui\/.*$/, "");
  const pageOf = (name) => `${root}${name ? "/ns/" + encodeURIComponent(name) : ""}/fakebbs/ui/${location.hash}`;
  async function namespaces() {
    const select = $("namespace");
    const { namespaces: names } = await api("namespaces");
    const current = namespace === null ? decodeURIComponent((location.pathname.match(/\/ns\/([^/]+)\//) || ["", "default"])[1]) : namespace;
    if (!names.includes(current)) names.push(current);
    select.replaceChildren(...names.sort().map((n) => el("option", { value: n }, n || "default")));
    select.value = current;
  }

  function connect() {
    const feed = new EventSource("feed");
    const live = $("live");
    feed.addEventListener("hello", () => {
      live.textContent = "live"; live.className = "live on";
      refresh("summary");
      for (const view of Object.keys(offsets).concat("controls")) refresh(view);
    });
    feed.addEventListener("changed", (message) => {
      const wanted = new Set();
      for (const topic of JSON.parse(message.data).topics) for (const view of TOPIC_VIEWS[topic] || []) wanted.add(view);
      for (const view of wanted) refresh(view);
    });
    feed.addEventListener("bbs", (message) => addEvent(JSON.parse(message.data)));
    feed.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.addEventListener("hashchange", showTab);
    filterOn("lrps-filter", "lrps");
    filterOn("tasks-filter", "tasks");
    filterOn("journal-filter", "journal");
    filterOn("journal-where", "journal");
    filterOn("made-filter", "made");
    for (const [id, view] of [["tasks-state", "tasks"], ["journal-route", "journal"], ["made-which", "made"]]) {
      $(id).addEventListener("change", () => { offsets[view] = 0; refresh(view); });
    }
    const select = $("namespace");
    select.addEventListener("focus", () => namespaces().catch(problem));
    select.addEventListener("change", () => { location.href = pageOf(select.value); });
    showTab();
    namespaces().catch(problem);
    connect();
  });
})();
