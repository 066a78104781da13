//! EIP-712 digests checked against an independent implementation: Python's
//! eth-account (pinned in `.ci/run`), fed ~2000 seeded, generated requests in
//! one process (JSON lines in, JSON lines out).
//!
//! Generated: nested, recursive and mutually recursive structs, dynamic,
//! fixed-size and nested arrays, every atomic type at its extremes, unicode
//! strings, `$` in type names, every domain subset; and mutations both
//! implementations must refuse. Zero digest mismatches are allowed, and a
//! request is refused by us exactly when eth-account refuses it. The few
//! places where we deliberately refuse what eth-account signs are listed in
//! `documented_divergences`.
//!
//! Skips with a printed reason when the interpreter or eth-account is missing;
//! fails instead when `TANDEM_REQUIRE_PEERS=1`.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use alloy_primitives::{Address, U256};
use common::XorShift;
use serde_json::{Map, Value, json};
use tandem_chains::evm;

const CASES: usize = 2000;

/// Reads JSON lines `{"typed": ...}`, answers `{"digest": "<hex>"}` or `{"error": "..."}`.
const REFERENCE: &str = r#"
import json, sys
from eth_account.messages import encode_typed_data, _hash_eip191_message
for line in sys.stdin:
    case = json.loads(line)
    try:
        digest = _hash_eip191_message(encode_typed_data(full_message=case["typed"])).hex()
        out = {"digest": digest.removeprefix("0x")}
    except Exception as e:
        out = {"error": type(e).__name__ + ": " + str(e)[:200]}
    sys.stdout.write(json.dumps(out) + "\n")
"#;

fn python() -> Option<String> {
    let candidates = [
        std::env::var("TANDEM_PEER_PYTHON").ok(),
        std::env::var("HOME")
            .ok()
            .map(|home| format!("{home}/.cache/tandem-peers/venv/bin/python")),
    ];
    let found = candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import eth_account"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() {
        let how = "run .ci/run or pip install eth-account==0.14.0 in ~/.cache/tandem-peers/venv";
        if std::env::var("TANDEM_REQUIRE_PEERS").is_ok_and(|v| v.trim() == "1") {
            panic!("eth-account is not installed and TANDEM_REQUIRE_PEERS=1: {how}");
        }
        println!(
            "skipping: eth-account not installed ({how}; TANDEM_REQUIRE_PEERS=1 fails instead)"
        );
    }
    found
}

/// eth-account's answer for each request, in order: `Ok(digest hex)` or `Err(reason)`.
fn reference(python: &str, cases: &[Value]) -> Vec<Result<String, String>> {
    let mut input = Vec::new();
    for case in cases {
        serde_json::to_writer(&mut input, &json!({ "typed": case })).unwrap();
        input.push(b'\n');
    }
    let mut child = Command::new(python)
        .args(["-c", REFERENCE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from a thread: the child's output pipe fills while we write.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "reference process failed");
    let answers: Vec<_> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let answer: Value = serde_json::from_str(line).unwrap();
            match answer.get("digest").and_then(Value::as_str) {
                Some(digest) => Ok(digest.to_owned()),
                None => Err(answer["error"].as_str().unwrap_or("?").to_owned()),
            }
        })
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per request");
    answers
}

fn ours(case: &Value) -> Result<String, String> {
    evm::prepare_typed_data(&case.to_string())
        .map(|prepared| hex::encode(prepared.digest))
        .map_err(|error| error.to_string())
}

// ---------------------------------------------------------------------------------------------
// Generator

const ATOMIC: &[&str] = &["bool", "address", "string", "bytes"];

/// Struct names, some differing only by `$` or `_` so that sorting by name
/// (EIP-712) and sorting by encoded string give different orders.
const NAMES: &[&str] = &[
    "Mail", "A", "A$B", "A_", "B", "Ab", "Order$", "_Item", "$x", "Z9", "Node", "Q",
];

