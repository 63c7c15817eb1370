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
import { join } from 'node:path';

import {
	REPO, HTTP, HTTPS, FAKESF, assert, logger, until, recordSecret, admin, adminIn, api, records,
	launch, failureReport,
} from './common.mjs';

// A refusal for good: the worker dead-letters the row at its first attempt.
const FAULT_400 = { target: 'upsert', kind: 'status', status: 400,
	error_code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', count: 50 };

let step = 'start';
const log = logger('console');

async function fake(method, path, body) {
	const res = await fetch(FAKESF + path, { method, headers: body ? { 'Content-Type': 'application/json' } : {},
	    body: body ? JSON.stringify(body) : undefined });
	assert(res.ok, `fake salesforce ${method} ${path}: ${res.status}`);
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

async function main() {
	step = 'seed';
	const slug = `console-${process.pid}-${Date.now() % 100000}`;
	admin('org-create', slug, 'Console test tenant');
	const form = admin('form-create', slug, 'Contact us', join(REPO, 'docs/examples/contact-form.json')).form_id;
	const email = `operator.${process.pid}@example.com`;
	const password = `console-pw-${process.pid}-${Date.now()}`;
	recordSecret(password);
	adminIn(`${password}\n`, 'user-create', slug, email, 'operator');

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
	const { page, consoleErrors, badResponses, close } = await launch({ width: 1200, height: 1000 });
	try {
		step = 'sign in';
		const loaded = await page.goto(`${HTTPS}/console/`);
		const csp = loaded.headers()['content-security-policy'] || '';
		assert(/default-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `CSP: ${csp}`);
		await page.fill('#oc-org', slug);
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

		// ---- the call feed: live with the session's own token since the sign-in
		step = 'call feed';
		const src = admin('call-source-add', slug, 'voice-console', '--country-code', '1');
		recordSecret(src.secret);
		await page.waitForSelector('#oc-feed-state[data-state="live"]', { timeout: 10000 });
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
		// ---- a viewer is told the console is not theirs, and signed out
		step = 'viewer';
		const viewer = `viewer.${process.pid}@example.com`;
		adminIn(`${password}\n`, 'user-create', slug, viewer, 'viewer');
		await page.reload();
		await page.waitForSelector('#oc-login-card:not([hidden])', { timeout: 5000 });
		assert(await page.inputValue('#oc-org') === slug, 'the organisation signed in to is not offered again');
		await page.fill('#oc-email', viewer);
		await page.fill('#oc-password', password);
		await page.click('#oc-signin');
		await page.waitForFunction(() => /operators and admins/.test(document.querySelector('#oc-status').textContent),
		    null, { timeout: 10000 });
		assert(await page.isHidden('#oc-board'), 'a viewer sees the panels');
		assert(await page.evaluate(() => sessionStorage.getItem('oc.refresh')) === null, 'the viewer\'s session kept');

		// The browser logs the favicon's 404 as a console error too (badResponses has the rest).
		const errors = consoleErrors.filter((t) => !/status of 404/.test(t));
		assert(errors.length === 0, `page console errors: ${errors.join(' | ')}`);
		assert(badResponses.length === 0, `failed requests: ${badResponses.join(', ')}`);
	} catch (e) {
		await failureReport('console', page, consoleErrors);
		throw e;
	} finally {
		await fake('DELETE', '/__fake/faults').catch(() => null);
		await close();
	}
}

main().then(() => {
	console.log(`console: PASS operator console end to end (${log.seconds()} s)`);
	process.exit(0);
}, (e) => {
	console.log(`console: FAIL at "${step}": ${e && e.message ? e.message : e}`);
	process.exit(1);
});
