/**
 * The few DOM helpers the page needs. Text always goes in through `textContent`: the page never
 * parses strings as HTML (its Content-Security-Policy requires Trusted Types, so it could not).
 */

/** The element with `id`, which the page's HTML is known to contain. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

/** Attributes and properties of {@link h}. */
type Props = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Creates an element: `h('li', { class: 'row' }, 'text', child)`. Props become attributes
 * (`false` and `undefined` are left out, `true` is an empty attribute); strings become text.
 */
export function h(tag: string, props: Props = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children);
  return node;
}

/** Shows or hides an element (the `hidden` attribute). */
export function show(node: HTMLElement, visible: boolean): void {
  node.hidden = !visible;
}

/**
 * Keeps the frame around `photo` (its parent) as wide as the photo's aspect ratio allows within
 * 60 % of the screen's height (the stylesheet's `--ratio`), so that small photos fill their
 * column instead of leaving it empty.
 */
export function fitFrame(photo: HTMLImageElement): void {
  photo.addEventListener('load', () => {
    if (photo.naturalWidth > 0 && photo.naturalHeight > 0) photo.parentElement?.style.setProperty('--ratio', String(photo.naturalWidth / photo.naturalHeight));
  });
}
