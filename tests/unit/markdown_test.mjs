// The Markdown subset's parser (www/js/markdown.js), run by node's test
// runner from tests/unit/test_markdown.py. What the browser draws from it
// is tested in tests/browser/test_ui_format.py.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parse, parseInline, plainText, emojiCount } from "./markdown.js";

const text = (v) => ({ t: "text", v });

test("bold, italic, strike and code", () => {
  assert.deepEqual(parseInline("**b** _i_ *j* ~~s~~ `c*d*`"), [
    { t: "b", c: [text("b")] }, text(" "), { t: "i", c: [text("i")] }, text(" "),
    { t: "i", c: [text("j")] }, text(" "), { t: "s", c: [text("s")] }, text(" "), { t: "code", v: "c*d*" },
  ]);
  assert.deepEqual(parseInline("*a **b** c*"), [{ t: "i", c: [text("a "), { t: "b", c: [text("b")] }, text(" c")] }]);
});

test("signs that are not formatting stay as written", () => {
  for (const s of ["snake_case_name", "2*3*4", "a * b * c", "**", "_ x _", "a_b_", "`", "``", "~~ x ~~", "*x", "unclosed **bold"]) {
    assert.deepEqual(parseInline(s), [text(s)], s);
  }
  assert.deepEqual(parseInline("\\*kept\\* \\_too\\_"), [text("*kept* _too_")]);
  assert.deepEqual(parse("```\nno close"), [{ t: "p", c: [text("```\nno close")] }]);
});

test("links: as before, whole, and not cut by formatting", () => {
  assert.deepEqual(parseInline("see www.x.test/a_b_c, https://y.test/p."), [
    text("see "), { t: "link", v: "www.x.test/a_b_c", href: "https://www.x.test/a_b_c" }, text(", "),
    { t: "link", v: "https://y.test/p", href: "https://y.test/p" }, text("."),
  ]);
  assert.deepEqual(parseInline("**https://y.test**"), [{ t: "b", c: [{ t: "link", v: "https://y.test", href: "https://y.test" }] }]);
  assert.deepEqual(parseInline("me@www.mail.test `https://z.test`"), [text("me@www.mail.test "), { t: "code", v: "https://z.test" }]);
  assert.deepEqual(parseInline("[a](javascript:alert(1))"), [text("[a](javascript:alert(1))")]);
});

test("mentions: only the names given, a final dot is the sentence's", () => {
  const names = new Map([["bob", false], ["ann.x", true]]);
  assert.deepEqual(parseInline("@Bob. @ann.x, @carol me@bob.org *@bob*", names), [
    { t: "mention", v: "@Bob", me: false }, text(". "), { t: "mention", v: "@ann.x", me: true },
    text(", @carol me@bob.org "), { t: "i", c: [{ t: "mention", v: "@bob", me: false }] },
  ]);
});

test("blocks: quotes and code", () => {
  assert.deepEqual(parse("a\n> q **b**\n> r\nz\n```js\nx = *1*\n```\n```one```"), [
    { t: "p", c: [text("a")] },
    { t: "quote", c: [text("q "), { t: "b", c: [text("b")] }, text("\nr")] },
    { t: "p", c: [text("z")] },
    { t: "pre", v: "x = *1*" },
    { t: "pre", v: "one" },
  ]);
  assert.deepEqual(parse(">_<"), [{ t: "p", c: [text(">_<")] }]);
  assert.equal(plainText("**Hi** _there_\n> `x`"), "Hi there x");
});

test("emoji alone", () => {
  assert.equal(emojiCount("👍"), 1);
  assert.equal(emojiCount(" 👍 🇺🇦👨‍👩‍👧 "), 3);
  assert.equal(emojiCount("1️⃣❤️"), 2);
  for (const s of ["👍👍👍👍", "ok 👍", "1", "", "#"]) assert.equal(emojiCount(s), 0, s);
});

test("unmatched signs stay fast", () => {
  const t0 = Date.now();
  parseInline("*a _b ~~c **d ".repeat(300));
  parseInline("_".repeat(4000));
  assert.ok(Date.now() - t0 < 1000);
});
