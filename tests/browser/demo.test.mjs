// The demo page, end to end, in a real browser (Debian's Chromium, headless):
// a tab opens a context from the link `make run` prints, an agent drives it
// over the channel, the tab submits, the worker delivers to the fake
// Salesforce.  Run by tests/scripts/browser.sh (which installs what this
// needs); by hand:
//
//   CB_STATE=... node tests/browser/demo.test.mjs   (after `source $CB_STATE/stack.env`)
//
// Environment: CB_BUILD, CB_REPO, CB_HTTP_URL, CB_HTTPS_URL, CB_FAKESF_URL,
// CB_STATE (the stack's, for cb-admin and the failure screenshot),
// CB_BROWSER_NODE_MODULES (where playwright-core is installed),
// CB_CHROMIUM (default /usr/bin/chromium), CB_BROWSER_SCHEME (https|http).
// Exit 0 on success; the last line is the one-line result.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
	REPO, HTTP, HTTPS, STATE, env, sleep, assert, logger, until, recordSecret,
	admin, adminIn, api, records, launch, failureReport,
} from './common.mjs';

const SCHEME = env('CB_BROWSER_SCHEME', 'https');
const PAGE_BASE = SCHEME === 'http' ? HTTP : HTTPS;

let step = 'start';
const log = logger('browser');

let nonceN = 0;
async function command(key, ctx, cmd) {
	const r = await api('POST', `/api/v1/contexts/${ctx}/commands`, {
		token: key, body: { ...cmd, nonce: `browser-${process.pid}-${Date.now()}-${++nonceN}` },
	});
	assert(r.status === 202, `command ${cmd.type} ${cmd.selector || ''}: expected 202, got ${r.status} ${r.text}`);
	return r.json;
}

async function commandState(key, id, want, timeoutMs = 10000) {
	return until(`command ${id} to be ${want}`, async () => {
		const r = await api('GET', `/api/v1/commands/${id}`, { token: key });
		assert(r.status === 200, `GET command: ${r.status} ${r.text}`);
		if (r.json.state === want)
			return r.json;
		if (['applied', 'failed', 'timeout'].includes(r.json.state))
			throw new Error(`command ${id} ended ${r.json.state} (reason: ${r.json.reason}), wanted ${want}`);
		return null;
	}, timeoutMs);
}

// What the fake Slack was sent (chat.postMessage and incoming webhooks).
async function slackMessages() {
	const res = await fetch(`${env('CB_FAKEHOOKS_URL')}/__fake/messages`);
	assert(res.ok, `fake slack /__fake/messages: ${res.status}`);
	return (await res.json()).messages || [];
}

// A person clicks Approve or Deny in Slack: scripts/slack-click.sh signs it as Slack does.
function slackClick(approvalId, action, slackUser) {
	return execFileSync(join(REPO, 'scripts', 'slack-click.sh'), [approvalId, action], {
		encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
		env: { ...process.env, SLACK_USER: slackUser, CB_STATE: STATE },
	});
}

// The approval a new Slack message (after the first `before`) asks about: its id.
async function approvalAsked(before) {
	return until('the approval message in the fake Slack', async () => {
		const m = (await slackMessages()).slice(before);
		const hit = JSON.stringify(m).match(/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):[0-9a-f]{64}/);
		return hit ? hit[1] : null;
	}, 15000, 200);
}

