// Accessibility fixes for what the theme and MyST-NB write (axe-core checks every page in
// tests/test_browser.py). Loaded on every page through html_js_files in _config.yml.
window.addEventListener("load", function () {
  // WCAG 2.5.3, label in name: a control's accessible name must contain the text it shows.
  // "Show code cell source" toggles carry aria-label="Toggle hidden content": let the shown
  // text name them.
  document.querySelectorAll("details > summary[aria-label]").forEach(function (s) {
    s.removeAttribute("aria-label");
  });
  // A table wider than the page scrolls in its own box (reader.css); keyboard users reach
  // that box with Tab and scroll it with the arrow keys.
  document.querySelectorAll("article table").forEach(function (t) {
    if (t.scrollWidth > t.clientWidth + 1) {
      t.setAttribute("tabindex", "0");
      if (!t.getAttribute("aria-label") && !t.querySelector("caption")) {
        t.setAttribute("aria-label", "table (scrolls sideways)");
      }
    }
  });
});

// The colour-mode button is named "Color mode"; its sun/moon icons (FontAwesome turns them
// into titled SVGs whenever it likes, so watch for them) are decoration.
new MutationObserver(function () {
  document.querySelectorAll(".theme-switch-button svg:not([aria-hidden])").forEach(function (icon) {
    icon.setAttribute("aria-hidden", "true");
    icon.removeAttribute("aria-labelledby");
    icon.querySelectorAll("title").forEach(function (t) { t.remove(); });
  });
}).observe(document.documentElement, { childList: true, subtree: true });
