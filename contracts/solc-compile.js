// Compile a solc standard-JSON input file with solc-js and write the output to a file.
// Usage: node solc-compile.js INPUT.json OUTPUT.json
// Writes to a file, not stdout: solc-js output through a pipe is cut at 64 KiB.
// Imports resolve against this folder, then node_modules (OpenZeppelin, ERC721A).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const [inFile, outFile] = process.argv.slice(2);
const roots = [__dirname, path.join(__dirname, "node_modules")];

function findImports(importPath) {
  if (path.isAbsolute(importPath) || importPath.split("/").includes("..")) {
    return { error: "refusing import outside contracts/: " + importPath };
  }
  for (const root of roots) {
    const file = path.join(root, importPath);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: "file not found: " + importPath };
}

const input = fs.readFileSync(inFile, "utf8");
const output = JSON.parse(solc.compile(input, { import: findImports }));
fs.writeFileSync(outFile, JSON.stringify({ version: solc.version(), output }));
