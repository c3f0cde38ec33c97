// Accessible names for the sliders that the ipywidgets HTML manager draws on the book's pages.
//
// The manager (@jupyter-widgets/controls 5) draws a slider's handle as a <div role="slider"> with
// no accessible name: the widget's <label> is not tied to it, so a screen reader announces
// "slider" and nothing else (axe-core: aria-input-field-name). The handbook gives every slider a
// name in Python, as its `description` or, where a description cannot be used (the manager
// typesets it with the MathJax 2 API, which the book's MathJax 3 lacks), as its `tooltip`; the
// manager puts both on the widget's <label class="widget-label">. This script copies that name
// onto the handle (aria-label), for every slider drawn now or later.
(function () {
  "use strict";

  function nameOf(widget) {
    var label = widget.querySelector(":scope > label.widget-label");
    if (!label) return "";
    // the manager writes a missing tooltip as the title "null"
    var title = (label.getAttribute("title") || "").trim();
    if (title === "null" || title === "undefined") title = "";
    return (label.textContent || "").trim() || title;
  }

  function nameSliders(root) {
    var handles = root.querySelectorAll ? root.querySelectorAll('[role="slider"]:not([aria-label])') : [];
    Array.prototype.forEach.call(handles, function (handle) {
      var widget = handle.closest(".widget-slider, .jupyter-widget-slider");
      var name = widget ? nameOf(widget) : "";
      if (name) handle.setAttribute("aria-label", name);
    });
  }

  var observer = new MutationObserver(function (mutations) {
    mutations.forEach(function (m) {
      Array.prototype.forEach.call(m.addedNodes, function (node) {
        if (node.nodeType === 1) nameSliders(node.parentNode || node);
      });
    });
  });

  function start() {
    nameSliders(document);
    observer.observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
