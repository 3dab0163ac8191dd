// Writes crates/core/src/post_rules/twitter_text/regexes.rs: the regular expressions of the
// official twitter-text (npm `twitter-text`, the reference implementation of X's post length) and
// of its emoji parser (`twemoji-parser`), translated from JavaScript (UTF-16 code units, `i` flag
// with JavaScript's case canonicalisation) to Rust `fancy-regex` syntax over code points.
//
//   cd tests/twitter-text && npm ci && node gen-regexes.cjs
//
// Each character class is evaluated by the JavaScript engine itself over every code unit, so the
// translated class holds exactly the characters JavaScript matches. A high surrogate followed by
// a low surrogate (or a class of low surrogates) becomes one code point (or a class of them); a
// class matching every surrogate matches every astral code point. Anything the translation does
// not understand stops the script.
'use strict';
const fs = require('fs');
const path = require('path');
const tt = require('twitter-text');
const twemojiRegex = require('twemoji-parser/dist/lib/regex').default;

const OUT = path.join(__dirname, '../../crates/core/src/post_rules/twitter_text/regexes.rs');

const isHigh = (u) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u) => u >= 0xdc00 && u <= 0xdfff;

// JavaScript's Canonicalize (ES2015 21.2.2.8.2, non-unicode, ignoreCase).
function canon(u) {
  const ch = String.fromCharCode(u);
  const up = ch.toUpperCase();
  if (up.length !== 1) return u;
  const cu = up.charCodeAt(0);
  if (u >= 128 && cu < 128) return u;
  return cu;
}
const byCanon = new Map();
for (let u = 0; u < 0x10000; u++) {
  const c = canon(u);
  if (!byCanon.has(c)) byCanon.set(c, []);
  byCanon.get(c).push(u);
}

function tokenize(src) {
  const toks = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      if (n === 'u') {
        toks.push({ t: 'unit', u: parseInt(src.substr(i + 2, 4), 16) });
        i += 6;
      } else if (n === 'x') {
        toks.push({ t: 'unit', u: parseInt(src.substr(i + 2, 2), 16) });
        i += 4;
      } else if (/[\\/^$.*+?()[\]{}|!'#%&,:;<=>@_~`"\-]/.test(n)) {
        toks.push({ t: 'unit', u: n.charCodeAt(0) });
        i += 2;
      } else {
        throw new Error(`unsupported escape \\${n} at ${i}`);
      }
    } else if (c === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      while (src[j] !== ']') {
        if (src[j] === '\\') j++;
        j++;
        if (j >= src.length) throw new Error('unterminated class');
      }
      toks.push({ t: 'class', src: src.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '(') {
      const m = /^\((\?[:=!])?/.exec(src.slice(i));
      toks.push({ t: 'raw', s: m[0] });
      i += m[0].length;
    } else if (c === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(src.slice(i));
      if (!m) throw new Error(`bad brace at ${i}`);
      toks.push({ t: 'quant', s: m[0] });
      i += m[0].length;
    } else if ('*+?'.includes(c)) {
      toks.push({ t: 'quant', s: c });
      i += 1;
    } else if (')|^$'.includes(c)) {
      toks.push({ t: 'raw', s: c });
      i += 1;
    } else if (c === '.') {
      toks.push({ t: 'class', src: '.' });
      i += 1;
    } else {
      toks.push({ t: 'unit', u: src.charCodeAt(i) });
      i += 1;
    }
  }
  return toks;
}

const classCache = new Map();
// The code units (0..0xFFFF) a JavaScript class matches under `flags`.
function classUnits(cls, flags) {
  const key = flags + cls;
  if (classCache.has(key)) return classCache.get(key);
  const re = new RegExp(`^${cls}$`, flags);
  const set = [];
  for (let u = 0; u < 0x10000; u++) if (re.test(String.fromCharCode(u))) set.push(u);
  classCache.set(key, set);
  return set;
}

function ranges(cps) {
  const out = [];
  const sorted = [...cps].sort((a, b) => a - b);
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && c === last[1] + 1) last[1] = c;
    else if (!last || c > last[1]) out.push([c, c]);
  }
  return out;
}
const hex = (c) => `\\x{${c.toString(16).toUpperCase()}}`;
function emitClass(cps) {
  const rs = ranges(cps);
  if (rs.length === 1 && rs[0][0] === rs[0][1]) return hex(rs[0][0]);
  return '[' + rs.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('') + ']';
}

// The tokens of `toks` without its look-around groups: a pattern matching a superset of the
// original, with no look-around, for the fast \`regex\` crate to find where a match can start.
function withoutLookaround(toks) {
  const out = [];
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    if (tok.t === 'raw' && (tok.s === '(?=' || tok.s === '(?!')) {
      let depth = 1;
      while (depth > 0) {
        k++;
        const t = toks[k];
        if (t.t === 'raw' && t.s.startsWith('(')) depth++;
        if (t.t === 'raw' && t.s === ')') depth--;
      }
      continue;
    }
    out.push(tok);
  }
  return out;
}

