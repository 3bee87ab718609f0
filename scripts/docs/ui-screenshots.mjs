// Helper of scripts/docs/ui-screenshots.sh: sample data, then four screenshots.
import { join } from "node:path";
import { launchBrowser, request, startGateway } from "../../tests/ui/harness.mjs";

const SAMPLES = [
  [
    "/metrics/job/backup/instance/db-1",
    "# HELP backup_duration_seconds Duration of the last backup.\n# TYPE backup_duration_seconds gauge\n" +
      'backup_duration_seconds{stage="dump"} 12.5\nbackup_duration_seconds{stage="upload"} 1583781848.025745\n' +
      "# HELP backup_size_bytes Size of the last backup.\n# TYPE backup_size_bytes gauge\nbackup_size_bytes 0.00001\n" +
      "# TYPE request_latency summary\n" +
      'request_latency{quantile="0.5"} 0.25\nrequest_latency{quantile="0.99"} 1.5\nrequest_latency_sum 42\nrequest_latency_count 100\n' +
      "# HELP rows_processed Rows per batch.\n# TYPE rows_processed histogram\n" +
      'rows_processed_bucket{le="10"} 3\nrows_processed_bucket{le="100"} 8\nrows_processed_bucket{le="+Inf"} 9\n' +
      "rows_processed_sum 612\nrows_processed_count 9\n",
  ],
  ["/metrics/job/backup/instance/db-2", "# TYPE backup_duration_seconds gauge\nbackup_duration_seconds 9.75\n"],
  ["/metrics/job/batch-import/team/data", "# TYPE records_total counter\nrecords_total 123456\n"],
  ["/metrics/job@base64/PHNjcmlwdD4=", "x 1\n"],
  ["/metrics/job/nightly/region@base64/ZXUtd2VzdCDDvA", "nightly_ok 1\n"],
];

const gw = await startGateway(["--web.enable-admin-api"]);
const base = "http://" + gw.address;
const dir = process.env.SCREENSHOT_DIR;
const { context, close } = await launchBrowser();
try {
  for (const [path, body] of SAMPLES) await request(base + path, "PUT", body);
  await request(base + "/metrics/job/backup/instance/db-2", "POST", "late_metric 1 1000\n");
  for (const scheme of ["light", "dark"]) {
    const page = await context.newPage();
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(base + "/");
    await page.waitForSelector("html.js");
    const group = page.locator("details.group").first();
    await group.locator("summary").first().click();
    for (const name of ["backup_duration_seconds", "request_latency", "rows_processed"]) {
      await group.locator("details.family", { has: page.locator(".fname", { hasText: name }) }).locator("summary").click();
    }
    await page.screenshot({ path: join(dir, `metrics-${scheme}.png`), fullPage: true });
    await page.click("a.tab[data-view=status]");
    await page.screenshot({ path: join(dir, `status-${scheme}.png`), fullPage: true });
    await page.close();
    console.log(`wrote ${dir}/metrics-${scheme}.png and status-${scheme}.png`);
  }
} finally {
  await close();
  await gw.stop();
}
