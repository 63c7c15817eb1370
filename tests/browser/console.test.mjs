// The operator console (web/console/) end to end in a real browser (Debian's
// Chromium, headless): an operator signs in, sees two real dead letters of
// the tenant (the fake Salesforce refused them for good), replays one and
// watches it delivered, discards the other.  Run by tests/scripts/console.sh
// (which installs what this needs); by hand:
//
//   CB_STATE=... node tests/browser/console.test.mjs   (after `source $CB_STATE/stack.env`)
//
// Environment: CB_BUILD, CB_REPO, CB_HTTP_URL, CB_HTTPS_URL, CB_FAKESF_URL,
// CB_STATE, CB_BROWSER_NODE_MODULES, CB_CHROMIUM (default /usr/bin/chromium).
// Exit 0 on success; the last line is the one-line result.

import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name, dflt) => {
	const v = process.env[name] ?? dflt;
	if (v === undefined || v === '')
		throw new Error(`${name} is not set (source $CB_STATE/stack.env first)`);
	return v;
};

const BUILD = env('CB_BUILD');
const REPO = env('CB_REPO');
const HTTP = env('CB_HTTP_URL');
const HTTPS = env('CB_HTTPS_URL');
const FAKESF = env('CB_FAKESF_URL');
const STATE = env('CB_STATE');
const CHROMIUM = env('CB_CHROMIUM', '/usr/bin/chromium');
const require = createRequire(join(env('CB_BROWSER_NODE_MODULES'), 'x.js'));
const { chromium } = require('playwright-core');

