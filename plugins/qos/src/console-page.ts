/**
 * The web console: one static page, its script and style inline (no build step, nothing
 * downloaded). It reads `/ls`, `/ready` and `/metrics` every two seconds and drives `/offline`,
 * `/online` and `/weight`. Everything it shows comes from the registry or the metrics, so it is
 * written with `textContent` only — never parsed as HTML — and the page's CSP allows only its own
 * nonce-bearing script.
 */
export function consolePage(nonce: string): string {
  return PAGE.replace(/__NONCE__/g, nonce);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plexus console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="__NONCE__">
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } code { font-size: 12px; word-break: break-all; }
.ok { color: #176f2c; font-weight: 600; } .bad { color: #b00020; font-weight: 600; }
#status { margin: .3em 0; } #message { min-height: 1.4em; color: #b00020; }
input.weight { width: 6em; } button { margin-right: .3em; }
</style>
</head>
<body>
<h1>Plexus — <span id="application">…</span></h1>
<div id="status">ready: <span id="ready">…</span> · <label>admin token <input id="token" type="password" autocomplete="off"></label></div>
<div id="message" role="status"></div>
<h2>Services</h2>
<table id="services"><thead><tr><th>interface</th><th>version</th><th>group</th><th>providers (this process)</th><th>state</th><th>calls/s</th><th>errors/s</th><th></th></tr></thead><tbody></tbody></table>
<h2>References</h2>
<table id="references"><thead><tr><th>id</th><th>interface</th><th>provider</th><th>weight</th><th>state</th><th>calls/s</th><th>errors/s</th><th></th></tr></thead><tbody></tbody></table>
<p id="metrics-note"></p>
<script nonce="__NONCE__">
'use strict';
(function () {
  var REFRESH_MS = 2000;
  var previous = null;
  var rates = {};
  var tokenInput = document.getElementById('token');
  try { tokenInput.value = sessionStorage.getItem('plexus-qos-token') || ''; } catch (e) {}
  tokenInput.addEventListener('change', function () { try { sessionStorage.setItem('plexus-qos-token', tokenInput.value); } catch (e) {} });

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { var td = document.createElement('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? '' : String(c); tr.appendChild(td); });
    return tr;
  }
  function say(text) { document.getElementById('message').textContent = text || ''; }
  function fmt(n) { return n === undefined ? '–' : n.toFixed(n < 10 ? 2 : 0); }

  function post(path, params) {
    var q = new URLSearchParams(params).toString();
    var headers = {};
    if (tokenInput.value) headers.Authorization = 'Bearer ' + tokenInput.value;
    return fetch(path + (q ? '?' + q : ''), { method: 'POST', headers: headers }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new Error((body.code ? body.code + ': ' : '') + (body.message || res.status));
        return body;
      });
    }).then(function (body) { say(''); refresh(); return body; }, function (err) { say(err.message); });
  }

  /** Prometheus text → { "side|service|method": { total, errors } } from plexus_requests_total. */
  function parseMetrics(text) {
    var out = {};
    text.split('\\n').forEach(function (line) {
      if (line.indexOf('plexus_requests_total{') !== 0) return;
      var close = line.lastIndexOf('}');
      if (close < 0) return;
      var labels = {};
      var re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\]|\\\\.)*)"/g, m;
      var body = line.slice('plexus_requests_total{'.length, close);
      while ((m = re.exec(body)) !== null) labels[m[1]] = m[2].replace(/\\\\(.)/g, function (_, c) { return c === 'n' ? '\\n' : c; });
      var value = Number(line.slice(close + 1).trim().split(' ')[0]);
      if (!isFinite(value)) return;
      var key = labels.side + '|' + labels.service;
      var entry = out[key] || (out[key] = { total: 0, errors: 0 });
      entry.total += value;
      if (labels.code !== 'OK') entry.errors += value;
    });
    return out;
  }

  function updateRates(text, at) {
    var now = parseMetrics(text);
    if (previous) {
      var dt = (at - previous.at) / 1000;
      rates = {};
      Object.keys(now).forEach(function (k) {
        var before = previous.counts[k] || { total: 0, errors: 0 };
        rates[k] = { calls: Math.max(0, now[k].total - before.total) / dt, errors: Math.max(0, now[k].errors - before.errors) / dt };
      });
    }
    previous = { at: at, counts: now };
  }

  /** The kernel's service key (group/interface:version), which the metrics' service label may carry. */
  function serviceKey(s) { return (s.group ? s.group + '/' : '') + s.interface + (s.version && s.version !== '0.0.0' ? ':' + s.version : ''); }

  function render(ls) {
    document.getElementById('application').textContent = ls.application;
    var tbody = document.querySelector('#services tbody');
    tbody.replaceChildren();
    ls.services.forEach(function (s) {
      var urls = el('div');
      s.urls.forEach(function (u) { urls.appendChild(el('code', u)); urls.appendChild(document.createElement('br')); });
      var r = rates['provider|' + serviceKey(s)] || rates['provider|' + s.interface] || {};
      var actions = el('span');
      var off = el('button', 'offline'); off.type = 'button'; off.dataset.action = 'offline'; off.dataset.interface = s.interface;
      off.addEventListener('click', function () { post('/offline', { interface: s.interface }); });
      var on = el('button', 'online'); on.type = 'button'; on.dataset.action = 'online'; on.dataset.interface = s.interface;
      on.addEventListener('click', function () { post('/online', { interface: s.interface }); });
      actions.appendChild(off); actions.appendChild(on);
      var tr = row([s.interface, s.version, s.group, urls, el('span', s.online ? 'online' : 'offline', s.online ? 'ok' : 'bad'), fmt(r.calls), fmt(r.errors), actions]);
      tr.dataset.service = s.interface;
      tbody.appendChild(tr);
    });
    var rbody = document.querySelector('#references tbody');
    rbody.replaceChildren();
    ls.references.forEach(function (ref) {
      var r = rates['consumer|' + serviceKey(ref)] || rates['consumer|' + ref.interface] || {};
      if (ref.providers.length === 0) rbody.appendChild(row([ref.id, ref.interface, 'no provider', '', '', fmt(r.calls), fmt(r.errors), '']));
      ref.providers.forEach(function (p) {
        var input = el('input'); input.type = 'number'; input.min = '0'; input.max = '1000000'; input.className = 'weight'; input.value = String(p.weight);
        var set = el('button', 'set weight'); set.type = 'button';
        set.addEventListener('click', function () { post('/weight', { interface: ref.interface, address: p.address, weight: input.value }); });
        var box = el('span'); box.appendChild(input); box.appendChild(set);
        rbody.appendChild(row([ref.id, ref.interface, el('code', p.url), p.weight, el('span', p.available ? 'available' : 'unavailable', p.available ? 'ok' : 'bad'), fmt(r.calls), fmt(r.errors), box]));
      });
    });
  }

  var editing = false;
  document.addEventListener('focusin', function (e) { editing = e.target && e.target.classList && e.target.classList.contains('weight'); });
  document.addEventListener('focusout', function () { editing = false; });

  function refresh() {
    fetch('/ready').then(function (res) {
      var ready = document.getElementById('ready');
      ready.textContent = res.ok ? 'yes' : 'no (503)';
      ready.className = res.ok ? 'ok' : 'bad';
    }).catch(function () {});
    var metrics = fetch('/metrics').then(function (res) {
      document.getElementById('metrics-note').textContent = res.ok ? '' : 'No call rates: /metrics answered ' + res.status + ' (install @plexus/filter-metrics and add filter: [metrics]).';
      return res.ok ? res.text().then(function (t) { updateRates(t, Date.now()); }) : null;
    }).catch(function () {});
    Promise.all([fetch('/ls').then(function (res) { return res.json(); }), metrics]).then(function (all) {
      if (!editing) render(all[0]);
    }).catch(function (err) { say('cannot read /ls: ' + err.message); });
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
</script>
</body>
</html>
`;
