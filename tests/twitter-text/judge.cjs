// Judges posts with the official twitter-text (the reference implementation of X's post length).
// Reads one JSON string per line on stdin; writes one JSON object per line on stdout:
// {weightedLength, valid, permillage, validRangeEnd, urls, mentions, hashtags} with config v3,
// entities as [text, start, end] in UTF-16 indices. Used by crates/core/tests/twitter_text/reference.rs.
'use strict';
const readline = require('readline');
const tt = require('twitter-text');

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
rl.on('line', (line) => {
  if (!line) return;
  const text = JSON.parse(line);
  let r;
  try {
    const p = tt.parseTweet(text, tt.configs.version3);
    r = {
      weightedLength: p.weightedLength,
      valid: p.valid,
      permillage: p.permillage,
      validRangeEnd: p.validRangeEnd,
      urls: tt.extractUrlsWithIndices(text).map((u) => [u.url, u.indices[0], u.indices[1]]),
      mentions: tt.extractMentionsOrListsWithIndices(text).map((m) => [m.screenName + m.listSlug, m.indices[0], m.indices[1]]),
      hashtags: tt.extractHashtagsWithIndices(text).map((h) => [h.hashtag, h.indices[0], h.indices[1]]),
    };
  } catch (e) {
    r = { error: String(e) };
  }
  out.push(JSON.stringify(r));
});
rl.on('close', () => {
  process.stdout.write(out.join('\n') + '\n');
});
