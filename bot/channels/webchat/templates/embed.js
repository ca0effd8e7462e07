/* Lotsen: a "Fråga kommunen" button for the municipality's site; it opens the web chat. */
(function () {
  var me = document.currentScript;
  if (!me) { return; }
  var origin = new URL(me.src).origin;
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = me.getAttribute("data-label") || {{ label }};
  button.lang = {{ lang }};
  button.className = "lotsen-chatt";
  button.style.cssText = "position:fixed;bottom:1rem;inset-inline-end:1rem;z-index:2147483000;" +
    "font:inherit;font-size:1rem;padding:.75rem 1.25rem;border:2px solid #fff;border-radius:2rem;" +
    "background:#0b5cad;color:#fff;cursor:pointer;box-shadow:0 0 0 2px #0b5cad";
  button.addEventListener("click", function () {
    var opened = window.open(origin + "/chatt", "lotsen-chatt", "width=420,height=640");
    if (!opened) { window.location.href = origin + "/chatt"; }
  });
  function place() { document.body.appendChild(button); }
  if (document.body) { place(); } else { document.addEventListener("DOMContentLoaded", place); }
})();
