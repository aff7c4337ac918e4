// How long the dashboard's experiment page takes to render in headless chromium, from the
// navigation to the first complete render (the report's tables and plots in the page):
//   node tests/browser/bench_page.js http://127.0.0.1:PORT bench [runs]
"use strict";
const chromium = require("./chromium");
const [url, experiment, runsText] = process.argv.slice(2);

async function main() {
  const browser = await chromium.launch();
  const page = await browser.newPage();
  const times = [];
  for (let i = 0; i < Number(runsText || 5); i++) {
    const start = Date.now();
    await page.goto(`${url}/experiment?name=${encodeURIComponent(experiment)}`);
    await page.waitForFunction(() => document.body.dataset.renders === "1", {timeout: 30000});
    times.push(Date.now() - start);
  }
  await browser.close();
  times.sort((a, b) => a - b);
  console.log(`experiment page render (navigation to rendered): median ${times[times.length >> 1]} ms, ` +
              `max ${times[times.length - 1]} ms over ${times.length} loads`);
}
main().catch((e) => { console.error(e); process.exit(1); });
