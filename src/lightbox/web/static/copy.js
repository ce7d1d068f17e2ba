// Copy buttons: data-copy names the element whose text goes to the clipboard.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent.trim();
      var status = document.getElementById("copy-status");
      navigator.clipboard.writeText(text).then(function () {
        if (status) status.textContent = "Copied to the clipboard.";
      }, function () {
        if (status) status.textContent = "Copy failed: select the text and copy it.";
      });
    });
  });
})();
