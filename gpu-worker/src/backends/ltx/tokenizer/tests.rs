use super::charsmap::CharsMap;
use super::text::base64;
use super::*;

/// A hand-made T5-layout file: `pieces` after the three specials.
fn tokenizer(pieces: &[(&str, f64)]) -> T5Tokenizer {
    let mut vocab = vec![
        serde_json::json!(["<pad>", 0.0]),
        serde_json::json!(["</s>", 0.0]),
        serde_json::json!(["<unk>", 0.0]),
    ];
    vocab.extend(pieces.iter().map(|(p, s)| serde_json::json!([p, s])));
    let doc = serde_json::json!({
        "added_tokens": [
            {"id": 0, "content": "<pad>", "special": true, "normalized": false},
            {"id": 1, "content": "</s>", "special": true, "normalized": false},
            {"id": 2, "content": "<unk>", "special": true, "normalized": false},
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFKC"},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        ]},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": false},
    });
    T5Tokenizer::from_json(&doc.to_string()).unwrap()
}

#[test]
fn viterbi_takes_the_best_scoring_split() {
    // ▁ab alone (-5) loses to ▁a + b (-1 + -1).
    let t = tokenizer(&[
        ("▁", -3.0),
        ("▁a", -1.0),
        ("b", -1.0),
        ("▁ab", -5.0),
        ("a", -4.0),
    ]);
    assert_eq!(t.encode("ab"), [4, 5, 1]);
    assert_eq!(t.encode("  ab\t ab "), [4, 5, 4, 5, 1]);
}

#[test]
fn unknown_characters_fuse_into_one_unk() {
    let t = tokenizer(&[("▁", -3.0), ("a", -1.0)]);
    assert_eq!(t.encode("a"), [3, 4, 1]);
    assert_eq!(t.encode("xyz a"), [3, 2, 3, 4, 1]);
    assert_eq!(t.encode("axa"), [3, 4, 2, 4, 1]);
}

#[test]
fn special_tokens_in_the_text_keep_their_ids() {
    let t = tokenizer(&[("▁", -3.0), ("a", -1.0)]);
    assert_eq!(t.encode("a</s>a <pad>"), [3, 4, 1, 3, 4, 0, 1]);
}

#[test]
fn padding_and_truncation_keep_eos_and_mask_the_rest() {
    let t = tokenizer(&[("▁", -3.0), ("a", -1.0)]);
    let short = t.encode_padded("a", 5);
    assert_eq!(short.ids, [3, 4, 1, 0, 0]);
    assert_eq!(short.attention_mask, [1, 1, 1, 0, 0]);
    let long = t.encode_padded("a a a", 4);
    assert_eq!(long.ids, [3, 4, 3, 1]);
    assert_eq!(long.attention_mask, [1, 1, 1, 1]);
    assert_eq!(t.encode_padded("", 2).ids, [1, 0]);
}

#[test]
fn normalizers_collapse_spaces_and_decode_base64() {
    let collapse = Normalizer::CollapseSpaces { to: "_".into() };
    assert_eq!(collapse.apply("a  b c   d "), "a_b c_d ");
    assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(base64("aGk").unwrap(), b"hi");
    assert!(base64("a*b").is_none());
}

#[test]
fn unsupported_layouts_are_errors() {
    let bpe = serde_json::json!({"model": {"type": "BPE"}});
    assert!(T5Tokenizer::from_json(&bpe.to_string()).is_err());
    let regex = serde_json::json!({
        "normalizer": {"type": "Replace", "pattern": {"Regex": "x+"}, "content": ""},
        "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]},
    });
    assert!(T5Tokenizer::from_json(&regex.to_string()).is_err());
}

#[test]
fn reads_the_tiny_configuration_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny/tokenizer.json");
    let t = T5Tokenizer::from_file(&path).unwrap();
    assert_eq!(t.vocab_size(), 1000);
    assert_eq!((t.pad_id(), t.eos_id()), (0, 1));
    // From T5TokenizerFast (models/ltx/reference_core.py).
    assert_eq!(
        t.encode("a cat playing the piano"),
        [3, 210, 118, 6, 7, 123, 399, 1]
    );
}

#[test]
fn legacy_metaspace_fields_mean_always_and_split() {
    let doc = serde_json::json!({
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "str_rep": "▁", "add_prefix_space": true},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": [
            ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁a", -1.0], ["▁b", -1.0],
        ]},
    });
    let t = T5Tokenizer::from_json(&doc.to_string()).unwrap();
    assert_eq!(t.encode("a b"), [3, 4, 1]);
}

#[test]
fn precompiled_charsmap_folds_compatibility_forms() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ltx/core/t5_layout_tokenizer.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let blob = doc["normalizer"]["precompiled_charsmap"].as_str().unwrap();
    let map = CharsMap::parse(&base64(blob).unwrap()).unwrap();
    assert_eq!(map.normalize("Ｆｕｌｌ ﬁne ① x²"), "Full fine 1 x2");
    // A decomposed accent is one cluster, composed as NFKC would.
    assert_eq!(map.normalize("cafe\u{301}"), "café");
    assert_eq!(map.normalize("plain text"), "plain text");
}
