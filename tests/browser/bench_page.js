// How long the dashboard's experiment page takes to render in headless chromium, from the
// navigation to the first complete render (the report's tables and plots in the page):
//   node tests/browser/bench_page.js http://127.0.0.1:PORT bench [runs]
"use strict";
let puppeteer;
try {
  puppeteer = require("puppeteer-core");
} catch (e) {
  console.log("SKIP: puppeteer-core is not installed (bash scripts/setup-browser.sh)");
  process.exit(77);
}
const [url, experiment, runsText] = process.argv.slice(2);

async function main() {
  const browser = await puppeteer.launch({executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true, args: ["--no-sandbox", "--disable-gpu"]});
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