fn atomic_type(rng: &mut XorShift) -> String {
    match rng.below(4) {
        0 => ATOMIC[rng.below(ATOMIC.len())].to_owned(),
        1 => format!("uint{}", 8 * (1 + rng.below(32))),
        2 => format!("int{}", 8 * (1 + rng.below(32))),
        _ => format!("bytes{}", 1 + rng.below(32)),
    }
}

fn dims(rng: &mut XorShift) -> String {
    let mut out = String::new();
    for _ in 0..[0, 0, 0, 1, 1, 2][rng.below(6)] {
        if rng.below(2) == 0 {
            out.push_str("[]");
        } else {
            out.push_str(&format!("[{}]", 1 + rng.below(3)));
        }
    }
    out
}

/// Unicode and edge-case text.
fn text(rng: &mut XorShift) -> String {
    const PIECES: &[&str] = &[
        "",
        "a",
        "Hello, Bob!",
        "é",
        "日本語",
        "🦀",
        "e\u{301}",
        "\u{0}",
        "\"quoted\"",
        "\\",
        "deadbeef",
        "0",
        " ",
        "\n",
        "Ω≈ç√",
        "\u{202e}rtl",
    ];
    (0..rng.below(4))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect()
}

fn hex_bytes(rng: &mut XorShift, len: usize) -> String {
    format!("0x{}", hex::encode(rng.bytes(len)))
}

/// An integer in one of the accepted spellings (number, decimal, `0x` hex).
fn spell(rng: &mut XorShift, negative: bool, magnitude: U256) -> Value {
    if magnitude <= U256::from(u64::MAX) && rng.below(3) == 0 {
        let m = magnitude.to::<u64>();
        if !negative {
            return json!(m);
        }
        if m <= 1 << 63 {
            return json!((m as i64).wrapping_neg());
        }
    }
    if !negative && rng.below(2) == 0 {
        let hex = format!("{magnitude:x}");
        let hex = if rng.below(2) == 0 {
            hex.to_uppercase()
        } else {
            hex
        };
        let zeros = if rng.below(4) == 0 { "00" } else { "" };
        return json!(format!("0x{zeros}{hex}"));
    }
    json!(format!("{}{magnitude}", if negative { "-" } else { "" }))
}

fn integer_value(rng: &mut XorShift, signed: bool, bits: usize) -> Value {
    let top = if signed { bits - 1 } else { bits };
    let max = (U256::from(1u8) << top) - U256::from(1u8);
    let random = U256::from_be_slice(&rng.bytes(32)) & max;
    let (negative, magnitude) = match rng.below(6) {
        0 => (false, U256::ZERO),
        1 => (false, max),
        2 if signed => (true, max + U256::from(1u8)), // the minimum
        3 if signed => (true, U256::from(1u8)),
        4 if signed => (true, random.max(U256::from(1u8))),
        _ => (false, random),
    };
    spell(rng, negative, magnitude)
}

fn atomic_value(rng: &mut XorShift, ty: &str) -> Value {
    if ty == "bool" {
        return json!(rng.below(2) == 0);
    }
    if ty == "address" {
        let address = Address::from_slice(&rng.bytes(20));
        return json!(if rng.below(2) == 0 {
            address.to_checksum(None)
        } else {
            format!("0x{}", hex::encode(address))
        });
    }
    if ty == "string" {
        return json!(text(rng));
    }
    if ty == "bytes" {
        return json!(match rng.below(3) {
            0 => text(rng),
            _ => {
                let len = rng.below(40);
                hex_bytes(rng, len)
            }
        });
    }
    if let Some(n) = ty.strip_prefix("bytes") {
        return json!(hex_bytes(rng, n.parse().unwrap()));
    }
    let signed = ty.starts_with("int");
    let bits = ty
        .trim_start_matches('u')
        .trim_start_matches("int")
        .parse()
        .unwrap();
    integer_value(rng, signed, bits)
}

