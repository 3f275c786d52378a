//! The CLIP BPE tokenizer, from a model folder's `tokenizer/vocab.json` and
//! `tokenizer/merges.txt` (the files Stable Diffusion folders ship).
//!
//! It reproduces `transformers`' `CLIPTokenizer` (`models/clip/tokenization_clip.py`, the
//! `tokenizers`-backed one of transformers 5), which the parity script
//! `tools/clip_tokenizer_reference.py` checks on the real CLIP vocabulary:
//!
//! 0. split out the special tokens (`<|startoftext|>`, `<|endoftext|>` and the pad token:
//!    with pad `!`, every `!` in a prompt is the pad token, as in `transformers`);
//! 1. normalise each stretch between them: Unicode NFC, every run of whitespace to one space, lower-case (per
//!    character, as `tokenizers`' `Lowercase` does);
//! 2. split into words with CLIP's pattern
//!    `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//!    (whitespace dropped; a digit is a word of its own);
//! 3. map each word's UTF-8 bytes to GPT-2's printable byte alphabet, append `</w>` to the
//!    last symbol, and apply the merges in rank order;
//! 4. `<|startoftext|>` + ids + `<|endoftext|>`, truncated to keep both ends within
//!    [`MAX_LENGTH`] (77), padded with the folder's pad token (`!`, id 0, for SD 2.x, the
//!    turbo models and SDXL's second tokenizer; `<|endoftext|>` for SD 1.5), read from
//!    `special_tokens_map.json` or `tokenizer_config.json`.
//!
//! A `tokenizer.json` alone (without `vocab.json`/`merges.txt`) is not read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::DiffusionError;

/// CLIP's context length.
pub const MAX_LENGTH: usize = 77;
/// The begin-of-text token.
pub const BOS: &str = "<|startoftext|>";
/// The end-of-text token (also the unknown token).
pub const EOS: &str = "<|endoftext|>";
/// CLIP's word pattern (`tokenization_clip.py`, the `Split` pre-tokenizer).
const PATTERN: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";
/// The end-of-word marker of CLIP's vocabulary.
const END_OF_WORD: &str = "</w>";

/// A CLIP tokenizer loaded from a folder.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    vocab: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    words: Regex,
    whitespace: Regex,
    byte_chars: [char; 256],
    bos: u32,
    eos: u32,
    pad: u32,
    /// The special tokens split out of the text before anything else, longest first.
    specials: Vec<(String, u32)>,
}

impl ClipTokenizer {
    /// Loads `vocab.json`, `merges.txt` and the pad token from `folder`.
    pub fn from_folder(folder: &Path) -> crate::Result<Self> {
        let vocab_path = folder.join("vocab.json");
        let merges_path = folder.join("merges.txt");
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| crate::Error::io(e, p));
        let vocab_text = read(&vocab_path)?;
        let merges_text = read(&merges_path)?;
        let pad = pad_token(folder)?;
        Self::from_parts(
            &vocab_text,
            &merges_text,
            pad.as_deref(),
            &vocab_path,
            &merges_path,
        )
    }

    /// Builds a tokenizer from the text of `vocab.json` and `merges.txt` and the pad token
    /// (`None`: `<|endoftext|>`). The paths only name the files in errors.
    pub fn from_parts(
        vocab_json: &str,
        merges_txt: &str,
        pad: Option<&str>,
        vocab_path: &Path,
        merges_path: &Path,
    ) -> crate::Result<Self> {
        let bad = |reason: String, path: &Path| DiffusionError::Tokenizer {
            reason,
            path: path.to_path_buf(),
        };
        let vocab: HashMap<String, u32> =
            serde_json::from_str(vocab_json).map_err(|e| bad(e.to_string(), vocab_path))?;
        let id = |tok: &str| {
            vocab
                .get(tok)
                .copied()
                .ok_or_else(|| bad(format!("the vocabulary has no '{tok}'"), vocab_path))
        };
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        let pad_token = pad.unwrap_or(EOS);
        let pad = id(pad_token)?;
        let mut specials = vec![(BOS.to_string(), bos), (EOS.to_string(), eos)];
        if pad_token != BOS && pad_token != EOS {
            specials.push((pad_token.to_string(), pad));
        }
        specials.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        let mut ranks = HashMap::new();
        let lines = merges_txt
            .lines()
            .filter(|l| !l.starts_with("#version") && !l.trim().is_empty());
        for (rank, line) in lines.enumerate() {
            let mut it = line.split(' ');
            let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                return Err(bad(
                    format!("merge {} is not two symbols: '{line}'", rank + 1),
                    merges_path,
                )
                .into());
            };
            ranks.entry((a.to_string(), b.to_string())).or_insert(rank);
        }
        let words = Regex::new(PATTERN).map_err(|e| bad(e.to_string(), vocab_path))?;
        let whitespace = Regex::new(r"\s+").map_err(|e| bad(e.to_string(), vocab_path))?;
        Ok(Self {
            vocab,
            ranks,
            words,
            whitespace,
            byte_chars: byte_alphabet(),
            bos,
            eos,
            pad,
            specials,
        })
    }

    /// The pad token's id.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The end-of-text token's id.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// The token ids of `text` without the added BOS/EOS, truncation or padding.
    pub fn encode_words(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let found = rest.char_indices().find_map(|(at, _)| {
                self.specials
                    .iter()
                    .find(|(tok, _)| rest[at..].starts_with(tok.as_str()))
                    .map(|(tok, id)| (at, tok.len(), *id))
            });
            let Some((at, len, id)) = found else {
                self.encode_segment(rest, &mut ids);
                break;
            };
            self.encode_segment(&rest[..at], &mut ids);
            ids.push(id);
            rest = &rest[at + len..];
        }
        ids
    }

    /// Normalises, splits and merges a stretch of text without special tokens.
    fn encode_segment(&self, text: &str, ids: &mut Vec<u32>) {
        let normal: String = text.nfc().flat_map(char::to_lowercase).collect();
        let normal = self.whitespace.replace_all(&normal, " ");
        for m in self.words.find_iter(&normal) {
            self.bpe_word(m.as_str(), ids);
        }
    }

    /// The 77 ids the text encoder takes: BOS, up to 75 tokens, EOS, padding.
    pub fn encode(&self, text: &str) -> [i64; MAX_LENGTH] {
        let words = self.encode_words(text);
        let mut out = [i64::from(self.pad); MAX_LENGTH];
        out[0] = i64::from(self.bos);
        let n = words.len().min(MAX_LENGTH - 2);
        for (o, &w) in out[1..=n].iter_mut().zip(&words) {
            *o = i64::from(w);
        }
        out[n + 1] = i64::from(self.eos);
        out
    }

    /// Whether `text` has more tokens than fit (and so is cut).
    pub fn is_truncated(&self, text: &str) -> bool {
        self.encode_words(text).len() > MAX_LENGTH - 2
    }

    fn bpe_word(&self, word: &str, ids: &mut Vec<u32>) {
        let mut symbols: Vec<String> = word
            .bytes()
            .map(|b| self.byte_chars[usize::from(b)].to_string())
            .collect();
        if let Some(last) = symbols.last_mut() {
            last.push_str(END_OF_WORD);
        }
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.ranks
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|&r| (r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = symbols.remove(i + 1);
            symbols[i].push_str(&right);
        }
        for s in &symbols {
            ids.push(self.vocab.get(s).copied().unwrap_or(self.eos));
        }
    }
}

