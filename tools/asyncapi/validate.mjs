#!/usr/bin/env node
// Validates an AsyncAPI 3 document with the official parser (@asyncapi/parser), resolving its
// file references (contracts/events/*.schema.json) relative to the document.
//
//   node tools/asyncapi/validate.mjs [path/to/asyncapi.yaml]   (default: contracts/asyncapi.yaml)
//
// Diagnostics go to stderr. Exit status: 0 valid (a JSON summary of channels and messages is
// printed to stdout), 1 invalid, 2 the validator itself cannot run (run `make node-deps`).
//
// Failing diagnostics: every error and every warning (the document is kept warning-free, so a
// new warning is a defect to fix, not noise). Information and hints (e.g. "3.1.0 exists") are
// printed but do not fail.
//
// Event payloads are JSON Schema 2020-12 (`schemaFormat: application/schema+json;version=2020-12`).
// The parser only ships draft-07 and AsyncAPI schema parsers, so this script registers one for
// 2020-12 through the parser's documented `schemaParsers` option. It checks each resolved payload
// against the 2020-12 meta-schema with Ajv, compiles it (bad patterns or dangling `$ref`s fail),
// and validates the schema's own `examples` against it. Any `schemaFormat` the parser has no
// parser for is an error here (the parser itself would silently skip it for 3.0 documents).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_DOCUMENT = path.resolve(HERE, '..', '..', 'contracts', 'asyncapi.yaml');
const JSON_SCHEMA_2020_12 = [
  'application/schema;version=2020-12',
  'application/schema+json;version=2020-12',
  'application/schema+yaml;version=2020-12',
];
const SEVERITY = ['error', 'warning', 'info', 'hint'];
const FAILING_SEVERITIES = new Set([0, 1]);

async function loadDependencies() {
  try {
    const parser = await import('@asyncapi/parser');
    const ajv2020 = await import('ajv/dist/2020.js');
    const formats = await import('ajv-formats');
    return {
      Parser: parser.Parser,
      fromFile: parser.fromFile,
      Ajv2020: ajv2020.default.default ?? ajv2020.default,
      addFormats: formats.default.default ?? formats.default,
    };
  } catch (error) {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write(
        'tools/asyncapi/node_modules is missing: run `make node-deps` ' +
          '(npm ci --prefix tools/asyncapi) first.\n',
      );
      process.exit(2);
    }
    throw error;
  }
}

function parserVersion() {
  const require = createRequire(import.meta.url);
  return require('@asyncapi/parser/package.json').version;
}

/** A schema parser for JSON Schema 2020-12, for the parser's `schemaParsers` option. */
function jsonSchema2020Parser(Ajv2020, addFormats) {
  function problems(schema) {
    const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
    addFormats(ajv);
    if (!ajv.validateSchema(schema)) {
      return ajv.errors.map((e) => `not valid JSON Schema 2020-12: ${e.instancePath || '/'} ${e.message}`);
    }
    let validate;
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      return [`does not compile: ${error.message}`];
    }
    const found = [];
    (Array.isArray(schema.examples) ? schema.examples : []).forEach((example, index) => {
      if (!validate(example)) {
        for (const e of validate.errors) {
          found.push(`examples/${index} does not conform: ${e.instancePath || '/'} ${e.message}`);
        }
      }
    });
    return found;
  }

  return {
    getMimeTypes: () => JSON_SCHEMA_2020_12,
    // Called for AsyncAPI 2.x documents only; kept for completeness.
    async validate(input) {
      return problems(input.data).map((message) => ({ message, path: input.path }));
    },
    // Called for 3.x documents on every multi-format schema with this format, after refs are
    // resolved. A thrown error becomes an error diagnostic and the document does not parse.
    async parse(input) {
      const found = problems(input.data);
      if (found.length > 0) {
        const where = input.path.join('/');
        const title = input.data && input.data.title ? ` (${input.data.title})` : '';
        throw new Error(`${where}${title}: ${found.join('; ')}`);
      }
      return input.data;
    },
  };
}

/** Every `schemaFormat` in the resolved document that no registered schema parser handles. */
function unknownSchemaFormats(parser, root) {
  const found = [];
  const seen = new WeakSet(); // the resolved document shares (and may cycle through) objects
  const visit = (node, where) => {
    if (!node || typeof node !== 'object' || seen.has(node)) {
      return;
    }
    seen.add(node);
    for (const [key, value] of Object.entries(node)) {
      if (key === 'schemaFormat' && typeof value === 'string' && !parser.parserRegistry.has(value)) {
        found.push({ path: where.join('/'), schemaFormat: value });
      } else if (!key.startsWith('x-parser-')) {
        visit(value, [...where, key]);
      }
    }
  };
  visit(root, []);
  return found;
}

function describe(diagnostic) {
  const severity = SEVERITY[diagnostic.severity] ?? String(diagnostic.severity);
  const where = (diagnostic.path || []).join('/') || '(document)';
  const line = diagnostic.range ? `:${diagnostic.range.start.line + 1}` : '';
  return `${severity} ${diagnostic.code} at ${where}${line}: ${diagnostic.message}`;
}

function summarise(document, file, diagnostics) {
  const channels = document.channels().all().map((channel) => ({
    id: channel.id(),
    address: channel.address(),
    messages: channel.messages().all().map((message) => message.id()),
  }));
  const messages = document.components().messages().all().map((message) => ({
    id: message.id(),
    name: message.name() ?? null,
    contentType: message.contentType() ?? null,
    schemaFormat: message.schemaFormat() ?? null,
  }));
  const operations = document.operations().all().map((operation) => ({
    id: operation.id(),
    action: operation.action(),
    channels: operation.channels().all().map((channel) => channel.address()),
  }));
  const counts = {};
  for (const d of diagnostics) {
    const name = SEVERITY[d.severity] ?? String(d.severity);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return {
    document: file,
    asyncapi: document.version(),
    parser: `@asyncapi/parser ${parserVersion()}`,
    channels,
    messages,
    operations,
    diagnostics: counts,
  };
}

async function main() {
  const file = path.resolve(process.argv[2] ?? DEFAULT_DOCUMENT);
  const { Parser, fromFile, Ajv2020, addFormats } = await loadDependencies();
  try {
    readFileSync(file);
  } catch (error) {
    process.stderr.write(`cannot read ${file}: ${error.message}\n`);
    return 1;
  }
  const parser = new Parser({ schemaParsers: [jsonSchema2020Parser(Ajv2020, addFormats)] });
  // fromFile passes the absolute path as the source, so relative `$ref`s resolve beside it.
  const { document, diagnostics } = await fromFile(parser, file).parse();

  for (const diagnostic of diagnostics) {
    process.stderr.write(`${describe(diagnostic)}\n`);
  }
  const failing = diagnostics.filter((d) => FAILING_SEVERITIES.has(d.severity));
  if (document === undefined || failing.length > 0) {
    process.stderr.write(
      `INVALID ${file}: ${failing.length} error/warning diagnostic(s)` +
        `${document === undefined ? ', document did not parse' : ''}\n`,
    );
    return 1;
  }
  const unknown = unknownSchemaFormats(parser, document.json());
  if (unknown.length > 0) {
    for (const u of unknown) {
      process.stderr.write(`error at ${u.path}: no schema parser for "${u.schemaFormat}"\n`);
    }
    process.stderr.write(`INVALID ${file}: ${unknown.length} unknown schema format(s)\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(summarise(document, file, diagnostics), null, 2)}\n`);
  return 0;
}

process.exitCode = await main();
