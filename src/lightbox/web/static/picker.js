// The image picker: arrow keys move, A approves, R rejects, Z undoes the last
// vote. Votes go to /picker/vote with the page's CSRF token; the page never
// reloads for a vote, so the keyboard flow stays fast.
(function () {
  var root = document.getElementById("picker");
  if (!root) return;
  var thumbs = Array.prototype.slice.call(document.querySelectorAll("#strip .thumb"));
  var stage = document.getElementById("stage-image");
  var live = document.getElementById("picker-live");
  var csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  var index = Math.min(parseInt(root.dataset.start || "0", 10), thumbs.length - 1);
  var history = [];
  var lastInput = 0;
  var LABELS = { APPROVED: "Approved", REJECTED: "Rejected", "": "Not voted" };

  function show(i, scroll) {
    index = Math.max(0, Math.min(thumbs.length - 1, i));
    var t = thumbs[index];
    thumbs.forEach(function (other) { other.removeAttribute("aria-current"); });
    t.setAttribute("aria-current", "true");
    if (t.dataset.src) { stage.src = t.dataset.src; stage.alt = t.dataset.name; }
    else { stage.removeAttribute("src"); stage.alt = ""; }
    document.getElementById("stage-name").textContent = t.dataset.name;
    document.getElementById("stage-position").textContent =
      (index + 1) + " of " + thumbs.length;
    var status = t.dataset.status === "DONE" ? LABELS[t.dataset.voting] :
      (t.dataset.status === "INPROGRESS" ? "Rendering…" : "Failed");
    document.getElementById("stage-status").textContent = status;
    document.getElementById("stage-status").dataset.voting = t.dataset.voting;
    // "Make a video" opens the video form for this image once it is finished.
    var makeVideo = document.getElementById("make-video");
    if (t.dataset.status === "DONE") {
      makeVideo.href = "/videos/new?image=" + encodeURIComponent(t.dataset.id);
      makeVideo.removeAttribute("aria-disabled");
    } else {
      makeVideo.href = "#";
      makeVideo.setAttribute("aria-disabled", "true");
    }
    // Only on request: scrolling on load would hide the page header.
    if (scroll) t.scrollIntoView({ block: "nearest" });
  }

  function send(id, voting) {
    var body = new URLSearchParams({ record_id: id, voting: voting });
    return fetch("/picker/vote", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || "Vote failed");
        return data;
      });
    });
  }

  function apply(thumb, voting) {
    thumb.dataset.voting = voting || "";
    if (thumbs[index] === thumb) show(index);
    // The ZIP link is usable once anything is approved.
    var zip = document.getElementById("download-zip");
    var any = thumbs.some(function (t) { return t.dataset.voting === "APPROVED"; });
    if (any) zip.removeAttribute("aria-disabled");
    else zip.setAttribute("aria-disabled", "true");
  }

  function vote(voting) {
    var t = thumbs[index];
    if (!t) return;
    var previous = t.dataset.voting;
    send(t.dataset.id, voting).then(function (data) {
      history.push({ thumb: t, previous: previous });
      apply(t, data.voting);
      live.textContent = LABELS[data.voting || ""] + ": " + t.dataset.name;
      if (index < thumbs.length - 1) show(index + 1, true);
    }).catch(function (error) { live.textContent = error.message; });
  }

  function undo() {
    var last = history.pop();
    if (!last) { live.textContent = "Nothing to undo."; return; }
    send(last.thumb.dataset.id, last.previous || "NONE").then(function (data) {
      apply(last.thumb, data.voting);
      show(thumbs.indexOf(last.thumb), true);
      live.textContent = "Undone: " + last.thumb.dataset.name;
    }).catch(function (error) {
      history.push(last);
      live.textContent = error.message;
    });
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    lastInput = Date.now();
    var key = event.key.toLowerCase();
    if (key === "arrowright" || key === "arrowdown") { show(index + 1, true); }
    else if (key === "arrowleft" || key === "arrowup") { show(index - 1, true); }
    else if (key === "a") { vote("APPROVED"); }
    else if (key === "r") { vote("REJECTED"); }
    else if (key === "z") { undo(); }
    else { return; }
    event.preventDefault();
  });
  thumbs.forEach(function (t, i) {
    t.addEventListener("click", function () { lastInput = Date.now(); show(i); });
  });
  document.getElementById("prev").addEventListener("click", function () { show(index - 1); });
  document.getElementById("next").addEventListener("click", function () { show(index + 1); });
  document.getElementById("approve").addEventListener("click", function () { vote("APPROVED"); });
  document.getElementById("reject").addEventListener("click", function () { vote("REJECTED"); });
  document.getElementById("undo").addEventListener("click", undo);
  show(index);

  // While images render, reload (keeping the current one) once nobody is typing.
  if (root.dataset.busy === "true") {
    setInterval(function () {
      if (Date.now() - lastInput < 4000) return;
      var url = new URL(window.location.href);
      url.searchParams.set("record", thumbs[index].dataset.id);
      window.location.replace(url.toString());
    }, 2000);
  }
})();
