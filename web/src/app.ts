// What every dashboard view gets from the shell, and what it gives back.
// Owns: the view contract only.

export type Role = 'read' | 'operator' | 'admin';

export interface App {
  /** A short message in the corner (and read out by screen readers). */
  notify(message: string, kind?: 'ok' | 'error' | 'info'): void;
  /** The signed-in token's role when the API says; null when it does not (then actions are offered and 403 explains). */
  role(): Role | null;
  /** A view changed something (admin state, rollback…): the header's status line is refreshed at once. */
  changed(): void;
  /** Switch tab, e.g. to Explain with the form filled in. */
  go(tab: string, params?: Record<string, string>): void;
}

export interface ViewInstance {
  /** Fetch and redraw; called at once and then every `every` ms while the tab is shown and the page is visible. */
  refresh?(): Promise<void>;
  every?: number;
  dispose?(): void;
}

export type ViewFactory = (root: HTMLElement, app: App, params: URLSearchParams) => ViewInstance;

export function canOperate(app: App): boolean {
  const r = app.role();
  return r === null || r === 'operator' || r === 'admin';
}

/** Configuration writes (zones, records, pools, members, rollback) need an admin token. */
export function canAdmin(app: App): boolean {
  const r = app.role();
  return r === null || r === 'admin';
}
