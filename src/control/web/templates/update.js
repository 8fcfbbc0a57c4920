// Settings -> Update: the bundle goes up as raw bytes with its progress
// shown, then the board's updater is followed (verifying, writing, installed
// or failed) until nothing is under way. Without this script the plain form
// posts the file and the page shows where it stands on reload.
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var form = $("update_form");
  if (!form) return;
  var button = form.querySelector("button");
  function show(v) {
    $("board_version").textContent = v.summary;
    $("update_progress").textContent = v.progress;
    $("reboot_form").hidden = !v.can_reboot;
    button.disabled = v.busy;
    return v.busy;
  }
  function follow() {
    fetch("/settings/update", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (v) { if (show(v)) setTimeout(follow, 1000); })
      .catch(function () { setTimeout(follow, 3000); });
  }
  form.addEventListener("submit", function (e) {
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    e.preventDefault();
    var say = function (t) { $("update_progress").textContent = t; };
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/settings/update");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = function (p) {
      if (p.lengthComputable) say("Uploading: " + Math.floor(p.loaded * 100 / p.total) + "%");
    };
    xhr.onload = function () {
      var v = {};
      try { v = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status >= 300) { say("Upload refused: " + (v.message || "HTTP " + xhr.status)); button.disabled = false; return; }
      show(v);
      follow();
    };
    xhr.onerror = function () { say("Upload failed: the connection broke off"); button.disabled = false; };
    button.disabled = true;
    say("Uploading: 0%");
    xhr.send(file);
  });
  follow();
})();
