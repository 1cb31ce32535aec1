// markdown.js - a message's text as people format it in chats, made into
// DOM nodes (elements with text nodes: never HTML, so nothing a sender
// writes can become markup). The subset, as Telegram and Slack have it:
//
//   **bold**   _italic_ or *italic*   ~~strike~~   `code`
//   ```            a code block: lines between two fences (a word right
//   code           after the opening fence names a language and is
//   ```            dropped); ```code``` on one line too
//   > quoted       a quote: lines starting with "> "
//   \*             a backslash keeps the next * _ ~ ` > \ as it is
//
// and, as before, http(s):// URLs and www. addresses as links, plus the
// @usernames the server found in the message (its `mentions`) highlighted.
//
// Why it does not misread ordinary text: a * or _ opens only before a
// non-space and not inside a word (snake_case_names, 2*3*4 stay as they
// are), and closes only after a non-space and not before a letter; a
// sign with no partner stays a sign. Code, links and mentions are found
// first and are opaque to the rest, so a URL's underscores or a code
// span's stars are never formatting. An unclosed fence is text.
//
// parse() is pure (the unit test runs it under node); render() builds
// the nodes.

import { h } from "./dom.js";

// http(s) URLs, and "www." addresses as people write them (not inside a
// word, an email address or a path). The last character is not a
// punctuation mark ending the sentence, nor a closing * _ ~ of formatting.
const URL_RE = /(?:\bhttps?:\/\/|(?<![\w@.\/-])www\.)[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}*_~]/iy;
// A username is [a-z0-9_.]{3,32}; the dots that end it are the sentence's
// (the server's message_mentions() reads it the same way).
const MENTION_RE = /(?<![A-Za-z0-9_.@])@([A-Za-z0-9_.]{3,32})/y;
const ESCAPABLE = "*_~`>\\";
const KIND = { "**": "b", "~~": "s", "*": "i", "_": "i" };
const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/;

// The parts no formatting can cut through, by their start: escapes, code
// spans, links, mentions.
function findAtoms(s, names) {
  const atoms = new Map();
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\" && ESCAPABLE.includes(s[i + 1] || "\0")) {
      atoms.set(i, { end: i + 2, tok: { t: "text", v: s[i + 1] } });
      i++;
    } else if (c === "`") {
      const j = s.indexOf("`", i + 1);
      if (j > i + 1 && !s.slice(i + 1, j).includes("\n")) {
        atoms.set(i, { end: j + 1, tok: { t: "code", v: s.slice(i + 1, j) } });
        i = j;
      }
    } else if (c === "h" || c === "H" || c === "w" || c === "W") {
      URL_RE.lastIndex = i;
      const m = URL_RE.exec(s);
      if (m) {
        const v = m[0];
        atoms.set(i, { end: i + v.length, tok: { t: "link", v, href: /^www\./i.test(v) ? "https://" + v : v } });
        i += v.length - 1;
      }
    } else if (c === "@" && names.size) {
      MENTION_RE.lastIndex = i;
      const m = MENTION_RE.exec(s);
      const name = m && m[1].replace(/\.+$/, "");
      if (name && names.has(name.toLowerCase())) {
        atoms.set(i, { end: i + 1 + name.length, tok: { t: "mention", v: "@" + name, me: names.get(name.toLowerCase()) } });
        i += name.length;
      }
    }
  }
  return atoms;
}

function delimAt(s, i) {
  if (s.startsWith("**", i)) return "**";
  if (s.startsWith("~~", i)) return "~~";
  return s[i] === "*" || s[i] === "_" ? s[i] : null;
}

function canOpen(s, i, d) {
  const next = s[i + d.length];
  if (!next || SPACE.test(next)) return false;
  return d.length === 2 || !(i > 0 && WORD.test(s[i - 1]));
}

// Where the closing d of a span opened before `from` is, or -1. `failed`
// remembers the searches that found none: a later one from further on
// cannot find one either, which keeps a text of unmatched signs linear.
function findClose(s, from, to, d, atoms, failed) {
  const key = d + ":" + to;
  if (failed.has(key) && failed.get(key) <= from) return -1;
  for (let k = from; k < to;) {
    const a = atoms.get(k);
    if (a) {
      k = a.end;
      continue;
    }
    if (s.startsWith(d, k)) {
      if (d === "*" && s[k + 1] === "*") {
        k += 2; // a "**" inside an italic span is bold's, not the close
        continue;
      }
      const after = s[k + d.length];
      const closes = k > from && !SPACE.test(s[k - 1]) && k + d.length <= to &&
        (d.length === 2 || !(after && WORD.test(after)));
      if (closes) return k;
    }
    k++;
  }
  failed.set(key, from);
  return -1;
}