struct Shape {
    /// Struct name -> fields (name, type).
    structs: Vec<(String, Vec<(String, String)>)>,
}

impl Shape {
    fn fields(&self, name: &str) -> Option<&[(String, String)]> {
        self.structs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, fields)| fields.as_slice())
    }
}

/// A type graph whose only root is struct 0 (eth-account derives the primary
/// type as the one struct nothing else references), with recursion only
/// through dynamic arrays so that finite values exist.
fn shape(rng: &mut XorShift) -> Shape {
    let count = 1 + rng.below(6);
    let mut pool: Vec<&str> = NAMES.to_vec();
    let mut names = Vec::new();
    for _ in 0..count {
        names.push(pool.remove(rng.below(pool.len())).to_owned());
    }
    let mut structs: Vec<(String, Vec<(String, String)>)> = names
        .iter()
        .map(|name| {
            let fields = (0..rng.below(5))
                .map(|i| {
                    (
                        format!("f{i}"),
                        format!("{}{}", atomic_type(rng), dims(rng)),
                    )
                })
                .collect();
            (name.clone(), fields)
        })
        .collect();
    for (child, name) in names.iter().enumerate().skip(1) {
        // Every struct after the first is referenced by an earlier one.
        let parent = rng.below(child);
        // At most one short dimension on struct references keeps the value tree small.
        let ty = format!("{name}{}", ["", "", "[]", "[2]"][rng.below(4)]);
        let fields = &mut structs[parent].1;
        fields.insert(rng.below(fields.len() + 1), (format!("s{child}"), ty));
    }
    if count > 1 && rng.below(4) == 0 {
        // Recursion: a struct (not the primary) refers to itself or an earlier non-primary one.
        let from = 1 + rng.below(count - 1);
        let to = 1 + rng.below(from);
        structs[from]
            .1
            .push(("back".into(), format!("{}[]", names[to])));
    }
    if rng.below(8) == 0 {
        // The primary refers to itself (eth-account still derives it as the root).
        structs[0]
            .1
            .push(("kids".into(), format!("{}[]", names[0])));
    }
    Shape { structs }
}

fn value(rng: &mut XorShift, shape: &Shape, ty: &str, depth: usize) -> Value {
    if let Some(open) = ty.rfind('[') {
        let inner = &ty[..open];
        let len = match &ty[open + 1..ty.len() - 1] {
            "" if depth > 3 => 0,
            "" => rng.below(3).min(2),
            n => n.parse().unwrap(),
        };
        return Value::Array(
            (0..len)
                .map(|_| value(rng, shape, inner, depth + 1))
                .collect(),
        );
    }
    match shape.fields(ty) {
        Some(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, ty)| (name.clone(), value(rng, shape, ty, depth + 1)))
                .collect(),
        ),
        None => atomic_value(rng, ty),
    }
}

fn domain(rng: &mut XorShift) -> (Vec<Value>, Map<String, Value>) {
    let mut declared = Vec::new();
    let mut domain = Map::new();
    for (name, ty) in [
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
        ("salt", "bytes32"),
    ] {
        if rng.below(3) == 0 {
            continue;
        }
        declared.push(json!({"name": name, "type": ty}));
        let value = if name == "chainId" {
            let id = U256::from(1 + rng.below(100_000));
            spell(rng, false, id)
        } else {
            atomic_value(rng, ty)
        };
        domain.insert(name.into(), value);
    }
    (declared, domain)
}

fn typed_data(rng: &mut XorShift) -> Value {
    let shape = shape(rng);
    let (declared, domain) = domain(rng);
    let mut types = Map::new();
    types.insert("EIP712Domain".into(), Value::Array(declared));
    for (name, fields) in &shape.structs {
        let fields = fields
            .iter()
            .map(|(name, ty)| json!({"name": name, "type": ty}))
            .collect();
        types.insert(name.clone(), Value::Array(fields));
    }
    let primary = shape.structs[0].0.clone();
    let message = value(rng, &shape, &primary, 0);
    json!({"types": types, "primaryType": primary, "domain": domain, "message": message})
}

