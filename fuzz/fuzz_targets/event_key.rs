#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dreamreel_fuzz::worker::event_key(data));
