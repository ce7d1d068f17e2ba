// Making videos and reels. Hint chips add a word to the suggestion field (or take
// it out again). On the reel form, the checked images keep the order they were
// picked in, shown as a list with move buttons; the form posts the ids in that
// order. Without this script the forms still work: the grid order is used.
(function () {
  function escaped(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function hintPattern(hint) {
    return new RegExp("(^|[,;]\\s*|\\s)" + escaped(hint) + "(?=$|[,;\\s])", "i");
  }

  document.querySelectorAll(".chip[data-hint]").forEach(function (chip) {
    var field = document.getElementById(chip.dataset.target);
    var hint = chip.dataset.hint;
    function sync() {
      var on = hintPattern(hint).test(field.value);
      chip.setAttribute("aria-pressed", on ? "true" : "false");
    }
    chip.addEventListener("click", function () {
      var value = field.value;
      if (hintPattern(hint).test(value)) {
        value = value.replace(hintPattern(hint), "$1").replace(/^[,;\s]+|[,;\s]+$/g, "")
          .replace(/([,;])\s*[,;]/g, "$1");
      } else {
        value = value.trim() ? value.trim().replace(/[,;]$/, "") + ", " + hint : hint;
      }
      field.value = value;
      sync();
    });
    field.addEventListener("input", sync);
    sync();
  });

  var form = document.getElementById("reel-form");
  if (!form) return;
  var max = parseInt(form.dataset.max || "20", 10);
  var list = document.getElementById("reel-order");
  var live = document.getElementById("order-live");
  var boxes = Array.prototype.slice.call(
    form.querySelectorAll('input[type=checkbox][name=image_ids]'));
  var byId = {};
  boxes.forEach(function (box) { byId[box.value] = box; });
  var order = Array.prototype.map.call(list.children, function (li) {
    return li.dataset.id;
  }).filter(function (id) { return byId[id]; });

  function button(text, action, label, disabled) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-small";
    b.textContent = text;
    b.dataset.action = action;
    b.setAttribute("aria-label", label);
    b.disabled = disabled;
    return b;
  }

  function render(focus) {
    list.textContent = "";
    order.forEach(function (id, i) {
      var box = byId[id];
      var li = document.createElement("li");
      li.dataset.id = id;
      var img = document.createElement("img");
      img.src = box.dataset.thumb;
      img.alt = "";
      var name = document.createElement("span");
      name.className = "reel-name";
      name.textContent = box.dataset.name;
      var actions = document.createElement("span");
      actions.className = "card-actions";
      var label = box.dataset.name;
      actions.appendChild(button("↑", "up", "Move " + label + " earlier", i === 0));
      actions.appendChild(button("↓", "down", "Move " + label + " later",
        i === order.length - 1));
      actions.appendChild(button("✕", "remove", "Remove " + label, false));
      li.appendChild(img);
      li.appendChild(name);
      li.appendChild(actions);
      list.appendChild(li);
    });
    boxes.forEach(function (box) {
      var number = box.parentNode.querySelector(".pick-number");
      var at = order.indexOf(box.value);
      box.checked = at >= 0;
      if (number) number.textContent = at >= 0 ? String(at + 1) : "";
    });
    document.getElementById("order-empty").hidden = order.length > 0;
    document.getElementById("pick-count").textContent = order.length + " selected";
    if (focus) {
      var target = list.querySelector('li[data-id="' + focus.id + '"] [data-action="' +
        focus.action + '"]');
      if (target && !target.disabled) target.focus();
      else if (list.querySelector("li")) {
        list.querySelector("li [data-action=remove]").focus();
      }
    }
  }

  function changed() {
    // htmx refreshes the price on the form's change event.
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var at = order.indexOf(box.value);
      if (box.checked && at < 0) {
        if (order.length >= max) {
          box.checked = false;
          live.textContent = "A reel holds at most " + max + " images.";
          return;
        }
        order.push(box.value);
      } else if (!box.checked && at >= 0) {
        order.splice(at, 1);
      }
      render();
    });
  });

  list.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-action]");
    if (!b) return;
    var id = b.closest("li").dataset.id;
    var at = order.indexOf(id);
    var action = b.dataset.action;
    if (action === "up" && at > 0) {
      order.splice(at - 1, 0, order.splice(at, 1)[0]);
    } else if (action === "down" && at < order.length - 1) {
      order.splice(at + 1, 0, order.splice(at, 1)[0]);
    } else if (action === "remove") {
      order.splice(at, 1);
      changed();
    }
    var now = order.indexOf(id);
    live.textContent = byId[id].dataset.name +
      (now >= 0 ? ": position " + (now + 1) + " of " + order.length : ": removed");
    render({ id: id, action: action });
  });

  document.getElementById("pick-approved").addEventListener("click", function () {
    boxes.forEach(function (box) {
      if (box.dataset.approved === "true" && order.indexOf(box.value) < 0 &&
          order.length < max) order.push(box.value);
    });
    render();
    changed();
  });
  document.getElementById("pick-none").addEventListener("click", function () {
    order = [];
    render();
    changed();
  });

  form.addEventListener("submit", function () {
    // Post the ids in the list's order: the boxes step aside for hidden fields.
    form.querySelectorAll("input.reel-id").forEach(function (old) { old.remove(); });
    order.forEach(function (id) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "image_ids";
      input.value = id;
      input.className = "reel-id";
      form.appendChild(input);
    });
    boxes.forEach(function (box) { box.removeAttribute("name"); });
  });
  window.addEventListener("pageshow", function () {
    // Back from the next page: the boxes take their name again.
    boxes.forEach(function (box) { box.name = "image_ids"; });
  });
  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
  render();
})();