/// Paths to every atomic value in the message with its declared type.
fn leaves(typed: &Value) -> Vec<(Vec<Value>, String)> {
    let mut out = Vec::new();
    let mut pending = vec![(
        vec![json!("message")],
        typed["primaryType"].as_str().unwrap().to_owned(),
        &typed["message"],
    )];
    while let Some((path, ty, value)) = pending.pop() {
        if let Some(open) = ty.rfind('[') {
            for (i, item) in value.as_array().unwrap().iter().enumerate() {
                let mut p = path.clone();
                p.push(json!(i));
                pending.push((p, ty[..open].to_owned(), item));
            }
        } else if let Some(fields) = typed["types"][&ty].as_array() {
            for field in fields {
                let name = field["name"].as_str().unwrap();
                let mut p = path.clone();
                p.push(json!(name));
                pending.push((p, field["type"].as_str().unwrap().to_owned(), &value[name]));
            }
        } else {
            out.push((path, ty));
        }
    }
    out
}

fn slot<'v>(typed: &'v mut Value, path: &[Value]) -> &'v mut Value {
    let mut at = typed;
    for step in path {
        at = match step {
            Value::String(key) => &mut at[key.as_str()],
            Value::Number(i) => &mut at[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    at
}

/// A change both implementations must refuse, or `None` if this request has
/// no place for one.
fn mutate(rng: &mut XorShift, typed: &mut Value) -> Option<&'static str> {
    let leaves = leaves(typed);
    let pick = rng.below(8);
    if pick == 0 {
        // An undefined (dotted) type, or `function`.
        let primary = typed["primaryType"].as_str().unwrap().to_owned();
        let ty = ["Lib.Enum", "function", "Undefined"][rng.below(3)];
        typed["types"][&primary]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "extra", "type": ty}));
        typed["message"]["extra"] = json!(0);
        return Some("undefined type");
    }
    if pick == 1 && typed["domain"].get("chainId").is_some() {
        typed["domain"]["chainId"] = json!(["", "0x", "_", "-0x10", "0b101", "0o17"][rng.below(6)]);
        return Some("bad chainId");
    }
    if pick == 2 && typed["domain"].get("chainId").is_some() {
        typed["domain"]["chainId"] = Value::Null;
        return Some("null chainId");
    }
    let integers: Vec<_> = leaves.iter().filter(|(_, ty)| ty.contains("int")).collect();
    if pick <= 5 && !integers.is_empty() {
        let (path, ty) = integers[rng.below(integers.len())];
        let signed = ty.starts_with("int");
        let bits: usize = ty
            .trim_start_matches('u')
            .trim_start_matches("int")
            .parse()
            .unwrap();
        let top = if signed { bits - 1 } else { bits };
        let bad = match rng.below(3) {
            0 if bits < 256 || signed => spell(rng, false, U256::from(1u8) << top),
            1 if !signed => json!("-1"),
            1 if bits < 256 => spell(rng, true, (U256::from(1u8) << top) + U256::from(1u8)),
            _ => json!(["", "0x", "_", "0b101", "0o17", "-0x10", "1.5", "0xg"][rng.below(8)]),
        };
        *slot(typed, path) = bad;
        return Some("bad integer");
    }
    let fixed: Vec<_> = leaves
        .iter()
        .filter(|(_, ty)| ty.starts_with("bytes") && *ty != "bytes")
        .collect();
    if !fixed.is_empty() {
        let (path, ty) = fixed[rng.below(fixed.len())];
        let n: usize = ty["bytes".len()..].parse().unwrap();
        *slot(typed, path) = if rng.below(2) == 0 {
            json!(hex_bytes(rng, n + 1))
        } else {
            json!("z".repeat(n + 1 + rng.below(4)))
        };
        return Some("bytesN too long");
    }
    let addresses: Vec<_> = leaves.iter().filter(|(_, ty)| ty == "address").collect();
    if !addresses.is_empty() {
        let (path, _) = addresses[rng.below(addresses.len())];
        *slot(typed, path) =
            json!(["0x1234", "0xzz34567890123456789012345678901234567890"][rng.below(2)]);
        return Some("bad address");
    }
    None
}

