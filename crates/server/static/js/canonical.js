// Reproduces the server's canonical JSON bytes of an audit entry in the browser, exactly
// (crates/core/src/audit/canonical.rs): keys sorted by Unicode code point at every depth, no
// whitespace, strings with only `"`, `\` and U+0000–U+001F escaped (\b \f \n \r \t, others
// \u00xx lowercase), numbers exactly as serde_json printed them. JSON.parse would lose the
// number text (1.0 → 1, big integers rounded), so responses are parsed here by a small parser
// that keeps every number's original lexeme.

export class Num {
  constructor(raw) { this.raw = raw; }
  valueOf() { return Number(this.raw); }
  toString() { return this.raw; }
}

/** Parses JSON text keeping number lexemes (as Num) and objects as Maps (insertion order). */
export function parseLossless(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (m) => { throw new SyntaxError(`${m} at offset ${i}`); };
  function value() {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const m = new Map(); ws();
      if (text[i] === '}') { i++; return m; }
      for (;;) {
        ws(); if (text[i] !== '"') fail('expected key');
        const k = str(); ws();
        if (text[i] !== ':') fail('expected :'); i++;
        m.set(k, value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return m; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('unexpected character');
    i += m[0].length;
    return new Num(m[0]);
  }
  function str() {
    // Find the closing quote, honouring escapes, then let JSON.parse decode the string.
    const start = i; i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  }
  const v = value(); ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/** A lossless value as plain JS (numbers become Numbers) for display. */
export function toPlain(v) {
  if (v instanceof Num) return Number(v.raw);
  if (v instanceof Map) { const o = {}; for (const [k, x] of v) o[k] = toPlain(x); return o; }
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

/** Compares two strings by Unicode code point (= UTF-8 byte order), like Rust's str ordering. */
export function cmpCodePoints(a, b) {
  const x = Array.from(a); const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let k = 0; k < n; k++) {
    const d = x[k].codePointAt(0) - y[k].codePointAt(0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function escapeString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c < 0x20) out += '\\u00' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** The canonical text of a lossless value. */
export function canonical(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (v instanceof Num) return v.raw;
  if (typeof v === 'string') return escapeString(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(cmpCodePoints);
    return '{' + keys.map((k) => escapeString(k) + ':' + canonical(v.get(k))).join(',') + '}';
  }
  if (typeof v === 'number') return String(v);
  throw new TypeError('not a JSON value');
}

export function canonicalBytes(v) {
  return new TextEncoder().encode(canonical(v));
}
