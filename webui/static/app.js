// Task forms: repeating rows and conditional visibility (the server checks both again).
(function () {
  "use strict";

  // --- a tiny FEEL subset, the same one the server understands ------------------
  function tokenize(text) {
    var re = /\s*(?:(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|(!=|<=|>=|[=<>()\[\],.+-]))/y;
    var out = [], m;
    re.lastIndex = 0;
    while (re.lastIndex < text.length) {
      var start = re.lastIndex;
      m = re.exec(text);
      if (!m) { if (/^\s*$/.test(text.slice(start))) break; throw new Error("bad FEEL"); }
      if (m[1] !== undefined) out.push(["lit", parseFloat(m[1])]);
      else if (m[2] !== undefined) out.push(["lit", JSON.parse(m[2])]);
      else if (m[3] !== undefined) {
        if (m[3] === "true" || m[3] === "false") out.push(["lit", m[3] === "true"]);
        else if (m[3] === "null") out.push(["lit", null]);
        else if (["and", "or", "not", "in"].indexOf(m[3]) >= 0) out.push(["kw", m[3]]);
        else out.push(["name", m[3]]);
      } else out.push(["op", m[4]]);
    }
    return out;
  }

  // FEEL's equality: lists item by item, as the server compares them
  function same(a, b) {
    if (Array.isArray(a) && Array.isArray(b)) {
      return a.length === b.length && a.every(function (x, n) { return same(x, b[n]); });
    }
    return a === b;
  }

  function evaluate(text, lookup) {
    var body = text.trim().replace(/^=/, ""), t = tokenize(body), i = 0;
    function peek() { return t[i] || ["end", null]; }
    function accept(v) { if (peek()[1] === v && peek()[0] !== "lit") { i++; return true; } return false; }
    function disj() { var l = conj(); while (accept("or")) { var r = conj(); l = (l === true || r === true) ? true : (l === false && r === false ? false : null); } return l; }
    function conj() { var l = cmp(); while (accept("and")) { var r = cmp(); l = (l === false || r === false) ? false : (l === true && r === true ? true : null); } return l; }
    function cmp() {
      var l = add(), ops = ["!=", "<=", ">=", "=", "<", ">"];
      for (var k = 0; k < ops.length; k++) {
        if (accept(ops[k])) {
          var r = add();
          if (ops[k] === "=") return same(l, r);
          if (ops[k] === "!=") return !same(l, r);
          if (l === null || r === null) return null;
          return ops[k] === "<" ? l < r : ops[k] === "<=" ? l <= r : ops[k] === ">" ? l > r : l >= r;
        }
      }
      if (accept("in")) { var list = add(); return Array.isArray(list) ? list.indexOf(l) >= 0 : l === list; }
      return l;
    }
    function add() { var l = prim(); while (peek()[1] === "+" || peek()[1] === "-") { var op = t[i++][1], r = prim(); l = (typeof l === "number" && typeof r === "number") ? (op === "+" ? l + r : l - r) : null; } return l; }
    function prim() {
      var tok = t[i++] || ["end", null];
      if (tok[0] === "lit") return tok[1];
      if (tok[0] === "kw" && tok[1] === "not") { accept("("); var v = disj(); accept(")"); return typeof v === "boolean" ? !v : null; }
      if (tok[0] === "name") { var v2 = lookup(tok[1]); while (accept(".")) { var n = t[i++][1]; v2 = v2 && typeof v2 === "object" ? v2[n] : null; } return v2 === undefined ? null : v2; }
      if (tok[1] === "(") { var inner = disj(); accept(")"); return inner; }
      if (tok[1] === "[") { var items = []; if (!accept("]")) { items.push(disj()); while (accept(",")) items.push(disj()); accept("]"); } return items; }
      return null;
    }
    return disj();
  }

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

  function refresh(form) {
    form.querySelectorAll("[data-hide]").forEach(function (el) {
      var row = el.closest(".row");
      var hidden;
      try {
        hidden = evaluate(el.getAttribute("data-hide"), function (name) {
          var v = row ? valueIn(row, name) : undefined;
          return v === undefined ? (valueIn(form, name) === undefined ? null : valueIn(form, name)) : v;
        }) === true;
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
