// Debian's chromium, headless, through puppeteer-core: what the browser test and the page
// benchmark share. A machine without puppeteer-core exits 77 (skipped) at require time.
"use strict";
let puppeteer;
try {
  puppeteer = require("puppeteer-core");
} catch (e) {
  console.log("SKIP: puppeteer-core is not installed (bash scripts/setup-browser.sh)");
  process.exit(77);
}

// $CHROMIUM, else /usr/bin/chromium; no sandbox (CI runs as root), no GPU.
function launch() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"],
  });
}

module.exports = {launch};
