// The catalogues of the web app (www/i18n/*.json) against the keys its
// code uses (www/js), run by node's test runner from tests/unit/test_i18n.py:
// a text the code asks for that a catalogue lacks, a key one catalogue has
// and another lacks, a plural without the forms its language needs, or a
// placeholder one translation drops each fail here.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = process.env.MSGR_WWW;
const LANGS = ["en", "ru", "uk"];
const cats = Object.fromEntries(LANGS.map((l) => [l, JSON.parse(readFileSync(join(ROOT, "i18n", l + ".json"), "utf8"))]));

function sources(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".js") ? [p] : [];
  });
}

// Every t("key" ...) with a literal key. A key put together at run time
// ("error." + code) is looked up with has() first or names its keys in a
// "// i18n-keys: a b c" comment, which counts too.
function usedKeys() {
  const used = new Map();
  for (const file of sources(join(ROOT, "js"))) {
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/\bt\(\s*"([^"\\]+)"\s*[,)]/g)) used.set(m[1], file);
    for (const m of src.matchAll(/\/\/ i18n-keys: (.+)/g)) for (const k of m[1].trim().split(/\s+/)) used.set(k, file);
  }
  return used;
}

test("the code uses keys at all (the pattern finds them)", () => {
  assert.ok(usedKeys().size > 20, "found only " + usedKeys().size);
});

test("every key the code uses is in every catalogue", () => {
  const missing = [];
  for (const [key, file] of usedKeys()) for (const l of LANGS) if (!(key in cats[l])) missing.push(`${l}: ${key} (${file})`);
  assert.deepEqual(missing, []);
});

test("every catalogue has the same keys", () => {
  const all = new Set(LANGS.flatMap((l) => Object.keys(cats[l])));
  const odd = [];
  for (const k of all) for (const l of LANGS) if (!(k in cats[l])) odd.push(`${l} lacks ${k}`);
  assert.deepEqual(odd, []);
});

test("every text is a string, or the plural forms its language needs", () => {
  const bad = [];
  for (const l of LANGS) {
    const need = new Intl.PluralRules(l).resolvedOptions().pluralCategories.filter((c) => c !== "zero" && c !== "two");
    for (const [k, v] of Object.entries(cats[l])) {
      if (typeof v === "string") {
        if (!v.trim()) bad.push(`${l}: ${k} is empty`);
      } else if (v && typeof v === "object") {
        for (const c of need) if (typeof v[c] !== "string" || !v[c].includes("{n}")) bad.push(`${l}: ${k} lacks "${c}" with {n}`);
      } else bad.push(`${l}: ${k} is neither`);
    }
  }
  assert.deepEqual(bad, []);
});

const holes = (v) => new Set([...(typeof v === "string" ? v : Object.values(v).join(" ")).matchAll(/\{(\w+)\}/g)].map((m) => m[1]));

test("every translation keeps the placeholders of the English", () => {
  const bad = [];
  for (const [k, v] of Object.entries(cats.en)) {
    const want = [...holes(v)].sort().join();
    for (const l of ["ru", "uk"]) if (k in cats[l] && [...holes(cats[l][k])].sort().join() !== want) bad.push(`${l}: ${k}`);
  }
  assert.deepEqual(bad, []);
});

test("t() fills placeholders and picks plural forms", async () => {
  globalThis.document = { documentElement: {} };
  globalThis.localStorage = { getItem: () => null, setItem: () => {} };
  globalThis.fetch = async (url) => ({ ok: true, json: async () => cats[url.match(/(\w+)\.json$/)[1]] });
  const i18n = await import(join(ROOT, "js", "i18n.js"));
  assert.equal(i18n.browserLanguage(["de-DE", "uk-UA", "ru"]), "uk");
  assert.equal(i18n.browserLanguage(["de"]), "en");
  await i18n.setLanguage("ru");
  assert.equal(i18n.t("members", { n: 1 }), "1 участник");
  assert.equal(i18n.t("members", { n: 3 }), "3 участника");
  assert.equal(i18n.t("members", { n: 5 }), "5 участников");
  assert.equal(i18n.t("members", { n: 21 }), "21 участник");
  await i18n.setLanguage("uk");
  assert.equal(i18n.t("members", { n: 2 }), "2 учасники");
  assert.equal(i18n.t("members", { n: 11 }), "11 учасників");
  assert.equal(i18n.t("lastSeen.today", { time: "14:05" }), "був(ла) сьогодні о 14:05");
  await i18n.setLanguage("en");
  assert.equal(i18n.t("members", { n: 1 }), "1 member");
  assert.equal(i18n.t("no.such.key"), "no.such.key");
});
