// Bundles viem for the mint page: `npm ci && node build.mjs` (or `--check` to compare
// a fresh build with the committed files and exit 1 on any difference).
//
// Output, committed as package data of preview.mint_page:
//   ../vendor/viem.min.js         one minified IIFE setting globalThis.RobozViem (see entry.js)
//   ../vendor/viem.min.js.sha256  its sha256, checked by tests/test_mint_page_bundle.py
//   ../vendor/LICENSES.txt        the licence of every npm package whose code is in the bundle
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "vendor");
const check = process.argv.includes("--check");

const result = await build({
  entryPoints: [join(here, "entry.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  legalComments: "none", // the licences go whole into LICENSES.txt instead
  metafile: true,
  write: false,
  logLevel: "warning",
});

const viemVersion = JSON.parse(readFileSync(join(here, "node_modules/viem/package.json"), "utf8")).version;
const js = `/*! viem ${viemVersion} (MIT) and its dependencies, bundled by preview/mint_page/js/build.mjs; licences: LICENSES.txt */\n`
  + result.outputFiles[0].text;

// Every package that contributed a file, found from esbuild's metafile, with its licence text.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (m) packages.add(m[m.length - 1].replace(/^node_modules\//, "").replace(/\/$/, ""));
}
let licences = "";
for (const name of [...packages].sort()) {
  const dir = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"].map((f) => join(dir, f)).find(existsSync);
  if (!file) throw new Error(`${name}: no licence file in its npm package`);
  licences += `==== ${name} ${meta.version} (${meta.license}) ====\n\n${readFileSync(file, "utf8").trim()}\n\n`;
}

const files = {
  "viem.min.js": js,
  "viem.min.js.sha256": `${createHash("sha256").update(js).digest("hex")}  viem.min.js\n`,
  "LICENSES.txt": licences,
};
let stale = [];
for (const [name, text] of Object.entries(files)) {
  const path = join(vendor, name);
  if (check) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
  } else {
    writeFileSync(path, text);
  }
}
if (stale.length) {
  console.error(`stale: ${stale.join(", ")} differ from a fresh build; run \`cd preview/mint_page/js && npm ci && node build.mjs\``);
  process.exit(1);
}
console.log(`${check ? "checked" : "wrote"} viem.min.js (${js.length} bytes, ${packages.size} packages)`);
