// Switchboard dashboard: the few live parts. Vanilla JavaScript, no dependencies, embedded in
// the binary. Every page works without it; this only adds:
//  - data-sync-widget: replaces itself with GET /sync/widget every data-refresh-secs seconds
//    (every 2 s while a job runs); its [data-sync-now] form posts with fetch.
//  - data-autosubmit on a <select>: submits its form on change, and hides the form's
//    [data-autosubmit-fallback] submit button (there for pages without this script).
//  - data-connect-form on a form posting to /connect/{platform}: opens the consent in a popup
//    (the form gets target="switchboard-consent"); the result page tells this window, which reloads.
//  - data-bulk-progress: polls its data-poll-url (JSON) and updates the progress.
//  - data-confirm="text" on a form: asks before submitting.
// The CSRF token is in <meta name="csrf-token">; fetch calls send it as X-CSRF-Token.
(function () {
  "use strict";

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // --- sync widget -------------------------------------------------------------------------
  var syncTimer = null;
  function scheduleSync(widget) {
    if (syncTimer) clearTimeout(syncTimer);
    var running = widget.getAttribute("data-running") === "true";
    var secs = running ? 2 : parseInt(widget.getAttribute("data-refresh-secs") || "30", 10);
    syncTimer = setTimeout(function () { reloadSync(); }, secs * 1000);
  }
  function reloadSync() {
    var current = document.querySelector("[data-sync-widget]");
    if (!current) return;
    fetch("/sync/widget", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok || r.redirected) throw new Error("status " + r.status); return r.text(); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("[data-sync-widget]");
        if (!fresh) return;
        // Keep expanded platforms expanded.
        var open = {};
        current.querySelectorAll("details[open]").forEach(function (d) { open[d.getAttribute("data-platform")] = true; });
        fresh.querySelectorAll("details").forEach(function (d) { if (open[d.getAttribute("data-platform")]) d.open = true; });
        current.replaceWith(fresh);
        initSync(fresh);
      })
      .catch(function () { scheduleSync(current); });
  }
  function initSync(widget) {
    var form = widget.querySelector("[data-sync-now]");
    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var btn = form.querySelector("button");
        if (btn) { btn.disabled = true; btn.textContent = "Syncing…"; }
        fetch(form.action, {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf(), Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(new FormData(form)).toString()
        }).then(function () { reloadSync(); }, function () { reloadSync(); });
      });
    }
    scheduleSync(widget);
  }

  // --- popup connect -----------------------------------------------------------------------
  function initConnectForms() {
    document.querySelectorAll("form[data-connect-form]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var w = 520, h = 680;
        var left = Math.max(0, (window.screenX || 0) + (window.outerWidth - w) / 2);
        var top = Math.max(0, (window.screenY || 0) + (window.outerHeight - h) / 2);
        var popup = window.open("", "switchboard-consent",
          "popup=yes,width=" + w + ",height=" + h + ",left=" + left + ",top=" + top);
        if (popup) {
          var mode = form.querySelector('input[name="mode"]');
          if (mode) mode.value = "popup";
          form.target = "switchboard-consent";
        }
        // Blocked popups: the form submits in this window (redirect mode).
      });
    });
  }
  window.addEventListener("message", function (e) {
    if (e.origin !== window.location.origin || !e.data || e.data.type !== "switchboard-connect") return;
    var to = e.data.location || "/";
    window.location.assign(to);
  });
  // The result page, opened as a popup: tell the opener and close.
  function initResult() {
    var el = document.querySelector("[data-connect-result]");
    if (!el || !window.opener || window.opener === window) return;
    try {
      window.opener.postMessage({ type: "switchboard-connect", status: el.getAttribute("data-connect-result"),
        location: el.getAttribute("data-opener-location") || "/" }, window.location.origin);
      var note = document.createElement("p");
      note.textContent = "This window closes by itself.";
      el.appendChild(note);
      setTimeout(function () { window.close(); }, 1200);
    } catch (err) { /* stay open: the page itself says what happened */ }
  }

  // --- bulk connect progress ---------------------------------------------------------------
  function initBulk() {
    var el = document.querySelector("[data-bulk-progress]");
    if (!el) return;
    var url = el.getAttribute("data-poll-url");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("[data-bulk-progress]");
          if (!fresh) return;
          var cur = document.querySelector("[data-bulk-progress]");
          cur.replaceWith(fresh);
          if (fresh.getAttribute("data-done") !== "true") setTimeout(tick, 2000);
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    if (el.getAttribute("data-done") !== "true") setTimeout(tick, 2000);
  }

  // --- small helpers -----------------------------------------------------------------------
  function initAutosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
      s.addEventListener("change", function () { if (s.form) s.form.submit(); });
      // The form's own submit button is for pages without this script.
      if (s.form) {
        s.form.querySelectorAll("[data-autosubmit-fallback]").forEach(function (b) { b.hidden = true; });
      }
    });
  }
  function initConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  }

  function init() {
    var w = document.querySelector("[data-sync-widget]");
    if (w) initSync(w);
    initConnectForms();
    initResult();
    initBulk();
    initAutosubmit();
    initConfirm();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
