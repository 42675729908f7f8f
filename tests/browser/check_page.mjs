// Open one HTML report in headless Chromium (Debian's, driven by playwright-core) and say what a
// person would see, as one JSON line on stdout:
//   {"errors": [...console errors and page errors...], "taken": [...states drawn as taken...],
//    "last": [...], "outcome": "...", "screenshot": "PATH"}
// Usage: node check_page.mjs PAGE.html SCREENSHOT.png
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [page_path, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("request", (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(page_path).href, { waitUntil: "load" });
  const names = (selector) => page.$$eval(selector, (nodes) => nodes.map((n) => n.textContent));
  const result = {
    errors,
    requests: requests.filter((url) => !url.startsWith("file:")),
    taken: await names("g.node.taken > title"),
    last: await names("g.node.last > title"),
    edges_taken: (await page.$$("g.edge.taken")).length,
    outcome: await page.textContent("#outcome"),
    rows: await names("#states tr td:nth-child(2)"),
    screenshot,
  };
  await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  await browser.close();
}
