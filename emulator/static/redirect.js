// Navigates to the app's callback URL. The URL is the link's raw attribute (not a.href, which a browser
// may normalise), and the link stays on screen for when the navigation cannot happen.
// "replace" ends the widget (success, exit, error); "assign" reports a warning while the widget stays.
(function () {
  "use strict";
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
})();
