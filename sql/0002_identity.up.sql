-- 0002_identity: users and roles, rotating refresh tokens, signing keys for
-- our JWTs, the data keys of the seal keyring, the sealed Salesforce token
-- cache, and sealed columns for personal data.

-- Data keys of the seal keyring, wrapped under the root key (lib/seal.h).
-- Exactly one key per purpose is current (used for new seals); the others
-- stay loadable until no row is sealed under them.
CREATE TABLE data_keys (
	purpose		text NOT NULL CHECK (purpose IN ('tokens', 'pii')),
	id		integer NOT NULL CHECK (id > 0),
	wrapped		bytea NOT NULL,
	state		text NOT NULL DEFAULT 'active' CHECK (state IN ('current', 'active', 'retired')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (purpose, id)
);
CREATE UNIQUE INDEX data_keys_one_current ON data_keys (purpose) WHERE state = 'current';

-- People.  The email is personal data: sealed, with a keyed hash (blind
-- index) to find the account at login.  Passwords: argon2id strings.
CREATE TABLE users (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	email_hash	bytea NOT NULL UNIQUE,
	email_sealed	text NOT NULL,
	password_hash	text NOT NULL,
	role		text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	password_changed_at timestamptz NOT NULL DEFAULT now(),
	disabled_at	timestamptz
);
CREATE INDEX users_org ON users (org_id);

-- Refresh tokens: only a hash is stored; each refresh supersedes the token
-- and issues a child in the same family; reuse of a superseded token
-- revokes the family (CONTRACTS §7.3).  Metadata (client, address) sealed.
CREATE TABLE refresh_tokens (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	org_id		bigint NOT NULL REFERENCES orgs(id),
	user_id		uuid NOT NULL REFERENCES users(id),
	family_id	uuid NOT NULL,
	parent_id	uuid REFERENCES refresh_tokens(id),
	token_hash	bytea NOT NULL UNIQUE,
	meta_sealed	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	idle_expires_at	timestamptz NOT NULL,
	superseded_at	timestamptz,
	revoked_at	timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Ed25519 signing keys for access tokens.  next -> active -> retiring ->
-- retired; the JWKS publishes next, active and retiring.
CREATE TABLE signing_keys (
	kid		text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._-]{1,63}$'),
	state		text NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
	public_key	bytea NOT NULL CHECK (length(public_key) = 32),
	private_sealed	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	activated_at	timestamptz,
	retiring_at	timestamptz,
	retire_after	timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

-- The Salesforce access token cache, sealed (tokens purpose).
CREATE TABLE sf_tokens (
	name		text PRIMARY KEY,
	instance_url	text NOT NULL,
	token_sealed	text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

-- Personal data at rest: submission data and the outbox's field map sealed.
ALTER TABLE submissions ADD COLUMN data_sealed text;
ALTER TABLE submissions ALTER COLUMN data DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN payload_sealed text;
