/* BERT's uncased WordPiece tokenizer for the live explorer (chapter 7), written to give the token ids
   of the backbone's Python tokenizer (transformers' BertTokenizer: BertNormalizer, BertPreTokenizer,
   WordPiece) from its own vocab.txt. tests/test_explorer.py checks that on 200 SNLI test pairs with Node.

   In the browser it defines window.LiveTokenizer; in Node, module.exports. */
(function (root) {
  "use strict";
  var CJK = [[0x4E00, 0x9FFF], [0x3400, 0x4DBF], [0x20000, 0x2A6DF], [0x2A700, 0x2B73F],
             [0x2B740, 0x2B81F], [0x2B820, 0x2CEAF], [0xF900, 0xFAFF], [0x2F800, 0x2FA1F]];
  var WHITE = /^[ \t\n\r]$|^\p{Zs}$/u, CONTROL = /^\p{C}$/u, MARK = /^\p{Mn}$/u, PUNCT = /^\p{P}$/u;

  function isCJK(cp) { return CJK.some(function (r) { return cp >= r[0] && cp <= r[1]; }); }
  function isPunct(ch) {
    var cp = ch.codePointAt(0);
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126) || PUNCT.test(ch);
  }

  /* BertNormalizer: drop NUL, U+FFFD and control characters, whitespace to spaces, spaces around CJK
     characters, then (uncased) strip accents (NFD, no Mn) and lower-case. */
  function normalize(text, lowercase) {
    var out = "";
    for (var ch of text) {
      var cp = ch.codePointAt(0);
      if (cp === 0 || cp === 0xFFFD) continue;
      if (WHITE.test(ch)) { out += " "; continue; }
      if (CONTROL.test(ch)) continue;
      out += isCJK(cp) ? " " + ch + " " : ch;
    }
    if (!lowercase) return out;
    var stripped = "";
    for (var c of out.normalize("NFD")) if (!MARK.test(c)) stripped += c;
    return stripped.toLowerCase();
  }

  /* BertPreTokenizer: split on whitespace, every punctuation character a word of its own. */
  function words(text) {
    var out = [];
    text.split(" ").forEach(function (chunk) {
      var cur = "";
      for (var ch of chunk) {
        if (isPunct(ch)) { if (cur) out.push(cur); out.push(ch); cur = ""; } else cur += ch;
      }
      if (cur) out.push(cur);
    });
    return out;
  }

  function Tokenizer(vocabText, options) {
    options = options || {};
    this.lowercase = options.lowercase !== false;
    this.maxLength = options.maxLength || 128;
    this.ids = new Map();
    var lines = vocabText.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (var i = 0; i < lines.length; i++) this.ids.set(lines[i], i);
    ["[CLS]", "[SEP]", "[UNK]"].forEach(function (t) {
      if (!this.ids.has(t)) throw new Error("the vocabulary lacks " + t);
    }, this);
  }

  /* WordPiece: the longest vocabulary prefix, then "##"-prefixed pieces; [UNK] for a word that cannot
     be split or is longer than 100 characters. */
  Tokenizer.prototype.wordpiece = function (word) {
    var chars = Array.from(word), unk = [this.ids.get("[UNK]")];
    if (chars.length > 100) return unk;
    var out = [], start = 0;
    while (start < chars.length) {
      var end = chars.length, found = null;
      while (start < end) {
        var piece = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        if (this.ids.has(piece)) { found = this.ids.get(piece); break; }
        end--;
      }
      if (found === null) return unk;
      out.push(found);
      start = end;
    }
    return out;
  };

  Tokenizer.prototype.tokenize = function (text) {
    var self = this, out = [];
    words(normalize(String(text), this.lowercase)).forEach(function (w) {
      Array.prototype.push.apply(out, self.wordpiece(w));
    });
    return out;
  };

  /* [CLS] a [SEP] b [SEP], truncated longest-first to maxLength; token_type_ids 0 then 1. */
  Tokenizer.prototype.encodePair = function (a, b) {
    var x = this.tokenize(a), y = this.tokenize(b);
    while (x.length + y.length + 3 > this.maxLength) {
      if (x.length > y.length) x.pop(); else y.pop();
    }
    var cls = this.ids.get("[CLS]"), sep = this.ids.get("[SEP]");
    var ids = [cls].concat(x, [sep], y, [sep]);
    var types = ids.map(function (_, i) { return i < x.length + 2 ? 0 : 1; });
    return {input_ids: ids, token_type_ids: types, attention_mask: ids.map(function () { return 1; })};
  };

  var api = {Tokenizer: Tokenizer, normalize: normalize, words: words};
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.LiveTokenizer = api;
})(typeof window !== "undefined" ? window : this);
