// GOV.UK Frontend's components, and the live queue: a region with data-live is refreshed
// from its fragment URL every data-refresh seconds (the page works without this script).
import { initAll } from "/static/govuk/govuk-frontend.min.js";

initAll();

for (const region of document.querySelectorAll("[data-live]")) {
  const every = Number(region.dataset.refresh || "5") * 1000;
  const refresh = async () => {
    try {
      const response = await fetch(region.dataset.live, { credentials: "same-origin" });
      if (response.redirected && new URL(response.url).pathname === "/signed-out") {
        window.location.assign(response.url);  // the session ended: say so, not a stale queue
        return;
      }
      if (response.ok && response.url.endsWith(region.dataset.live)) {
        region.innerHTML = await response.text();
        region.dataset.state = "live";
      } else {
        region.dataset.state = "stale";
      }
    } catch {
      region.dataset.state = "stale";
    }
    setTimeout(refresh, every);
  };
  setTimeout(refresh, every);
}
