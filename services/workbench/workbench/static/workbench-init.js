// GOV.UK Frontend's body classes (an external file: the CSP allows no inline script).
document.documentElement.classList.add("js-enabled");
document.addEventListener("DOMContentLoaded", () => {
  document.body.classList.add("js-enabled");
  if ("noModule" in HTMLScriptElement.prototype) document.body.classList.add("govuk-frontend-supported");
});