function spans(s, from, to, atoms, failed) {
  const out = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ t: "text", v: text });
    text = "";
  };
  for (let i = from; i < to;) {
    const a = atoms.get(i);
    if (a) {
      if (a.tok.t === "text") text += a.tok.v;
      else {
        flush();
        out.push(a.tok);
      }
      i = a.end;
      continue;
    }
    const d = delimAt(s, i);
    if (d && canOpen(s, i, d)) {
      const j = findClose(s, i + d.length, to, d, atoms, failed);
      if (j >= 0) {
        flush();
        out.push({ t: KIND[d], c: spans(s, i + d.length, j, atoms, failed) });
        i = j + d.length;
        continue;
      }
    }
    text += s[i];
    i++;
  }
  flush();
  return out;
}

export function parseInline(s, names = new Map()) {
  return spans(s, 0, s.length, findAtoms(s, names), new Map());
}

const FENCE = /^\s*```(.*)$/;
const FENCE_END = /^\s*```\s*$/;
const QUOTE = /^> ?(.*)$/;

// The text as blocks: {t: "p", c: inline}, {t: "quote", c: inline},
// {t: "pre", v: text}. Inline tokens: {t: "text"|"code"|"link"|"mention",
// v, href?, me?} and {t: "b"|"i"|"s", c: inline}. `names` maps the
// lower-case usernames to highlight to whether the name is the reader's.
export function parse(text, names = new Map()) {
  const lines = String(text || "").split("\n");
  const blocks = [];
  let para = [];
  const flush = () => {
    if (para.length) {
      const c = parseInline(para.join("\n"), names);
      if (c.length) blocks.push({ t: "p", c });
    }
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      const rest = fence[1];
      if (rest.length > 3 && rest.endsWith("```")) {
        flush();
        blocks.push({ t: "pre", v: rest.slice(0, -3) });
        continue;
      }
      let j = i + 1;
      while (j < lines.length && !FENCE_END.test(lines[j])) j++;
      if (j < lines.length) {
        flush();
        const body = lines.slice(i + 1, j);
        if (rest.trim() && !/^[\w+#.-]+$/.test(rest.trim())) body.unshift(rest);
        blocks.push({ t: "pre", v: body.join("\n") });
        i = j;
        continue;
      }
    }
    if (line === ">" || line.startsWith("> ")) {
      flush();
      const quoted = [];
      for (; i < lines.length && (lines[i] === ">" || lines[i].startsWith("> ")); i++) quoted.push(QUOTE.exec(lines[i])[1]);
      i--;
      blocks.push({ t: "quote", c: parseInline(quoted.join("\n"), names) });
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

function inlineNodes(tokens) {
  return tokens.map((t) => {
    switch (t.t) {
      case "text": return t.v;
      case "code": return h("code.md-code", { text: t.v });
      case "link": return h("a", { href: t.href, target: "_blank", rel: "noopener noreferrer nofollow", text: t.v });
      case "mention": return h("span.mention" + (t.me ? ".own" : ""), { text: t.v });
      case "b": return h("strong", null, inlineNodes(t.c));
      case "i": return h("em", null, inlineNodes(t.c));
      default: return h("s", null, inlineNodes(t.c));
    }
  });
}

// The nodes of a message's text (to append to its .msg-text).
export function render(text, names) {
  return parse(text, names).map((b) =>
    b.t === "p" ? inlineNodes(b.c)
      : b.t === "quote" ? h("blockquote.md-quote", null, inlineNodes(b.c))
        : h("pre.md-pre", null, h("code", { text: b.v })));
}

function flat(tokens) {
  return tokens.map((t) => (t.c ? flat(t.c) : t.v)).join("");
}

// The text without its formatting signs, on one line (previews).
export function plainText(text, names) {
  return parse(text, names).map((b) => (b.c ? flat(b.c) : b.v)).join(" ").replace(/\s+/g, " ").trim();
}

// How many emoji a text is when it is nothing else (1-3; spaces between
// them allowed), else 0: such a message is shown large.
const EMOJI_START = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\uFE0F?\u20E3)/u;
const EMOJI_ONLY = /^[\p{Extended_Pictographic}\p{Emoji_Component}\u200D\uFE0F\u20E3]+$/u;
const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

export function emojiCount(text) {
  const s = String(text || "").replace(/\s+/g, "");
  if (!s || s.length > 64 || !segmenter) return 0;
  let n = 0;
  for (const { segment } of segmenter.segment(s)) {
    if (!EMOJI_START.test(segment) || !EMOJI_ONLY.test(segment) || ++n > 3) return 0;
  }
  return n;
}
