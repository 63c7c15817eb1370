/*
 * Context Broker operator console (no build step, no dependencies).
 *
 * Signs a person in (POST /api/v1/auth/login), keeps the access token in
 * memory and the refresh token in sessionStorage (this tab only, gone when
 * it closes), refreshes the pair before the access token expires and once
 * on a 401, and shows the tenant's outbox, dead letters (replay, discard),
 * recent failures, pending approvals and the node's live connections,
 * polling every few seconds; and the tenant's live call feed (/ws/calls,
 * with the same access token).  docs/console.md says what each panel reads.
 *
 * Served under a strict CSP: this file touches the DOM only through
 * createElement/textContent; nothing from the network is parsed as HTML.
 */
'use strict';

(function () {
	const REFRESH_KEY = 'oc.refresh';
	/* The last organisation signed in to (a slug: not a secret), offered again. */
	const ORG_KEY = 'oc.org';
	const POLL_MS = 4000;
	const HANDLED_POLL_MS = 1000;

	const $ = (id) => document.getElementById(id);
	const ui = {
		who: $('oc-who'), whoText: $('oc-who-text'), logout: $('oc-logout'), status: $('oc-status'),
		loginCard: $('oc-login-card'), login: $('oc-login'), org: $('oc-org'), email: $('oc-email'),
		password: $('oc-password'), signin: $('oc-signin'), loginError: $('oc-login-error'),
		board: $('oc-board'), refreshed: $('oc-refreshed'), refresh: $('oc-refresh'),
		ws: $('oc-ws'), outbox: $('oc-outbox'), outboxEmpty: $('oc-outbox-empty'),
		dead: $('oc-dead'), deadEmpty: $('oc-dead-empty'), handled: $('oc-handled'),
		failures: $('oc-failures'), failuresEmpty: $('oc-failures-empty'),
		approvals: $('oc-approvals'), approvalsEmpty: $('oc-approvals-empty'),
		feedWatch: $('oc-feed-watch'), feedStop: $('oc-feed-stop'), feedState: $('oc-feed-state'), feed: $('oc-feed'),
	};

	const st = {
		access: null,
		refreshTimer: null,
		pollTimer: null,
		handledTimer: null,
		handled: new Map(),	/* outbox id -> {li, state} */
		busy: false,
		refreshing: null,	/* the refresh in flight */
		feed: null,		/* {ws, lastSeq, attempt, timer, ping, stopped, ...} while watching */
	};

	/* ------------------------------------------------------------ utilities */

	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	function row(cells) {
		const tr = document.createElement('tr');
		for (const c of cells)
			tr.appendChild(c instanceof Node ? c : el('td', c));
		return tr;
	}

	function age(s) {
		if (s === null || s === undefined)
			return '–';
		if (s < 120)
			return `${s} s`;
		if (s < 7200)
			return `${Math.floor(s / 60)} min`;
		if (s < 172800)
			return `${Math.floor(s / 3600)} h`;
		return `${Math.floor(s / 86400)} d`;
	}

	function say(text, kind) {
		ui.status.textContent = text || '';
		ui.status.dataset.kind = kind || 'info';
	}

	function problemText(res) {
		const j = res.json;
		if (j && (j.detail || j.title))
			return `${res.status}: ${j.detail || j.title}`;
		return `HTTP ${res.status}`;
	}

	/* ------------------------------------------------------------- the API */

	async function raw(method, path, { body, token } = {}) {
		const h = { Accept: 'application/json' };
		if (token)
			h.Authorization = `Bearer ${token}`;
		if (body !== undefined)
			h['Content-Type'] = 'application/json';
		const res = await fetch(path, {
			method, headers: h, cache: 'no-store', credentials: 'omit',
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		let json = null;
		if (res.status !== 204) {
			try { json = await res.json(); } catch (e) { json = null; }
		}
		return { status: res.status, json };
	}

	/* A call with the access token; on a 401, one refresh and one retry. */
	async function api(method, path) {
		let res = await raw(method, path, { token: st.access });
		if (res.status === 401 && await refresh())
			res = await raw(method, path, { token: st.access });
		if (res.status === 401)
			signedOut('Your session ended: sign in again.');
		return res;
	}

	function keep(pair) {
		st.access = pair.access_token;
		try { sessionStorage.setItem(REFRESH_KEY, pair.refresh_token); } catch (e) { /* private mode */ }
		clearTimeout(st.refreshTimer);
		/* Renew at 80 % of the access token's life. */
		const ms = Math.max(5, Number(pair.expires_in) || 60) * 800;
		st.refreshTimer = setTimeout(() => { refresh(); }, ms);
	}

	/* One refresh at a time: the panels' calls share it. */
	function refresh() {
		if (!st.refreshing)
			st.refreshing = refreshOnce().finally(() => { st.refreshing = null; });
		return st.refreshing;
	}

	async function refreshOnce() {
		let rt = null;
		try { rt = sessionStorage.getItem(REFRESH_KEY); } catch (e) { rt = null; }
		if (!rt)
			return false;
		const res = await raw('POST', '/api/v1/auth/refresh', { body: { refresh_token: rt } });
		if (res.status !== 200 || !res.json || !res.json.access_token) {
			try { sessionStorage.removeItem(REFRESH_KEY); } catch (e) { /* ignore */ }
			st.access = null;
			return false;
		}
		keep(res.json);
		return true;
	}

	/* -------------------------------------------------------------- session */

	async function signIn(ev) {
		ev.preventDefault();
		ui.loginError.hidden = true;
		ui.signin.disabled = true;
		try {
			const res = await raw('POST', '/api/v1/auth/login',
			    { body: { org: ui.org.value.trim(), email: ui.email.value.trim(),
				  password: ui.password.value } });
			if (res.status !== 200 || !res.json || !res.json.access_token) {
				ui.loginError.textContent = problemText(res);
				ui.loginError.hidden = false;
				return;
			}
			ui.password.value = '';
			try { localStorage.setItem(ORG_KEY, ui.org.value.trim()); } catch (e) { /* private mode */ }
			keep(res.json);
			await start();
		} catch (e) {
			ui.loginError.textContent = `The broker did not answer: ${e.message}`;
			ui.loginError.hidden = false;
		} finally {
			ui.signin.disabled = false;
		}
	}

	/* Revoke the session (the refresh token's family), then forget it. */
	async function signOut(msg) {
		let rt = null;
		try { rt = sessionStorage.getItem(REFRESH_KEY); } catch (e) { rt = null; }
		if (rt)
			await raw('POST', '/api/v1/auth/logout', { body: { refresh_token: rt } }).catch(() => null);
		signedOut(typeof msg === 'string' ? msg : 'Signed out.');
	}

	function signedOut(msg) {
		try { sessionStorage.removeItem(REFRESH_KEY); } catch (e) { /* ignore */ }
		st.access = null;
		clearTimeout(st.refreshTimer);
		clearInterval(st.pollTimer);
		clearInterval(st.handledTimer);
		st.pollTimer = st.handledTimer = null;
		stopFeed('not watching');
		ui.board.hidden = true;
		ui.who.hidden = true;
		ui.loginCard.hidden = false;
		say(msg || '', 'info');
	}

	async function start() {
		const me = await api('GET', '/api/v1/auth/me');
		if (me.status !== 200 || !me.json)
			return;
		if (me.json.role !== 'operator' && me.json.role !== 'admin') {
			await signOut(`This console is for operators and admins; you signed in as ${me.json.role}.`);
			return;
		}
		ui.whoText.textContent = `${me.json.role} of tenant ${me.json.org}`;
		ui.who.hidden = false;
		ui.loginCard.hidden = true;
		ui.board.hidden = false;
		say('', 'info');
		await loadAll();
		clearInterval(st.pollTimer);
		st.pollTimer = setInterval(loadAll, POLL_MS);
		clearInterval(st.handledTimer);
		st.handledTimer = setInterval(followHandled, HANDLED_POLL_MS);
		watchFeed();
	}

	/* --------------------------------------------------------------- panels */

	function fill(tbody, empty, rows) {
		tbody.replaceChildren(...rows);
		empty.hidden = rows.length > 0;
	}

	async function loadLive() {
		const r = await api('GET', '/api/v1/admin/live');
		if (r.status !== 200)
			throw new Error(`live: ${problemText(r)}`);
		ui.ws.textContent = r.json.ws_connections === null ? 'n/a' : String(r.json.ws_connections);
	}

	async function loadOutbox() {
		const r = await api('GET', '/api/v1/admin/outbox');
		if (r.status !== 200)
			throw new Error(`outbox: ${problemText(r)}`);
		fill(ui.outbox, ui.outboxEmpty, r.json.sinks.map((s) => {
			const tr = row([s.sink, s.state, s.rows, age(s.oldest_age_s)]);
			tr.dataset.sink = s.sink;
			tr.dataset.state = s.state;
			return tr;
		}));
		fill(ui.failures, ui.failuresEmpty, r.json.failures.map((f) => {
			const tr = row([f.id, f.kind, f.state, `${f.attempts}/${f.max_attempts}`,
			    f.state === 'pending' ? f.run_after : '–', el('td', f.last_error, 'oc-err-text')]);
			tr.dataset.id = f.id;
			return tr;
		}));
	}

	function actionButton(label, cls, id, action) {
		const b = el('button', label, cls);
		b.type = 'button';
		b.dataset.action = action;
		b.dataset.id = id;
		b.setAttribute('aria-label', `${label} dead letter ${id}`);
		b.addEventListener('click', () => handle(id, action, b));
		return b;
	}

	async function loadDead() {
		const r = await api('GET', '/api/v1/admin/dead-letters?limit=100');
		if (r.status !== 200)
			throw new Error(`dead letters: ${problemText(r)}`);
		fill(ui.dead, ui.deadEmpty, r.json.dead_letters.map((d) => {
			const actions = el('td');
			const box = el('div', null, 'oc-actions');
			box.appendChild(actionButton('Replay', 'cb-secondary', d.id, 'replay'));
			box.appendChild(actionButton('Discard', 'cb-secondary oc-danger', d.id, 'discard'));
			actions.appendChild(box);
			const tr = row([d.id, d.kind, d.ref_id || '–', `${d.attempts}/${d.max_attempts}`,
			    d.dead_at || '–', el('td', d.last_error || '–', 'oc-err-text'), actions]);
			tr.dataset.id = d.id;
			return tr;
		}));
	}

	async function loadApprovals() {
		const r = await api('GET', '/api/v1/admin/approvals?state=pending');
		if (r.status !== 200)
			throw new Error(`approvals: ${problemText(r)}`);
		fill(ui.approvals, ui.approvalsEmpty, r.json.approvals.map((a) => {
			const tr = row([a.id, a.type, a.selector || '–', a.value === null ? '–' : a.value,
			    a.created_at, a.expires_at]);
			tr.dataset.id = a.id;
			return tr;
		}));
	}

	async function loadAll() {
		if (st.busy || !st.access)
			return;
		st.busy = true;
		try {
			await Promise.all([loadLive(), loadOutbox(), loadDead(), loadApprovals()]);
			ui.refreshed.textContent = new Date().toLocaleTimeString();
			if (ui.status.dataset.kind === 'error')
				say('', 'info');
		} catch (e) {
			if (st.access)
				say(`Could not refresh: ${e.message}`, 'error');
		} finally {
			st.busy = false;
		}
	}

	/* ------------------------------------------------- replay and discard */

	function handledItem(id, action) {
		let h = st.handled.get(id);
		if (!h) {
			const li = el('li');
			li.dataset.id = id;
			h = { li, state: '' };
			st.handled.set(id, h);
			ui.handled.prepend(li);
		}
		h.action = action;
		return h;
	}

	function showHandled(h, id, state, extra) {
		h.state = state;
		h.li.dataset.state = state;
		const label = state === 'done' ? 'delivered' : state;
		h.li.replaceChildren(el('span', `#${id} ${h.action === 'replay' ? 'replayed' : 'discarded'}: `),
		    el('span', label, 'oc-state'), el('span', extra ? ` (${extra})` : ''));
	}

	async function handle(id, action, button) {
		button.disabled = true;
		const r = await api('POST', `/api/v1/admin/dead-letters/${encodeURIComponent(id)}/${action}`);
		if (r.status === 200 || r.status === 202) {
			showHandled(handledItem(id, action), id, r.json.state);
			say(`Dead letter ${id} ${action === 'replay' ? 'replayed' : 'discarded'}.`, 'info');
		} else {
			say(`Could not ${action} dead letter ${id}: ${problemText(r)}`, 'error');
		}
		await loadAll();
	}

	/* A replayed row until it is delivered (done) or dead again. */
	async function followHandled() {
		for (const [id, h] of st.handled) {
			if (h.state !== 'pending' && h.state !== 'running')
				continue;
			const r = await api('GET', `/api/v1/admin/dead-letters/${encodeURIComponent(id)}`);
			if (r.status === 200 && r.json && r.json.state !== h.state)
				showHandled(h, id, r.json.state, r.json.last_error);
		}
	}


	/* ------------------------------------------------------- the call feed */

	/*
	 * /ws/calls (protocol cb.calls.v1, docs/channel.md) authenticated with
	 * this session's access token, the current one at each (re)connect;
	 * once open, the connection lives on while the token is renewed.
	 */
	const FEED_PROTOCOL = 'cb.calls.v1';
	const FEED_MAX_ROWS = 50;
	const FEED_PING_MS = 20000;

	function feedState(state, text) {
		ui.feedState.dataset.state = state;
		ui.feedState.textContent = text;
	}

	function stopFeed(text) {
		const f = st.feed;
		st.feed = null;
		if (f) {
			f.stopped = true;
			clearTimeout(f.timer);
			clearInterval(f.ping);
			if (f.ws)
				f.ws.close(1000);
		}
		ui.feedStop.hidden = true;
		ui.feedWatch.hidden = false;
		if (text)
			feedState('idle', text);
	}

	function feedRow(m) {
		const tr = row([m.seq, m.event_type, m.correlation_id, m.from || '–', m.to || '–', m.accepted_at]);
		tr.dataset.seq = String(m.seq);
		ui.feed.prepend(tr);
		while (ui.feed.children.length > FEED_MAX_ROWS)
			ui.feed.lastElementChild.remove();
	}

	function feedConnect(f) {
		const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
		const ws = new WebSocket(`${scheme}://${location.host}/ws/calls`, FEED_PROTOCOL);
		f.ws = ws;
		feedState('connecting', 'connecting…');
		ws.addEventListener('open', () => {
			const auth = { type: 'auth', token: st.access || '' };
			if (f.lastSeq !== null)
				auth.last_seq = f.lastSeq;
			ws.send(JSON.stringify(auth));
		});
		ws.addEventListener('message', (ev) => {
			let m;
			try { m = JSON.parse(ev.data); } catch (e) { return; }
			if (m.type === 'ready') {
				f.attempt = 0;
				if (f.lastSeq === null)
					f.lastSeq = m.resume_from;
				feedState('live', `live (tenant's newest event: ${m.last_seq})`);
			} else if (m.type === 'call_event') {
				if (f.lastSeq !== null && m.seq <= f.lastSeq)
					return;
				f.lastSeq = m.seq;
				feedRow(m);
			} else if (m.type === 'resync') {
				/* Nothing to replay from there: carry on from the newest. */
				f.lastSeq = null;
			} else if (m.type === 'error') {
				f.error = m;
			}
		});
		ws.addEventListener('close', async (ev) => {
			if (f.stopped || st.feed !== f)
				return;
			if (ev.code === 4401) {
				/* The token may have lapsed: renew it once, else stop. */
				if (!f.renewed && await refresh()) {
					f.renewed = true;
					feedConnect(f);
					return;
				}
				stopFeed();
				feedState('error', `refused: ${(f.error && f.error.detail) || 'not allowed'}`);
				return;
			}
			f.renewed = false;
			f.error = null;
			f.attempt++;
			const ms = Math.min(10000, 500 * 2 ** Math.min(f.attempt, 5));
			feedState('connecting', `reconnecting in ${Math.round(ms / 1000)} s…`);
			f.timer = setTimeout(() => feedConnect(f), ms);
		});
	}

	function watchFeed() {
		stopFeed();
		ui.feedWatch.hidden = true;
		ui.feedStop.hidden = false;
		const f = { ws: null, lastSeq: null, attempt: 0, timer: null, ping: null, stopped: false,
		    error: null, renewed: false };
		st.feed = f;
		f.ping = setInterval(() => {
			if (f.ws && f.ws.readyState === WebSocket.OPEN)
				f.ws.send('{"type":"ping"}');
		}, FEED_PING_MS);
		feedConnect(f);
	}

	/* ------------------------------------------------------------------ go */

	try { ui.org.value = localStorage.getItem(ORG_KEY) || ''; } catch (e) { /* private mode */ }
	ui.login.addEventListener('submit', signIn);
	ui.logout.addEventListener('click', signOut);
	ui.refresh.addEventListener('click', loadAll);
	ui.feedWatch.addEventListener('click', watchFeed);
	ui.feedStop.addEventListener('click', () => stopFeed('not watching'));
	(async () => {
		if (await refresh())
			await start();
	})().catch((e) => say(`Could not resume the session: ${e.message}`, 'error'));
}());