function convert(re, prefilter) {
  const flags = re.flags.replace('g', '');
  const ci = flags.includes('i');
  let toks = tokenize(re.source);
  if (prefilter) toks = withoutLookaround(toks);
  let out = '';
  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    const next = toks[k + 1];
    if (tok.t === 'raw' || tok.t === 'quant') {
      out += tok.s;
      continue;
    }
    const units = tok.t === 'unit' ? (ci ? byCanon.get(canon(tok.u)) : [tok.u]) : classUnits(tok.src, flags);
    const highs = units.filter(isHigh);
    const lows = units.filter(isLow);
    const bmp = units.filter((u) => !isHigh(u) && !isLow(u));
    if (highs.length === 0 && lows.length === 0) {
      out += emitClass(bmp);
    } else if (highs.length === 0x400 && lows.length === 0x400) {
      // matches every surrogate, so every astral code point (both of its halves)
      const cps = bmp.slice();
      out += emitClass(cps).replace(/^\[?/, '[').replace(/\]?$/, '') + `${hex(0x10000)}-${hex(0x10ffff)}]`;
    } else if (lows.length === 0 && bmp.length === 0 && next && next.t !== 'raw' && next.t !== 'quant') {
      // high surrogate(s) followed by low surrogate(s): one astral code point
      const nextUnits = next.t === 'unit' ? [next.u] : classUnits(next.src, flags);
      if (!nextUnits.every(isLow)) throw new Error(`high surrogate followed by non-low at token ${k}`);
      const after = toks[k + 2];
      if (after && after.t === 'quant') throw new Error(`quantified low surrogate at token ${k}`);
      const cps = [];
      for (const h of highs) for (const l of nextUnits) cps.push(0x10000 + ((h - 0xd800) << 10) + (l - 0xdc00));
      out += emitClass(cps);
      k++;
    } else {
      throw new Error(`unsupported surrogate use at token ${k}: ${JSON.stringify(tok)}`);
    }
  }
  return out;
}

const R = tt.regexen;
const wanted = [
  ['EXTRACT_URL', R.extractUrl, 'extractUrl'],
  ['VALID_ASCII_DOMAIN', R.validAsciiDomain, 'validAsciiDomain'],
  ['INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS', R.invalidUrlWithoutProtocolPrecedingChars, 'invalidUrlWithoutProtocolPrecedingChars'],
  ['VALID_TCO_URL', R.validTcoUrl, 'validTcoUrl'],
  ['VALID_HASHTAG', R.validHashtag, 'validHashtag'],
  ['END_HASHTAG_MATCH', R.endHashtagMatch, 'endHashtagMatch'],
  ['HASH_SIGNS', R.hashSigns, 'hashSigns'],
  ['VALID_MENTION_OR_LIST', R.validMentionOrList, 'validMentionOrList'],
  ['END_MENTION_MATCH', R.endMentionMatch, 'endMentionMatch'],
  ['AT_SIGNS', R.atSigns, 'atSigns'],
  ['VALIDATE_URL_UNENCODED', R.validateUrlUnencoded, 'validateUrlUnencoded'],
  ['VALIDATE_URL_SCHEME', R.validateUrlScheme, 'validateUrlScheme'],
  ['VALIDATE_URL_UNICODE_AUTHORITY', R.validateUrlUnicodeAuthority, 'validateUrlUnicodeAuthority'],
  ['VALIDATE_URL_PATH', R.validateUrlPath, 'validateUrlPath'],
  ['VALIDATE_URL_QUERY', R.validateUrlQuery, 'validateUrlQuery'],
  ['VALIDATE_URL_FRAGMENT', R.validateUrlFragment, 'validateUrlFragment'],
  ['EMOJI', twemojiRegex, 'twemoji-parser lib/regex'],
];

const ttVersion = require('twitter-text/package.json').version;
const teVersion = require('twemoji-parser/package.json').version;
let rs = `// @generated by tests/twitter-text/gen-regexes.cjs from the npm packages twitter-text ${ttVersion}
// (Copyright 2018 Twitter, Inc., Apache License 2.0) and twemoji-parser ${teVersion} (Copyright Twitter
// Inc., MIT). Do not edit: regenerate. Each pattern is the JavaScript regular expression of the
// same name translated to fancy-regex syntax over code points (see the script).

`;
for (const [name, re, from] of wanted) {
  const conv = convert(re, false);
  rs += `/// \`${from}\` (JavaScript flags \`${re.flags}\`).\npub(super) const ${name}: &str = r#"${conv}"#;\n\n`;
  const lookaround = /\(\?[=!]/.test(re.source);
  const pre = lookaround ? `Some(r#"${convert(re, true)}"#)` : 'None';
  rs += `/// \`${from}\` without its look-arounds (a superset, for the \`regex\` crate), if it has any.\npub(super) const ${name}_PREFILTER: Option<&str> = ${pre};\n\n`;
}
fs.writeFileSync(OUT, rs);
console.log(`wrote ${OUT} (${rs.length} bytes)`);
