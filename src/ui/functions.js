// pushgate UI behaviour: tabs, lazily shown families, filter, stale
// highlighting, live refresh and the delete actions. The server renders all
// markup (escaped); this script only moves, hides and re-fetches it, and
// reads data from data-* attributes. Every URL is relative to the page, so
// the UI works under --web.route-prefix and --web.external-url.
"use strict";
(function () {
  const groupsEl = document.getElementById("groups");
  const filterEl = document.getElementById("filter");
  const staleEl = document.getElementById("stale");
  const liveEl = document.getElementById("live");
  const intervalEl = document.getElementById("interval");
  const updatedEl = document.getElementById("updated");
  let lastUpdate = Date.now();
  let skew = 0; // server clock minus browser clock, in seconds
  let timer = 0;
  let refreshing = false;

  const settings = {
    get(name, fallback) {
      try {
        const v = localStorage.getItem("pushgate." + name);
        return v === null ? fallback : v;
      } catch (e) {
        return fallback;
      }
    },
    set(name, value) {
      try {
        localStorage.setItem("pushgate." + name, String(value));
      } catch (e) {
        // Private mode or disabled storage: settings last for this page only.
      }
    },
  };

  function nowSeconds() {
    return Date.now() / 1000 + skew;
  }

  function setSkew(serverNow) {
    const t = parseFloat(serverNow);
    if (!isNaN(t)) skew = t - Date.now() / 1000;
  }

  // Worded like age_text() in src/ui/groups.rs.
  function ago(seconds) {
    const s = Math.floor(Math.max(0, seconds));
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  // ---- views -------------------------------------------------------------

  function viewFromPath() {
    return /\/status$/.test(location.pathname) ? "status" : "metrics";
  }

  function showView(name) {
    for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== name + "-view";
    for (const t of document.querySelectorAll(".tab")) {
      const active = t.dataset.view === name;
      t.classList.toggle("active", active);
      if (active) t.setAttribute("aria-current", "page");
      else t.removeAttribute("aria-current");
    }
  }

  // ---- groups ------------------------------------------------------------

  // Moves a group's families out of their inert <template> on first open.
  function fill(group) {
    const t = group.querySelector(":scope > template");
    if (!t) return;
    group.appendChild(t.content);
    t.remove();
  }

  function labelsOf(group) {
    try {
      return JSON.parse(group.dataset.labels);
    } catch (e) {
      return [];
    }
  }

  function searchText(group) {
    if (group._search === undefined) {
      group._search = labelsOf(group)
        .map(([n, v]) => n + "=" + v + "\n" + n + '="' + v + '"')
        .join("\n")
        .toLowerCase();
    }
    return group._search;
  }

  function filterTerms() {
    return filterEl ? filterEl.value.trim().toLowerCase().split(/\s+/).filter(Boolean) : [];
  }

  // Applies filter and staleness to one group; cheap, touches only classes.
  function decorate(group, terms, threshold, now) {
    const text = searchText(group);
    const hide = !terms.every((t) => text.includes(t));
    if (group.hidden !== hide) group.hidden = hide;
    const stale = threshold > 0 && now - parseFloat(group.dataset.last) > threshold;
    group.classList.toggle("stale", stale);
  }

  function decorateAll() {
    if (!groupsEl) return;
    const terms = filterTerms();
    const threshold = parseFloat(staleEl ? staleEl.value : "0") || 0;
    const now = nowSeconds();
    for (const g of groupsEl.children) decorate(g, terms, threshold, now);
    updateCounts();
  }

  function updateCounts() {
    const total = groupsEl.children.length;
    let shown = 0;
    for (const g of groupsEl.children) if (!g.hidden) shown++;
    document.getElementById("group-count").textContent = total === 1 ? "1 group" : total + " groups";
    document.getElementById("shown").textContent = shown === total ? "" : "(" + shown + " shown)";
    document.getElementById("empty").hidden = shown > 0;
    const wipe = document.getElementById("wipe");
    if (wipe) {
      wipe.textContent = "Delete All " + total + " Groups";
      wipe.disabled = total === 0;
    }
  }

  function updateAges() {
    const now = nowSeconds();
    for (const el of document.querySelectorAll(".ago")) {
      const text = ago(now - parseFloat(el.dataset.t));
      if (el.textContent !== text) el.textContent = text;
    }
    for (const el of document.querySelectorAll(".ttl-left")) {
      const text = until(parseFloat(el.dataset.t) - now);
      if (el.textContent !== text) el.textContent = text;
    }
  }

  // Words a remaining time as groups.rs `ttl_text` does.
  function until(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s === 0) return "now";
    if (s < 60) return "in " + s + " s";
    if (s < 3600) return "in " + Math.floor(s / 60) + " min";
    if (s < 86400) return "in " + Math.floor(s / 3600) + " h";
    return "in " + Math.floor(s / 86400) + " d";
  }

  function updateFreshness() {
    if (updatedEl) updatedEl.textContent = "updated " + ago((Date.now() - lastUpdate) / 1000);
  }

  // ---- errors ------------------------------------------------------------

  function showError(message) {
    let el = document.getElementById("error");
    if (!el) {
      el = document.createElement("div");
      el.id = "error";
      el.className = "error";
      el.setAttribute("role", "alert");
      const view = document.getElementById("metrics-view");
      view.insertBefore(el, view.firstChild);
    }
    el.textContent = message;
    el.hidden = false;
  }

  function clearError() {
    const el = document.getElementById("error");
    if (el) el.hidden = true;
  }

  async function expectOk(response) {
    if (response.ok) return;
    const body = (await response.text()).trim();
    throw new Error("HTTP " + response.status + (body ? ": " + body : ""));
  }

  // ---- deleting ----------------------------------------------------------

  // base64url of the UTF-8 bytes, without padding.
  function b64url(text) {
    let binary = "";
    for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // metrics/job@base64/<job>{/<name>@base64/<value>=}; the trailing "="
  // keeps an empty value from making an empty path segment.
  function deleteUrl(labels) {
    const job = labels.find(([n]) => n === "job");
    let url = "metrics/job@base64/" + encodeURIComponent(b64url(job ? job[1] : ""));
    for (const [name, value] of labels) {
      if (name === "job") continue;
      url += "/" + encodeURIComponent(name) + "@base64/" + encodeURIComponent(b64url(value) + "=");
    }
    return url;
  }

  async function deleteGroup(group) {
    const labels = labelsOf(group);
    const shown = labels.map(([n, v]) => n + '="' + v + '"').join(", ");
    if (!window.confirm("Delete the group {" + shown + "} and all its metrics?")) return;
    try {
      await expectOk(await fetch(deleteUrl(labels), { method: "DELETE" }));
      group.remove();
      updateCounts();
      clearError();
    } catch (err) {
      showError("Deleting the group failed: " + err.message);
    }
  }

  async function wipeAll() {
    const n = groupsEl.children.length;
    if (!window.confirm("Delete all " + n + " groups and all their metrics?")) return;
    try {
      await expectOk(await fetch("api/v1/admin/wipe", { method: "PUT" }));
      await refresh();
    } catch (err) {
      showError("Deleting all groups failed: " + err.message);
    }
  }

  // ---- live refresh ------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    if (liveEl && liveEl.checked && !document.hidden) {
      timer = setTimeout(refresh, (parseFloat(intervalEl.value) || 30) * 1000);
    }
  }

  // Re-fetches the page and merges its groups: unchanged groups (same
  // data-rev) keep their elements, so the DOM work is proportional to what
  // changed, and open panels stay open.
  async function refresh() {
    clearTimeout(timer);
    if (refreshing || !groupsEl) return;
    refreshing = true;
    try {
      const response = await fetch("./", { cache: "no-store", headers: { Accept: "text/html" } });
      await expectOk(response);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("groups");
      if (!fresh) throw new Error("the page has no group list");
      setSkew(doc.body.dataset.now);
      merge(fresh);
      lastUpdate = Date.now();
      updateFreshness();
      updateAges();
      clearError();
    } catch (err) {
      showError("Refreshing failed: " + err.message);
    } finally {
      refreshing = false;
      schedule();
    }
  }

  function merge(fresh) {
    const old = new Map();
    for (const g of groupsEl.children) old.set(g.dataset.labels, g);
    const terms = filterTerms();
    const threshold = parseFloat(staleEl.value) || 0;
    const now = nowSeconds();
    let prev = null;
    for (const incoming of Array.from(fresh.children)) {
      let g = old.get(incoming.dataset.labels);
      old.delete(incoming.dataset.labels);
      if (!g || g.dataset.rev !== incoming.dataset.rev) {
        const replacement = document.adoptNode(incoming);
        if (g) {
          carryOpenState(g, replacement);
          g.remove();
        }
        g = replacement;
        decorate(g, terms, threshold, now);
      }
      const expected = prev ? prev.nextElementSibling : groupsEl.firstElementChild;
      if (expected !== g) groupsEl.insertBefore(g, expected);
      prev = g;
    }
    for (const g of old.values()) g.remove();
    updateCounts();
  }

  function carryOpenState(from, to) {
    if (!from.open) return;
    const openFamilies = new Set();
    for (const f of from.querySelectorAll(".family[open] .fname")) openFamilies.add(f.textContent);
    fill(to);
    to.open = true;
    for (const f of to.querySelectorAll(".family")) {
      const name = f.querySelector(".fname");
      if (name && openFamilies.has(name.textContent)) f.open = true;
    }
  }

  // ---- wiring ------------------------------------------------------------

  function restoreSettings() {
    if (!staleEl) return;
    staleEl.value = settings.get("stale", staleEl.value);
    liveEl.checked = settings.get("live", String(liveEl.checked)) === "true";
    intervalEl.value = settings.get("interval", intervalEl.value);
  }

  function debounce(fn, ms) {
    let t = 0;
    return () => {
      clearTimeout(t);
      t = setTimeout(fn, ms);
    };
  }

  function init() {
    document.documentElement.classList.add("js");
    setSkew(document.body.dataset.now);
    showView(viewFromPath());

    document.addEventListener("click", (e) => {
      const del = e.target.closest(".delete-group");
      if (del) {
        // Inside <summary>: keep the click from toggling the panel.
        e.preventDefault();
        deleteGroup(del.closest(".group"));
        return;
      }
      const tab = e.target.closest(".tab");
      if (tab && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
        e.preventDefault();
        history.pushState(null, "", tab.href);
        showView(tab.dataset.view);
        return;
      }
      if (e.target.id === "wipe") wipeAll();
    });
    // "toggle" does not bubble; listen in the capture phase.
    document.addEventListener(
      "toggle",
      (e) => {
        if (e.target.classList.contains("group") && e.target.open) fill(e.target);
      },
      true
    );
    window.addEventListener("popstate", () => showView(viewFromPath()));

    if (groupsEl) {
      restoreSettings();
      filterEl.addEventListener("input", debounce(decorateAll, 150));
      staleEl.addEventListener("change", () => {
        settings.set("stale", staleEl.value);
        decorateAll();
      });
      liveEl.addEventListener("change", () => {
        settings.set("live", liveEl.checked);
        if (liveEl.checked) refresh();
        else schedule();
      });
      intervalEl.addEventListener("change", () => {
        settings.set("interval", intervalEl.value);
        schedule();
      });
      document.addEventListener("visibilitychange", () => {
        const due = (Date.now() - lastUpdate) / 1000 >= (parseFloat(intervalEl.value) || 30);
        if (!document.hidden && liveEl.checked && due) refresh();
        else schedule();
      });
      decorateAll();
      schedule();
    }
    setInterval(updateFreshness, 1000);
    setInterval(() => {
      updateAges();
      decorateAll();
    }, 10000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
