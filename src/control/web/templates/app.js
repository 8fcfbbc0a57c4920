// Live status over server-sent events; the page works without this (forms, reload).
(function () {
  if (!window.EventSource) return;
  var keys = ["phase_label", "countdown_text", "note_text", "articulation_text", "progress_text",
    "session_text", "take_id", "message", "last_text", "last_verdict", "last_reason"];
  var hadSession = !!document.getElementById("progress");
  var couldInitiate = !!document.getElementById("initiate_again");
  var es = new EventSource("/events");
  es.onmessage = function (e) {
    var v = JSON.parse(e.data);
    if (window.takeboxFlow) window.takeboxFlow(v);
    if (v.has_session !== hadSession || (hadSession && v.can_initiate !== couldInitiate)) { location.reload(); return; }
    keys.forEach(function (k) {
      var el = document.getElementById(k);
      if (el) el.textContent = v[k] == null ? "" : String(v[k]);
    });
    document.body.className = "phase-" + v.phase;
    var bar = document.getElementById("progress");
    if (bar) { bar.max = v.total; bar.value = v.done; }
    var verdict = document.getElementById("last_verdict");
    if (verdict) verdict.className = "verdict verdict-" + v.last_verdict;
    var paths = document.getElementById("last_paths");
    if (paths) {
      paths.textContent = "";
      v.last_paths.forEach(function (p) {
        var li = document.createElement("li"); li.textContent = p; paths.appendChild(li);
      });
    }
    var recs = document.getElementById("recorders");
    if (recs) {
      recs.textContent = "";
      v.recorders.forEach(function (r) {
        var li = document.createElement("li"); li.className = r.class;
        var url = document.createElement("span"); url.className = "url"; url.textContent = r.url + " ";
        var st = document.createElement("span"); st.className = "state"; st.textContent = r.state;
        li.appendChild(url); li.appendChild(st);
        r.meter.forEach(function (m) {
          var me = document.createElement("meter");
          me.min = 0; me.max = 100; me.low = 70; me.high = 95; me.optimum = 50; me.value = m;
          li.appendChild(document.createTextNode(" ")); li.appendChild(me);
        });
        var d = document.createElement("small"); d.textContent = " " + r.detail; li.appendChild(d);
        recs.appendChild(li);
      });
    }
  };
})();
// Session flow: a new verdict, a take to listen to, Pause/Resume and the review
// reload the page; a refused command's notice goes once the phase moves on.
(function () {
  var shown = null, phase = null;
  window.takeboxFlow = function (v) {
    var f = v.flow;
    if (!f) return;
    var key = [f.verdict_name, f.figures, f.play, f.paused, f.review, f.skipped, f.can_record_again].join("|");
    if (shown === null) { shown = key; phase = v.phase; }
    var flash = document.getElementById("flash");
    if (flash && v.phase !== phase) flash.hidden = true;
    if (key !== shown) location.reload();
  };
})();
