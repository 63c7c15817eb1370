/*
 * Context Broker demo tab, its base (no build step, no dependencies): the
 * settings, the page's elements, the tab's state, small utilities, and the
 * session kept in sessionStorage, with the call that opens a context.
 * Loaded before app.js, which takes all of it from window.cbTab (frozen).
 *
 * Served under a strict CSP: this file touches the DOM only through
 * createElement/textContent; nothing from the network is ever parsed as HTML.
 */
'use strict';

(function () {
	const PROTOCOL = 'cb.tab.v1';
	const SESSION_KEY = 'cb.session';
	const SEQ_PREFIX = 'cb.seq.';
	const BACKOFF_MIN_MS = 500;
	const BACKOFF_MAX_MS = 10000;
	const HIGHLIGHT_MS = 2000;
	const PING_AFTER_MS = 20000;	/* silence before we ping */
	const DEAD_AFTER_MS = 45000;	/* silence before we give the socket up */
	const SUBMIT_MAX_TRIES = 6;
	const RETRY_AFTER_CAP_S = 30;
	const MAX_MESSAGES = 6;
	const RESENT_RECEIPTS = 16;	/* receipts sent again after ready, below the position */
	const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
	const TOKEN_RE = /^tab_[A-Za-z0-9_-]{16,128}$/;

	const $ = (id) => document.getElementById(id);
	const ui = {
		conn: $('cb-conn'), seq: $('cb-seq'), banner: $('cb-banner'), bannerText: $('cb-banner-text'),
		bannerAction: $('cb-banner-action'), intro: $('cb-intro'),
		msgCard: $('cb-messages-card'), messages: $('cb-messages'),
		formCard: $('cb-form-card'), title: $('cb-form-title'), version: $('cb-version'),
		form: $('cb-form'), fields: $('cb-fields'), submit: $('cb-submit'),
		result: $('cb-result'), drive: $('cb-drive'), ctx: $('cb-ctx'), curl: $('cb-curl'),
		copy: $('cb-copy'), copyStatus: $('cb-copy-status'), fatal: $('cb-fatal'),
	};

	const st = {
		session: null,		/* {ctx, token, form_id} */
		def: null,		/* the pinned definition */
		version: null,
		ws: null,
		wsGen: 0,		/* bumps on every new socket: stale callbacks ignore themselves */
		attempt: 0,		/* reconnect attempts since the last ready */
		timer: null,
		stopped: false,		/* no more reconnects (token rejected) */
		resync: null,		/* the resync frame, while it is handled */
		lastRx: 0,
		receipts: new Map(),	/* seq -> receipt sent, for duplicates */
		submitting: false,
		highlights: new WeakMap(),
	};

	/* ------------------------------------------------------------ utilities */

	function sleep(ms) {
		return new Promise((resolve) => setTimeout(resolve, ms));
	}

	function uuid() {
		if (window.crypto && typeof crypto.randomUUID === 'function')
			return crypto.randomUUID();
		const b = crypto.getRandomValues(new Uint8Array(16));
		b[6] = (b[6] & 0x0f) | 0x40;
		b[8] = (b[8] & 0x3f) | 0x80;
		const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
		return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
	}

	/* n random bytes as lower-case hex, never all zeros (W3C Trace Context). */
	function randomHex(n) {
		for (;;) {
			const b = crypto.getRandomValues(new Uint8Array(n));
			if (b.some((x) => x !== 0))
				return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
		}
	}

	/*
	 * A W3C traceparent (version 00, sampled) for one request: the page's
	 * span is new every time, the trace id is the one given (a submission's
	 * retries share one) or a new one.  The broker logs it, stores it with
	 * what the request writes and sends it upstream (docs/tracing.md).
	 */
	function traceparent(traceId) {
		return `00-${traceId || randomHex(16)}-${randomHex(8)}-01`;
	}

	/* At most `max` UTF-8 bytes, cut on a character boundary. */
	function clip(s, max) {
		const enc = new TextEncoder();
		let out = String(s);
		while (enc.encode(out).length > max)
			out = out.slice(0, Math.max(0, out.length - 8));
		return out;
	}

	function node(tag, attrs, text) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === false || v === null || v === undefined)
				continue;
			if (v === true)
				e.setAttribute(k, '');
			else
				e.setAttribute(k, String(v));
		}
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function show(el, on) {
		el.hidden = !on;
	}

	function fatal(text) {
		ui.fatal.textContent = text;
		show(ui.fatal, true);
	}

	function setConn(state, text) {
		ui.conn.dataset.state = state;
		ui.conn.textContent = text;
	}

	function banner(text, actionLabel, action) {
		ui.bannerText.textContent = text;
		if (actionLabel) {
			ui.bannerAction.textContent = actionLabel;
			ui.bannerAction.onclick = action;
			show(ui.bannerAction, true);
		} else {
			ui.bannerAction.onclick = null;
			show(ui.bannerAction, false);
		}
		show(ui.banner, true);
	}

	function clearBanner() {
		show(ui.banner, false);
		ui.bannerText.textContent = '';
	}

	/* ------------------------------------------------------------ session */

	function storageGet(k) {
		try { return sessionStorage.getItem(k); } catch (e) { return null; }
	}

	function storageSet(k, v) {
		try { sessionStorage.setItem(k, v); } catch (e) { /* private mode: no resume */ }
	}

	function storageDel(k) {
		try { sessionStorage.removeItem(k); } catch (e) { /* nothing kept */ }
	}

	function lastSeq() {
		const n = parseInt(storageGet(SEQ_PREFIX + st.session.ctx) || '0', 10);
		return Number.isSafeInteger(n) && n > 0 ? n : 0;
	}

	function setLastSeq(n) {
		storageSet(SEQ_PREFIX + st.session.ctx, String(n));
	}

	function saveSession(s) {
		st.session = s;
		/* Kept for this tab only, so a reload resumes the same context. */
		storageSet(SESSION_KEY, JSON.stringify(s));
	}

	function storedSession() {
		try {
			const s = JSON.parse(storageGet(SESSION_KEY) || 'null');
			if (s && UUID_RE.test(s.ctx) && TOKEN_RE.test(s.token) && UUID_RE.test(s.form_id))
				return s;
		} catch (e) { /* ignore a damaged entry */ }
		return null;
	}

	function forgetSession() {
		if (st.session)
			storageDel(SEQ_PREFIX + st.session.ctx);
		storageDel(SESSION_KEY);
	}

	async function problemOf(res) {
		let p = null;
		try {
			const ct = res.headers.get('Content-Type') || '';
			if (ct.includes('json'))
				p = await res.json();
		} catch (e) { /* not JSON */ }
		if (!p || typeof p !== 'object')
			p = {};
		if (typeof p.detail !== 'string')
			p.detail = `The server answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
		return p;
	}

	async function openContext(formId) {
		const res = await fetch('/api/v1/contexts', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json', traceparent: traceparent() },
			body: JSON.stringify({ form_id: formId }),
			cache: 'no-store',
			credentials: 'omit',
		});
		if (res.status !== 201) {
			const p = await problemOf(res);
			throw new Error(`Could not open a session for this form: ${p.detail}`);
		}
		const c = await res.json();
		if (!UUID_RE.test(c.ctx_ref) || !TOKEN_RE.test(c.tab_token))
			throw new Error('The server answered an unexpected context.');
		return { ctx: c.ctx_ref, token: c.tab_token, form_id: c.form_id || formId };
	}

	window.cbTab = Object.freeze({
		PROTOCOL, BACKOFF_MIN_MS, BACKOFF_MAX_MS, HIGHLIGHT_MS, PING_AFTER_MS, RESENT_RECEIPTS,
		DEAD_AFTER_MS, SUBMIT_MAX_TRIES, RETRY_AFTER_CAP_S, MAX_MESSAGES,
		UUID_RE, TOKEN_RE, $, ui, st, sleep, uuid, randomHex, traceparent,
		clip, node, show, fatal, setConn, banner, clearBanner, lastSeq,
		setLastSeq, saveSession, storedSession, forgetSession, problemOf,
		openContext,
	});
})();
