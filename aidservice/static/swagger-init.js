// Starts Swagger UI on the API docs page from the container's data attributes (no inline script: see CSP).
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var container = document.getElementById("swagger-ui-container");
    var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" };
    var overrides = JSON.parse(container.dataset.config || "{}");
    Object.keys(overrides).forEach(function (key) { config[key] = overrides[key]; });
    window.ui = window.SwaggerUIBundle(config);
  });
})();