#[test]
fn generated_typed_data_matches_eth_account() {
    let Some(python) = python() else { return };
    let mut rng = XorShift::new(0x7a11_de3f_e1a7_0712);
    let mut cases = Vec::with_capacity(CASES);
    let mut mutated = Vec::with_capacity(CASES);
    while cases.len() < CASES {
        let mut typed = typed_data(&mut rng);
        let what = if rng.below(5) == 0 {
            mutate(&mut rng, &mut typed)
        } else {
            None
        };
        cases.push(typed);
        mutated.push(what);
    }
    let started = std::time::Instant::now();
    let answers = reference(&python, &cases);
    let reference_time = started.elapsed();

    let mut signed = 0;
    let mut refused = 0;
    let mut failures = Vec::new();
    for ((case, answer), what) in cases.iter().zip(&answers).zip(&mutated) {
        let ours = ours(case);
        match (&ours, answer) {
            (Ok(a), Ok(b)) if a == b => signed += 1,
            (Err(_), Err(_)) => refused += 1,
            _ => failures.push(format!(
                "mutation {what:?}\n  ours: {ours:?}\n  eth-account: {answer:?}\n  {case}"
            )),
        }
    }
    println!(
        "{signed} signed alike, {refused} refused by both, {} differences \
         (eth-account took {reference_time:?})",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {CASES} differ from eth-account; first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
    // The generator must exercise both outcomes substantially.
    assert!(
        signed > CASES / 2 && refused > CASES / 10,
        "{signed} signed, {refused} refused"
    );
}

/// Requests we refuse on purpose although eth-account (0.14.0) signs them: each reads a value
/// loosely or signs something other than what a user would review. Listed in docs/server.md.
#[test]
fn documented_divergences() {
    let Some(python) = python() else { return };
    let base = |field_type: &str, value: Value| {
        json!({
            "types": {"EIP712Domain": [], "T": [{"name": "v", "type": field_type}]},
            "primaryType": "T", "domain": {}, "message": {"v": value},
        })
    };
    let mut extra = base("uint8", json!(1));
    extra["message"]["memo"] = json!("shown, not signed");
    let mut missing = base("string", json!(""));
    missing["message"] = json!({});
    let cases = [
        (
            "bool from the string \"false\"",
            base("bool", json!("false")),
        ),
        ("string missing (eth-account signs a zero word)", missing),
        ("message key not in the type", extra),
        (
            "fixed array of the wrong length",
            base("uint8[3]", json!([1])),
        ),
        (
            "bytes32 from short hex (eth-account pads)",
            base("bytes32", json!("0x01")),
        ),
        ("bytes4 from 4 bytes of text", base("bytes4", json!("abcd"))),
        ("bytes from odd-length hex", base("bytes", json!("0xabc"))),
        ("string from a number", base("string", json!(5))),
        ("bool from a number", base("bool", json!(2))),
        (
            "address without 0x",
            base("address", json!("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")),
        ),
        ("null struct (eth-account signs a zero word)", {
            let mut case = base("S", Value::Null);
            case["types"]["S"] = json!([{"name": "x", "type": "uint8"}]);
            case
        }),
    ];
    let values: Vec<Value> = cases.iter().map(|(_, case)| case.clone()).collect();
    let answers = reference(&python, &values);
    for ((what, case), answer) in cases.iter().zip(answers) {
        let ours = ours(case);
        println!("{what}: ours {ours:?}, eth-account {answer:?}");
        assert!(ours.is_err(), "{what}: we sign it");
        assert!(
            answer.is_ok(),
            "{what}: eth-account refuses it too, not a divergence"
        );
    }
}
