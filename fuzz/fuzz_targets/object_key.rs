#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dreamreel_fuzz::harness::object_key(data));
