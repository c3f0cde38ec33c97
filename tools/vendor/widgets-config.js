// Point require.js at the book's own _static/ folder (where this file is served from), so the
// ipywidgets HTML manager resolves its modules and icon fonts there on every page, whatever its
// depth in the book, and never on a CDN.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  require.config({ baseUrl: here });
})();
