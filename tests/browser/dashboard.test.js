// The dashboard in a real browser (Debian's chromium, headless, driven by puppeteer-core):
// while an experiment runs, the page's progress advances without a reload; the comparison
// table's numbers equal the database's (read with the sqlite3 CLI); a trial page opens from the
// experiment page. Screenshots go to the folder given. Usage:
//   node dashboard.test.js URL DB EXPERIMENT SCREENSHOT_DIR
// Exit status: 0 passed, 1 failed, 77 skipped (a prerequisite is missing).
"use strict";
const {execFileSync} = require("child_process");
const path = require("path");

const chromium = require("./chromium");

const [url, db, experiment, shots] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sql = (query) => execFileSync("sqlite3", ["-readonly", db, query]).toString().trim();
const titles = {"MI-SGD": "mi_sgd", "MI-SGD layer-wise": "mi_sgd_layerwise", "Adam": "adam",
  "RMSprop": "rmsprop", "LARS": "lars", "step-decay SGD": "step"};

function check(condition, message) {
  if (!condition) throw new Error("FAILED: " + message);
  console.log("ok: " + message);
}

async function main() {
  const browser = await chromium.launch();
  try {
    const page = await browser.newPage();
    await page.setViewport({width: 1400, height: 1000});
    let navigations = 0;
    page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations++; });
    await page.goto(`${url}/experiment?name=${encodeURIComponent(experiment)}`);
    await page.waitForSelector("#epochs-run", {timeout: 20000});
    const loadId = await page.evaluate(() => window.automlLoadId);
    const first = Number(await page.$eval("#epochs-run", (e) => e.textContent));
    const firstNavigations = navigations;

    // Progress advances without a reload, until the experiment is done.
    let last = first, status = "", runningShot = false;
    const deadline = Date.now() + 100000;
    while (Date.now() < deadline) {
      await sleep(1000);
      last = Number(await page.$eval("#epochs-run", (e) => e.textContent));
      status = await page.$eval("#status", (e) => e.textContent);
      if (status === "running" && last > first && !runningShot) {  // mid-run, for the record
        await page.screenshot({path: path.join(shots, "dashboard-running.png"), fullPage: true});
        runningShot = true;
      }
      if (status !== "running" && last > first) break;
    }
    check(last > first, `epochs run advanced on the page without a reload (${first} -> ${last})`);
    check(navigations === firstNavigations && loadId === await page.evaluate(() => window.automlLoadId),
          "the page never reloaded");
    const renders = Number(await page.evaluate(() => document.body.dataset.renders));
    check(renders >= 2, `the page refetched on change (${renders} renders)`);
    check(status !== "running", `the experiment finished (${status})`);
    await sleep(1500);  // the last change's render
    await page.screenshot({path: path.join(shots, "dashboard-experiment.png"), fullPage: true});

    // The comparison table's best score per method equals the database's.
    const rows = await page.$$eval("table.comparison tr", (trs) =>
      trs.slice(1).map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    check(rows.length > 0, `the comparison table has ${rows.length} methods`);
    for (const row of rows) {
      const method = titles[row[0]];
      const best = sql(`SELECT MAX(final_test_accuracy) FROM results r JOIN experiments e ` +
                       `ON e.id = r.experiment_id WHERE e.name = '${experiment}' AND r.method = '${method}' ` +
                       `AND r.status = 'done'`);
      const shown = row[2].split(" ")[0];
      check(shown === (100 * Number(best)).toFixed(2), `${row[0]}: best ${shown} = database ${best}`);
    }
    const epochs = sql(`SELECT COUNT(*) FROM epochs p JOIN trials t ON t.id = p.trial_id JOIN experiments e ` +
                       `ON e.id = t.experiment_id WHERE e.name = '${experiment}' AND p.epoch > 0`);
    check(String(last) === epochs || Number(await page.$eval("#epochs-run", (e) => e.textContent)) === Number(epochs),
          `epochs run on the page = database (${epochs})`);

    // A trial page opens from the experiment page.
    const link = await page.$("a.trial-link");
    check(link !== null, "the experiment page links its trials");
    await Promise.all([page.waitForNavigation(), link.click()]);
    await page.waitForSelector("h2", {timeout: 20000});
    const heading = await page.$eval("h2", (e) => e.textContent);
    const trialId = new URL(page.url()).searchParams.get("id");
    check(heading.startsWith("trial " + trialId), `the trial page shows trial ${trialId}`);
    const groups = await page.$$eval("table.groups tr", (trs) => trs.length - 1);
    const stored = Number(sql(`SELECT COUNT(*) FROM epoch_groups WHERE trial_id = ${Number(trialId)}`));
    check(groups === stored, `its parameter-group table has the database's ${stored} rows`);
    await page.screenshot({path: path.join(shots, "dashboard-trial.png"), fullPage: true});
  } finally {
    await browser.close();
  }
}

main().then(() => console.log("PASS"), (e) => { console.error(e.message || e); process.exit(1); });
