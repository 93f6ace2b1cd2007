// Node helper of tests/test_explorer.py: the browser tokenizer's ids for pairs given on stdin as JSON
// {"vocab": path to vocab.txt, "pairs": [[premise, hypothesis], ...]}; prints a JSON list of id lists.
"use strict";
const fs = require("fs");
const path = require("path");
const {Tokenizer} = require(path.join(__dirname, "..", "book", "_static", "live-tokenizer.js"));
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const tok = new Tokenizer(fs.readFileSync(input.vocab, "utf8"));
process.stdout.write(JSON.stringify(input.pairs.map(([a, b]) => tok.encodePair(a, b).input_ids)));
