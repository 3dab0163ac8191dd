// Posts pages of the Switchboard dashboard: live validation and previews of the compose form,
// media rows, the time zone picker defaulting to the browser's zone, and a post's page
// refreshing itself while its targets publish. (Confirmations: dashboard.js, data-confirm.)
// The pages work without it (the server validates the submitted form and shows the same panel);
// this script only makes the checks live. No dependencies, no network but this server.
(function () {
  'use strict';

  var browserZone = '';
  try {
    browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (e) {
    browserZone = '';
  }

  // The zone the person reads times in: remembered in a cookie the server renders lists with.
  if (browserZone && document.cookie.indexOf('sb_tz=') === -1) {
    document.cookie = 'sb_tz=' + encodeURIComponent(browserZone) + '; path=/; max-age=31536000; SameSite=Lax';
    var shown = document.querySelector('[data-view-zone]');
    // Shown in another zone than the browser's, and the person did not pick one: show it again.
    if (shown && shown.getAttribute('data-view-zone') !== browserZone && location.search.indexOf('tz=') === -1) {
      location.reload();
      return;
    }
  }

  // A post whose targets are moving (publishing, due now): refresh its part of the page until
  // they settle, without reloading the page (focus and scroll stay).
  var live = document.getElementById('post-live');
  if (live && live.getAttribute('data-auto-refresh')) {
    var every = 1000 * parseInt(live.getAttribute('data-auto-refresh'), 10);
    var poll = function () {
      fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then(function (r) { return r.text(); })
        .then(function (t) {
          var holder = document.createElement('div');
          holder.innerHTML = t;
          var fresh = holder.querySelector('#post-live');
          var current = document.getElementById('post-live');
          if (!fresh || !current) return;
          current.replaceWith(fresh);
          if (fresh.getAttribute('data-auto-refresh')) setTimeout(poll, every);
        })
        .catch(function () { setTimeout(poll, every * 2); });
    };
    setTimeout(poll, every);
  }

  var form = document.getElementById('compose');
  if (!form) return;
  var panel = document.getElementById('checks');
  var validateUrl = form.getAttribute('data-validate-url');

  // Time zone: default to the browser's when the server had no better idea.
  var zone = form.querySelector('select[name="time_zone"]');
  if (zone && zone.getAttribute('data-default') === 'browser' && browserZone) {
    for (var i = 0; i < zone.options.length; i++) {
      if (zone.options[i].value === browserZone) {
        zone.value = browserZone;
        break;
      }
    }
  }

  // "Publish at" needs a time; "now" does not.
  var at = form.querySelector('input[name="publish_at"]');
  function syncWhen() {
    var chosen = form.querySelector('input[name="when"]:checked');
    var later = chosen && chosen.value === 'at';
    if (at) {
      at.disabled = !later;
      at.required = later;
      // A suggestion: the next full hour, in the browser's zone when that is the zone chosen.
      if (later && !at.value && zone && zone.value === browserZone) {
        var d = new Date(Date.now() + 3600 * 1000);
        var pad = function (n) { return (n < 10 ? '0' : '') + n; };
        at.value = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':00';
      }
    }
    if (zone) zone.disabled = !later;
    var submit = form.querySelector('button[type="submit"][data-now-label]');
    if (submit) submit.textContent = later ? submit.getAttribute('data-later-label') : submit.getAttribute('data-now-label');
  }

  // Platform options appear for the platforms of the chosen accounts.
  function syncOverrides() {
    var chosen = {};
    form.querySelectorAll('input[name="connection_id"]:checked').forEach(function (c) {
      chosen[c.getAttribute('data-platform')] = true;
    });
    form.querySelectorAll('[data-override-platform]').forEach(function (box) {
      box.hidden = !chosen[box.getAttribute('data-override-platform')];
    });
  }

  // Media rows: add and remove.
  var rows = document.getElementById('media-rows');
  var template = document.getElementById('media-row-template');
  function renumber() {
    if (!rows) return;
    rows.querySelectorAll('.media-row').forEach(function (row, n) {
      row.querySelectorAll('[data-field-template]').forEach(function (el) {
        el.setAttribute('data-field', el.getAttribute('data-field-template').replace('{i}', String(n)));
      });
      var legend = row.querySelector('.media-number');
      if (legend) legend.textContent = String(n + 1);
    });
  }
  var add = document.getElementById('add-media');
  if (add && rows && template) {
    add.hidden = false;
    add.addEventListener('click', function () {
      var row = template.content.firstElementChild.cloneNode(true);
      // Ids must stay unique: suffix them with the row count.
      var n = rows.querySelectorAll('.media-row').length;
      row.querySelectorAll('[id]').forEach(function (el) {
        el.id = el.id + '-' + n;
      });
      row.querySelectorAll('label[for]').forEach(function (el) {
        el.setAttribute('for', el.getAttribute('for') + '-' + n);
      });
      row.querySelectorAll('.media-file').forEach(function (el) { el.hidden = false; });
      rows.appendChild(row);
      renumber();
      var first = row.querySelector('input');
      if (first) first.focus();
      schedule();
    });
  }
  if (rows) {
    rows.addEventListener('click', function (ev) {
      var btn = ev.target.closest('.remove-media');
      if (!btn) return;
      var row = btn.closest('.media-row');
      if (row) row.remove();
      renumber();
      if (add) add.focus();
      schedule();
    });
  }

  // Media rows: upload a file instead of giving its URL. The file goes to POST /posts/media
  // (the session's CSRF token in X-CSRF-Token) and the answer's id into the row's hidden
  // media_id field; typing a URL drops the upload from the row.
  function uploadFile(input) {
    var row = input.closest('.media-row');
    var file = input.files && input.files[0];
    if (!row || !file) return;
    var status = row.querySelector('.media-file-status');
    var idField = row.querySelector('input[name="media_id"]');
    var url = row.querySelector('input[name="media_url"]');
    var kind = row.querySelector('select[name="media_kind"]');
    var csrf = form.querySelector('input[name="csrf"]');
    status.textContent = 'Uploading ' + file.name + '…';
    input.disabled = true;
    fetch('/posts/media?filename=' + encodeURIComponent(file.name), {
      method: 'POST',
      body: file,
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        'Content-Type': file.type || 'application/octet-stream',
        'X-CSRF-Token': csrf ? csrf.value : '',
      },
    })
      .then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, body: j }; });
      })
      .then(function (r) {
        input.disabled = false;
        if (!r.ok) {
          idField.value = '';
          status.textContent = 'Upload refused: ' + (r.body.detail || 'unknown error');
          schedule();
          return;
        }
        idField.value = r.body.id;
        if (url) url.value = '';
        if (kind) kind.value = r.body.kind;
        status.textContent = 'Uploaded ' + (r.body.filename || 'the file') + ' (' + r.body.kind +
          ', ' + r.body.size_bytes + ' bytes).';
        schedule();
      })
      .catch(function () {
        input.disabled = false;
        status.textContent = 'The upload did not finish; try again, or give a URL.';
      });
  }
  if (rows) {
    rows.querySelectorAll('.media-file').forEach(function (el) { el.hidden = false; });
    rows.addEventListener('change', function (ev) {
      if (ev.target && ev.target.classList.contains('media-file-input')) uploadFile(ev.target);
    });
    rows.addEventListener('input', function (ev) {
      if (!ev.target || ev.target.name !== 'media_url' || !ev.target.value) return;
      var row = ev.target.closest('.media-row');
      var idField = row && row.querySelector('input[name="media_id"]');
      if (idField && idField.value) {
        idField.value = '';
        row.querySelector('.media-file-status').textContent = '';
        var file = row.querySelector('.media-file-input');
        if (file) file.value = '';
      }
    });
  }

  // Live validation: the form as the server will read it, answered with the checks panel.
  var timer = null;
  var inFlight = null;
  var seq = 0;
  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(validate, 250);
  }
  function markFields() {
    form.querySelectorAll('[aria-invalid="true"]').forEach(function (el) {
      el.removeAttribute('aria-invalid');
    });
    if (!panel) return;
    panel.querySelectorAll('[data-violation-field]').forEach(function (li) {
      var field = li.getAttribute('data-violation-field');
      var el = form.querySelector('[data-field="' + field.replace(/"/g, '') + '"]');
      if (el) el.setAttribute('aria-invalid', 'true');
    });
  }
  function validate() {
    if (!validateUrl || !panel) return;
    var body = new URLSearchParams(new FormData(form));
    var mine = ++seq;
    if (inFlight && inFlight.abort) inFlight.abort();
    inFlight = typeof AbortController === 'function' ? new AbortController() : null;
    panel.setAttribute('aria-busy', 'true');
    fetch(validateUrl, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { Accept: 'text/html' },
      signal: inFlight ? inFlight.signal : undefined,
    })
      .then(function (r) {
        return r.text().then(function (t) {
          return { ok: r.ok, status: r.status, text: t };
        });
      })
      .then(function (r) {
        if (mine !== seq) return;
        panel.removeAttribute('aria-busy');
        if (!r.ok && r.status !== 422) {
          panel.querySelector('.checks-status').textContent =
            'Live checks are unavailable (HTTP ' + r.status + '); the server checks again when you schedule.';
          return;
        }
        panel.innerHTML = r.text;
        markFields();
      })
      .catch(function (e) {
        if (e && e.name === 'AbortError') return;
        panel.removeAttribute('aria-busy');
      });
  }

  form.addEventListener('input', function (ev) {
    if (ev.target && ev.target.name === 'connection_id') syncOverrides();
    schedule();
  });
  form.addEventListener('change', function (ev) {
    if (ev.target && ev.target.name === 'when') syncWhen();
    if (ev.target && ev.target.name === 'connection_id') syncOverrides();
    schedule();
  });
  syncWhen();
  syncOverrides();
  renumber();
  markFields();
  validate();
})();
