// Values in words: dates and times in Lima, names, identity documents, codes.

import { locale, t, lookup } from './i18n.js';
import { SYSTEMS } from './fhir.js';

/** Every time is shown in Lima's time (UTC−5, no daylight saving). */
export const ZONE = 'America/Lima';

/** @type {Map<string, Intl.DateTimeFormat>} */
const formats = new Map();

/**
 * A formatter for the current language, in Lima's time zone unless `utc`.
 * @param {Intl.DateTimeFormatOptions} options
 * @param {boolean} [utc] for calendar dates, which have no time zone
 */
function formatter(options, utc = false) {
  const key = `${locale()}|${utc}|${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale(), { ...options, timeZone: utc ? 'UTC' : ZONE });
    formats.set(key, f);
  }
  return f;
}

/**
 * A FHIR instant or dateTime as date and time in Lima; a calendar date (or year, or
 * month) as a date. Empty for nothing; the text itself if it is not a date.
 * @param {string | undefined} value
 */
export function dateTime(value) {
  if (!value) return '';
  if (!value.includes('T')) return date(value);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : formatter({ dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' }).format(d);
}

/**
 * A date: a calendar date as written (never shifted by a time zone), or the Lima date
 * of a dateTime.
 * @param {string | undefined} value
 */
export function date(value) {
  if (!value) return '';
  if (value.includes('T')) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? value : formatter({ dateStyle: 'medium' }).format(d);
  }
  const [y, m, day] = value.split('-').map(Number);
  if (!y) return value;
  if (!m) return String(y);
  const d = new Date(Date.UTC(y, m - 1, day || 1));
  return day ? formatter({ dateStyle: 'medium' }, true).format(d) : formatter({ year: 'numeric', month: 'long' }, true).format(d);
}

/**
 * The hour and minute in Lima of an epoch-milliseconds time.
 * @param {number} ms
 */
export function time(ms) {
  return formatter({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

/** @returns {string} today's date in Lima, as YYYY-MM-DD. */
export function todayInLima() {
  return limaDate(new Date());
}

/**
 * The Lima calendar date of an instant, as YYYY-MM-DD.
 * @param {Date} d
 */
export function limaDate(d) {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

/**
 * Adds days to a YYYY-MM-DD date.
 * @param {string} ymd
 * @param {number} days
 */
export function addDays(ymd, days) {
  const d = new Date(`${ymd}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * Age in whole years on today's Lima date, from a birth date; undefined if unknown.
 * @param {string | undefined} birthDate
 */
export function age(birthDate) {
  if (!birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) return undefined;
  const [by, bm, bd] = birthDate.split('-').map(Number);
  const [ty, tm, td] = todayInLima().split('-').map(Number);
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

/**
 * A birth date with the age: "14 mar 1985 (41 años)".
 * @param {string | undefined} birthDate
 */
export function birth(birthDate) {
  if (!birthDate) return t('value.unknown');
  const years = age(birthDate);
  return years === undefined ? date(birthDate) : `${date(birthDate)} (${t(years === 1 ? 'age.one' : 'age.other', { n: years })})`;
}

/**
 * A person's name: the official one if there is one, given names then family names.
 * @param {import('./fhir.js').HumanName[] | undefined} names
 */
export function personName(names) {
  const n = names?.find((x) => x.use === 'official') ?? names?.[0];
  if (!n) return t('value.noName');
  if (n.text) return n.text;
  return [...(n.given ?? []), n.family ?? ''].join(' ').trim() || t('value.noName');
}

/**
 * A patient's identity document in words ("DNI 45678912"; the country when not Peru).
 * @param {import('./fhir.js').Identifier[] | undefined} identifiers
 */
export function identityDocument(identifiers) {
  const id = identifiers?.find((i) => i.type?.coding?.some((c) => c.system === SYSTEMS.idsPersona));
  if (!id) return t('value.noDocument');
  const code = id.type?.coding?.find((c) => c.system === SYSTEMS.idsPersona)?.code ?? '';
  const country = id.type?.extension?.find((e) => e.url === SYSTEMS.pais)?.valueCodeableConcept?.coding?.[0]?.code;
  const kind = lookup('idKind', code) ?? code;
  return `${kind} ${id.value ?? ''}${country && country !== 'PER' ? ` (${country})` : ''}`;
}

/**
 * Administrative sex in words.
 * @param {string | undefined} gender
 */
export function gender(gender) {
  return (gender && lookup('gender', gender)) ?? t('value.unknown');
}

/**
 * A coded concept in words: its text, else a coding's display (translated for the
 * document kinds the app knows), else the code.
 * @param {import('./fhir.js').CodeableConcept | undefined} cc
 */
export function concept(cc) {
  if (!cc) return '';
  if (cc.text) return cc.text;
  for (const c of cc.coding ?? []) {
    const known = c.system === 'http://loinc.org' && c.code ? lookup('loinc', c.code) : undefined;
    if (known) return known;
  }
  const c = cc.coding?.find((x) => x.display) ?? cc.coding?.[0];
  return c?.display ?? c?.code ?? '';
}

/**
 * A coding in words (as a concept of one coding).
 * @param {import('./fhir.js').Coding | undefined} c
 */
export function coding(c) {
  return c ? concept({ coding: [c] }) : '';
}

/**
 * A number in the current language.
 * @param {number} n
 */
export function number(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

/**
 * A clinical or record status in words (active, resolved, …), else the code.
 * @param {string} code
 */
export function lookupStatus(code) {
  return lookup('status', code) ?? code;
}

/**
 * An allergy's criticality in words (low, high, unable-to-assess).
 * @param {string} code
 */
export function lookupCriticality(code) {
  return lookup('criticality', code) ?? code;
}
