// DOM building for the dashboard: `h()` makes elements (text is always set as text, never parsed as HTML), and
// `patch()` brings a live subtree in line with a freshly built one without replacing nodes that did not change, so
// a view can be rebuilt every refresh while focus, hover and a click in progress survive.
// Owns: element creation and reconciliation. Knows nothing about Waymark.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export interface Props {
  [attr: string]: AttrValue | ((ev: Event) => void) | undefined;
}

/** An element with attributes (`on*` functions become listeners; false/null/undefined attributes are left out). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (charts). */
export function s(tag: string, attrs: Record<string, AttrValue> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== false && v !== null && v !== undefined) el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Replace the children of `parent` with `children`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * replace(), and the element that had the focus gets it back when it is among the new children (a filter box kept
 * across redraws while someone types in it; its text and caret are the element's own and survive the move).
 */
export function replaceKeepingFocus(parent: Element, ...children: Child[]): void {
  const focused = document.activeElement;
  replace(parent, ...children);
  if (focused instanceof HTMLElement && focused !== document.activeElement && parent.contains(focused)) focused.focus();
}

/**
 * Make `live`'s children look like `fresh`'s: same-tag nodes are kept and their attributes and text updated,
 * others are replaced. Listeners attached with `h()` are NOT carried over to kept nodes, so patched views use
 * delegated handlers (a data-action attribute read by one listener on a container).
 */
export function patch(live: Element, fresh: Element): void {
  const a = live.childNodes;
  const b = Array.from(fresh.childNodes);
  for (let i = 0; i < b.length; i++) {
    const next = b[i]!;
    const cur = a[i];
    if (!cur) { live.appendChild(next); continue; }
    if (cur.nodeType !== next.nodeType || cur.nodeName !== next.nodeName) { live.replaceChild(next, cur); continue; }
    if (cur.nodeType === Node.TEXT_NODE) {
      if (cur.nodeValue !== next.nodeValue) cur.nodeValue = next.nodeValue;
      continue;
    }
    const ce = cur as Element;
    const ne = next as Element;
    // `open` on <details> belongs to the user (they unfolded it); a refresh must not fold it again.
    for (const attr of Array.from(ce.attributes)) if (!ne.hasAttribute(attr.name) && attr.name !== 'open') ce.removeAttribute(attr.name);
    for (const attr of Array.from(ne.attributes)) if (ce.getAttribute(attr.name) !== attr.value) ce.setAttribute(attr.name, attr.value);
    patch(ce, ne);
  }
  while (a.length > b.length) live.removeChild(live.lastChild!);
}
