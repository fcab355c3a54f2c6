#!/usr/bin/env node
// Compile CityLedger's Solidity sources with the pinned solc-js and write one artifact per contract.
//
// Usage:
//   node scripts/compile.mjs --out OUT_DIR [--build-info DIR] SOURCE_DIR [SOURCE_DIR...]
//
// Every `.sol` file under the SOURCE_DIRs is a project source: each contract, interface, library
// or abstract contract it defines gets `<OUT_DIR>/<ContractName>.json`. Files pulled in through
// imports (OpenZeppelin from node_modules) are compiled but get no artifact.
//
// Settings are fixed (optimizer on, 200 runs, cancun, no via-IR, no metadata hash) and source unit
// names are paths relative to this package (`test/Probe.sol`), never absolute, so the same sources
// always give byte-identical artifacts on any machine: `scripts/compile_contracts.py --check`
// relies on that.
//
// With `--build-info DIR`, the whole standard-JSON input and output is also written as a Hardhat
// build-info file (`DIR/<id>.json`, format `hh-sol-build-info-1`), which Slither reads with
// `--compile-force-framework hardhat --hardhat-ignore-compile`.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import solc from "solc";

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NODE_MODULES = path.join(PACKAGE_DIR, "node_modules");

/** The compiler settings every artifact is built with (outputSelection is added per run). */
const SETTINGS = Object.freeze({
  evmVersion: "cancun",
  metadata: { bytecodeHash: "none" },
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
});

/** What solc must emit: artifacts need abi and bytecode; Slither's build-info also needs ASTs. */
const OUTPUT_SELECTION = {
  "*": {
    "": ["ast"],
    "*": [
      "abi",
      "evm.bytecode",
      "evm.deployedBytecode",
      "evm.methodIdentifiers",
      "metadata",
    ],
  },
};

function fail(message) {
  process.stderr.write(`compile.mjs: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { out: null, buildInfo: null, roots: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--out" || arg === "--build-info") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) fail(`${arg} needs a directory`);
      if (arg === "--out") args.out = path.resolve(value);
      else args.buildInfo = path.resolve(value);
      i += 1;
    } else if (arg === "-h" || arg === "--help") {
      process.stdout.write(
        "usage: node scripts/compile.mjs --out OUT_DIR [--build-info DIR] SOURCE_DIR...\n",
      );
      process.exit(0);
    } else if (arg.startsWith("--")) {
      fail(`unknown option ${arg}`);
    } else {
      args.roots.push(path.resolve(arg));
    }
  }
  if (args.out === null) fail("missing --out OUT_DIR");
  if (args.roots.length === 0) fail("no SOURCE_DIR given");
  return args;
}

/** Every `.sol` file under `dir`, as absolute paths in a stable order. */
function findSources(dir) {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) fail(`${dir} is not a directory`);
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") found.push(...findSources(full));
    } else if (entry.isFile() && entry.name.endsWith(".sol")) {
      found.push(full);
    }
  }
  return found.sort();
}

/** The source unit name of a project file: its path relative to this package, `/`-separated. */
function sourceUnitName(file) {
  const relative = path.relative(PACKAGE_DIR, file);
  if (relative.startsWith("..") || path.isAbsolute(relative)) {
    fail(`${file} is outside ${PACKAGE_DIR}: source files must live in the contracts package`);
  }
  return relative.split(path.sep).join("/");
}

/** solc's import callback: packages from node_modules, anything else from this package. */
function findImport(name) {
  if (name.split("/").includes("..")) return { error: `refusing import path ${name}` };
  for (const base of [NODE_MODULES, PACKAGE_DIR]) {
    const candidate = path.join(base, name);
    if (existsSync(candidate) && statSync(candidate).isFile()) {
      return { contents: readFileSync(candidate, "utf8") };
    }
  }
  return { error: `not found in ${NODE_MODULES} or ${PACKAGE_DIR}: ${name}` };
}

/** A copy of `value` whose object keys are sorted at every depth, for stable JSON. */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(sortKeys(value), null, 2)}\n`);
}

function hasLinkReferences(evmPart) {
  return Object.keys(evmPart?.linkReferences ?? {}).length > 0;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const files = [...new Set(args.roots.flatMap(findSources))].sort();
  if (files.length === 0) {
    process.stderr.write(`compile.mjs: no .sol files under ${args.roots.join(", ")}; nothing to do\n`);
    return;
  }

  const sources = {};
  const sourceHashes = {};
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const name = sourceUnitName(file);
    sources[name] = { content: text };
    sourceHashes[name] = createHash("sha256").update(text, "utf8").digest("hex");
  }
  const input = {
    language: "Solidity",
    sources,
    settings: { ...SETTINGS, outputSelection: OUTPUT_SELECTION },
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const diagnostics = output.errors ?? [];
  for (const diagnostic of diagnostics) {
    process.stderr.write(`${diagnostic.formattedMessage ?? diagnostic.message}\n`);
  }
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) fail(`solc ${solc.version()} reported ${errors.length} error(s)`);

  const compiler = { version: solc.version(), settings: SETTINGS };
  const artifacts = new Map();
  for (const sourceName of Object.keys(sources)) {
    const contracts = output.contracts?.[sourceName] ?? {};
    for (const [contractName, contract] of Object.entries(contracts)) {
      const previous = artifacts.get(contractName);
      if (previous !== undefined) {
        fail(`contract ${contractName} is defined in both ${previous.sourceName} and ${sourceName}`);
      }
      if (hasLinkReferences(contract.evm.bytecode) || hasLinkReferences(contract.evm.deployedBytecode)) {
        fail(`${sourceName}:${contractName} needs library linking, which is not supported`);
      }
      const artifact = {
        contractName,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
        compiler,
        sourceHash: sourceHashes[sourceName],
      };
      // Where the runtime code holds `immutable` values (zero-filled in deployedBytecode, set by
      // the constructor): `{astId: [{start, length}]}` byte ranges, so that a deployment check can
      // compare eth_getCode with deployedBytecode outside them. Only written when there are any.
      const immutables = contract.evm.deployedBytecode.immutableReferences ?? {};
      if (Object.keys(immutables).length > 0) artifact.immutableReferences = immutables;
      artifacts.set(contractName, artifact);
    }
  }

  mkdirSync(args.out, { recursive: true });
  for (const [contractName, artifact] of [...artifacts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    writeJson(path.join(args.out, `${contractName}.json`), artifact);
  }
  process.stderr.write(`compile.mjs: ${artifacts.size} artifact(s) from ${files.length} file(s) -> ${args.out}\n`);

  if (args.buildInfo !== null) {
    const solcLongVersion = solc.version().replace(/\.Emscripten\.clang$/, "");
    const solcVersion = solcLongVersion.split("+")[0];
    const id = createHash("md5")
      .update(JSON.stringify({ _format: "hh-sol-build-info-1", solcVersion, solcLongVersion, input }))
      .digest("hex");
    mkdirSync(args.buildInfo, { recursive: true });
    const buildInfo = { _format: "hh-sol-build-info-1", id, solcVersion, solcLongVersion, input, output };
    writeFileSync(path.join(args.buildInfo, `${id}.json`), `${JSON.stringify(buildInfo)}\n`);
    process.stderr.write(`compile.mjs: build-info ${id}.json -> ${args.buildInfo}\n`);
  }
}

main();
