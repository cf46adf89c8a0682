// Building the DOM without innerHTML: every text goes in through textContent or an
// attribute, so data from the registry can never become markup (and the strict CSP
// forbids inline styles and scripts anyway).

/** @typedef {string | number | Node | null | undefined | false} Child */
/** @typedef {Child | Child[] | Child[][]} Children */

// Set as properties rather than attributes: their attribute only sets the default.
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'required', 'selected', 'open']);

/**
 * Creates an element. `props`: `class`, `text`, `on` (event listeners by name), the
 * properties above, and any other attribute (`false`, `null` and `undefined` omit it).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [props]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'on') {
      for (const [type, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (value))) {
        el.addEventListener(type, fn);
      }
    } else if (PROPERTIES.has(key)) {
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Appends children (strings become text nodes; empty values are skipped).
 * @param {Node} parent
 * @param {Children[]} children
 */
export function append(parent, children) {
  for (const child of children.flat(2)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces all children of `parent`.
 * @param {Node} parent
 * @param {...Children} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

let ids = 0;

/**
 * A document-unique id, for `for`/`aria-describedby` pairs.
 * @param {string} prefix
 */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * A labelled form field: label, control, optional hint and an error slot, tied together
 * with `for`, `aria-describedby` and `aria-invalid`.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint]
 * @returns {{row: HTMLElement, setError: (message: string) => void}}
 */
export function field(label, control, hint) {
  control.id ||= uid('f');
  const hintEl = hint ? h('p', { class: 'hint', id: uid('hint'), text: hint }) : null;
  const errorEl = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const described = [hintEl?.id, errorEl.id].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  const row = h('div', { class: 'field' }, h('label', { for: control.id, text: label }), hintEl, control, errorEl);
  return {
    row,
    setError(message) {
      errorEl.textContent = message;
      errorEl.hidden = !message;
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
  };
}

/**
 * A modal dialog (native `<dialog>`: focus stays inside, Escape closes it) whose
 * content is built by `build`, which gets a `close` function. Focus returns to the
 * element that had it. Resolves with what `close` was called with.
 * @template T
 * @param {string} title
 * @param {(close: (value: T) => void, titleId: string) => Children} build
 * @param {T} dismissed what Escape or the backdrop answers
 * @returns {Promise<T>}
 */
export function modal(title, build, dismissed) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  const titleId = uid('dlg');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
  return new Promise((resolve) => {
    let result = dismissed;
    /** @param {T} value */
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      // The page may have been drawn again meanwhile (emergency access started): then
      // focus goes to its heading rather than nowhere.
      if (opener?.isConnected) opener.focus();
      else /** @type {HTMLElement | null} */ (document.querySelector('main h1'))?.focus();
      resolve(result);
    });
    append(dialog, [h('h2', { id: titleId, text: title }), build(close, titleId)]);
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/**
 * Asks a yes/no question in a modal dialog.
 * @param {string} title
 * @param {string} message
 * @param {string} yes the confirming button's label
 * @param {string} no the cancelling button's label
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, message, yes, no) {
  return modal(
    title,
    (close) => [
      h('p', { text: message }),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', text: no, on: { click: () => close(false) } }),
        h('button', { type: 'button', class: 'danger', text: yes, on: { click: () => close(true) } }),
      ),
    ],
    false,
  );
}
