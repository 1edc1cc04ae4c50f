// The ui page in headless Chromium (Debian's), driven by playwright-core: from the runs list
// into a run, a task, its logs and an artifact, asserting what the page shows.
// Usage: node browser.js URL TOKEN SHOT_DIR   (NODE_PATH has playwright-core)
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [url, token, shots] = process.argv.slice(2);
let fails = 0;
function check(what, cond, detail) {
  if (cond) console.log('ok: ' + what);
  else { fails++; console.error('FAIL: ' + what + (detail !== undefined ? ' ' + JSON.stringify(detail) : '')); }
}
const text = (page, sel) => page.locator(sel).first().innerText();
// wait until the selector's text contains s (the page fills in from the API)
async function waitText(page, sel, s) {
  try {
    await page.waitForFunction(([q, t]) => { const e = document.querySelector(q); return e && e.innerText.includes(t); },
      [sel, s], { timeout: 15000 });
    return true;
  } catch (e) { return false; }
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.MFLOW_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'] });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    // the runs list, opened with the token in the query (then kept in a cookie)
    await page.goto(url + '?token=' + encodeURIComponent(token));
    await page.waitForSelector('table#runs tr td a');
    check('the address bar drops the token', !page.url().includes('token='), page.url());
    const cookies = await context.cookies();
    check('the token lives in an HttpOnly cookie', cookies.some(c => c.name === 'mflow_ui_token' && c.httpOnly));
    const rows = await page.locator('table#runs tr').count();
    check('runs list: a row per run and a header', rows === 3, rows);
    check('runs list: newest first', (await text(page, 'table#runs tr:nth-child(2)')).includes('UiTestFlow/1'));
    check('runs list: the tag shown', (await text(page, 'table#runs')).includes('nightly'));

    // filter by flow
    await page.selectOption('form#filters select[name=flow]', 'ForeachFlow');
    await page.click('form#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('table#runs tr').length === 2);
    check('filter by flow: one run left', (await text(page, 'table#runs')).includes('ForeachFlow/1'));
    check('filter: in the address', page.url().includes('flow=ForeachFlow'), page.url());

    // into the run
    await page.click('text=ForeachFlow/1');
    check('run page: title and status', await waitText(page, '#run-title', 'ForeachFlow/1 succeeded'),
      await text(page, '#app'));
    await page.waitForSelector('svg#dag g.node');
    check('run page: the DAG has the four steps', await page.locator('svg#dag g.node').count() === 4);
    check('run page: three edges drawn', await page.locator('svg#dag path.edge').count() === 3);
    check('run page: the foreach step with its 4 tasks',
      (await page.locator('svg#dag g.node[data-step=square]').textContent()).includes('4 tasks'));
    check('run page: a timeline bar per task', await page.locator('svg#timeline rect.bar').count() === 7);
    check('run page: tags', (await text(page, '#tags')).includes('nightly'));
    check('run page: parameters', (await text(page, '#app')).includes('n=4'));
    const dagBox = await page.locator('svg#dag g.node[data-step=start]').boundingBox();
    const endBox = await page.locator('svg#dag g.node[data-step=end]').boundingBox();
    check('run page: layers run left to right', dagBox && endBox && dagBox.x < endBox.x, [dagBox, endBox]);
    await page.screenshot({ path: path.join(shots, 'ui-browser-run.png'), fullPage: true });

    // a task and its logs
    await page.click('table#tasks a:text-matches("^end/")');
    check('task page: title', await waitText(page, '#task-title', 'ForeachFlow/1/end/'));
    check('task page: its stdout', await waitText(page, '#log', 'sum of squares: 30'), await text(page, '#log'));
    await page.click('#tab-stderr');
    await page.waitForFunction(() => document.querySelector('#log-info').innerText.startsWith('stderr'));
    check('task page: stderr tab', !(await text(page, '#log')).includes('sum of squares'));
    check('task page: host shown', (await text(page, '#task-host')).length > 0);

    // back to the run through the crumbs, then the join and its artifact
    await page.click('#crumbs a:text("1")');
    await page.waitForSelector('table#tasks a');
    await page.click('table#tasks a:text-matches("^join/")');
    await page.waitForSelector('#artifacts tr[data-artifact=sum]');
    check('artifact: the sum shown', (await text(page, '#artifacts tr[data-artifact=sum]')).includes('30'));
    const [dl] = await Promise.all([page.waitForEvent('download'),
      page.click('#artifacts tr[data-artifact=sum] a')]);
    const file = await dl.path();
    const buf = fs.readFileSync(file);
    check('artifact: downloaded, its 8 bytes are 30', buf.length === 8 && buf.readBigInt64LE(0) === 30n, [...buf]);
    check('artifact: download named', /ForeachFlow-1-join-\d+-sum\.bin/.test(dl.suggestedFilename()), dl.suggestedFilename());

    // a long log, paged: the UiTestFlow start task
    await page.goto(url + '#/run/UiTestFlow/1');
    await page.waitForSelector('table#tasks a');
    await page.click('table#tasks a:text-matches("^start/")');
    check('long log: the first page', await waitText(page, '#log-info', '65535 of 192000 bytes'), await text(page, '#log-info'));
    check('long log: big value not shown', (await text(page, '#artifacts tr[data-artifact=big]')).includes('too large'));
    await page.click('#log-more');
    check('long log: the next page appended', await waitText(page, '#log-info', '131071 of 192000'), await text(page, '#log-info'));
    check('long log: text intact across pages', (await text(page, '#log')).includes('line 01365: café naïve été'));
    await page.screenshot({ path: path.join(shots, 'ui-browser-task.png'), fullPage: false });

    // a run that is running: its page updates by itself when the run ends
    const gate = path.join(process.env.MFLOW_HOME, 'gate');
    const run = require('child_process').spawn(process.env.MFLOW_BIN,
      ['run', path.join(process.env.MFLOW_TEST_SOURCE_ROOT, 'tests/ui/flows/gate.c'), '--gate=' + gate],
      { stdio: 'ignore' });
    const ended = new Promise(r => run.on('exit', code => r(code)));
    let listed = false;
    for (let i = 0; i < 150 && !listed; i++) {
      const r = await page.request.get(url + 'api/runs?flow=GateFlow&status=running');
      listed = (await r.json()).total === 1;
      if (!listed) await page.waitForTimeout(100);
    }
    check('live: the gate run is running', listed);
    await page.goto(url + '#/run/GateFlow/1');
    check('live: shown running', await waitText(page, '#run-title', 'GateFlow/1 running'), await text(page, '#app'));
    check('live: says it updates', await waitText(page, '#live', 'live'));
    await page.evaluate(() => { window.mflowNoReload = 1; });
    const waitRow = async (st) => {
      try {
        await page.waitForSelector(`table#tasks tr[data-task="GateFlow/1/wait_gate/2"][data-status=${st}]`, { timeout: 15000 });
        return true;
      } catch (e) { return false; }
    };
    check('live: the running task appears in the task list', await waitRow('running'), await text(page, '#tasks'));
    check('live: its row says running', (await text(page, 'table#tasks tr[data-status=running]')).includes('running'));
    check('live: a running bar in the timeline', await page.locator('svg#timeline rect.b-running').count() === 1);
    check('live: the graph counts it running',
      (await page.locator('svg#dag g.node[data-step=wait_gate]').textContent()).includes('1 running'));
    await page.screenshot({ path: path.join(shots, 'ui-browser-live-running.png'), fullPage: true });
    fs.writeFileSync(gate, '');
    check('live: the task turns to succeeded with no reload', await waitRow('succeeded'), await text(page, '#tasks'));
    check('live: the page turns to succeeded with no reload', await waitText(page, '#run-title', 'GateFlow/1 succeeded'),
      await text(page, '#run-title'));
    check('live: the same page all along (not reloaded)', await page.evaluate(() => window.mflowNoReload === 1));
    await page.screenshot({ path: path.join(shots, 'ui-browser-live-ended.png'), fullPage: true });
    check('live: its tasks appear', await page.locator('svg#timeline rect.bar').count() === 3);
    check('live: the page stops updating once the run ended', await waitText(page, 'header', 'mflow') &&
      (await page.locator('#live').innerText()) === '');
    check('live: mflow run exited 0', await ended === 0);
    check('no script errors on the page', errors.length === 0, errors);
  } catch (e) {
    fails++;
    console.error('FAIL: ' + e.stack);
    console.error('page errors: ' + JSON.stringify(errors));
    await page.screenshot({ path: path.join(shots, 'ui-browser-failure.png'), fullPage: true }).catch(() => {});
  }
  await browser.close();
  console.log(fails ? `${fails} failed` : 'all passed');
  process.exit(fails ? 1 : 0);
})();
