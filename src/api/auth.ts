// API authentication and roles (SPEC C4): `Authorization: Bearer wm_…` tokens with a role, stored only as SHA-256
// hex in the store; an optional bootstrap admin token from the environment for a fresh install.
// Owns: token format, hashing, role order and the decision "who is this and may they". Never stores a token in clear
// and never logs one.
import crypto from 'node:crypto';
import { StoreError, type TokenRecord } from '../state/store.js';
import type { StateStore } from '../state/async.js';

export type Role = TokenRecord['role'];
export const ROLES: readonly Role[] = ['read', 'operator', 'admin'];

/** The environment variable whose value, when set at start, is accepted as an admin token. */
export const BOOTSTRAP_ENV = 'WAYMARK_BOOTSTRAP_TOKEN';
export const BOOTSTRAP_ACTOR = 'bootstrap';
const TOKEN_PREFIX = 'wm_';

/** Who made a request: the token's name (what the audit log records) and its role. */
export interface Actor { name: string; role: Role; tokenId: number | null; origin: string }

export type AuthResult = { ok: true; actor: Actor } | { ok: false; status: 401; message: string };

/** read < operator < admin. */
export function roleAllows(has: Role, needs: Role): boolean {
  return ROLES.indexOf(has) >= ROLES.indexOf(needs);
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (32 bytes, base64url, prefixed `wm_`) and the hash to store. The token is shown once. */
export function newToken(): { token: string; hash: string } {
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

/** Reads the bearer token of a request and finds who it belongs to. */
export class Authenticator {
  private readonly bootstrapHash: Buffer | null;

  constructor(private readonly store: Pick<StateStore, 'tokenByHash'>, bootstrapToken: string | undefined) {
    this.bootstrapHash = bootstrapToken ? Buffer.from(hashToken(bootstrapToken), 'hex') : null;
  }

  /** Tokens as last read, by hash: used only while the store cannot be reached (a revocation reaches us once it can). */
  private readonly known = new Map<string, TokenRecord | null>();

  private async lookup(hash: string): Promise<TokenRecord | null> {
    try {
      const t = await this.store.tokenByHash(hash);
      if (this.known.size >= 10_000 && !this.known.has(hash)) this.known.delete(this.known.keys().next().value!);
      this.known.set(hash, t);
      return t;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'STORE_UNAVAILABLE' && this.known.has(hash)) return this.known.get(hash)!;
      throw e;
    }
  }

  get hasBootstrap(): boolean {
    return this.bootstrapHash !== null;
  }

  /** `origin` says where the request came from (`api 127.0.0.1`), for the audit log. */
  async authenticate(authorization: string | undefined, origin = 'api'): Promise<AuthResult> {
    if (!authorization) return { ok: false, status: 401, message: 'authentication required: send Authorization: Bearer <token>' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return { ok: false, status: 401, message: 'the Authorization header must be "Bearer <token>"' };
    const hash = hashToken(m[1]!);
    if (this.bootstrapHash && crypto.timingSafeEqual(this.bootstrapHash, Buffer.from(hash, 'hex'))) {
      return { ok: true, actor: { name: BOOTSTRAP_ACTOR, role: 'admin', tokenId: null, origin } };
    }
    // Only the hash reaches the database, so lookup timing reveals nothing useful about a valid token.
    const t = await this.lookup(hash);
    if (!t) return { ok: false, status: 401, message: 'unknown token' };
    if (t.revokedAt !== null) return { ok: false, status: 401, message: 'this token was revoked' };
    return { ok: true, actor: { name: t.name, role: t.role, tokenId: t.id, origin } };
  }
}
