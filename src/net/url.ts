// URLs that may carry a password (store.postgres): how they are shown in logs, errors and replies. Owns: redaction.

/** The URL as it may be shown: without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** A configuration value as an error may show it: a URL's password replaced by *** (anything else as it is). */
export function redactValue(v: unknown): unknown {
  return typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(v) ? redactUrl(v) : v;
}