// A refusal for good: the worker dead-letters the row at its first attempt.
const FAULT_400 = { target: 'upsert', kind: 'status', status: 400,
	error_code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', count: 50 };

let step = 'start';
const t0 = Date.now();
const log = (msg) => console.log(`[console ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

async function until(what, fn, timeoutMs = 10000, everyMs = 150) {
	const end = Date.now() + timeoutMs;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > end)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
			    (last instanceof Error ? ` (last error: ${last.message})` : ''));
		await new Promise((r) => setTimeout(r, everyMs));
	}
}

// scripts/test.sh scans every log for the secrets a test used.
function recordSecret(secret) {
	if (typeof secret === 'string' && secret.length >= 12 && !secret.includes('\n'))
		appendFileSync(join(STATE, 'test-secrets.txt'), `${secret}\n`);
}

function admin(input, ...args) {
	const out = execFileSync(join(BUILD, 'bin', 'cb-admin'), args,
	    { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
	return JSON.parse(out.trim().split('\n').pop());
}

async function api(method, path, { token, body, headers } = {}) {
	const h = { ...(headers || {}) };
	if (token)
		h.Authorization = `Bearer ${token}`;
	if (body !== undefined)
		h['Content-Type'] = 'application/json';
	const res = await fetch(HTTP + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
	const text = await res.text();
	let json = null;
	try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
	return { status: res.status, json, text };
}

async function fake(method, path, body) {
	const res = await fetch(FAKESF + path, { method, headers: body ? { 'Content-Type': 'application/json' } : {},
	    body: body ? JSON.stringify(body) : undefined });
	assert(res.ok, `fake salesforce ${method} ${path}: ${res.status}`);
	return res.status === 204 ? null : res.json().catch(() => null);
}

// A submission from a new tab of the form: its id.
async function submit(form, n) {
	const c = await api('POST', '/api/v1/contexts', { body: { form_id: form } });
	assert(c.status === 201, `open context: ${c.status} ${c.text}`);
	recordSecret(c.json.tab_token);
	const s = await api('POST', `/api/v1/forms/${form}/submit`, {
		token: c.json.tab_token,
		headers: { 'Idempotency-Key': `"console-${process.pid}-${n}"` },
		body: { data: { full_name: `Console Test ${n}`, email: `console.${n}@example.com` } },
	});
	assert(s.status === 201, `submit: ${s.status} ${s.text}`);
	return s.json.submission_id;
}

async function records() {
	return ((await fake('GET', '/__fake/records')) || {}).records || [];
}

async function main() {
	step = 'seed';
	const slug = `console-${process.pid}-${Date.now() % 100000}`;
	admin(null, 'org-create', slug, 'Console test tenant');
	const form = admin(null, 'form-create', slug, 'Contact us', join(REPO, 'docs/examples/contact-form.json')).form_id;
	const email = `operator.${process.pid}@example.com`;
	const password = `console-pw-${process.pid}-${Date.now()}`;
	recordSecret(password);
	admin(`${password}\n`, 'user-create', slug, email, 'operator');

	// ---- two real dead letters: the fake refuses every upsert for good
	step = 'make dead letters';
	await fake('POST', '/__fake/faults', FAULT_400);
	let subs;
	try {
		subs = [await submit(form, 1), await submit(form, 2)];
		log(`submitted ${subs.join(', ')} while the fake Salesforce answers 400`);
	} catch (e) {
		await fake('DELETE', '/__fake/faults').catch(() => null);
		throw e;
	}

	step = 'launch chromium';
	const profile = mkdtempSync(join(tmpdir(), 'cb-chromium-'));
	const browser = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		ignoreHTTPSErrors: true,
		viewport: { width: 1200, height: 1000 },
		args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update', '--disable-sync',
		    '--disable-dev-shm-usage'],
	});
	const page = browser.pages()[0] || await browser.newPage();
	const consoleErrors = [];
	page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
	page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
	const badResponses = [];
	page.on('response', (r) => {
		if (r.status() >= 400 && !new URL(r.url()).pathname.endsWith('/favicon.ico'))
			badResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
	});
	try {
		step = 'sign in';
		const loaded = await page.goto(`${HTTPS}/console/`);
		const csp = loaded.headers()['content-security-policy'] || '';
		assert(/default-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `CSP: ${csp}`);
		await page.fill('#oc-email', email);
		await page.fill('#oc-password', password);
		await page.click('#oc-signin');
		await page.waitForSelector('#oc-board:not([hidden])', { timeout: 10000 });
		assert(/operator/.test(await page.textContent('#oc-who-text')), 'the role is not shown');
		recordSecret(await page.evaluate(() => sessionStorage.getItem('oc.refresh')));
		log('signed in');

		// ---- the two dead letters appear (the page polls; Refresh now speeds it up)
		step = 'see the dead letters';
		const rows = await until('two dead letters in the table', async () => {
			await page.click('#oc-refresh');
			const ids = await page.$$eval('#oc-dead tr[data-id]', (trs) => trs.map((t) => t.dataset.id));
			return ids.length === 2 ? ids : null;
		}, 20000, 500);
		await fake('DELETE', '/__fake/faults');
		const deadText = await page.textContent('#oc-dead');
		assert(/FIELD_CUSTOM_VALIDATION_EXCEPTION/.test(deadText), `no last_error shown: ${deadText}`);
		assert(!/Console Test|example\.com/.test(deadText), 'a field value is shown');
		await until('the outbox panel to count them', async () =>
		    /dead/.test(await page.textContent('#oc-outbox')), 10000, 300);
		assert(/salesforce/.test(await page.textContent('#oc-outbox')), 'the outbox panel lacks the sink');
		assert(/^\d+$/.test((await page.textContent('#oc-ws')).trim()), 'the live count is not a number');
		log(`dead letters ${rows.join(', ')} shown`);

		// ---- replay one: delivered
		step = 'replay';
		const [replayId, discardId] = rows;
		await page.click(`#oc-dead button[data-action="replay"][data-id="${replayId}"]`);
		await page.waitForSelector(`#oc-handled li[data-id="${replayId}"][data-state="done"]`, { timeout: 20000 });
		assert(/delivered/.test(await page.textContent(`#oc-handled li[data-id="${replayId}"]`)), 'not shown as delivered');
		const delivered = await until('the replayed record in the fake Salesforce', async () => {
			const recs = await records();
			return recs.find((r) => subs.includes(r.ext_value));
		}, 10000, 300);
		log(`replayed ${replayId}: delivered (record for ${delivered.ext_value})`);

		// ---- discard the other: gone from the table, never delivered
		step = 'discard';
		await page.click(`#oc-dead button[data-action="discard"][data-id="${discardId}"]`);
		await page.waitForSelector(`#oc-handled li[data-id="${discardId}"][data-state="discarded"]`, { timeout: 10000 });
		await until('the dead-letter table to empty', async () =>
		    (await page.$$('#oc-dead tr[data-id]')).length === 0, 10000, 200);
		assert(!(await page.isHidden('#oc-dead-empty')), 'the empty note is not shown');
		const recs = (await records()).filter((r) => subs.includes(r.ext_value));
		assert(recs.length === 1 && recs[0].ext_value === delivered.ext_value,
		    `expected exactly the replayed record, found ${recs.length}`);
		log(`discarded ${discardId}: not delivered`);

		// ---- the call feed, with a calls:read key of the tenant's monitoring agent
		step = 'call feed';
		const agent = admin(null, 'agent-create', slug, 'monitor').agent_id;
		const feedKey = admin(null, 'key-create', agent, 'calls:read').api_key;
		recordSecret(feedKey);
		const src = admin(null, 'call-source-add', slug, 'voice-console', '--country-code', '1');
		recordSecret(src.secret);
		await page.fill('#oc-feed-key', 'cbk_not-a-real-key-0000000000000000');
		await page.click('#oc-feed-watch');
		await page.waitForSelector('#oc-feed-state[data-state="error"]', { timeout: 10000 });
		await page.fill('#oc-feed-key', feedKey);
		await page.click('#oc-feed-watch');
		await page.waitForSelector('#oc-feed-state[data-state="live"]', { timeout: 10000 });
		assert(await page.inputValue('#oc-feed-key') === '', 'the key stays in the input');
		const corr = `console-call-${process.pid}-${Date.now()}`;
		const posted = execFileSync(join(REPO, 'scripts', 'call-event.sh'), [src.source_id, src.secret, HTTP],
		    { encoding: 'utf8', env: { ...process.env, CALL_CORR: corr } });
		assert(posted.trim().split('\n').pop() === '202', `call event not accepted: ${posted}`);
		await until('the call event in the feed', async () =>
		    (await page.textContent('#oc-feed')).includes(corr), 10000, 200);
		const feedText = await page.textContent('#oc-feed');
		assert(!/\+14155552671/.test(feedText) && /\*{4}/.test(feedText), `phones not masked: ${feedText}`);
		log(`call feed: event ${corr} shown, phones masked`);

		// ---- sign out: the refresh token is gone, the feed stops
		step = 'sign out';
		await page.click('#oc-logout');
		await page.waitForSelector('#oc-login-card:not([hidden])', { timeout: 5000 });
		assert(await page.evaluate(() => sessionStorage.getItem('oc.refresh')) === null, 'refresh token kept');
		assert(await page.getAttribute('#oc-feed-state', 'data-state') === 'idle', 'the feed still runs');
		// The browser logs the favicon's 404 as a console error too (badResponses has the rest).
		const errors = consoleErrors.filter((t) => !/status of 404/.test(t));
		assert(errors.length === 0, `page console errors: ${errors.join(' | ')}`);
		assert(badResponses.length === 0, `failed requests: ${badResponses.join(', ')}`);
	} catch (e) {
		try {
			mkdirSync(join(STATE, 'log'), { recursive: true });
			const shot = join(STATE, 'log', `console-failure-${Date.now()}.png`);
			await page.screenshot({ path: shot, fullPage: true });
			console.log(`screenshot: ${shot}`);
		} catch (e2) {
			console.log(`(no screenshot: ${e2.message})`);
		}
		if (consoleErrors.length)
			console.log(`page console errors: ${consoleErrors.join(' | ')}`);
		throw e;
	} finally {
		await fake('DELETE', '/__fake/faults').catch(() => null);
		await browser.close().catch(() => {});
		rmSync(profile, { recursive: true, force: true });
	}
}

main().then(() => {
	console.log(`console: PASS operator console end to end (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
	process.exit(0);
}, (e) => {
	console.log(`console: FAIL at "${step}": ${e && e.message ? e.message : e}`);
	process.exit(1);
});
