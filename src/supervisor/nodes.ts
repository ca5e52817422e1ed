// The nodes of a cluster as operators see them (GET /v1/nodes, `waymark nodes`): each node's last heartbeat, how far
// behind the feed it is, and whether it is gone. Owns: those rules. Nothing waits on a gone node: this is a view.
import type { NodeRecord } from '../state/store.js';
import type { NodeView } from './handle.js';

/** How often a node reports itself (GET /v1/nodes); one silent for NODE_GONE_MS is shown as gone. */
export const HEARTBEAT_MS = 1000;
export const NODE_GONE_MS = 5000;

/** The nodes as the store last heard from them, as GET /v1/nodes shows them. */
export function nodeViews(records: NodeRecord[], self: string, head: number): NodeView[] {
  const now = Date.now();
  return records.map((n) => ({
    ...n, lag: Math.max(0, head - n.position), age: Math.max(0, Math.round((now - n.seenAt) / 100) / 10),
    state: now - n.seenAt > NODE_GONE_MS ? 'gone' : 'up', self: n.name === self,
  }));
}

