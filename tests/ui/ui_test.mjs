// Headless-Chromium test of the web UI against a running pushgate (issue 5).
// Run through tests/ui/run.sh. Each case starts its own pushgate, pushes
// with HTTP, drives the real page and checks the store afterwards through
// /metrics and /api/v1/metrics. Exits 1 on the first failure.
import assert from "node:assert/strict";
import { launchBrowser, request, startGateway } from "./harness.mjs";

const STEP_TIMEOUT_MS = 10000;

// A page that fails the test on script errors and CSP violations.
async function openPage(context, url) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  page.on("pageerror", (err) => problems.push("page error: " + err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push("console error: " + msg.text());
  });
  page.on("dialog", (dialog) => dialog.accept());
  const response = await page.goto(url);
  assert.equal(response.status(), 200, "page status");
  assert.match(response.headers()["content-security-policy"] || "", /script-src 'self'/);
  // The script marks <html> once it has run: assets loaded under CSP.
  await page.waitForSelector("html.js");
  return { page, problems };
}

function group(page, badge) {
  return page.locator("details.group", { has: page.locator(".badge", { hasText: badge }) });
}

async function push(base, path, body, method = "PUT") {
  return (await request(base + path, method, body)).status;
}

async function metricsView({ context }) {
  const gw = await startGateway();
  const base = "http://" + gw.address;
  try {
    assert.equal(
      await push(
        base,
        "/metrics/job/testjob/instance/testinstance",
        'some_metric{label="val1"} 42\n# TYPE lat summary\nlat{quantile="0.5"} 0.25\nlat_sum 3\nlat_count 4\n' +
          '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n'
      ),
      200
    );
    assert.equal(await push(base, "/metrics/job/other", "other_metric 3.5\n"), 200);
    assert.equal(await push(base, "/metrics/job@base64/PHNjcmlwdD4=", "x 1\n"), 200);
    // A value with a slash and non-ASCII text, and an empty value, exercise
    // the UTF-8 base64 DELETE URL and its trailing "=".
    const tricky = Buffer.from("a/b ü").toString("base64url");
    assert.equal(await push(base, "/metrics/job/deleteme/path@base64/" + tricky + "/empty@base64/=", "d 1\n"), 200);
    // A timestamp makes the push fail: the group gets the failure marker.
    assert.equal(await push(base, "/metrics/job/testjob/instance/testinstance", "m 1 1000\n", "POST"), 400);

    const { page, problems } = await openPage(context, base + "/");
    assert.equal(await page.locator("details.group").count(), 4, "four groups");
    assert.equal(await page.locator("#group-count").textContent(), "4 groups");

    // Labels, escaped markup shown as text, the failure marker.
    const testjob = group(page, 'job="testjob"');
    await testjob.locator('.badge:text-is(\'instance="testinstance"\')').waitFor();
    assert.equal(await testjob.locator(".badge.failed").textContent(), "Last push failed!");
    assert.equal(await group(page, 'job="other"').locator(".badge.failed").count(), 0);
    await group(page, 'job="<script>"').waitFor();

    // Families appear only when the group is opened; values are shown.
    assert.equal(await testjob.locator("details.family").count(), 0, "families are lazy");
    await testjob.locator("summary").first().click();
    const family = testjob.locator("details.family", { has: page.locator(".fname", { hasText: /^some_metric$/ }) });
    await family.locator("summary").click();
    const row = family.locator("tbody tr").first();
    await row.locator('.badge:text-is(\'label="val1"\')').waitFor();
    assert.equal(await row.locator("td").last().textContent(), "42");
    assert.equal(await family.locator(".ftype").textContent(), "untyped");
    const summary = testjob.locator("details.family", { has: page.locator(".fname", { hasText: /^lat$/ }) });
    await summary.locator("summary").click();
    assert.match(await summary.locator("table.kv").textContent(), /Quantile 0\.50\.25Sample Count4Sample Sum3/);
    const histogram = testjob.locator("details.family", { has: page.locator(".fname", { hasText: /^h$/ }) });
    await histogram.locator("summary").click();
    assert.match(await histogram.locator("table.kv").textContent(), /Sample values ≤ 0\.11Sample values ≤ \+Inf2Total sample Count2/);

    // The filter hides non-matching groups.
    await page.fill("#filter", "other");
    await page.waitForFunction(() => document.querySelectorAll("details.group:not([hidden])").length === 1);
    assert.equal(await page.locator("#shown").textContent(), "(1 shown)");
    await page.fill("#filter", "");
    await page.waitForFunction(() => document.querySelectorAll("details.group:not([hidden])").length === 4);

    // Delete Group (the dialog is accepted) removes the panel and the group.
    await group(page, 'job="deleteme"').locator(".delete-group").click();
    await group(page, 'job="deleteme"').waitFor({ state: "detached" });
    assert.equal(await page.locator("#group-count").textContent(), "3 groups");
    const scrape = (await request(base + "/metrics")).text;
    assert.ok(!scrape.includes('job="deleteme"'), "deleted group is gone from /metrics");
    assert.ok(scrape.includes('job="other"'), "other groups stay");
    assert.equal(await testjob.locator("details.family").count() > 0, true, "open group untouched");

    // Live refresh picks up a new push without a reload; open panels stay open.
    assert.equal(await push(base, "/metrics/job/latecomer", "late 7\n"), 200);
    await page.uncheck("#live");
    await page.check("#live"); // re-enabling refreshes at once
    await group(page, 'job="latecomer"').waitFor();
    assert.equal(await testjob.evaluate((el) => el.open), true, "open group stays open");
    assert.match(await page.locator("#updated").textContent(), /^updated /);

    // Stale highlighting: with threshold "5 min" nothing pushed just now is stale.
    await page.selectOption("#stale", "300");
    assert.equal(await page.locator("details.group.stale").count(), 0);

    // Status tab: URL, build information and flags.
    await page.click("a.tab[data-view=status]");
    assert.match(page.url(), /\/status$/);
    await page.locator("#status-view").waitFor({ state: "visible" });
    assert.equal(await page.locator("#metrics-view").isVisible(), false);
    assert.match(await page.locator("#status-view").textContent(), /web\.listen-address127\.0\.0\.1:0/);
    assert.match(await page.locator("#status-view").textContent(), /version\d+\.\d+\.\d+/);

    // Loading /status directly opens the status view.
    const direct = await openPage(context, base + "/status");
    await direct.page.locator("#status-view").waitFor({ state: "visible" });
    assert.deepEqual([...problems, ...direct.problems], [], "no script errors or CSP violations");
  } finally {
    await gw.stop();
  }
}

