// Draws a process version with bpmn-js and puts the number of running cases (and of
// incidents) on each activity, as Cockpit does; a badge leads to the cases beneath.
(function () {
  "use strict";
  function badge(className, count, element) {
    var link = document.createElement("a");
    link.className = className;
    link.href = "#at-" + element;
    link.textContent = String(count);
    link.setAttribute("data-element", element);
    return link;
  }
  document.querySelectorAll(".owner-diagram[data-url]").forEach(function (container) {
    var viewer = new BpmnJS({ container: container, height: 420 });
    var counts = JSON.parse(container.getAttribute("data-counts"));
    fetch(container.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var overlays = viewer.get("overlays");
        Object.keys(counts).forEach(function (id) {
          if (!registry.get(id)) return;
          var count = counts[id];
          if (count.running) {
            overlays.add(id, "case-count", { position: { bottom: 12, left: -8 },
              html: badge("count-badge", count.running, id) });
            canvas.addMarker(id, "has-cases");
          }
          if (count.incidents) {
            overlays.add(id, "case-count", { position: { bottom: 12, right: 8 },
              html: badge("incident-badge", count.incidents, id) });
            canvas.addMarker(id, "has-incident");
          }
        });
        canvas.zoom("fit-viewport");
        container.setAttribute("data-rendered", "true");
      })
      .catch(function (err) {
        container.textContent = "The diagram could not be drawn: " + err.message;
        container.setAttribute("data-rendered", "error");
      });
  });
})();
