//! personal_sign and EIP-712 typed data: digests, signatures, refusals.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{B256, Signature, eip191_hash_message, keccak256};
use common::{evm_key, evm_key_n, evm_public, evm_sign};
use tandem_chains::{ErrorKind, evm};

/// The `Mail` example from EIP-712, as `eth_signTypedData_v4` receives it.
const MAIL: &str = r#"{
  "types": {
    "EIP712Domain": [
      {"name": "name", "type": "string"},
      {"name": "version", "type": "string"},
      {"name": "chainId", "type": "uint256"},
      {"name": "verifyingContract", "type": "address"}
    ],
    "Person": [
      {"name": "name", "type": "string"},
      {"name": "wallet", "type": "address"}
    ],
    "Mail": [
      {"name": "from", "type": "Person"},
      {"name": "to", "type": "Person"},
      {"name": "contents", "type": "string"}
    ]
  },
  "primaryType": "Mail",
  "domain": {
    "name": "Ether Mail",
    "version": "1",
    "chainId": 1,
    "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
  },
  "message": {
    "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
    "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
    "contents": "Hello, Bob!"
  }
}"#;

fn recover(digest: [u8; 32], signature: &[u8; 65]) -> String {
    // alloy's own recovery, independent of the crate's recover_address.
    Signature::from_raw_array(signature)
        .unwrap()
        .recover_address_from_prehash(&B256::from(digest))
        .unwrap()
        .to_checksum(None)
}

#[test]
fn personal_sign_digest_signature_and_intent() {
    let message = b"Sign in to Tandem\nnonce: 42";
    let prepared = evm::prepare_personal_sign(message);

    // EIP-191 by hand.
    let mut prefixed = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
    prefixed.extend_from_slice(message);
    assert_eq!(prepared.digest, keccak256(&prefixed).0);
    assert_eq!(prepared.digest, eip191_hash_message(message).0);

    let key = evm_key_n(1);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    let signed = evm::finish(&prepared, r, s, v).unwrap();
    assert!(signed.raw_transaction.is_none() && signed.transaction_hash.is_none());
    assert!(matches!(signed.signature[64], 27 | 28));
    let address = evm::address(&evm_public(&key, true)).unwrap();
    assert_eq!(recover(prepared.digest, &signed.signature), address);
    assert_eq!(
        evm::recover_address(&prepared, &signed.signature).unwrap(),
        address
    );
    // alloy's message-level recovery agrees too.
    let signature = Signature::from_raw_array(&signed.signature).unwrap();
    assert_eq!(
        signature
            .recover_address_from_msg(message)
            .unwrap()
            .to_checksum(None),
        address
    );

    let json = serde_json::to_value(&prepared.intent).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "personal_sign", "length": 27, "utf8": "Sign in to Tandem\nnonce: 42"})
    );
}

#[test]
fn personal_sign_intent_preview_is_bounded_and_utf8_only() {
    let long = "é".repeat(500);
    let evm::Intent::PersonalSign { length, utf8 } =
        evm::prepare_personal_sign(long.as_bytes()).intent
    else {
        panic!()
    };
    assert_eq!(length, 1000);
    assert_eq!(utf8.unwrap().chars().count(), 200);

    let evm::Intent::PersonalSign { utf8, .. } =
        evm::prepare_personal_sign(&[0xff, 0xfe, 0x00]).intent
    else {
        panic!()
    };
    assert_eq!(utf8, None);
}

