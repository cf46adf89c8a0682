// The signed-out home: what the registry is, and the two ways in.

import { h, append } from './dom.js';
import { t } from './i18n.js';
import * as auth from './auth.js';

/**
 * Renders the home page for someone not signed in.
 * @param {HTMLElement} main
 * @param {{notice?: string, error?: boolean, returnTo?: string}} state a message to show
 *   (why the session ended, a failed sign-in) and the route to return to after signing in
 */
export function render(main, state) {
  const status = h('p', { class: 'status', role: 'status' });
  /**
   * @param {auth.SignInKind} kind
   * @param {HTMLButtonElement} button
   */
  const go = async (kind, button) => {
    button.disabled = true;
    status.textContent = t('home.redirecting');
    try {
      await auth.signIn(kind, state.returnTo);
    } catch (e) {
      status.textContent = '';
      error.textContent = e instanceof Error ? e.message : String(e);
      error.hidden = false;
      button.disabled = false;
    }
  };
  const error = h('p', { class: 'alert error', role: 'alert', hidden: true });
  /**
   * @param {auth.SignInKind} kind
   * @param {string} title
   * @param {string} who
   */
  const choice = (kind, title, who) => {
    const button = h('button', { type: 'button', class: 'choice', on: { click: () => go(kind, button) } }, h('span', { class: 'choice-title', text: title }), h('span', { class: 'choice-who', text: who }));
    return h('li', {}, button);
  };
  append(main, [
    h('h1', { tabindex: '-1', text: t('home.title') }),
    h('p', { class: 'lead', text: t('home.purpose') }),
    state.notice ? h('p', { class: state.error ? 'alert error' : 'alert info', role: state.error ? 'alert' : 'status', text: state.notice }) : null,
    error,
    h(
      'section',
      { 'aria-labelledby': 'signin-h' },
      h('h2', { id: 'signin-h', text: t('home.signIn') }),
      h('ul', { class: 'choices' }, choice('professional', t('home.professional'), t('home.professionalWho')), choice('patient', t('home.patient'), t('home.patientWho'))),
      status,
    ),
    h(
      'section',
      { 'aria-labelledby': 'about-h' },
      h('h2', { id: 'about-h', text: t('home.aboutTitle') }),
      h('ul', { class: 'facts' }, h('li', { text: t('home.fact1') }), h('li', { text: t('home.fact2') }), h('li', { text: t('home.fact3') })),
    ),
  ]);
}
