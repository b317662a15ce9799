#!/usr/bin/env node
// Validate glTF files with the Khronos glTF validator, loading their buffers and
// images from disk so those are checked too.
//
// Usage: node validate.mjs FILE.gltf [FILE.gltf ...]
// Prints one JSON array on stdout: per file {file, validatorVersion, errors,
// warnings, infos, hints, messages: [{code, severity, pointer, message}]}.
// Exit status: 0 when every file has 0 errors and 0 warnings, 1 otherwise,
// 2 on a usage error or a file the validator cannot read.
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import path from "node:path";

const require = createRequire(import.meta.url);
const validator = require("gltf-validator");
const SEVERITY = ["error", "warning", "info", "hint"];

async function validateFile(file) {
  const bytes = new Uint8Array(await readFile(file));
  const folder = path.dirname(path.resolve(file));
  const report = await validator.validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 0,
    writeTimestamp: false,
    externalResourceFunction: async (uri) =>
      new Uint8Array(await readFile(path.resolve(folder, decodeURIComponent(uri)))),
  });
  const issues = report.issues;
  return {
    file,
    validatorVersion: report.validatorVersion,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    infos: issues.numInfos,
    hints: issues.numHints,
    messages: issues.messages.map((m) => ({
      code: m.code,
      severity: SEVERITY[m.severity] ?? String(m.severity),
      pointer: m.pointer ?? "",
      message: m.message,
    })),
  };
}

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node validate.mjs FILE.gltf [FILE.gltf ...]\n");
    return 2;
  }
  const results = [];
  for (const file of files) {
    try {
      results.push(await validateFile(file));
    } catch (err) {
      process.stderr.write(`gltf-validate: cannot validate ${file}: ${err}\n`);
      return 2;
    }
  }
  process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  return results.every((r) => r.errors === 0 && r.warnings === 0) ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
