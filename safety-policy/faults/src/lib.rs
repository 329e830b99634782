//! A frame policy that misbehaves on purpose, for the worker's tests only:
//! policy.json `{"fault": "trap" | "spin" | "bloat"}` picks how. It proves a
//! broken module ends as a typed error within the worker's bounds.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ world: "policy", path: "../wit", generate_all });

    use exports::dreamreel::safety::frames::{ClipInfo, Decision, Frame, Guest, Verdict};

    struct Faults;

    export!(Faults);

    impl Guest for Faults {
        fn check(
            _: ClipInfo,
            _: Vec<Frame>,
            _: Vec<Frame>,
            policy: String,
        ) -> Result<Verdict, String> {
            if policy.contains("\"trap\"") {
                panic!("asked to trap");
            }
            if policy.contains("\"spin\"") {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            if policy.contains("\"bloat\"") {
                let mut held = Vec::new();
                loop {
                    held.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            Ok(Verdict {
                decision: Decision::Allow,
                scores: Vec::new(),
            })
        }
    }
}
