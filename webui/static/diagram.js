// Draws each process diagram with bpmn-js and marks the steps done and waiting.
(function () {
  "use strict";
  document.querySelectorAll(".diagram[data-url]").forEach(function (container) {
    var viewer = new BpmnJS({ container: container, height: 360 });
    fetch(container.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        JSON.parse(container.getAttribute("data-done")).forEach(function (id) {
          if (registry.get(id)) canvas.addMarker(id, "step-done");
        });
        JSON.parse(container.getAttribute("data-active")).forEach(function (id) {
          if (registry.get(id)) canvas.addMarker(id, "step-active");
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
