// Parse Mermaid diagrams with Mermaid itself (in jsdom), as GitHub and GitLab would before
// rendering them: `node mermaid-parse.mjs FILE...` prints `FILE: ok TYPE` or the parse error.
// It runs from .venv/node, where scripts/test installs mermaid and jsdom.
import { JSDOM } from "jsdom";
import { readFileSync } from "node:fs";
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  try {
    const r = await mermaid.parse(text);
    console.log(`${file}: ok ${r.diagramType}`);
  } catch (e) {
    failed++;
    console.log(`${file}: ${String(e.message || e).split("\n").slice(0, 4).join(" | ")}`);
  }
}
process.exit(failed ? 1 : 0);
