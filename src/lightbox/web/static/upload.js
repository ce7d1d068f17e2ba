// Drag-and-drop for upload forms: dropped files go into the form's file input
// and the form is submitted, exactly as if they had been chosen and sent.
(function () {
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var chosen = zone.querySelector("[aria-live]");
    function describe() {
      if (!chosen) return;
      var n = input.files.length;
      chosen.textContent = n ? n + " file" + (n === 1 ? "" : "s") + " chosen" : "";
    }
    input.addEventListener("change", describe);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragover");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      describe();
      zone.requestSubmit ? zone.requestSubmit() : zone.submit();
    });
  });
})();
