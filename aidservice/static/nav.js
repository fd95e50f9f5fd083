// The 菜单 button of the header on a narrow screen: it opens and closes the main navigation (aria-expanded,
// aria-controls). Without this script the button stays hidden and the navigation is always shown (a row that
// scrolls sideways on a narrow screen). A static file: the pages' CSP allows no inline script.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-menu-toggle]");
    var header = button && button.closest("header");
    var nav = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!header || !nav) {
      return;
    }

    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    }

    header.classList.add("menu-ready");
    setOpen(false);
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        setOpen(false);
        button.focus();
      }
    });
  });
}());
