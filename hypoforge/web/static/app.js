// hypoforge dashboard: live refresh of server-rendered fragments and steering requests.
// No framework, no inline handlers (the CSP allows scripts from this file only). Every text
// shown from a reply goes through textContent; HTML comes only from the server's fragments.
(function () {
  "use strict";
  var body = document.body;
  var meta = document.querySelector('meta[name="hf-token"]');
  var token = meta ? meta.getAttribute("content") : null;
  var status = document.getElementById("steer-status");
  var liveState = document.getElementById("live-state");
  var refreshing = false;
  var again = false;
  var deferred = false;

  function say(text, ok) {
    if (!status) return;
    status.textContent = text;
    status.className = "steer-status " + (ok ? "ok" : "error");
  }

  // A part holding a field the user is filling in is not swapped (it would lose the text).
  function typingIn(el, node) {
    if (!node || node === body || !el.contains(node)) return false;
    var tag = node.tagName;
    return (tag === "INPUT" || tag === "TEXTAREA") && node.value !== "";
  }

  // Fetch every [data-part] fragment again and swap it in; a part the user is typing in waits.
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    var parts = Array.prototype.slice.call(document.querySelectorAll("[data-part][data-src]"));
    var focused = document.activeElement;
    var jobs = parts.map(function (el) {
      if (typingIn(el, focused)) { deferred = true; return Promise.resolve(); }
      // The browser revalidates with the fragment's ETag: an unchanged part costs a 304.
      return fetch(el.getAttribute("data-src"), { credentials: "same-origin", cache: "no-cache" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) swap(el, html); })
        .catch(function () {});
    });
    Promise.all(jobs).then(function () {
      body.setAttribute("data-updates", String(Number(body.getAttribute("data-updates") || 0) + 1));
      refreshing = false;
      if (again) { again = false; refresh(); }
    });
  }

  // Replace a part's HTML unless it is the same; sections the user opened stay open.
  function swap(el, html) {
    if (el.hfHtml === html) return;
    var open = {};
    el.querySelectorAll("details[data-key][open]").forEach(function (d) {
      open[d.getAttribute("data-key")] = true;
    });
    el.innerHTML = html;
    el.hfHtml = html;
    el.querySelectorAll("details[data-key]").forEach(function (d) {
      if (open[d.getAttribute("data-key")]) d.open = true;
    });
  }

  // A deferred part is refreshed once the user leaves it.
  document.addEventListener("focusout", function () {
    if (deferred) { deferred = false; setTimeout(refresh, 0); }
  });

  var live = body.getAttribute("data-live");
  if (live && window.EventSource) {
    var seen = body.getAttribute("data-version"); // the version this page was rendered at
    var source = new EventSource(live);
    source.addEventListener("hello", function (e) {
      var version = JSON.parse(e.data).version;
      if (seen !== null && seen !== version) refresh(); // changed since rendered or reconnected
      seen = version;
      if (liveState) liveState.textContent = "live";
    });
    source.addEventListener("change", function (e) {
      seen = JSON.parse(e.data).version;
      refresh();
    });
    source.addEventListener("error", function () {
      if (liveState) liveState.textContent = "reconnecting...";
    });
  }

  function steer(action, payload) {
    var url = location.pathname.replace(/\/+$/, "") + "/steer/" + action;
    say("sending...", true);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Hypoforge-Token": token || "" },
      body: JSON.stringify(payload)
    })
      .then(function (r) {
        return r.json().catch(function () { return { ok: false, error: "HTTP " + r.status }; });
      })
      .then(function (reply) {
        say(reply.ok ? reply.message : reply.error, reply.ok);
        refresh();
        return reply;
      })
      .catch(function (err) { say("the server did not answer: " + err, false); });
  }

  var DECISIONS = { approve: 1, veto: 1, revise: 1 };
  var CONTROLS = { pause: 1, resume: 1, stop: 1 };

  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("button[data-action]") : null;
    if (!button || !token) return;
    var action = button.getAttribute("data-action");
    if (DECISIONS[action]) {
      var hid = button.getAttribute("data-hypothesis");
      var note = "";
      var row = button.closest("tr");
      var input = row ? row.querySelector("input[data-note-for]") : null;
      if (input) note = input.value;
      steer("decide", { hypothesis: hid, decision: action, note: note });
    } else if (CONTROLS[action]) {
      if (action === "stop" && button.getAttribute("data-armed") !== "1") {
        button.setAttribute("data-armed", "1");
        button.textContent = "stop for good? click again";
        setTimeout(function () {
          button.removeAttribute("data-armed");
          button.textContent = "stop";
        }, 5000);
        return;
      }
      steer("control", { command: action });
    } else if (action === "withdraw") {
      steer("directive", { withdraw: Number(button.getAttribute("data-directive")) });
    }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var kind = form.getAttribute("data-steer");
    if (!kind) return;
    e.preventDefault();
    var payload = {};
    if (kind === "directive") {
      payload.agent = form.elements.agent.value;
      payload.text = form.elements.text.value;
    } else if (kind === "budget") {
      ["proposals", "hours", "tokens"].forEach(function (name) {
        var value = form.elements[name].value;
        if (value !== "") payload[name] = Number(value);
      });
    }
    steer(kind, payload).then(function (reply) {
      if (reply && reply.ok) form.reset();
    });
  });
})();