#[test]
fn eip712_mail_example_digest_and_signature() {
    let prepared = evm::prepare_typed_data(MAIL).unwrap();
    assert_eq!(
        hex::encode(prepared.digest),
        "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    );
    assert_eq!(
        serde_json::to_value(&prepared.intent).unwrap(),
        serde_json::json!({
            "kind": "typed_data",
            "primary_type": "Mail",
            "domain_name": "Ether Mail",
            "chain_id": 1,
            "verifying_contract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        })
    );

    // The signature published in EIP-712 recovers to Cow.
    let mut published = [0u8; 65];
    published[..32].copy_from_slice(
        &hex::decode("4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d").unwrap(),
    );
    published[32..64].copy_from_slice(
        &hex::decode("07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562").unwrap(),
    );
    published[64] = 28;
    let cow = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
    assert_eq!(evm::recover_address(&prepared, &published).unwrap(), cow);

    // Our own round trip with Cow's key.
    let key = evm_key(keccak256(b"cow").0);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    let signed = evm::finish(&prepared, r, s, v).unwrap();
    assert_eq!(recover(prepared.digest, &signed.signature), cow);
    assert!(signed.raw_transaction.is_none());
}

#[test]
fn typed_data_as_a_json_string_is_accepted() {
    let quoted = serde_json::to_string(MAIL).unwrap();
    let prepared = evm::prepare_typed_data(&quoted).unwrap();
    assert_eq!(
        prepared.digest,
        evm::prepare_typed_data(MAIL).unwrap().digest
    );
}

#[test]
fn typed_data_chain_id_as_hex_string_gives_the_same_digest() {
    let hex_chain = MAIL.replace(r#""chainId": 1"#, r#""chainId": "0x1""#);
    assert_eq!(
        evm::prepare_typed_data(&hex_chain).unwrap().digest,
        evm::prepare_typed_data(MAIL).unwrap().digest
    );
}

fn refuse(json: &str) -> tandem_chains::ChainError {
    let error = evm::prepare_typed_data(json).unwrap_err();
    assert_eq!(error.field, "typed_data", "{error}");
    error
}

#[test]
fn typed_data_refusals() {
    let invalid = [
        // Not JSON / not an object.
        "".to_owned(),
        "{".to_owned(),
        "[1, 2]".to_owned(),
        "\"not json inside\"".to_owned(),
        // Missing primaryType / types.
        MAIL.replace(r#""primaryType": "Mail","#, ""),
        // Primary type not defined.
        MAIL.replace(r#""primaryType": "Mail""#, r#""primaryType": "Letter""#),
        // Unknown field type.
        MAIL.replace(r#""type": "Person"}"#, r#""type": "Persona"}"#),
        // Value of the wrong type for an address.
        MAIL.replace(
            "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
            "not-an-address",
        ),
        // EIP712Domain missing, reordered, with a wrong type, or with an extra field.
        MAIL.replace(r#""EIP712Domain""#, r#""Unused""#),
        MAIL.replace(
            r#"{"name": "name", "type": "string"},
      {"name": "version", "type": "string"},"#,
            r#"{"name": "version", "type": "string"},
      {"name": "name", "type": "string"},"#,
        ),
        MAIL.replace(
            r#"{"name": "chainId", "type": "uint256"}"#,
            r#"{"name": "chainId", "type": "uint64"}"#,
        ),
        MAIL.replace(r#""version": "1","#, ""),
        // Unknown domain key.
        MAIL.replace(r#""version": "1","#, r#""version": "1", "extra": "x","#),
        // Numbers that JSON cannot carry exactly.
        MAIL.replace(r#""chainId": 1"#, r#""chainId": 1.5"#),
        MAIL.replace(r#""chainId": 1"#, r#""chainId": 100000000000000000000000"#),
        // Chain id beyond u64.
        MAIL.replace(r#""chainId": 1"#, r#""chainId": "0x10000000000000000""#),
    ];
    for json in invalid {
        let error = refuse(&json);
        assert_eq!(error.kind, ErrorKind::InvalidTypedData, "{json}: {error}");
    }
}

#[test]
fn typed_data_size_limit() {
    let padding = " ".repeat(evm::MAX_TYPED_DATA_BYTES);
    let error = refuse(&format!("{MAIL}{padding}"));
    assert_eq!(error.kind, ErrorKind::TooLarge);
    // Just under the limit is fine.
    let fits = format!(
        "{MAIL}{}",
        " ".repeat(evm::MAX_TYPED_DATA_BYTES - MAIL.len())
    );
    assert!(evm::prepare_typed_data(&fits).is_ok());
}

#[test]
fn finish_refuses_bad_signatures() {
    let prepared = evm::prepare_personal_sign(b"hello");
    let (r, s, v) = evm_sign(&evm_key_n(9), &prepared.digest);
    let kind = |r, s, v| evm::finish(&prepared, r, s, v).unwrap_err().kind;
    assert_eq!(kind(r, s, 2), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, s, 27), ErrorKind::InvalidSignature);
    assert_eq!(kind([0; 32], s, v), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, [0; 32], v), ErrorKind::InvalidSignature);
    assert_eq!(kind([0xff; 32], s, v), ErrorKind::InvalidSignature);
    assert_eq!(kind(r, [0xff; 32], v), ErrorKind::InvalidSignature);
    assert!(evm::recover_address(&prepared, &[0u8; 65]).is_err());
    let mut bad_v = evm::finish(&prepared, r, s, v).unwrap().signature;
    bad_v[64] = 29;
    assert_eq!(
        evm::recover_address(&prepared, &bad_v).unwrap_err().kind,
        ErrorKind::InvalidSignature
    );
}

#[test]
fn finish_normalizes_high_s() {
    let prepared = evm::prepare_personal_sign(b"malleable");
    let key = evm_key_n(5);
    let (r, s, v) = evm_sign(&key, &prepared.digest);
    // Build the high-s twin (r, n - s) with the parity flipped: the same key recovers from it.
    let n = alloy_primitives::U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s_value = alloy_primitives::U256::from_be_bytes(s);
    let high_s: [u8; 32] = (n - s_value).to_be_bytes();
    let low = evm::finish(&prepared, r, s, v).unwrap();
    let from_high = evm::finish(&prepared, r, high_s, v ^ 1).unwrap();
    assert_eq!(low.signature, from_high.signature);
    assert!(
        alloy_primitives::U256::from_be_bytes::<32>(low.signature[32..64].try_into().unwrap())
            <= n >> 1
    );
    assert_eq!(
        recover(prepared.digest, &from_high.signature),
        evm::address(&evm_public(&key, false)).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// EIP-712 under hostile input (issue 10, items 12-17).

/// Typed data with `types` (besides an empty domain), `primaryType` and `message`.
fn typed(types: serde_json::Value, primary: &str, message: serde_json::Value) -> String {
    let mut all = serde_json::json!({"EIP712Domain": []});
    for (name, fields) in types.as_object().unwrap() {
        all[name] = fields.clone();
    }
    serde_json::json!({"types": all, "primaryType": primary, "domain": {}, "message": message})
        .to_string()
}

/// Runs `f` on a thread with a small stack: a recursion as deep as the input would overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Peak resident memory of this process in KiB (Linux), to bound what one call costs.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn refusal(json: String) -> String {
    let error = on_small_stack(move || evm::prepare_typed_data(&json).unwrap_err());
    assert_eq!(error.kind, ErrorKind::InvalidTypedData, "{error}");
    assert_eq!(error.field, "typed_data");
    error.detail
}

#[test]
fn eip712_huge_array_dimensions_are_refused_without_recursion() {
    // 32 000 dimensions (64 KB) used to overflow the stack and abort the process.
    let ty = format!("uint8{}", "[]".repeat(32_000));
    let json = typed(
        serde_json::json!({"T": [{"name": "x", "type": ty}]}),
        "T",
        serde_json::json!({"x": []}),
    );
    let detail = refusal(json);
    assert!(detail.starts_with("types.T[0].type: "), "{detail}");
    // Within the bound (8), nested arrays are signed.
    let json = typed(
        serde_json::json!({"T": [{"name": "x", "type": "uint8[][][][][][][][]"}]}),
        "T",
        serde_json::json!({"x": [[[[[[[[7]]]]]]]]}),
    );
    assert!(on_small_stack(move || evm::prepare_typed_data(&json)).is_ok());
    let json = typed(
        serde_json::json!({"T": [{"name": "x", "type": "uint8[][][][][][][][][]"}]}),
        "T",
        serde_json::json!({"x": []}),
    );
    assert!(refusal(json).contains("more than 8 array dimensions"));
}

/// `S0 { S1 next }`, `S1 { S2 next }`, ..., the last with a `uint8`.
fn chain(count: usize) -> (serde_json::Value, serde_json::Value) {
    let mut types = serde_json::Map::new();
    for i in 0..count {
        let ty = if i + 1 == count {
            "uint8".to_owned()
        } else {
            format!("S{}", i + 1)
        };
        types.insert(
            format!("S{i}"),
            serde_json::json!([{"name": "next", "type": ty}]),
        );
    }
    let mut message = serde_json::json!(1);
    for _ in 0..count {
        message = serde_json::json!({ "next": message });
    }
    (serde_json::Value::Object(types), message)
}

#[test]
fn eip712_long_struct_chains_are_bounded() {
    // 1 500 chained struct types (~70 KB) used to overflow the stack.
    let (types, _) = chain(1_500);
    let detail = refusal(typed(types, "S0", serde_json::json!({})));
    assert!(
        detail.starts_with("types: 1501 struct types; at most 128"),
        "{detail}"
    );

    // 100 types fit the type bounds, but a message nested 100 deep exceeds the value depth.
    // (serde_json alone would refuse 128 levels; ours is the documented 64.)
    let (types, message) = chain(100);
    let detail = refusal(typed(types, "S0", message));
    assert!(detail.contains("nested more than 64 levels"), "{detail}");
    assert!(detail.starts_with("message.next.next.next."), "{detail}");

    // 60 levels are signed, even on a small stack.
    let (types, message) = chain(60);
    let json = typed(types, "S0", message);
    assert!(on_small_stack(move || evm::prepare_typed_data(&json)).is_ok());
}

#[test]
fn eip712_deep_json_nesting_is_refused_by_the_parser() {
    for depth in [200, 100_000] {
        let message = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let json = format!(
            r#"{{"types": {{"EIP712Domain": []}}, "primaryType": "T", "domain": {{}}, "message": {message}}}"#
        );
        let detail = refusal(json.clone());
        assert!(detail.contains("recursion limit"), "{detail}");
        // The same inside the "JSON in a string" form.
        let quoted = serde_json::to_string(&json).unwrap();
        assert!(refusal(quoted).contains("recursion limit"));
    }
}

#[test]
fn eip712_exponential_type_trees_cost_linear_work() {
    // T0 { T1[] a; T1[] b }, T1 { T2[] a; T2[] b }, ... : the expanded type tree doubles at
    // every level (2^21 nodes). A 1.4 KB request used to take 884 MB and 2.6 s.
    let mut types = serde_json::Map::new();
    for i in 0..21 {
        let next = format!("T{}[]", i + 1);
        types.insert(
            format!("T{i}"),
            serde_json::json!([{"name": "a", "type": next}, {"name": "b", "type": next}]),
        );
    }
    types.insert(
        "T21".into(),
        serde_json::json!([{"name": "x", "type": "uint8"}]),
    );
    let json = typed(
        serde_json::Value::Object(types),
        "T0",
        serde_json::json!({"a": [{"a": [], "b": []}], "b": []}),
    );
    assert!(json.len() < 2_000);
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    for _ in 0..10 {
        evm::prepare_typed_data(&json).unwrap();
    }
    let elapsed = started.elapsed();
    // Generous for a debug build on a loaded machine: a bounded call takes well under 1 ms.
    assert!(
        elapsed < std::time::Duration::from_millis(500),
        "{elapsed:?}"
    );
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        // Saturating: the kernel's reading may also go down between the two reads.
        let grew = after.saturating_sub(before);
        assert!(grew < 64 * 1024, "peak RSS grew {grew} KiB");
    }
}

#[test]
fn eip712_type_hashing_work_is_capped() {
    // A chain of 127 types, each with 8 long field names: every struct's encodeType repeats
    // all the definitions after it (~9 MB in all), over MAX_ENCODED_TYPES_BYTES (256 KiB).
    let long = |i: usize| format!("{}{i}", "f".repeat(120));
    let mut types = serde_json::Map::new();
    for t in 0..127 {
        let next = if t == 126 {
            "uint8".to_owned()
        } else {
            format!("S{}", t + 1)
        };
        let fields: Vec<_> = (0..8)
            .map(|i| serde_json::json!({"name": long(i), "type": next}))
            .collect();
        types.insert(format!("S{t}"), serde_json::Value::Array(fields));
    }
    let json = typed(
        serde_json::Value::Object(types),
        "S0",
        serde_json::json!({}),
    );
    let detail = refusal(json);
    assert!(
        detail.contains("expand to more than 262144 bytes"),
        "{detail}"
    );
}

/// keccak256 of 32-byte words.
fn hash_words(words: &[[u8; 32]]) -> [u8; 32] {
    keccak256(words.concat()).0
}

/// The digest for an empty domain and a message hash.
fn digest_with_empty_domain(message_hash: [u8; 32]) -> [u8; 32] {
    let domain = hash_words(&[keccak256("EIP712Domain()").0]);
    keccak256([&[0x19, 0x01][..], &domain[..], &message_hash[..]].concat()).0
}

#[test]
fn eip712_dependencies_are_sorted_by_name_even_with_dollar_signs() {
    // "A" < "A$B" by name; by encoded string "A$B(" < "A(" since '$' < '('. EIP-712 sorts by
    // name, as eth-account and eth-sig-util do.
    let json = typed(
        serde_json::json!({
            "P": [{"name": "b", "type": "A$B"}, {"name": "a", "type": "A"}],
            "A": [{"name": "x", "type": "uint8"}],
            "A$B": [{"name": "y", "type": "uint8"}],
        }),
        "P",
        serde_json::json!({"b": {"y": 2}, "a": {"x": 1}}),
    );
    let word = |n: u8| {
        let mut w = [0u8; 32];
        w[31] = n;
        w
    };
    let a = hash_words(&[keccak256("A(uint8 x)").0, word(1)]);
    let ab = hash_words(&[keccak256("A$B(uint8 y)").0, word(2)]);
    let p_type = keccak256("P(A$B b,A a)A(uint8 x)A$B(uint8 y)").0;
    let expected = digest_with_empty_domain(hash_words(&[p_type, ab, a]));
    assert_eq!(evm::prepare_typed_data(&json).unwrap().digest, expected);
}

#[test]
fn eip712_recursive_types_are_signed() {
    // Node { Node[] kids; uint8 v } with two levels.
    let json = typed(
        serde_json::json!({"Node": [{"name": "kids", "type": "Node[]"}, {"name": "v", "type": "uint8"}]}),
        "Node",
        serde_json::json!({"kids": [{"kids": [], "v": 2}], "v": 1}),
    );
    let word = |n: u8| {
        let mut w = [0u8; 32];
        w[31] = n;
        w
    };
    let node_type = keccak256("Node(Node[] kids,uint8 v)").0;
    let leaf = hash_words(&[node_type, keccak256(b"").0, word(2)]);
    let root = hash_words(&[node_type, hash_words(&[leaf]), word(1)]);
    assert_eq!(
        evm::prepare_typed_data(&json).unwrap().digest,
        digest_with_empty_domain(root)
    );

    // Mutual recursion: Tree { Branch[] branches }, Branch { Tree[] trees }.
    let json = typed(
        serde_json::json!({
            "Root": [{"name": "tree", "type": "Tree"}],
            "Tree": [{"name": "branches", "type": "Branch[]"}],
            "Branch": [{"name": "trees", "type": "Tree[]"}],
        }),
        "Root",
        serde_json::json!({"tree": {"branches": [{"trees": [{"branches": []}]}]}}),
    );
    let tree_type = keccak256("Tree(Branch[] branches)Branch(Tree[] trees)").0;
    let branch_type = keccak256("Branch(Tree[] trees)Tree(Branch[] branches)").0;
    let inner_tree = hash_words(&[tree_type, keccak256(b"").0]);
    let branch = hash_words(&[branch_type, hash_words(&[inner_tree])]);
    let tree = hash_words(&[tree_type, hash_words(&[branch])]);
    let root_type = keccak256("Root(Tree tree)Branch(Tree[] trees)Tree(Branch[] branches)").0;
    assert_eq!(
        evm::prepare_typed_data(&json).unwrap().digest,
        digest_with_empty_domain(hash_words(&[root_type, tree]))
    );
}

#[test]
fn eip712_bytes_values_read_like_the_references() {
    let json = |value: serde_json::Value, ty: &str| {
        typed(
            serde_json::json!({"T": [{"name": "b", "type": ty}]}),
            "T",
            serde_json::json!({ "b": value }),
        )
    };
    let t_bytes = keccak256("T(bytes b)").0;
    // Without 0x, a `bytes` value is UTF-8 text (eth-account and eth-sig-util agree).
    assert_eq!(
        evm::prepare_typed_data(&json("deadbeef".into(), "bytes"))
            .unwrap()
            .digest,
        digest_with_empty_domain(hash_words(&[t_bytes, keccak256(b"deadbeef").0]))
    );
    assert_eq!(
        evm::prepare_typed_data(&json("0xdeadbeef".into(), "bytes"))
            .unwrap()
            .digest,
        digest_with_empty_domain(hash_words(&[
            t_bytes,
            keccak256([0xde, 0xad, 0xbe, 0xef]).0
        ]))
    );
    for (value, ty, reason) in [
        (serde_json::json!("deadbeef"), "bytes4", "expected bytes4"),
        (serde_json::json!("0xdeadbe"), "bytes4", "expected bytes4"),
        (serde_json::json!([1, 2, 3]), "bytes", "found an array"),
        (serde_json::json!(5), "bytes", "found a number"),
        (serde_json::json!("0xabc"), "bytes", "odd number"),
        (serde_json::json!("0X00"), "bytes", "lowercase"),
        (serde_json::json!(null), "bytes", "found null"),
    ] {
        let detail = refusal(json(value.clone(), ty));
        assert!(detail.starts_with("message.b: "), "{value}: {detail}");
        assert!(detail.contains(reason), "{value}: {detail}");
    }
}

#[test]
fn eip712_integer_spellings_the_references_refuse_are_refused() {
    let json = |value: serde_json::Value| {
        typed(
            serde_json::json!({"T": [{"name": "n", "type": "int256"}]}),
            "T",
            serde_json::json!({ "n": value }),
        )
    };
    for bad in [
        "", "0x", "_", "0b101", "0o17", "-0x10", "+1", " 1", "1_000", "٣", "1.0", "1e3",
    ] {
        let detail = refusal(json(bad.into()));
        assert!(
            detail.starts_with("message.n: expected an integer"),
            "{bad:?}: {detail}"
        );
    }
    for bad in [
        serde_json::json!(true),
        serde_json::json!(1.5),
        serde_json::json!(null),
    ] {
        assert!(
            refusal(json(bad.clone())).starts_with("message.n: "),
            "{bad}"
        );
    }
    // Accepted spellings agree with each other.
    let digest = |value: serde_json::Value| evm::prepare_typed_data(&json(value)).unwrap().digest;
    assert_eq!(digest("-16".into()), digest((-16).into()));
    assert_eq!(digest("0x10".into()), digest(16.into()));
    assert_eq!(digest("0x10".into()), digest("016".into()));

    // chainId "" used to be signed and shown as chain 0; null domain fields were accepted.
    let detail = refusal(MAIL.replace(r#""chainId": 1"#, r#""chainId": """#));
    assert!(
        detail.starts_with("domain.chainId: expected an integer"),
        "{detail}"
    );
    for field in [r#""chainId": 1"#, r#""name": "Ether Mail""#] {
        let key = field.split(':').next().unwrap();
        let detail = refusal(MAIL.replace(field, &format!("{key}: null")));
        assert!(detail.contains("null"), "{detail}");
        assert!(
            detail.starts_with(&format!("domain.{}", key.trim_matches('"'))),
            "{detail}"
        );
    }
}

#[test]
fn eip712_types_that_are_not_eip712_are_refused() {
    let with_field_type = |ty: &str| {
        typed(
            serde_json::json!({"T": [{"name": "x", "type": ty}]}),
            "T",
            serde_json::json!({"x": 0}),
        )
    };
    for (ty, reason) in [
        ("Lib.Enum", "`Lib.Enum` is not defined"),
        ("function", "`function` is not an EIP-712 type"),
        ("uint", "`uint` is not an EIP-712 type"),
        ("uint7", "not an EIP-712 type"),
        ("bytes33", "not an EIP-712 type"),
        ("fixed128x18", "not an EIP-712 type"),
        ("uint8[0]", "array length"),
        ("uint8[01]", "array length"),
        ("uint8[", "unclosed"),
        ("uint8[]x", "text after"),
        ("EIP712Domain", "cannot be the type of a field"),
    ] {
        let detail = refusal(with_field_type(ty));
        assert!(detail.starts_with("types.T[0].type: "), "{ty}: {detail}");
        assert!(detail.contains(reason), "{ty}: {detail}");
    }
    // Structs named like atomic types.
    for name in [
        "address", "uint256", "bytes32", "string", "bool", "int8", "function",
    ] {
        let json = typed(
            serde_json::json!({ name: [{"name": "x", "type": "uint8"}], "T": [{"name": "a", "type": name}] }),
            "T",
            serde_json::json!({"a": {"x": 1}}),
        );
        let detail = refusal(json);
        assert!(detail.contains("built-in type name"), "{name}: {detail}");
    }
    // Names that would make encodeType ambiguous.
    for name in ["A,B", "A(", "A B", "1A", ""] {
        let json = typed(
            serde_json::json!({ "T": [{"name": name, "type": "uint8"}] }),
            "T",
            serde_json::json!({ name: 1 }),
        );
        assert!(refusal(json).starts_with("types.T[0].name: "), "{name}");
    }
}

#[test]
fn eip712_refusals_name_the_field() {
    let json = |message: serde_json::Value| {
        typed(
            serde_json::json!({
                "Batch": [{"name": "items", "type": "Transfer[]"}],
                "Transfer": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint96"}],
            }),
            "Batch",
            message,
        )
    };
    let ok = serde_json::json!({"to": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", "amount": "5"});
    for (bad, path, reason) in [
        (
            serde_json::json!({"to": 5, "amount": 1}),
            "message.items[2].to",
            "expected an address",
        ),
        (
            serde_json::json!({"to": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbb", "amount": 1}),
            "message.items[2].to",
            "checksum",
        ),
        (
            serde_json::json!({"to": ok["to"], "amount": "79228162514264337593543950336"}),
            "message.items[2].amount",
            "does not fit in uint96",
        ),
        (
            serde_json::json!({"to": ok["to"]}),
            "message.items[2].amount",
            "missing",
        ),
        (
            serde_json::json!({"to": ok["to"], "amount": 1, "memo": "x"}),
            "message.items[2].memo",
            "not a field of `Transfer`",
        ),
        (
            serde_json::json!("x"),
            "message.items[2]",
            "expected an object (struct `Transfer`)",
        ),
    ] {
        let detail = refusal(json(serde_json::json!({"items": [ok, ok, bad]})));
        assert!(detail.starts_with(&format!("{path}: ")), "{detail}");
        assert!(detail.contains(reason), "{detail}");
        assert!(!detail.contains("untagged"), "{detail}");
    }
    // Keys the sender chose are escaped: no new lines or bidi controls in logs.
    let extra = serde_json::json!({"to": ok["to"], "amount": 1, "a\nb\u{202e}": 1});
    let detail = refusal(json(serde_json::json!({"items": [extra]})));
    assert!(
        detail.starts_with(r"message.items[0].a\nb\u{202e}: not a field"),
        "{detail}"
    );
    let detail = refusal(json(serde_json::json!({"items": {}})));
    assert_eq!(detail, "message.items: expected an array, found an object");
    // Fixed-size arrays must have their length.
    let json = typed(
        serde_json::json!({"T": [{"name": "xs", "type": "uint8[3]"}]}),
        "T",
        serde_json::json!({"xs": [1, 2]}),
    );
    assert_eq!(
        refusal(json),
        "message.xs: expected exactly 3 elements, found 2"
    );
}

#[test]
fn eip712_agrees_with_alloy_where_alloy_is_right() {
    // On plain inputs (no `$`, no recursion, canonical values) alloy-dyn-abi and we agree.
    let cases = [
        MAIL.to_owned(),
        typed(
            serde_json::json!({
                "Order": [
                    {"name": "maker", "type": "address"}, {"name": "amounts", "type": "uint256[2]"},
                    {"name": "delta", "type": "int64"}, {"name": "tag", "type": "bytes32"},
                    {"name": "data", "type": "bytes"}, {"name": "ok", "type": "bool"},
                    {"name": "legs", "type": "Leg[][]"}
                ],
                "Leg": [{"name": "note", "type": "string"}, {"name": "id", "type": "uint8"}],
            }),
            "Order",
            serde_json::json!({
                "maker": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826",
                "amounts": ["115792089237316195423570985008687907853269984665640564039457584007913129639935", "0x01"],
                "delta": -9_223_372_036_854_775_808i64,
                "tag": format!("0x{}", "ab".repeat(32)),
                "data": "0x00ff",
                "ok": true,
                "legs": [[{"note": "héllo 🦀", "id": 255}], []],
            }),
        ),
    ];
    for json in cases {
        let alloy: alloy_dyn_abi::TypedData = serde_json::from_str(&json).unwrap();
        assert_eq!(
            evm::prepare_typed_data(&json).unwrap().digest,
            alloy.eip712_signing_hash().unwrap().0,
            "{json}"
        );
    }
}