/// GPT-2's `bytes_to_unicode`: printable bytes stand for themselves, the others for the
/// code points from 256 up, in byte order.
fn byte_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let code = if printable {
            b as u32
        } else {
            let c = next;
            next += 1;
            c
        };
        *slot = char::from_u32(code).unwrap_or('\u{fffd}');
    }
    table
}

/// The pad token named by `special_tokens_map.json` or `tokenizer_config.json`, if any.
fn pad_token(folder: &Path) -> crate::Result<Option<String>> {
    for name in ["special_tokens_map.json", "tokenizer_config.json"] {
        let path: PathBuf = folder.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| DiffusionError::Tokenizer {
                reason: e.to_string(),
                path: path.clone(),
            })?;
        match v.get("pad_token") {
            Some(serde_json::Value::String(s)) => return Ok(Some(s.clone())),
            Some(obj) => {
                if let Some(s) = obj.get("content").and_then(|c| c.as_str()) {
                    return Ok(Some(s.to_string()));
                }
            }
            None => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ClipTokenizer {
        let vocab = r#"{"!":0,"a":1,"b":2,"c":3,"a</w>":4,"b</w>":5,"c</w>":6,"ab</w>":7,
            "ab":8,"abc</w>":9,"1</w>":10,"<|startoftext|>":11,"<|endoftext|>":12}"#;
        let merges = "#version: 0.2\na b</w>\na b\nab c</w>\n";
        let p = Path::new("x");
        ClipTokenizer::from_parts(vocab, merges, Some("!"), p, p).unwrap()
    }

    #[test]
    fn merges_apply_in_rank_order_and_words_split() {
        let t = tiny();
        assert_eq!(t.encode_words("AB  abc\t1"), [7, 9, 10]);
        // an unknown symbol is the unknown token (EOS)
        assert_eq!(t.encode_words("d"), [12]);
        let ids = t.encode("ab");
        assert_eq!(ids[..4], [11, 7, 12, 0]);
        assert!(ids[4..].iter().all(|&i| i == 0));
    }

    #[test]
    fn long_prompts_keep_bos_and_eos() {
        let t = tiny();
        let long = "a ".repeat(100);
        let ids = t.encode(&long);
        assert!(t.is_truncated(&long));
        assert_eq!(ids[0], 11);
        assert_eq!(ids[76], 12);
        assert!(ids[1..76].iter().all(|&i| i == 4));
    }

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let t = byte_alphabet();
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[b' ' as usize], '\u{120}');
        assert_eq!(t[0], '\u{100}');
        assert_eq!(t[173], '\u{143}');
    }
}
