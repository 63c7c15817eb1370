/*
 * Context Broker demo tab (no build step, no dependencies).
 *
 * Opens or resumes a tab context, renders the pinned form version, holds the
 * tab channel (WebSocket protocol cb.tab.v1, docs/channel.md), applies the
 * agent's commands and answers each with a receipt, and submits the form
 * with an Idempotency-Key that is reused for retries of one attempt.
 *
 * Its settings, elements, state, utilities and session storage are in
 * tab-base.js, loaded first (window.cbTab).
 *
 * Served under a strict CSP: this file touches the DOM only through
 * createElement/textContent; nothing from the network is ever parsed as HTML.
 */
'use strict';

(function () {
	const {
		PROTOCOL, BACKOFF_MIN_MS, BACKOFF_MAX_MS, HIGHLIGHT_MS, PING_AFTER_MS,
		RESENT_RECEIPTS, DEAD_AFTER_MS, SUBMIT_MAX_TRIES, RETRY_AFTER_CAP_S, MAX_MESSAGES,
		UUID_RE, TOKEN_RE, $, ui, st, sleep, uuid, randomHex, traceparent,
		clip, node, show, fatal, setConn, banner, clearBanner, lastSeq,
		setLastSeq, saveSession, storedSession, forgetSession, problemOf,
		openContext
	} = window.cbTab;

	/* ------------------------------------------------------------ session */

	/* Start over on a fresh context of the same form (newest version). */
	async function newSession(why) {
		closeSocket();
		forgetSession();
		st.receipts.clear();
		try {
			saveSession(await openContext(st.session.form_id));
		} catch (e) {
			fatal(e.message);
			setConn('closed', 'not connected');
			return;
		}
		st.stopped = false;
		st.attempt = 0;
		show(ui.fatal, false);
		clearBanner();
		ui.messages.replaceChildren();
		show(ui.msgCard, false);
		setResult('idle', '');
		ui.seq.textContent = '';
		if (await loadForm(true)) {
			if (why)
				banner(why);
			connect();
		}
	}

	/* ------------------------------------------------------------ the form */

	function fieldControl(f) {
		const name = f.name;
		const common = { id: name, name, required: f.required === true };
		switch (f.type) {
		case 'boolean':
			return node('input', { ...common, type: 'checkbox', required: false });
		case 'enum': {
			const sel = node('select', common);
			sel.append(node('option', { value: '' }, f.required ? 'Choose…' : '—'));
			for (const o of Array.isArray(f.options) ? f.options : [])
				sel.append(node('option', { value: String(o) }, String(o)));
			return sel;
		}
		case 'integer':
		case 'number':
			return node('input', {
				...common, type: 'number', inputmode: f.type === 'integer' ? 'numeric' : 'decimal',
				step: f.type === 'integer' ? '1' : 'any',
				min: typeof f.min === 'number' ? f.min : null,
				max: typeof f.max === 'number' ? f.max : null,
			});
		case 'email':
			return node('input', {
				...common, type: 'email', autocomplete: 'email', spellcheck: 'false',
				maxlength: typeof f.max_length === 'number' ? f.max_length : null,
			});
		default: {
			const long = typeof f.max_length === 'number' && f.max_length > 200;
			return node(long ? 'textarea' : 'input', {
				...common, type: long ? null : 'text', rows: long ? 4 : null,
				maxlength: typeof f.max_length === 'number' ? f.max_length : null,
				minlength: typeof f.min_length === 'number' ? f.min_length : null,
				autocomplete: name === 'full_name' ? 'name' : null,
			});
		}
		}
	}

	function currentValues() {
		const v = new Map();
		for (const el of ui.form.elements) {
			if (!el.name)
				continue;
			v.set(el.name, el.type === 'checkbox' ? el.checked : el.value);
		}
		return v;
	}

	function renderForm(def, keep) {
		const old = keep ? currentValues() : new Map();
		ui.title.textContent = typeof def.title === 'string' && def.title ? def.title : 'Form';
		document.title = `${ui.title.textContent} · Context Broker demo`;
		const rows = [];
		for (const f of Array.isArray(def.fields) ? def.fields : []) {
			if (!f || typeof f.name !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(f.name))
				continue;
			const row = node('div', { class: 'cb-field' + (f.type === 'boolean' ? ' cb-check' : '') });
			const ctl = fieldControl(f);
			const label = node('label', { for: f.name }, typeof f.label === 'string' && f.label ? f.label : f.name);
			if (f.required) {
				label.append(' ');
				label.append(node('span', { class: 'cb-req', 'aria-hidden': 'true' }, '*'));
			}
			const err = node('p', { class: 'cb-field-error', id: `${f.name}-error-msg`, hidden: true });
			ctl.setAttribute('aria-describedby', err.id);
			if (f.type === 'boolean')
				row.append(ctl, label, err);
			else
				row.append(label, ctl, err);
			if (old.has(f.name)) {
				if (ctl.type === 'checkbox')
					ctl.checked = old.get(f.name) === true;
				else
					ctl.value = old.get(f.name);
			}
			rows.push(row);
		}
		ui.fields.replaceChildren(...rows);
	}

	/* Load the pinned version; false when the session is no longer valid. */
	async function loadForm(keep) {
		const s = st.session;
		let res;
		try {
			res = await fetch(`/api/v1/forms/${encodeURIComponent(s.form_id)}`, {
				headers: { Authorization: `Bearer ${s.token}`, traceparent: traceparent() },
				cache: 'no-store',
				credentials: 'omit',
			});
		} catch (e) {
			fatal('Cannot reach the server to load the form. Check your connection and reload the page.');
			return false;
		}
		if (res.status === 401 || res.status === 404) {
			const p = await problemOf(res);
			forgetSession();
			st.stopped = true;
			setConn('closed', 'session ended');
			fatal(`This session is no longer valid (${p.detail})`);
			offerNewSession();
			return false;
		}
		if (!res.ok) {
			const p = await problemOf(res);
			fatal(`The form could not be loaded: ${p.detail}`);
			return false;
		}
		const body = await res.json();
		st.def = body.definition || { fields: [] };
		st.version = body.version;
		renderForm(st.def, keep);
		ui.version.textContent = String(body.version);
		if (Number.isInteger(body.newer_version) && body.newer_version > body.version)
			banner(`A newer version (${body.newer_version}) of this form is published; you are filling in version ${body.version}.`,
			    'Switch to the new version', () => newSession(`Now on version ${body.newer_version} of the form.`));
		show(ui.intro, false);
		show(ui.formCard, true);
		showDrive();
		return true;
	}

	function offerNewSession() {
		if (!st.session || !UUID_RE.test(st.session.form_id))
			return;
		banner('Start a new session to fill in this form again.', 'Start a new session',
		    () => newSession('A new session was started.'));
	}

	function showDrive() {
		const s = st.session;
		ui.ctx.textContent = s.ctx;
		const fields = (st.def && st.def.fields) || [];
		const target = fields.find((f) => f.type === 'email') || fields.find((f) => f.type !== 'boolean') || fields[0];
		const sel = target ? `#${target.name}` : '#field';
		const value = target && target.type === 'email' ? 'ada@example.com' : 'hello';
		const body = `{"type":"set_field","selector":"${sel}","value":"${value}","nonce":"'"$(date +%s%N)"'"}`;
		ui.curl.textContent = [
			`curl -sk -X POST '${location.origin}/api/v1/contexts/${s.ctx}/commands' \\`,
			'  -H "Authorization: Bearer <API_KEY>" -H "Content-Type: application/json" \\',
			`  -d '${body}'`,
		].join('\n');
		show(ui.drive, true);
	}

	/* ------------------------------------------------------------ commands */

	class Refusal extends Error {}

	function target(selector) {
		if (typeof selector !== 'string' || selector === '')
			throw new Refusal('selector missing');
		let el;
		try {
			/* Only the form's own controls: the page's chrome is not the agent's. */
			el = ui.fields.querySelector(selector);
		} catch (e) {
			throw new Refusal(`invalid selector: ${selector}`);
		}
		if (!el)
			throw new Refusal(`selector not found: ${selector}`);
		if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement))
			throw new Refusal(`not a form field: ${selector}`);
		return el;
	}

	function setField(el, value) {
		if (value === undefined || value === null)
			throw new Refusal('value missing');
		if (el.type === 'checkbox') {
			if (value === true || value === 'true')
				el.checked = true;
			else if (value === false || value === 'false')
				el.checked = false;
			else
				throw new Refusal('a checkbox takes true or false');
		} else if (el instanceof HTMLSelectElement) {
			const v = String(value);
			if (!Array.from(el.options).some((o) => o.value === v))
				throw new Refusal(`not one of the options: ${v}`);
			el.value = v;
		} else if (el.type === 'number') {
			const n = typeof value === 'number' ? value : Number(String(value).trim());
			if (String(value).trim() === '' || !Number.isFinite(n))
				throw new Refusal('a number field takes a number');
			el.value = String(n);
		} else {
			if (typeof value === 'object')
				throw new Refusal('value must be a string, number or boolean');
			el.value = String(value);
		}
		el.dispatchEvent(new Event('input', { bubbles: true }));
		el.dispatchEvent(new Event('change', { bubbles: true }));
		flash(el, 'cb-agent-set', 900);
	}

	function flash(el, cls, ms) {
		const prev = st.highlights.get(el);
		if (prev && prev[cls])
			clearTimeout(prev[cls]);
		el.classList.remove(cls);
		void el.offsetWidth;	/* restart the animation */
		el.classList.add(cls);
		const t = setTimeout(() => el.classList.remove(cls), ms);
		st.highlights.set(el, { ...(prev || {}), [cls]: t });
	}

	function showMessage(text) {
		if (typeof text !== 'string' || text === '')
			throw new Refusal('message missing');
		const li = node('li', { class: 'cb-message' });
		const time = node('time', { datetime: new Date().toISOString() },
		    new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
		li.append(time, ' ', node('span', {}, text));
		ui.messages.append(li);
		while (ui.messages.children.length > MAX_MESSAGES)
			ui.messages.firstElementChild.remove();
		show(ui.msgCard, true);
	}

	function apply(m) {
		switch (m.command) {
		case 'set_field':
			setField(target(m.selector), m.value);
			break;
		case 'focus': {
			const el = target(m.selector);
			el.focus({ preventScroll: true });
			el.scrollIntoView({ block: 'center', behavior: 'smooth' });
			break;
		}
		case 'highlight': {
			const el = target(m.selector);
			const row = el.closest('.cb-field') || el;
			flash(row, 'cb-highlight', HIGHLIGHT_MS);
			break;
		}
		case 'show_message':
			showMessage(m.value);
			break;
		default:
			throw new Refusal(`unsupported command: ${String(m.command).slice(0, 40)}`);
		}
	}

	function send(ws, obj) {
		if (ws && ws.readyState === WebSocket.OPEN)
			ws.send(JSON.stringify(obj));
	}

	function onCommand(ws, m) {
		const seq = m.seq;
		if (!Number.isSafeInteger(seq) || seq < 1)
			return;
		if (seq <= lastSeq()) {
			/* Sent again (our receipt was lost): answer, do not apply twice. */
			send(ws, st.receipts.get(seq) || { type: 'receipt', seq, status: 'applied' });
			return;
		}
		let receipt;
		try {
			apply(m);
			receipt = { type: 'receipt', seq, status: 'applied' };
		} catch (e) {
			const why = e instanceof Refusal ? e.message : `error: ${e && e.message ? e.message : e}`;
			receipt = { type: 'receipt', seq, status: 'failed', reason: clip(why, 200) };
		}
		send(ws, receipt);
		setLastSeq(seq);
		st.receipts.set(seq, receipt);
		if (st.receipts.size > 64)
			st.receipts.delete(st.receipts.keys().next().value);
		ui.seq.textContent = `last command #${seq} ${receipt.status}`;
	}

	/* ------------------------------------------------------------ channel */

	function wsURL() {
		const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
		return `${scheme}://${location.host}/ws/ctx/${encodeURIComponent(st.session.ctx)}`;
	}

	function closeSocket() {
		clearTimeout(st.timer);
		st.timer = null;
		st.wsGen++;
		if (st.ws) {
			const ws = st.ws;
			st.ws = null;
			ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
			try { ws.close(1000); } catch (e) { /* already gone */ }
		}
	}

	/*
	 * After ready: the receipts of the last commands applied up to the
	 * resume position, sent again. A worker that went away after we
	 * applied them may not have stored them; the broker takes each once.
	 */
	function resendReceipts(ws, from) {
		if (!Number.isSafeInteger(from))
			return;
		for (const [seq, receipt] of st.receipts)
			if (seq <= from && seq > from - RESENT_RECEIPTS)
				send(ws, receipt);
	}

	function scheduleReconnect(why) {
		if (st.stopped)
			return;
		clearTimeout(st.timer);
		const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(st.attempt, 10));
		const delay = Math.round(base * (0.8 + Math.random() * 0.4));
		st.attempt++;
		setConn('reconnecting', `${why}; reconnecting in ${(delay / 1000).toFixed(1)} s (resume after #${lastSeq()})`);
		st.timer = setTimeout(connect, delay);
	}

	function connect() {
		closeSocket();
		if (st.stopped || !st.session)
			return;
		const gen = st.wsGen;
		let ws;
		try {
			ws = new WebSocket(wsURL(), PROTOCOL);
		} catch (e) {
			scheduleReconnect('cannot open the channel');
			return;
		}
		st.ws = ws;
		st.lastRx = Date.now();
		setConn('connecting', st.attempt ? `reconnecting (resume after #${lastSeq()})` : 'connecting…');
		ws.onopen = () => {
			if (gen !== st.wsGen)
				return;
			st.lastRx = Date.now();
			setConn('authenticating', 'authenticating…');
			send(ws, { type: 'auth', token: st.session.token, last_seq: lastSeq() });
		};
		ws.onmessage = (ev) => {
			if (gen !== st.wsGen)
				return;
			st.lastRx = Date.now();
			let m;
			try { m = JSON.parse(ev.data); } catch (e) { return; }
			if (!m || typeof m !== 'object')
				return;
			switch (m.type) {
			case 'ready':
				st.attempt = 0;
				resendReceipts(ws, m.resume_from);
				setConn('live', m.resume_from > 0 ? `live · resumed after #${m.resume_from}` : 'live');
				break;
			case 'command':
				onCommand(ws, m);
				break;
			case 'resync':
				st.resync = m;
				break;
			case 'error':
				if (m.code === 'unauthorized')
					st.stopped = true;
				break;
			default:
				break;	/* pong and anything newer */
			}
		};
		ws.onerror = () => { /* onclose follows with the details */ };
		ws.onclose = (ev) => {
			if (gen !== st.wsGen)
				return;
			st.ws = null;
			if (st.resync || ev.code === 4009) {
				const r = st.resync || {};
				st.resync = null;
				handleResync(r);
				return;
			}
			if (ev.code === 4401 || st.stopped) {
				st.stopped = true;
				setConn('closed', 'session ended');
				fatal('The broker no longer accepts this tab\'s session (it expired or was revoked).');
				offerNewSession();
				return;
			}
			scheduleReconnect(ev.code === 1000 || ev.code === 1001 ? 'channel closed' : `channel dropped (${ev.code})`);
		};
	}

	/*
	 * The broker cannot serve our position: the commands in between are gone
	 * (or we are ahead of the context). Reload the form's state from the
	 * server, restart from the context's newest seq and say so: never a
	 * silent skip.
	 */
	async function handleResync(r) {
		setConn('reconnecting', 'resynchronising…');
		const newest = Number.isSafeInteger(r.last_seq) && r.last_seq >= 0 ? r.last_seq : 0;
		if (!(await loadForm(true)))
			return;
		setLastSeq(newest);
		st.receipts.clear();
		banner(r.reason === 'position_ahead'
		    ? 'This tab was ahead of the broker; the form was reloaded and the channel restarted.'
		    : 'Some of the assistant\'s earlier actions could no longer be replayed; the form was reloaded. Please check the fields.');
		st.attempt = 0;
		connect();
	}

	function watchdog() {
		if (!st.ws || st.ws.readyState !== WebSocket.OPEN)
			return;
		const idle = Date.now() - st.lastRx;
		if (idle > DEAD_AFTER_MS) {
			closeSocket();
			scheduleReconnect('channel silent');
		} else if (idle > PING_AFTER_MS) {
			send(st.ws, { type: 'ping' });
		}
	}

	/* ------------------------------------------------------------ submit */

	function collect() {
		const data = {};
		for (const f of (st.def && st.def.fields) || []) {
			const el = ui.fields.querySelector(`#${CSS.escape(f.name)}`);
			if (!el)
				continue;
			if (f.type === 'boolean') {
				data[f.name] = el.checked;
			} else if (f.type === 'integer' || f.type === 'number') {
				if (el.value.trim() !== '')
					data[f.name] = Number(el.value);
			} else if (el.value !== '') {
				data[f.name] = el.value;
			}
		}
		return data;
	}

	function setResult(state, text, extra) {
		ui.result.dataset.state = state;
		ui.result.replaceChildren();
		if (text)
			ui.result.append(node('span', {}, text));
		if (extra)
			ui.result.append(' ', extra);
	}

	function clearFieldErrors() {
		for (const e of ui.fields.querySelectorAll('.cb-field-error')) {
			e.textContent = '';
			e.hidden = true;
		}
		for (const e of ui.fields.querySelectorAll('[aria-invalid]'))
			e.removeAttribute('aria-invalid');
	}

	function markField(name, text) {
		const el = ui.fields.querySelector(`#${CSS.escape(name)}`);
		const msg = $(`${name}-error-msg`);
		if (!el || !msg)
			return false;
		el.setAttribute('aria-invalid', 'true');
		msg.textContent = text;
		msg.hidden = false;
		el.focus();
		return true;
	}

	/* Browser-side checks first (the server checks again). */
	function checkLocally() {
		clearFieldErrors();
		let first = null;
		for (const el of ui.fields.querySelectorAll('input, select, textarea')) {
			if (el.checkValidity())
				continue;
			el.setAttribute('aria-invalid', 'true');
			const msg = $(`${el.name}-error-msg`);
			if (msg) {
				msg.textContent = el.validationMessage;
				msg.hidden = false;
			}
			first = first || el;
		}
		if (first)
			first.focus();
		return first === null;
	}

	function retryDelay(res, tries) {
		const ra = res && res.headers.get('Retry-After');
		if (ra) {
			let s = Number(ra);
			if (!Number.isFinite(s)) {
				const when = Date.parse(ra);
				s = Number.isFinite(when) ? (when - Date.now()) / 1000 : NaN;
			}
			if (Number.isFinite(s))
				return Math.min(RETRY_AFTER_CAP_S, Math.max(0, s)) * 1000;
		}
		return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** tries);
	}

	function problemLink(p) {
		if (typeof p.type !== 'string' || !/^\/problems\/[a-z0-9-]{1,64}$/.test(p.type))
			return null;
		/* nginx serves web/problems/<slug>.html at the type URI itself. */
		return node('a', { href: p.type, target: '_blank', rel: 'noopener' }, 'What does this mean?');
	}

	async function submit(ev) {
		ev.preventDefault();
		if (st.submitting || !st.session)
			return;
		if (!checkLocally()) {
			setResult('error', 'Please correct the highlighted fields.');
			return;
		}
		const s = st.session;
		const body = JSON.stringify({ data: collect() });
		/* One key per attempt, the same on every retry of this attempt. */
		const key = uuid();
		st.submitting = true;
		ui.submit.disabled = true;
		ui.result.dataset.key = key;
		/* One trace for the submission and its retries: greppable end to end. */
		const traceId = randomHex(16);
		ui.result.dataset.trace = traceId;
		setResult('busy', 'Sending…');
		try {
			for (let tries = 1; ; tries++) {
				let res = null;
				try {
					res = await fetch(`/api/v1/forms/${encodeURIComponent(s.form_id)}/submit`, {
						method: 'POST',
						headers: {
							Authorization: `Bearer ${s.token}`,
							'Content-Type': 'application/json',
							'Idempotency-Key': `"${key}"`,
							traceparent: traceparent(traceId),
						},
						body,
						cache: 'no-store',
						credentials: 'omit',
					});
				} catch (e) {
					res = null;	/* network error: the outcome is unknown, retry with the key */
				}
				if (res && res.ok) {
					const r = await res.json().catch(() => ({}));
					const id = node('code', { id: 'cb-submission-id' }, String(r.submission_id || ''));
					const span = node('span', {}, res.status === 202
					    ? 'Received; it is being processed. Submission id: '
					    : 'Thank you, your form was submitted. Submission id: ');
					span.append(id);
					setResult('success', '', span);
					return;
				}
				const p = res ? await problemOf(res) : null;
				const inflight = res && res.status === 409 && /idempotency-key-in-flight$/.test(p.type || '');
				const retriable = !res || inflight || [429, 502, 503, 504].includes(res.status);
				if (retriable && tries < SUBMIT_MAX_TRIES) {
					const wait = retryDelay(res, tries);
					setResult('busy', `${res ? 'The service is busy' : 'Network error'}; retrying in ${Math.ceil(wait / 1000)} s (attempt ${tries + 1} of ${SUBMIT_MAX_TRIES})…`);
					await sleep(wait);
					continue;
				}
				if (!res) {
					setResult('error', 'The form could not be sent (network error). Your data is still here: try again.');
					return;
				}
				if (res.status === 409 && /duplicate-submission$/.test(p.type || '')) {
					/* The same answers were already accepted: show that submission. */
					const id = node('code', { id: 'cb-submission-id' }, String(p.submission_id || ''));
					const span = node('span', { class: 'cb-duplicate' },
					    'This form was already submitted with these answers; nothing new was sent. Submission id: ');
					span.append(id);
					setResult('success', '', span);
					return;
				}
				if (res.status === 409 && /form-version-stale$/.test(p.type || '')) {
					const btn = node('button', { type: 'button', class: 'cb-linkbtn' }, 'Reload the form');
					btn.onclick = () => newSession('The form was reloaded with its newest version; please check your answers and submit again.');
					setResult('error', p.detail, btn);
					return;
				}
				if (res.status === 401) {
					setResult('error', `${p.detail} Start a new session to submit.`);
					offerNewSession();
					return;
				}
				if (typeof p.field === 'string' && p.field.startsWith('data.'))
					markField(p.field.slice(5), p.detail);
				setResult('error', p.detail, problemLink(p));
				return;
			}
		} finally {
			st.submitting = false;
			ui.submit.disabled = false;
		}
	}

	/* ------------------------------------------------------------ copy */

	async function copyCurl() {
		const text = ui.curl.textContent;
		try {
			await navigator.clipboard.writeText(text);
			ui.copyStatus.textContent = 'Copied.';
		} catch (e) {
			const r = document.createRange();
			r.selectNodeContents(ui.curl);
			const sel = window.getSelection();
			sel.removeAllRanges();
			sel.addRange(r);
			ui.copyStatus.textContent = 'Selected: press Ctrl+C to copy.';
		}
		setTimeout(() => { ui.copyStatus.textContent = ''; }, 4000);
	}

	/* ------------------------------------------------------------ start */

	async function boot() {
		ui.form.addEventListener('submit', submit);
		ui.copy.addEventListener('click', copyCurl);
		ui.fields.addEventListener('input', (e) => {
			if (e.target.getAttribute && e.target.getAttribute('aria-invalid')) {
				e.target.removeAttribute('aria-invalid');
				const msg = $(`${e.target.name}-error-msg`);
				if (msg)
					msg.hidden = true;
			}
		});

		const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
		const query = new URLSearchParams(location.search);
		const formParam = query.get('form') || frag.get('form');
		if (formParam !== null && !UUID_RE.test(formParam)) {
			fatal('The form id in this address is not valid.');
			return;
		}
		let s = null;
		if (frag.has('ctx') || frag.has('token')) {
			/* Take the context, then drop the token from the address bar and history. */
			history.replaceState(null, '', location.pathname + location.search);
			const ctx = frag.get('ctx') || '', token = frag.get('token') || '';
			const prev = storedSession();
			const formId = formParam || (prev && prev.ctx === ctx ? prev.form_id : null);
			if (!UUID_RE.test(ctx) || !TOKEN_RE.test(token)) {
				fatal('The link is damaged: its context or token is not valid.');
				return;
			}
			if (!formId) {
				fatal('The link names a context but not its form: add ?form=<form id>.');
				return;
			}
			s = { ctx, token, form_id: formId };
		} else {
			const prev = storedSession();
			if (prev && (!formParam || prev.form_id === formParam))
				s = prev;	/* a reload: resume this tab's context */
		}
		if (!s && formParam) {
			try {
				s = await openContext(formParam);
			} catch (e) {
				fatal(e.message);
				return;
			}
		}
		if (!s) {
			show(ui.intro, true);
			return;
		}
		saveSession(s);
		if (!(await loadForm(false)))
			return;
		connect();
		setInterval(watchdog, 5000);
		window.addEventListener('online', () => {
			if (!st.ws && !st.stopped) {
				st.attempt = 0;
				connect();
			}
		});
	}

	boot().catch((e) => fatal(`Something went wrong: ${e && e.message ? e.message : e}`));
})();
