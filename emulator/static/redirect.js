// Navigates to the app's callback URL once the page has loaded. The URL is the link's raw attribute
// (not a.href, which a browser may normalise), and the link stays on screen for when the navigation
// cannot happen. "replace" ends the widget (success, exit, error); "assign" reports a warning while the
// widget stays usable.
// Waiting for "load" matters: Chromium never finishes loading a page that starts a navigation to an
// unhandled scheme while it is still being parsed, and then drops that page's later form submissions.
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var link = document.querySelector("a[data-autonavigate]");
    if (!link) {
      return;
    }
    var target = link.getAttribute("href");
    if (link.getAttribute("data-autonavigate") === "replace") {
      window.location.replace(target);
    } else {
      window.location.assign(target);
    }
  });
})();
