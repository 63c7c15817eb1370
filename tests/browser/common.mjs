// What the browser tests share (demo.test.mjs, console.test.mjs): the
// stack's environment, waiting, the secrets list the suite scans logs for,
// cb-admin and plain-HTTP API calls, and a headless Chromium whose page
// errors and failed requests are collected, with a screenshot on failure.

import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const env = (name, dflt) => {
	const v = process.env[name] ?? dflt;
	if (v === undefined || v === '')
		throw new Error(`${name} is not set (source $CB_STATE/stack.env first)`);
	return v;
};

export const BUILD = env('CB_BUILD');
export const REPO = env('CB_REPO');
export const HTTP = env('CB_HTTP_URL');
export const HTTPS = env('CB_HTTPS_URL');
export const FAKESF = env('CB_FAKESF_URL');
export const STATE = env('CB_STATE');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

// A log line "[name 1.2s] msg", timed from the test's start.
export function logger(name) {
	const t0 = Date.now();
	const log = (msg) => console.log(`[${name} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
	log.seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
	return log;
}

export async function until(what, fn, timeoutMs = 10000, everyMs = 150) {
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
		await sleep(everyMs);
	}
}

// scripts/test.sh scans every log for the secrets a test used.
export function recordSecret(secret) {
	if (typeof secret === 'string' && secret.length >= 12 && !secret.includes('\n'))
		appendFileSync(join(STATE, 'test-secrets.txt'), `${secret}\n`);
}

// cb-admin with `input` on its standard input (user-create reads the password there); its JSON line.
export function adminIn(input, ...args) {
	const out = execFileSync(join(BUILD, 'bin', 'cb-admin'), args,
	    { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
	return JSON.parse(out.trim().split('\n').pop());
}

export const admin = (...args) => adminIn(null, ...args);

// API calls go over plain HTTP through nginx (no self-signed cert to trust).
export async function api(method, path, { token, body, headers } = {}) {
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

// What the fake Salesforce holds.
export async function records() {
	const res = await fetch(`${FAKESF}/__fake/records`);
	assert(res.ok, `fake salesforce /__fake/records: ${res.status}`);
	return (await res.json()).records || [];
}

/*
 * Debian's Chromium, headless, with a fresh profile; its first page and what
 * the page did wrong: consoleErrors (console errors and uncaught errors,
 * "pageerror: …") and badResponses (answers >= 400, the favicon aside).
 * close() ends the browser and removes the profile.
 */
export async function launch(viewport) {
	const require = createRequire(join(env('CB_BROWSER_NODE_MODULES'), 'x.js'));
	const { chromium } = require('playwright-core');
	const profile = mkdtempSync(join(tmpdir(), 'cb-chromium-'));
	const browser = await chromium.launchPersistentContext(profile, {
		executablePath: env('CB_CHROMIUM', '/usr/bin/chromium'),
		headless: true,
		ignoreHTTPSErrors: true,
		viewport,
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
	const close = async () => {
		await browser.close().catch(() => {});
		rmSync(profile, { recursive: true, force: true });
	};
	return { browser, page, consoleErrors, badResponses, close };
}

// On a failure: a full-page screenshot in $CB_STATE/log/ and the page's console errors.
export async function failureReport(name, page, consoleErrors) {
	try {
		mkdirSync(join(STATE, 'log'), { recursive: true });
		const shot = join(STATE, 'log', `${name}-failure-${Date.now()}.png`);
		await page.screenshot({ path: shot, fullPage: true });
		console.log(`screenshot: ${shot}`);
	} catch (e) {
		console.log(`(no screenshot: ${e.message})`);
	}
	if (consoleErrors.length)
		console.log(`page console errors: ${consoleErrors.join(' | ')}`);
}
