// Live status over server-sent events, the meters and tuner, the keyboard and
// the screen kept awake; the page works without this (forms, reload).
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var keys = ["phase_label", "note_text", "note_hz", "articulation_text", "progress_text",
    "remaining_text", "skipped_text", "stage_last", "session_text", "take_id", "message", "last_text",
    "last_verdict", "last_reason", "last_figures"];

  // Space = Start, R = Retake, S = Skip, P = Pause: the button shown for it.
  var commands = { " ": "start", r: "retake", s: "skip", p: "pause" };
  document.addEventListener("keydown", function (e) {
    var t = e.target, tag = t && t.tagName;
    if (e.ctrlKey || e.altKey || e.metaKey || tag === "INPUT" || tag === "SELECT" ||
        tag === "TEXTAREA" || (t && t.isContentEditable)) return;
    var name = commands[e.key.toLowerCase()];
    var b = name && document.querySelector("#controls button[value=" + name + "]");
    if (!b || b.hidden || b.disabled) return;
    e.preventDefault();
    b.click();
  });

  // The screen stays on while the page is shown (re-asked when it is shown again).
  function wake() {
    if (navigator.wakeLock && document.visibilityState === "visible")
      navigator.wakeLock.request("screen").catch(function () {});
  }
  document.addEventListener("visibilitychange", wake);
  wake();

  if (!window.EventSource) return;
  var hadSession = !!$("progress");
  var couldInitiate = !!$("initiate_again");
  var lastPhase = null, nowUntil = 0;
  var es = new EventSource("/events");

  function fillList(ul, items) {
    if (!ul) return;
    ul.textContent = "";
    items.forEach(function (t) {
      var li = document.createElement("li"); li.textContent = t; ul.appendChild(li);
    });
  }

  function setAttrs(el, attrs) { for (var k in attrs) el.setAttribute(k, attrs[k]); }

  function showWave(w) {
    var fig = $("wave");
    if (!fig) return;
    fig.hidden = !w.d;
    if (!w.d) return;
    setAttrs($("wave_svg"), { viewBox: "0 0 " + w.width + " 200" });
    setAttrs($("wave_path"), { d: w.d });
    setAttrs($("wave_pre"), { width: w.start });
    setAttrs($("wave_trim_a"), { width: w.trim_from });
    setAttrs($("wave_trim_b"), { x: w.trim_to, width: w.width });
    setAttrs($("wave_start"), { x1: w.start, x2: w.start });
    $("wave_caption").textContent = w.caption;
  }

  function showCountdown(v) {
    var el = $("countdown_text");
    if (!el) return;
    // The moment the countdown ends: "NOW", big, for a second.
    if (lastPhase === "countdown" && v.phase === "recording") nowUntil = Date.now() + 1200;
    lastPhase = v.phase;
    var now = Date.now() < nowUntil && v.phase === "recording";
    el.className = now ? "countdown now" : "countdown";
    el.textContent = now ? "NOW" : v.countdown_text;
    if (now) setTimeout(function () { if (Date.now() >= nowUntil) showCountdown(v); }, 1250);
  }

  es.onmessage = function (e) {
    var v = JSON.parse(e.data);
    if (window.takeboxFlow) window.takeboxFlow(v);
    if (v.has_session !== hadSession || (hadSession && v.can_initiate !== couldInitiate)) { location.reload(); return; }
    keys.forEach(function (k) {
      var el = $(k);
      if (el) el.textContent = v[k] == null ? "" : String(v[k]);
    });
    showCountdown(v);
    document.body.className = "phase-" + v.phase;
    var stage = $("stage");
    if (stage) stage.className = "stage stage-" + v.stage;
    document.querySelectorAll("#controls button").forEach(function (b) {
      b.hidden = !v.actions[b.value];
    });
    var bar = $("progress");
    if (bar) { bar.max = v.total; bar.value = v.done; }
    var verdict = $("last_verdict");
    if (verdict) verdict.className = "verdict verdict-" + v.last_verdict;
    fillList($("last_paths"), v.last_paths);
    showWave(v.wave);
    var problems = $("board_problems");
    if (problems) { fillList(problems, v.board_problems); problems.hidden = !v.board_problems.length; }
    var recs = $("recorders");
    if (recs) {
      recs.textContent = "";
      v.recorders.forEach(function (r) {
        var li = document.createElement("li"); li.className = r.class;
        [["url", r.url + " "], ["state", r.state]].forEach(function (p) {
          var s = document.createElement("span"); s.className = p[0]; s.textContent = p[1]; li.appendChild(s);
        });
        var d = document.createElement("small"); d.textContent = " " + r.detail; li.appendChild(d);
        recs.appendChild(li);
      });
    }
  };

  // Meters: a row per recorder and channel, as the `levels` events have them.
  var meters = {};
  function buildMeters(peaks) {
    var box = $("meters"), list = [];
    peaks.forEach(function (channels, r) {
      channels.forEach(function (_, c) {
        list.push({ id: "m" + r + "_" + c, label: (peaks.length > 1 ? "recorder " + (r + 1) + " " : "") + "input " + (c + 1) });
      });
    });
    var ids = list.map(function (m) { return m.id; }).join();
    var have = [].map.call(document.querySelectorAll(".meter[id]"), function (m) { return m.id; }).join();
    if (!box || ids === have) return;
    document.querySelectorAll(".meter[id]").forEach(function (m) { m.remove(); });
    var scale = box.querySelector(".scalerow");
    list.forEach(function (m) {
      var row = document.createElement("div");
      row.className = "meter"; row.id = m.id;
      setAttrs(row, { role: "meter", "aria-label": m.label + " level, dBFS", "aria-valuemin": -60, "aria-valuemax": 0 });
      row.innerHTML = '<span class="mlabel"></span><span class="db"></span><span class="bar"><i class="fill"></i><i class="hold"></i><b class="clip">CLIP</b></span>';
      row.firstChild.textContent = m.label;
      box.insertBefore(row, scale);
    });
    meters = {};
  }

  function drawMeter(id, db, clipAt, t) {
    var row = $(id);
    if (!row) return;
    var m = meters[id] || (meters[id] = { shown: -60, hold: -60, holdUntil: 0, clipUntil: 0, at: t });
    var level = db == null ? -60 : Math.max(-60, Math.min(0, db));
    // Falls at 24 dB/s, rises at once; the peak holds 1.5 s; a clip stays lit 3 s.
    m.shown = Math.max(level, m.shown - 24 * (t - m.at) / 1000);
    m.at = t;
    if (level >= m.hold || t > m.holdUntil) { m.hold = level; m.holdUntil = t + 1500; }
    if (db != null && db >= clipAt) m.clipUntil = t + 3000;
    var pct = function (d) { return (d + 60) / 60 * 100; };
    row.querySelector(".fill").style.clipPath = "inset(0 " + (100 - pct(m.shown)) + "% 0 0)";
    row.querySelector(".hold").style.left = pct(m.hold) + "%";
    row.classList.toggle("clipped", t < m.clipUntil);
    var text = db == null ? "silence" : db.toFixed(1) + " dBFS";
    row.querySelector(".db").textContent = text;
    setAttrs(row, { "aria-valuenow": Math.round(level), "aria-valuetext": text });
  }

  function drawTuner(t) {
    var box = $("tuner");
    if (!box) return;
    box.hidden = !t;
    if (!t) return;
    var c = Math.max(-50, Math.min(50, t.cents));
    $("tuner_needle").style.left = (50 + c) + "%";
    var sign = t.cents > 0 ? "+" : "";
    $("tuner_text").textContent = t.note + " " + sign + t.cents.toFixed(1) + " cents" +
      (Math.abs(t.cents) < 5 ? " · in tune" : "") + " (" + t.hz.toFixed(1) + " Hz)";
    setAttrs(box, { "aria-valuenow": Math.round(c) });
  }

  es.addEventListener("levels", function (e) {
    var v = JSON.parse(e.data), t = Date.now();
    buildMeters(v.peak_dbfs);
    v.peak_dbfs.forEach(function (channels, r) {
      channels.forEach(function (db, c) { drawMeter("m" + r + "_" + c, db, v.clip_dbfs, t); });
    });
    drawTuner(v.tuner);
  });
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