async function prefixAndWipe({ context }) {
  const gw = await startGateway(["--web.external-url=http://example.invalid/pg/", "--web.enable-admin-api"]);
  const base = "http://" + gw.address + "/pg";
  try {
    assert.equal(await push(base, "/metrics/job/a", "a 1\n"), 200);
    assert.equal(await push(base, "/metrics/job/b", "b 2\n"), 200);
    const html = (await request(base + "/")).text;
    assert.ok(html.includes('src="/pg/static/functions.js"'), "assets under the external prefix");

    const { page, problems } = await openPage(context, base + "/");
    assert.equal(await page.locator("details.group").count(), 2);
    assert.equal(await page.locator("#wipe").textContent(), "Delete All 2 Groups");
    await page.click("#wipe");
    await page.locator("#empty").waitFor({ state: "visible" });
    assert.equal(await page.locator("#wipe").textContent(), "Delete All 0 Groups");
    assert.equal(await page.locator("#wipe").isDisabled(), true);
    assert.equal((await request(base + "/api/v1/metrics")).text, '{"status":"success","data":[]}');

    await page.click("a.tab[data-view=status]");
    assert.match(page.url(), /\/pg\/status$/);
    assert.deepEqual(problems, [], "no script errors or CSP violations");
  } finally {
    await gw.stop();
  }
}

const cases = { metricsView, prefixAndWipe };
const browser = await launchBrowser();
let failed = 0;
try {
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run(browser);
      console.log("ok   " + name);
    } catch (err) {
      failed++;
      console.log("FAIL " + name + "\n" + (err.stack || err));
    }
  }
} finally {
  await browser.close();
}
console.log(failed ? failed + " UI case(s) failed" : "all UI cases passed");
process.exit(failed ? 1 : 0);
