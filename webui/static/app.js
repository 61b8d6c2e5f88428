// Task forms: repeating rows and conditional visibility (the server checks both again).
import { evaluateCondition } from "./conditions.js";

(function () {
  "use strict";

  // the value of field `key` as the user sees it, in the row first, then the whole form
  function valueIn(scope, key) {
    var list = scope.querySelector(".rows[data-list='" + key + "']");
    if (list) return Array.prototype.map.call(list.querySelectorAll(":scope > .row"), function () { return {}; });
    var inputs = scope.querySelectorAll(".field[data-key='" + key + "'] input, .field[data-key='" + key + "'] select, .field[data-key='" + key + "'] textarea");
    if (!inputs.length) {  // a read-only field: the value the process has
      var shown = scope.querySelector(".field[data-key='" + key + "'] .readonly[data-value]");
      return shown ? JSON.parse(shown.getAttribute("data-value")) : undefined;
    }
    var first = inputs[0];
    if (first.type === "radio") { for (var k = 0; k < inputs.length; k++) if (inputs[k].checked) return inputs[k].value; return null; }
    if (first.type === "checkbox" && inputs.length === 1) return first.checked;
    if (first.type === "checkbox") { var vals = []; for (var j = 0; j < inputs.length; j++) if (inputs[j].checked) vals.push(inputs[j].value); return vals; }
    var v = first.value;
    if (v === "") return null;
    return (first.inputMode === "numeric" || first.inputMode === "decimal") && !isNaN(v) ? parseFloat(v) : v;
  }

  // the names a scope (the form, or one row) gives values to, with their values
  function valuesIn(scope) {
    var values = {};
    scope.querySelectorAll("[data-key], .rows[data-list]").forEach(function (el) {
      var key = el.getAttribute("data-key") || el.getAttribute("data-list");
      if (key && !(key in values)) {
        var v = valueIn(scope, key);
        if (v !== undefined) values[key] = v;
      }
    });
    return values;
  }

  function refresh(form) {
    var top = valuesIn(form);
    form.querySelectorAll("[data-hide]").forEach(function (el) {
      var row = el.closest(".row");
      var hidden;
      try {
        hidden = evaluateCondition(el.getAttribute("data-hide"),
                                   row ? Object.assign({}, top, valuesIn(row)) : top) === true;
      } catch (e) { hidden = false; }
      el.hidden = hidden;
    });
  }

  // --- repeating rows ----------------------------------------------------------------
  function renumber(list) {
    var name = list.getAttribute("data-list");
    var rows = list.querySelectorAll(":scope > .row");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(new RegExp("^" + name.replace(/[\[\].]/g, "\\$&") + "\\[(\\d+|__I__)\\]"), name + "[" + index + "]");
      });
      var num = row.querySelector(".row-number");
      if (num) num.textContent = index + 1;
      row.setAttribute("data-row", index);
    });
    list.querySelector(":scope > .row-count").value = rows.length;
  }

  document.querySelectorAll("form.task-form").forEach(function (form) {
    form.addEventListener("input", function () { refresh(form); });
    form.addEventListener("change", function () { refresh(form); });
    form.addEventListener("click", function (event) {
      var list = event.target.closest(".rows");
      if (!list) return;
      if (event.target.classList.contains("add-row")) {
        var template = list.querySelector(":scope > template.row-template");
        var clone = template.content.firstElementChild.cloneNode(true);
        list.insertBefore(clone, template);
        renumber(list);
        refresh(form);
      } else if (event.target.classList.contains("remove-row")) {
        event.target.closest(".row").remove();
        renumber(list);
        refresh(form);
      }
    });
    refresh(form);
  });
})();
