// Validates every statemachines/*.asl.json with AWS's Step Functions language service (the checks the
// AWS Toolkit shows in the editor: the ASL JSON schema plus state-graph rules).
// Usage: node validate_asl.mjs [folder]   (default: the repository's statemachines/)
// Prints one line per diagnostic; exits 1 when any diagnostic is an error, 2 when there is no file.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import asl from "amazon-states-language-service";

const { getLanguageService, TextDocument, DiagnosticSeverity } = asl;
const repository = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const folder = resolve(process.argv[2] ?? join(repository, "statemachines"));
const severityNames = { 1: "error", 2: "warning", 3: "information", 4: "hint" };

const service = getLanguageService({});
const files = readdirSync(folder).filter((name) => name.endsWith(".asl.json")).sort();
if (files.length === 0) {
  console.error(`no *.asl.json in ${folder}`);
  process.exit(2);
}

let errors = 0;
for (const name of files) {
  const path = join(folder, name);
  const shown = path.startsWith(repository) ? relative(repository, path) : path;
  const document = TextDocument.create(`file://${path}`, "asl", 1, readFileSync(path, "utf8"));
  // ${Name} DefinitionSubstitutions placeholders sit inside JSON strings, so the document stays valid.
  const diagnostics = await service.doValidation(document, service.parseJSONDocument(document));
  for (const diagnostic of diagnostics) {
    const { line, character } = diagnostic.range.start;
    const severity = severityNames[diagnostic.severity ?? DiagnosticSeverity.Error];
    console.log(`${shown}:${line + 1}:${character + 1}: ${severity}: ${diagnostic.message}`);
    if (severity === "error") errors += 1;
  }
  console.log(`${name}: ${diagnostics.length} diagnostic(s)`);
}
process.exit(errors > 0 ? 1 : 0);
