// Live updates: ask the server every few seconds whether the project changed (a short "stamp"),
// and when it did, fetch this page again and swap its <main> in place. No inline script, no eval:
// the new page is parsed inert (DOMParser never runs scripts) and its nodes adopted.
"use strict";
(function () {
  var main = document.getElementById("main");
  if (!main || !main.dataset.stampUrl) { return; }
  var interval = parseInt(main.dataset.pollMs, 10) || 3000;
  var busy = false;
  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }
  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh) { return; }
        var scroller = main.querySelector(".graph-scroll");
        var left = scroller ? scroller.scrollLeft : 0, top = scroller ? scroller.scrollTop : 0;
        // Copy the live NodeList first: adopting a node removes it from its old parent.
        var nodes = Array.prototype.slice.call(fresh.childNodes).map(function (node) {
          return document.adoptNode(node);
        });
        main.replaceChildren.apply(main, nodes);
        main.dataset.stamp = fresh.dataset.stamp || "";
        scroller = main.querySelector(".graph-scroll");
        if (scroller) { scroller.scrollLeft = left; scroller.scrollTop = top; }
        announce("Updated " + new Date().toLocaleTimeString());
      });
  }
  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(main.dataset.stampUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.stamp && body.stamp !== main.dataset.stamp) { return refresh(); }
        return null;
      })
      .catch(function () { announce("Offline: retrying"); })
      .then(function () { busy = false; });
  }
  window.setInterval(poll, interval);
})();
