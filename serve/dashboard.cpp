// dashboard_page(): the page shell and its script. The tables and plots themselves come from
// /fragment/..., drawn by report/ (the code of `automl report --html`).
#include "serve/dashboard.h"

#include "report/report.h"

namespace automl::serve {
namespace {

const char* const kExtraStyle = R"css(
nav { font-size: 13px; margin-bottom: 8px; } nav a { margin-right: 12px; }
#live { float: right; font-size: 12px; color: #2a2; } #live.error { color: #c22; }
.bar { display: inline-block; width: 120px; height: 10px; background: #eee; vertical-align: middle; }
.bar span { display: block; height: 100%; background: #4a90d9; }
a { color: #1f5fa8; }
)css";

const char* const kScript = R"js(
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token");
window.automlLoadId = Math.random();  // the browser test checks the page never reloads

function withToken(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}
async function get(path) {
  const r = await fetch(path, {headers: token ? {Authorization: "Bearer " + token} : {}});
  if (!r.ok) throw new Error(r.status + " " + path);
  return r;
}
const json = async (path) => (await get(path)).json();
const text = async (path) => (await get(path)).text();
const q = encodeURIComponent;
function esc(v) {
  return String(v).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
}
function num(v, digits) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits); }
function duration(s) {
  if (s === null || s === undefined) return "-";
  s = Math.round(s);
  return s >= 3600 ? Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min"
       : s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : s + " s";
}
function bar(fraction) {
  const p = fraction === null ? 0 : Math.round(100 * fraction);
  return `<span class="bar"><span style="width:${p}%"></span></span> ${fraction === null ? "-" : p + "%"}`;
}
function table(header, rows, id) {
  return `<table${id ? ` id="${id}"` : ""}><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("") + "</table>";
}
function budget(p) {
  return num(p.device_seconds, 1) + (p.budget_device_seconds === null ? "" : " of " + num(p.budget_device_seconds, 0));
}

async function renderIndex(main) {
  const experiments = await json("/api/experiments");
  const rows = [];
  for (const e of experiments) {
    const p = await json("/api/progress?experiment=" + q(e.name));
    const finished = p.stages.reduce((a, s) => a + s.finished, 0);
    rows.push([`<a href="${withToken("/experiment?name=" + q(e.name))}">${esc(e.name)}</a>`, esc(p.status),
      `${finished} / ${p.trials}`, bar(p.trials ? finished / p.trials : null), String(p.epochs_run),
      budget(p), duration(p.eta_seconds)]);
  }
  main.innerHTML = "<h1>automl dashboard</h1>" +
    table(["experiment", "status", "trials finished", "progress", "epochs", "device-seconds", "ETA"], rows, "experiments");
}

async function renderExperiment(main, name) {
  const p = await json("/api/progress?experiment=" + q(name));
  const results = await json("/api/results?experiment=" + q(name));
  const fragment = await text("/fragment/experiment?experiment=" + q(name));
  const trialLink = (id, label) => `<a class="trial-link" href="${withToken("/trial?id=" + id)}">${esc(label)}</a>`;
  const stages = p.stages.map((s) => [esc(s.stage), esc(s.status), `${s.finished} / ${s.trials}`,
    bar(s.progress), num(s.device_seconds, 1)]);
  const running = p.running.map((r) => [trialLink(r.trial, r.trial), esc(r.label), esc(r.device),
    `${r.epoch} / ${r.epochs === null ? "?" : r.epochs}`, duration(r.eta_seconds)]);
  const finals = results.map((r) => [trialLink(r.trial, r.trial), esc(r.method), String(r.seed),
    num(r.final_test_acc === null ? null : 100 * r.final_test_acc, 2), esc(r.status)]);
  main.innerHTML = `<nav><a href="${withToken("/")}">all experiments</a></nav>` +
    `<h1>${esc(name)}</h1><p class="note">status <b id="status">${esc(p.status)}</b>, ` +
    `<span id="epochs-run">${p.epochs_run}</span> epochs run, device-seconds <span id="spent">${budget(p)}</span>, ` +
    `ETA <span id="eta">${duration(p.eta_seconds)}</span></p>` +
    "<h3>Stages</h3>" + table(["stage", "status", "trials finished", "progress", "device-seconds"], stages, "stages") +
    "<h3>Running trials</h3>" + (running.length ? table(["trial", "label", "device", "epoch", "ETA"], running, "running") : "<p>none</p>") +
    (finals.length ? "<h3>Final runs</h3>" + table(["trial", "method", "seed", "final test acc (%)", "status"], finals, "finals") : "") +
    `<div id="report">${fragment}</div>`;
}

async function renderTrial(main, id) {
  const fragment = await text("/fragment/trial?trial=" + q(id));
  main.innerHTML = `<nav><a href="${withToken("/")}">all experiments</a></nav>` + fragment;
}

function route() {
  const main = document.getElementById("main");
  if (location.pathname === "/experiment")
    return {version: "/api/version?experiment=" + q(params.get("name")), render: () => renderExperiment(main, params.get("name"))};
  if (location.pathname === "/trial")
    return {version: "/api/version?trial=" + q(params.get("id")), render: () => renderTrial(main, params.get("id"))};
  return {version: "/api/version", render: () => renderIndex(main)};
}

let shown = null;
async function poll(page) {
  const live = document.getElementById("live");
  try {
    const version = (await json(page.version)).version;
    if (version !== shown) {
      await page.render();
      shown = version;
      document.body.dataset.version = version;
      document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
    }
    live.textContent = "live";
    live.className = "";
  } catch (e) {
    live.textContent = "error: " + e.message;
    live.className = "error";
  }
  setTimeout(() => poll(page), 1000);
}
poll(route());
)js";

std::string build_page() {
  return std::string(
             "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<title>automl dashboard</title>\n<style>") +
         report::html_style() + kExtraStyle +
         "</style>\n</head>\n<body>\n<span id=\"live\">connecting</span>\n<div id=\"main\"></div>\n"
         "<script>" +
         kScript + "</script>\n</body>\n</html>\n";
}

}  // namespace

const std::string& dashboard_page() {
  static const std::string page = build_page();
  return page;
}

}  // namespace automl::serve
