// `node validate.js <document>`: validate an AsyncAPI document, as `asyncapi validate` does.
//
// The AsyncAPI CLI's `validate` is this parser and its rules (the CLI runs @asyncapi/parser
// 3.6.6 too); the CLI itself brings AsyncAPI Studio, Next.js and code generators besides,
// a far larger and slower install for the same verdict (README, "Real-time events").
// Any error or warning fails; information and hints are printed.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { DiagnosticSeverity, Parser } from "@asyncapi/parser";

const SEVERITY = {
  [DiagnosticSeverity.Error]: "error",
  [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "information",
  [DiagnosticSeverity.Hint]: "hint",
};

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.js <asyncapi document>");
  process.exit(2);
}
const source = resolve(path);
const { document, diagnostics } = await new Parser().parse(await readFile(source, "utf8"), {
  source,
});
for (const { severity, code, message, path: where, range } of diagnostics) {
  const line = range.start.line + 1;
  console.log(`${path}:${line} ${SEVERITY[severity]} ${code}: ${message} (at ${where.join(".")})`);
}
const failures = diagnostics.filter(({ severity }) => severity <= DiagnosticSeverity.Warning);
if (document === undefined || failures.length > 0) {
  console.error(`${path} is not valid: ${failures.length} errors and warnings.`);
  process.exit(1);
}
console.log(`${path} is a valid AsyncAPI ${document.version()} document.`);
