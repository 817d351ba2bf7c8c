// RFC 6962 / RFC 9162 Merkle proofs, checked in the page with WebCrypto SHA-256:
// leaf hash = SHA-256(0x00 ‖ entry bytes), node hash = SHA-256(0x01 ‖ left ‖ right).

import { canonicalBytes } from './canonical.js';

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) throw new Error(`bad hex: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(hex.substr(k * 2, 2), 16);
  return out;
}

export function bytesToHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function b64ToBytes(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export const leafHash = (bytes) => sha256(concat(Uint8Array.of(0), bytes));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

export function eq(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** Leaf hash of an audit entry (a lossless-parsed Map). */
export const entryLeafHash = (entry) => leafHash(canonicalBytes(entry));

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null if the proof is malformed. */
export async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) return null;
  let fn = index; let sn = size - 1; let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  if (size1 > size2) return { ok: false, why: 'old size is larger than new size' };
  if (size1 === size2) return { ok: proof.length === 0 && eq(root1, root2), why: 'equal sizes: roots must match and the proof be empty' };
  if (size1 === 0) return { ok: proof.length === 0, why: 'the empty tree is a prefix of every tree' };
  let path = proof.slice();
  if ((size1 & (size1 - 1)) === 0) path = [root1, ...path];
  if (path.length === 0) return { ok: false, why: 'empty proof' };
  let fn = size1 - 1; let sn = size2 - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0]; let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return { ok: false, why: 'proof too long' };
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return { ok: false, why: 'proof too short' };
  if (!eq(fr, root1)) return { ok: false, why: 'recomputed old root differs from the checkpoint' };
  if (!eq(sr, root2)) return { ok: false, why: 'recomputed new root differs from the checkpoint' };
  return { ok: true, why: 'both roots recomputed from the proof' };
}

/**
 * Parses a C2SP signed note checkpoint: `origin\nsize\nbase64(root)\n[extensions]\n\n— name sig\n`.
 * Returns {origin, size, root (bytes), body (signed text), sigs: [{name, keyHash, sig}]}.
 */
export function parseCheckpoint(note) {
  const sep = note.indexOf('\n\n');
  if (sep < 0) throw new Error('not a signed note');
  const body = note.slice(0, sep + 1);
  const lines = body.split('\n');
  const sigs = note.slice(sep + 2).split('\n').filter((l) => l.startsWith('\u2014 ')).map((l) => {
    const [, name, b64] = l.split(' ');
    const raw = b64ToBytes(b64);
    return { name, keyHash: raw.slice(0, 4), sig: raw.slice(4) };
  });
  return { origin: lines[0], size: Number(lines[1]), root: b64ToBytes(lines[2]), body, sigs };
}

/** Verifies an Ed25519 note signature with WebCrypto; null when the browser lacks Ed25519. */
export async function verifyNoteSignature(cp, publicKeyHex) {
  let key;
  try {
    key = await crypto.subtle.importKey('raw', hexToBytes(publicKeyHex), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return null;
  }
  for (const s of cp.sigs) {
    if (s.sig.length !== 64) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, s.sig, new TextEncoder().encode(cp.body))) return true;
  }
  return false;
}