async function main() {
	// ---- seed a tenant of our own (as tests/support/seed.c does)
	step = 'seed';
	const slug = `browser-${process.pid}-${Date.now() % 100000}`;
	admin('org-create', slug, 'Browser test tenant');
	const form = admin('form-create', slug, 'Contact us', join(REPO, 'docs/examples/contact-form.json')).form_id;
	admin('policy-set', form, 'set_field,focus,highlight,show_message',
	    '#full_name,#email,#topic,#message,#subscribe', '600');
	const agent = admin('agent-create', slug, 'browser-agent').agent_id;
	const key = admin('key-create', agent).api_key;
	recordSecret(key);
	const ctxr = await api('POST', '/api/v1/contexts', { body: { form_id: form } });
	assert(ctxr.status === 201, `open context: ${ctxr.status} ${ctxr.text}`);
	const { ctx_ref: ctx, tab_token: token } = ctxr.json;
	recordSecret(token);
	log(`seeded tenant ${slug}, form ${form}, ctx ${ctx}`);

	// ---- the browser
	step = 'launch chromium';
	// Responses >= 400 (the favicon aside): the page must not cause any.
	const { page, consoleErrors, badResponses, close } = await launch({ width: 1000, height: 1100 });
	try {
		// ---- open the link `make run` prints
		step = 'load the page';
		await page.goto(`${PAGE_BASE}/?form=${form}#ctx=${ctx}&token=${token}`);
		await page.waitForSelector('#email', { timeout: 10000 });
		assert(!page.url().includes('token='), `the token lingers in the URL: ${page.url()}`);
		assert((await page.textContent('#cb-ctx')) === ctx, 'the page shows another ctx_ref');
		assert((await page.textContent('#cb-version')) === '1', 'form version 1 not shown');
		assert(await page.$eval('#topic', (e) => e.tagName) === 'SELECT', 'the enum field is not a select');
		assert(await page.$eval('#subscribe', (e) => e.type) === 'checkbox', 'the boolean field is not a checkbox');
		assert((await page.textContent('#cb-curl')).includes(`/api/v1/contexts/${ctx}/commands`), 'curl template lacks the ctx');

		step = 'channel ready';
		await page.waitForSelector('#cb-conn[data-state="live"]', { timeout: 15000 });
		log('channel live');

		// ---- the agent drives the tab
		step = 'set_field #email';
		const email = `ada.${process.pid}@example.com`;
		const c1 = await command(key, ctx, { type: 'set_field', selector: '#email', value: email });
		await page.waitForFunction((v) => document.querySelector('#email').value === v, email, { timeout: 10000 });
		await commandState(key, c1.id, 'applied');
		log(`#email set by command seq ${c1.seq}, receipt applied`);

		step = 'set_field #full_name';
		const c2 = await command(key, ctx, { type: 'set_field', selector: '#full_name', value: 'Ada Lovelace' });
		await page.waitForFunction(() => document.querySelector('#full_name').value === 'Ada Lovelace', null, { timeout: 10000 });
		await commandState(key, c2.id, 'applied');
		log(`#full_name set by command seq ${c2.seq}, receipt applied`);

		step = 'failed receipt';
		const c3 = await command(key, ctx, { type: 'set_field', selector: '#topic', value: 'no-such-topic' });
		const f3 = await commandState(key, c3.id, 'failed');
		assert(/option/.test(f3.reason || ''), `failed receipt without a useful reason: ${f3.reason}`);
		log(`bad enum value refused: ${f3.reason}`);

		step = 'highlight + show_message';
		const c4 = await command(key, ctx, { type: 'highlight', selector: '#email' });
		await commandState(key, c4.id, 'applied');
		const c5 = await command(key, ctx, { type: 'show_message', value: 'Please check <b>your</b> email address.' });
		await commandState(key, c5.id, 'applied');
		const msg = await page.textContent('#cb-messages');
		assert(msg.includes('Please check <b>your</b> email address.'), `message not shown as text: ${msg}`);
		assert(await page.$('#cb-messages b') === null, 'a message was rendered as HTML');

		// ---- reload: the tab resumes its context after the last seq it processed
		step = 'reload resumes';
		await page.reload();
		await page.waitForSelector('#cb-conn[data-state="live"]', { timeout: 15000 });
		assert((await page.textContent('#cb-ctx')) === ctx, 'a reload opened another context');
		assert((await page.textContent('#cb-conn')).includes(`resumed after #${c5.seq}`),
		    `not resumed after #${c5.seq}: ${await page.textContent('#cb-conn')}`);
		assert((await page.inputValue('#email')) === '', 'an old command was applied again after the reload');
		const c6 = await command(key, ctx, { type: 'set_field', selector: '#email', value: email });
		await commandState(key, c6.id, 'applied');
		await page.waitForFunction((v) => document.querySelector('#email').value === v, email, { timeout: 10000 });
		const c7 = await command(key, ctx, { type: 'set_field', selector: '#full_name', value: 'Ada Lovelace' });
		await commandState(key, c7.id, 'applied');
		log(`resumed after #${c5.seq}; commands ${c6.seq} and ${c7.seq} applied`);

		// ---- a receipt lost with the worker: the tab applied the command,
		// the worker went away before storing its receipt, and the tab sends
		// it again after ready on the new worker
		step = 'receipt sent again';
		await page.evaluate(() => {
			const send = WebSocket.prototype.send;
			WebSocket.prototype.send = function (data) {
				if (!window.cbDropped && typeof data === 'string' && data.includes('"type":"receipt"')) {
					window.cbDropped = data;	/* lost, once */
					return;
				}
				return send.call(this, data);
			};
		});
		const c8 = await command(key, ctx, { type: 'set_field', selector: '#topic', value: 'billing' });
		await page.waitForFunction(() => document.querySelector('#topic').value === 'billing', null, { timeout: 10000 });
		assert((await page.evaluate(() => window.cbDropped || '')).includes(`"seq":${c8.seq}`), 'the receipt was not the one dropped');
		await commandState(key, c8.id, 'delivered');
		const errsBefore = consoleErrors.length, badBefore = badResponses.length;
		// Down for 2 s: the page's reconnects meet no worker before one does.
		const stack = (cmd) => execFileSync(join(REPO, 'scripts', 'stack.sh'), [cmd], {
			encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CB_STATE: STATE },
		});
		stack('stop-worker');
		await sleep(2000);
		stack('start-worker');
		await commandState(key, c8.id, 'applied', 30000);
		// The page's reconnects while the worker was down fail (nginx answers
		// 502): the restart's doing, not the page's; anything else stays.
		let refused = 0;
		for (let i = consoleErrors.length - 1; i >= errsBefore; i--)
			if (/^WebSocket connection to '[^']*\/ws\/ctx\/[^']*' failed/.test(consoleErrors[i])) {
				consoleErrors.splice(i, 1);
				refused++;
			}
		for (let i = badResponses.length - 1; i >= badBefore; i--)
			if (/^50[234] GET \/ws\/ctx\//.test(badResponses[i]))
				badResponses.splice(i, 1);
		assert((await page.textContent('#cb-conn')).includes(`resumed after #${c8.seq}`),
		    `not resumed after #${c8.seq}: ${await page.textContent('#cb-conn')}`);
		log(`command ${c8.seq}'s receipt, lost with the worker, sent again after ready: applied`
		    + ` (${refused} reconnects met no worker)`);

		// ---- a command the policy holds for a person: Approve in Slack
		// fills the field; Deny leaves it as it is and the command denied
		step = 'approval: approve in Slack';
		const types = 'set_field,focus,highlight,show_message';
		const sels = '#full_name,#email,#topic,#message,#subscribe';
		admin('policy-set', form, types, sels, '600', 'set_field');
		const pw = `Approver-${process.pid}-${Date.now()}!`;
		recordSecret(pw);
		const approver = adminIn(`${pw}\n`, 'user-create', slug, `approver.${process.pid}@example.com`, 'approver').user_id;
		const slackUser = `U0B${process.pid % 100000}`;
		admin('user-slack', approver, slackUser);
		await sleep(1200);	// a responder may keep the previous policy for up to a second
		let before = (await slackMessages()).length;
		const ca = await command(key, ctx, { type: 'set_field', selector: '#message', value: 'Approved by a person.' });
		assert(ca.state === 'pending_approval', `the command was not held for approval: ${JSON.stringify(ca)}`);
		await sleep(500);
		assert((await page.inputValue('#message')) === '', 'a held command reached the tab before its approval');
		const approveId = await approvalAsked(before);
		const clicked = slackClick(approveId, 'approve', slackUser);
		assert(/approved/i.test(clicked), `the click's answer: ${clicked}`);
		await page.waitForFunction(() => document.querySelector('#message').value === 'Approved by a person.', null, { timeout: 10000 });
		await commandState(key, ca.id, 'applied');
		log(`approval ${approveId} approved in Slack: command ${ca.seq} applied in the tab`);

		step = 'approval: deny in Slack';
		before = (await slackMessages()).length;
		const cd = await command(key, ctx, { type: 'set_field', selector: '#full_name', value: 'Never shown' });
		const denyId = await approvalAsked(before);
		slackClick(denyId, 'deny', slackUser);
		await commandState(key, cd.id, 'denied');
		await sleep(500);
		assert((await page.inputValue('#full_name')) === 'Ada Lovelace', 'a denied command changed the field');
		admin('policy-set', form, types, sels, '600');
		await sleep(1200);
		await page.fill('#message', '');
		log(`approval ${denyId} denied in Slack: command ${cd.seq} denied, the field untouched`);

		// ---- the person fills in the rest and submits
		step = 'submit';
		await page.selectOption('#topic', 'support');
		await page.fill('#message', 'Hello from the browser test.');
		await page.check('#subscribe');
		await page.click('#cb-submit');
		await page.waitForSelector('#cb-result[data-state="success"]', { timeout: 15000 });
		const sub1 = (await page.textContent('#cb-submission-id')).trim();
		assert(/^[0-9a-f-]{36}$/.test(sub1), `no submission id shown: "${sub1}"`);
		log(`submitted: ${sub1}`);

		step = 'delivered to salesforce';
		const rec = await until(`a fake Salesforce record for ${sub1}`, async () =>
		    (await records()).find((r) => r.ext_value === sub1), 20000, 300);
		assert(rec.fields && rec.fields.Email__c === email, `record fields: ${JSON.stringify(rec.fields)}`);
		assert(rec.fields.Topic__c === 'support' && rec.fields.Subscribe__c === true, `record fields: ${JSON.stringify(rec.fields)}`);
		log(`record ${rec.id} (${rec.object}) holds submission ${sub1}`);

		// ---- one trace from the page to Salesforce: the id the page sent
		// with its submit (traceparent) is in the worker's delivery line and
		// in what the fake Salesforce received
		step = 'one trace from the page to salesforce';
		const traceId = await page.getAttribute('#cb-result', 'data-trace');
		assert(/^[0-9a-f]{32}$/.test(traceId || ''), `no trace id on the result: "${traceId}"`);
		for (const f of ['cb-worker.log', 'cb-fake-sf.log']) {
			await until(`trace ${traceId} in ${f}`, async () =>
			    readFileSync(join(STATE, 'log', f), 'utf8').includes(traceId), 10000, 300);
		}
		log(`trace ${traceId}: page, worker and fake Salesforce`);

		// ---- a second click with changed answers is a new attempt: a new
		// key, a new submission
		step = 'second submit';
		const key1 = await page.getAttribute('#cb-result', 'data-key');
		await page.fill('#message', 'Hello again from the browser test.');
		await page.click('#cb-submit');
		await page.waitForFunction((prev) => {
			const e = document.querySelector('#cb-submission-id');
			return e && e.textContent && e.textContent !== prev;
		}, sub1, { timeout: 15000 });
		const sub2 = (await page.textContent('#cb-submission-id')).trim();
		const key2 = await page.getAttribute('#cb-result', 'data-key');
		assert(sub2 !== sub1 && key2 !== key1, 'the second submit reused the first attempt');
		await until(`a fake Salesforce record for ${sub2}`, async () =>
		    (await records()).find((r) => r.ext_value === sub2), 20000, 300);
		await sleep(1500);	// let any duplicate delivery land before counting
		const all = await records();
		for (const id of [sub1, sub2]) {
			const n = all.filter((r) => r.ext_value === id).length;
			assert(n === 1, `${n} records for submission ${id}, expected exactly 1`);
		}
		log(`second submission ${sub2}; one record per submission id`);

		// The normal path caused no failed request and no console error.
		step = 'console';
		assert(badResponses.length === 0, `failed requests: ${badResponses.join(' | ')}`);
		// The browser logs the favicon's 404 as a console error too.
		const bad = consoleErrors.filter((t) => !/status of 404/.test(t) && !/favicon/.test(t));
		assert(bad.length === 0, `console errors: ${bad.join(' | ')}`);
		const pageErrors = () => consoleErrors.filter((t) => t.startsWith('pageerror'));

		// ---- the same answers again (a new attempt, so a new key): the
		// broker answers 409 duplicate-submission, the page shows the first id
		step = 'duplicate submission';
		await page.click('#cb-submit');
		await page.waitForFunction(() => /already submitted/.test(document.querySelector('#cb-result').textContent),
		    null, { timeout: 15000 });
		const dup = (await page.textContent('#cb-submission-id')).trim();
		assert(dup === sub2, `the duplicate showed ${dup}, not the first submission ${sub2}`);
		await sleep(500);
		assert((await records()).filter((r) => r.ext_value !== sub1 && r.ext_value !== sub2 &&
		    r.fields && r.fields.Message__c === 'Hello again from the browser test.').length === 0,
		    'a duplicate submission reached Salesforce');
		log(`409 duplicate-submission shown with the first id ${dup}`);

		// ---- the server's problem+json detail is shown, on the named field
		step = 'server-side validation';
		await page.fill('#email', 'ada@localhost');	// the browser accepts it, the broker does not
		await page.click('#cb-submit');
		await page.waitForSelector('#cb-result[data-state="error"]', { timeout: 10000 });
		const detail = await page.textContent('#cb-result');
		assert(/data\.email/.test(detail), `problem detail not shown: ${detail}`);
		assert(await page.getAttribute('#email', 'aria-invalid') === 'true', 'the field the problem names is not marked');
		const doc = await page.getAttribute('#cb-result a', 'href');
		assert(doc === '/problems/validation', `no link to the problem type's page: ${doc}`);
		const docRes = await fetch(HTTP + doc);
		assert(docRes.ok && /Invalid field/.test(await docRes.text()), `${doc}: ${docRes.status}`);
		await page.fill('#email', email);
		log(`400 shown: ${detail.trim()}`);

		// ---- one attempt, retried: a network error, then a 503 with
		// Retry-After, then the real answer; the same Idempotency-Key each time
		step = 'retry with the same key';
		await page.fill('#message', 'Hello, third time, through a flaky network.');
		const seen = [];
		let n = 0;
		const submitURL = `**/api/v1/forms/${form}/submit`;
		await page.route(submitURL, async (route) => {
			seen.push(route.request().headers()['idempotency-key']);
			n++;
			if (n === 1)
				return route.abort('connectionreset');
			if (n === 2)
				return route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/problem+json' },
				    body: JSON.stringify({ type: '/problems/unavailable', title: 'Service unavailable', status: 503, detail: 'test' }) });
			return route.continue();
		});
		await page.click('#cb-submit');
		await page.waitForFunction((prev) => {
			const e = document.querySelector('#cb-submission-id');
			return e && e.textContent && !prev.includes(e.textContent);
		}, [sub1, sub2], { timeout: 20000 });
		await page.unroute(submitURL);
		const sub3 = (await page.textContent('#cb-submission-id')).trim();
		assert(seen.length === 3, `expected 3 tries, saw ${seen.length}`);
		assert(/^"[0-9a-f-]{36}"$/.test(seen[0]) && seen.every((k) => k === seen[0]),
		    `the retries did not reuse one quoted key: ${seen.join(' ')}`);
		await until(`a fake Salesforce record for ${sub3}`, async () =>
		    (await records()).find((r) => r.ext_value === sub3), 20000, 300);
		await sleep(1000);
		assert((await records()).filter((r) => r.ext_value === sub3).length === 1, `not exactly one record for ${sub3}`);
		log(`network error + 503 retried with key ${seen[0]}: one submission ${sub3}`);

		// ---- a newer version is published while the tab is open
		step = 'form version stale';
		admin('form-publish', form, join(REPO, 'docs/examples/contact-form.json'));
		await page.click('#cb-submit');
		await page.waitForSelector('#cb-result[data-state="error"] button', { timeout: 15000 });
		assert(/newer version/.test(await page.textContent('#cb-result')), `stale answer not shown: ${await page.textContent('#cb-result')}`);
		await page.click('#cb-result button');
		await page.waitForFunction(() => document.querySelector('#cb-version').textContent === '2', null, { timeout: 10000 });
		await page.waitForSelector('#cb-conn[data-state="live"]', { timeout: 15000 });
		const ctx2 = await page.textContent('#cb-ctx');
		assert(ctx2 !== ctx, 'reloading for the new version kept the old context');
		recordSecret(await page.evaluate(() => JSON.parse(sessionStorage.getItem('cb.session')).token));
		log(`409 form-version-stale offered a reload: now version 2 on context ${ctx2}`);
		// The failures above were made on purpose; the page must still not throw.
		assert(pageErrors().length === 0, `page errors: ${pageErrors().join(' | ')}`);

	} catch (e) {
		await failureReport('browser', page, consoleErrors);
		throw e;
	} finally {
		await close();
	}
}

main().then(() => {
	console.log(`browser: PASS demo page end to end (${SCHEME}, ${log.seconds()} s)`);
	process.exit(0);
}, (e) => {
	console.log(`browser: FAIL at "${step}": ${e && e.message ? e.message : e}`);
	process.exit(1);
});
